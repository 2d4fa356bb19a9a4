//! `nbwarden demo` on a fresh directory: it prints cancels and e-mails, writes `.eml` files into
//! `./demo-outbox/` and stops by itself with a summary; in a private folder of its own, under a
//! loose umask and beside folders another local user planted where it used to look.

use crate::util::daemon::poll_until;
use crate::util::text;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

/// A folder with an `exec` rule that, if loaded, leaves `marker` behind.
fn plant(dir: &Path, marker: &Path) {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    let rule = format!(
        "rules:\n  - {{ name: planted, actions: [{{ type: exec, command: [touch, '{}'] }}] }}\n",
        marker.display()
    );
    std::fs::write(dir.join("rules/evil.yaml"), rule).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
}

#[tokio::test]
async fn the_demo_cancels_mails_and_stops_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    // Another user's planted folders, named as the demo used to name its own
    // (/tmp/nbwarden-demo-<pid>), for the next few hundred pids.
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("the-planted-rule-ran");
    let next: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid").unwrap().trim().parse().unwrap();
    for pid in next..next + 300 {
        plant(&tmp.path().join(format!("nbwarden-demo-{pid}")), &marker);
    }
    let planted: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    // A clone of the repository, as a new user has: the example configuration and rules.
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    std::fs::copy(repository.join("examples/simulator.yaml"), dir.path().join("examples/simulator.yaml")).unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    for entry in std::fs::read_dir(repository.join("rules")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|x| x == "yaml") {
            std::fs::copy(entry.path(), dir.path().join("rules").join(entry.file_name())).unwrap();
        }
    }
    let child = tokio::process::Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" demo --seconds 32", env!("CARGO_BIN_EXE_nbwarden")])
        .current_dir(dir.path())
        .env("TMPDIR", tmp.path())
        .env_remove("NBWARDEN_CONFIG")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let own = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| !planted.contains(&p.file_name().unwrap().to_owned()))
    };
    assert!(poll_until(Duration::from_secs(10), || own().is_some()).await, "the demo made its folder");
    let folder = own().unwrap();
    assert_eq!(mode(&folder), 0o700, "{} is private to its user, whatever the umask", folder.display());
    let name = folder.file_name().unwrap().to_string_lossy().into_owned();
    assert!(!name.trim_start_matches("nbwarden-demo-").chars().all(|c| c.is_ascii_digit()), "not a pid: {name}");
    let output = child.wait_with_output().await.unwrap();
    assert!(!folder.exists(), "the demo removed its folder");
    assert!(!marker.exists(), "no planted rule ran");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("first poll: ") && stdout.contains("(the baseline: no events"), "{stdout}");
    assert!(stdout.contains("The console, while the demo runs: http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("rule cancel-runaway-executions cancel [jrunaway1jane] done: cancelled"), "{stdout}");
    assert!(stdout.contains("rule cancel-runaway-executions cancel [jrunaway0joe] done"), "{stdout}");
    // Each action once: the log action's message is in its action line, not again in the log.
    assert!(stdout.contains("log [jrunaway0joe] done: cancelling jrunaway0joe of joe"), "{stdout}");
    assert!(!text(&output.stderr).contains("cancelling jrunaway0joe"), "{}", text(&output.stderr));
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
    // An idle notebook: its owner is warned, then it is closed.
    let warned = "rule idle-notebook-warning email [nb-road-closures] done: to joe@example.com";
    let closed = "rule idle-notebook-close close_notebook [nb-road-closures] done: closed notebook 'Road closures map' (nb-road-closures) of joe";
    let (w, c) = (stdout.find(warned), stdout.find(closed));
    assert!(w.is_some() && c.is_some() && w < c, "warned, then closed: {stdout}");
    assert!(!stdout.contains("[nb-tree-qa]"), "the notebook in use is left alone: {stdout}");
    assert!(stdout.contains("Summary: ") && stdout.contains("2 cancel(s) done"), "{stdout}");
    let outbox = dir.path().join("demo-outbox");
    let emails: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!emails.is_empty() && emails.iter().all(|p| p.extension().is_some_and(|e| e == "eml")), "{emails:?}");
    assert_eq!(mode(&outbox), 0o700);
    assert!(emails.iter().all(|p| mode(p) == 0o600), "the messages are private");
    assert_eq!(mode(&dir.path().join("demo-report.html")), 0o600, "so is the report");
    assert!(stdout.contains("./demo-report.html"), "the closing hint names a file that exists: {stdout}");
    assert!(stdout.contains(&format!("{} e-mail(s) written to ./demo-outbox/", emails.len())), "{stdout}");
    // The owner reads the notebook's title, and a job a scheduled task started names the task
    // (jfail4joe, of the hourly sync task); every failure mail knows its notebook.
    let bodies: Vec<String> = emails.iter().map(|p| std::fs::read_to_string(p).unwrap().replace("=\r\n", "")).collect();
    let named = bodies.iter().any(|b| {
        b.contains("Your notebook 'Hourly sync' failed at ")
            && b.contains("  job: jfail4joe (executeNotebook)")
            && b.contains("  scheduled task: Hourly sync")
    });
    assert!(named, "{bodies:#?}");
    let warning = bodies.iter().any(|b| b.contains("Road closures map") && b.contains("will be closed in 15 minutes"));
    assert!(warning, "{bodies:#?}");
    assert!(bodies.iter().all(|b| !b.contains("not known")), "{bodies:#?}");
    closing_hint_works(&stdout, dir.path()).await;
}

/// The commands of the demo's closing hint, run as printed once the demo has stopped (the
/// simulated site on a free port instead of 8921, which the test machine may have in use).
async fn closing_hint_works(stdout: &str, dir: &Path) {
    let hint = stdout.split("To try each command yourself").nth(1).unwrap_or_else(|| panic!("no hint in {stdout}"));
    let commands: Vec<Vec<&str>> =
        hint.lines().filter_map(|l| l.strip_prefix("  ")).map(|l| l.split(' ').collect()).collect();
    assert_eq!(commands.len(), 3, "{hint}");
    assert!(commands[0].ends_with(&["simulate"]), "{hint}");
    let port = crate::util::smtp::free_port();
    let mut site = tokio::process::Command::new(commands[0][0])
        .args(&commands[0][1..])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let up = poll_until(Duration::from_secs(30), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()).await;
    if !up {
        site.kill().await.unwrap();
        let said = site.wait_with_output().await.unwrap();
        panic!("the simulated site does not listen on {port}: {}", text(&said.stderr));
    }
    for command in &commands[1..] {
        let output = tokio::process::Command::new(command[0])
            .args(&command[1..])
            .current_dir(dir)
            .env("NBWARDEN_SIM", format!("http://127.0.0.1:{port}"))
            .env_remove("NBWARDEN_CONFIG")
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{command:?}: {}{}", text(&output.stdout), text(&output.stderr));
        let listed = command.ends_with(&["jobs"]);
        assert!(!listed || text(&output.stdout).contains("jrunaway0joe"), "{command:?}: {}", text(&output.stdout));
    }
    site.kill().await.unwrap();
}
