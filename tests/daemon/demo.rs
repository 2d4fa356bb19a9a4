//! `nbwarden demo` on a fresh directory: it prints cancels and e-mails, writes `.eml` files into
//! `./demo-outbox/` and stops by itself with a summary.

use crate::util::text;

#[tokio::test]
async fn the_demo_cancels_mails_and_stops_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_nbwarden"))
        .args(["demo", "--seconds", "32"])
        .current_dir(dir.path())
        .env_remove("NBWARDEN_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("first poll: ") && stdout.contains("(the baseline: no events"), "{stdout}");
    assert!(stdout.contains("rule cancel-runaway-executions cancel [jrunaway1jane] done: cancelled"), "{stdout}");
    assert!(stdout.contains("rule cancel-runaway-executions cancel [jrunaway0joe] done"), "{stdout}");
    assert!(stdout.contains("rule failure-email-to-owner email [jfail4joe] done: to joe@example.com"), "{stdout}");
    // The job that started and failed between two polls gets its notice all the same (alone, or
    // batched with another failure of the same poll).
    let quick = stdout.lines().any(|l| {
        l.contains("rule failure-email-to-owner email [")
            && l.contains("jquick12jane")
            && l.contains("done: to ")
            && l.contains("jane@example.com")
    });
    assert!(quick, "{stdout}");
    // The scheduled tasks: a warning at the 3rd failure in a row, and a run missed past its grace.
    let owner_warned = "rule task-failing-warn-owner email [t-parcels-import] done: to joe@example.com";
    assert!(stdout.contains(owner_warned), "{stdout}");
    let missed = "rule task-missed-tell-admins email [t-hourly-sync] done: to gis-admins@example.com";
    assert!(stdout.contains(missed), "{stdout}");
    assert_eq!(stdout.matches("rule task-missed-tell-admins email").count(), 1, "{stdout}");
    assert!(stdout.contains("Summary: ") && stdout.contains("2 cancel(s) done"), "{stdout}");
    let outbox = dir.path().join("demo-outbox");
    let emails: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!emails.is_empty() && emails.iter().all(|p| p.extension().is_some_and(|e| e == "eml")), "{emails:?}");
    assert!(stdout.contains(&format!("{} e-mail(s) written to ./demo-outbox/", emails.len())), "{stdout}");
    // A job a scheduled task started names the task (jfail4joe, of the hourly sync task).
    let bodies: Vec<String> = emails.iter().map(|p| std::fs::read_to_string(p).unwrap().replace("=\r\n", "")).collect();
    let named = bodies.iter().any(|b| b.contains("executeNotebook jfail4joe (scheduled task \"Hourly sync\")"));
    assert!(named, "{bodies:#?}");
}
