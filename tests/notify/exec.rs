//! `exec` through the real binary: environment, standard input, timeout kill, exit codes.

use super::{outcomes, FAILED};
use crate::util::text;
use crate::util::Site;
use std::time::{Duration, Instant};

fn rule(command: &str, extra: &str) -> String {
    format!("rules:\n  - {{ name: f, match: {{ status: failed, username: jane }}, actions: [{{ type: exec, command: {command}{extra} }}] }}\n")
}

#[tokio::test]
async fn the_job_arrives_as_variables_and_as_json_on_stdin() {
    let out_dir = tempfile::tempdir().unwrap();
    let script = r#"printf '%s|%s|%s|%s|%s' "$NBWARDEN_JOB_ID" "$NBWARDEN_JOB_USERNAME" "$NBWARDEN_RULE" "$NBWARDEN_EVENT" "$EXTRA" > "$OUT/env"; cat > "$OUT/stdin""#;
    let command = format!("[sh, -c, '{}']", script.replace('\'', "''"));
    let extra =
        format!(", env: {{ OUT: '{}', EXTRA: 'item {{{{ job.item_id or \"-\" }}}}' }}", out_dir.path().display());
    let site = Site::ruled(FAILED, &rule(&command, &extra)).await;
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(outcomes(&out)[0].1, "done", "{}{}", text(&out.stdout), text(&out.stderr));
    let env = std::fs::read_to_string(out_dir.path().join("env")).unwrap();
    assert_eq!(env, "jf3|jane|f|poll|item -");
    let stdin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.path().join("stdin")).unwrap()).unwrap();
    assert_eq!(stdin["job"]["id"], "jf3");
    assert_eq!(stdin["rule"], "f");
    assert_eq!(stdin["target"], "sim");
}

#[tokio::test]
async fn a_program_over_its_timeout_is_killed() {
    let pid_dir = tempfile::tempdir().unwrap();
    let pid_file = pid_dir.path().join("pid");
    let command = format!("[sh, -c, 'echo $$ > {}; exec sleep 30']", pid_file.display());
    let site = Site::ruled(FAILED, &rule(&command, ", timeout: 1s")).await;
    let started = Instant::now();
    let reports = outcomes(&site.run(&["once", "--json"]).await);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(reports[0].1, "failed");
    assert!(reports[0].2.contains("killed after 1s"), "{reports:?}");
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let dead = || {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        state.is_empty() || state.contains(") Z")
    };
    let gone = crate::util::daemon::poll_until(Duration::from_secs(5), dead).await;
    assert!(gone, "the program (pid {pid}) was killed");
}

#[tokio::test]
async fn a_non_zero_exit_fails_and_exit_75_asks_for_a_retry() {
    let site = Site::ruled(FAILED, &rule("[sh, -c, 'echo boom >&2; exit 3']", "")).await;
    let reports = outcomes(&site.run(&["once", "--json"]).await);
    assert_eq!(reports[0].1, "failed");
    assert_eq!(reports[0].2, "sh exited 3: boom");
    site.make_retries_due().await;
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty(), "not retried");

    let site = Site::ruled(FAILED, &rule("[sh, -c, 'exit 75']", "")).await;
    let reports = outcomes(&site.run(&["once", "--json"]).await);
    assert!(reports[0].2.contains("queued for another try"), "{reports:?}");
}

#[tokio::test]
async fn arguments_never_pass_through_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = "jobs:\n  - { id: \"j1; touch pwned\", username: jane, start: -1h, runs: 1m, ends: failed }\n";
    let site = Site::ruled(scenario, &rule("[printf, '%s', '{{ job.id }}']", "")).await;
    let out = site.run(&["once", "--json"]).await;
    let reports = outcomes(&out);
    assert_eq!(reports[0].1, "done");
    assert_eq!(reports[0].2, "printf exited 0 j1; touch pwned");
    assert!(!dir.path().join("pwned").exists() && !site.dir.path().join("pwned").exists());
}
