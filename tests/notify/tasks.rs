//! Scheduled-task health through the real binary and a real SMTP server, against the simulator's
//! Portal tasks: the shipped task rules warn the owner once at the 3rd failure in a row and tell
//! the administrators once when ArcGIS stops the task after the 5th; a run not started within the
//! grace is told once, restarts included; what was already wrong at the first read is silent.

use super::smtp_config;
use crate::util::daemon::{poll_until, Daemon};
use crate::util::smtp::SmtpServer;
use crate::util::Site;
use nbwarden::config::Flavor;
use serde_json::Value;
use std::time::Duration;

const USERS: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: joe, email: joe@example.com, admin: false }
";

async fn site(jobs_and_tasks: &str, smtp: &SmtpServer) -> Site {
    let scenario = format!("{USERS}{jobs_and_tasks}");
    let site = Site::start(&scenario, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.target_key("tasks", "{ every: 1s }");
    site.top(&smtp_config(smtp.port));
    site
}

/// Copies shipped rule files into the site's rules folder.
fn shipped(site: &Site, files: &[&str]) {
    for file in files {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules").join(file);
        std::fs::copy(from, site.dir.path().join("rules").join(file)).unwrap();
    }
}

fn to(messages: &[Value], address: &str) -> Vec<Value> {
    messages.iter().filter(|m| m["to"].as_str().is_some_and(|t| t.contains(address))).cloned().collect()
}

fn subjects(messages: &[Value]) -> Vec<String> {
    messages.iter().map(|m| m["subject"].as_str().unwrap_or_default().to_string()).collect()
}

/// A job a task started knows the task's title.
const JOB_OF_TASK: &str = "rules:
  - name: job-of-task
    on: status_changed
    match: { to: failed, scheduled: true }
    actions:
      - { type: email, to: [gis-admins@example.com], subject: 'job {{ job.id }} of task {{ job.task_title }} failed' }
";

#[tokio::test]
async fn a_task_failing_warns_its_owner_once_at_the_third_failure_and_its_stop_tells_the_admins_once() {
    let smtp = SmtpServer::start(None, None);
    let tasks = "jobs:
  - { id: jt, username: joe, start: 2s, runs: 2s, ends: failed, task_id: flaky }
tasks:
  - { id: flaky, title: Nightly parcels, owner: joe, item_id: nb1, every: 2s, start: 2s, runs: [failed], run_takes: 500ms }
  - { id: old, title: Old import, owner: joe, every: 2m, start: -11m, runs: [failed], run_takes: 10s }
  - { id: fine, title: Hourly fine, owner: joe, every: 1h, start: -30m }
  - { id: late, title: Late one, owner: joe, every: 1h, start: -80m, stops_running_after: 1 }
";
    let site = site(tasks, &smtp).await;
    shipped(&site, &["task-failing.yaml", "task-stopped.yaml", "task-missed.yaml"]);
    site.rules(JOB_OF_TASK);
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    let stopped = || {
        to(&smtp.messages(), "gis-admins@example.com")
            .iter()
            .any(|m| m["subject"].as_str().unwrap_or("").contains("stopped"))
    };
    assert!(poll_until(Duration::from_secs(30), stopped).await, "{:#?}\n{}", smtp.messages(), daemon.log());
    // Three more reads after the stop: nothing else may come.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = smtp.messages();
    let owner = to(&messages, "joe@example.com");
    assert_eq!(
        subjects(&owner),
        ["Your scheduled notebook \"Nightly parcels\" failed 3 times in a row"],
        "{}",
        daemon.log()
    );
    let body = owner[0]["text"].as_str().unwrap().replace("\r\n", "\n");
    assert!(body.contains("has failed\n3 times in a row (last run: failed"), "{body}");
    assert!(body.contains("schedule: every 2s") && body.contains("home/item.html?id=nb1"), "{body}");
    let admins = to(&messages, "gis-admins@example.com");
    let expected =
        ["job jt of task Nightly parcels failed", "Scheduled notebook \"Nightly parcels\" of joe stopped on sim"];
    assert_eq!(subjects(&admins), expected, "{:#?}", admins);
    let default_body = admins[0]["text"].as_str().unwrap();
    assert!(
        default_body.contains("scheduled task: Nightly parcels"),
        "the job's task, in the default body: {default_body}"
    );
    let body = admins[1]["text"].as_str().unwrap().replace("\r\n", "\n");
    assert!(body.contains("taskState: paused") && body.contains("failures in a row: 5"), "{body}");
    // The baseline is silent: "old" had stopped after 5 failures and "late" had missed its run
    // before the first read; neither is told. Runs are read in proportion to change.
    assert_eq!(messages.len(), 3, "{messages:#?}");
    let reads = site.sim.stats().task_run_reads;
    assert_eq!(reads.get("fine"), Some(&1), "read once, at the baseline: {reads:?}");
    assert_eq!(reads.get("old"), None, "inactive at the baseline: {reads:?}");
    assert!(reads.get("flaky").is_some_and(|n| (5..=12).contains(n)), "{reads:?}");
    // The metrics operators alert on: failures in a row per task, tasks by state.
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    let value = |series: &str| {
        metrics.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).map(str::to_string)
    };
    assert_eq!(
        value("nbwarden_task_consecutive_failures{target=\"sim\",task=\"flaky\"}").as_deref(),
        Some("5"),
        "{metrics}"
    );
    assert_eq!(
        value("nbwarden_task_consecutive_failures{target=\"sim\",task=\"fine\"}").as_deref(),
        Some("0"),
        "{metrics}"
    );
    assert!(value("nbwarden_tasks{target=\"sim\",state=\"paused\"}").is_some_and(|v| v != "0"), "{metrics}");
    crate::daemon::promtool_checks(&metrics);
}

const MISSED: &str = "rules:
  - name: missed
    on: task_missed
    grace: 2s
    actions:
      - type: email
        to: [gis-admins@example.com]
";

#[tokio::test]
async fn an_hourly_task_that_does_not_start_within_the_grace_is_told_once_with_none_after_a_restart() {
    let smtp = SmtpServer::start(None, None);
    // Its one run was 59m56s ago; the next was due 4 s after the start, and never starts.
    let tasks = "tasks:
  - { id: hourly, title: Hourly counts, owner: joe, every: 1h, start: -59m56s, stops_running_after: 1 }
  - { id: fine, title: Hourly fine, owner: joe, every: 1h, start: -30m }
";
    let site = site(tasks, &smtp).await;
    site.rules(MISSED);
    let mut daemon = Daemon::start(&site.config_path, &[]);
    assert!(daemon.wait_for_log("read the scheduled tasks", Duration::from_secs(10)).await, "{}", daemon.log());
    assert!(smtp.messages().is_empty(), "nothing is due yet: {:#?}", smtp.messages());
    let told = || !smtp.messages().is_empty();
    assert!(poll_until(Duration::from_secs(20), told).await, "{}", daemon.log());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = smtp.messages();
    assert_eq!(subjects(&messages), ["[nbwarden] missed on sim: task Hourly counts (task_missed)"], "{messages:#?}");
    let body = messages[0]["text"].as_str().unwrap();
    assert!(body.contains("task: Hourly counts (hourly)") && body.contains("missed run due at"), "{body}");
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).await.is_some());
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(daemon.wait_for_log("read the scheduled tasks", Duration::from_secs(10)).await, "{}", daemon.log());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 1, "none after the restart: {:#?}\n{}", smtp.messages(), daemon.log());
}

/// The tasks are read every hour here, yet a run that does not start within the grace is told
/// within seconds: the core says when a due run passes a `task_missed` grace, and the tasks are
/// read then.
#[tokio::test]
async fn a_missed_run_is_told_at_its_grace_even_when_the_tasks_are_read_hourly() {
    let smtp = SmtpServer::start(None, None);
    let scenario = format!(
        "{USERS}tasks:\n  - {{ id: hourly, title: Hourly counts, owner: joe, every: 1h, start: -59m56s, stops_running_after: 1 }}\n"
    );
    let site = Site::start(&scenario, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.target_key("tasks", "{ every: 1h }");
    site.top(&smtp_config(smtp.port));
    site.rules(MISSED);
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(daemon.wait_for_log("read the scheduled tasks", Duration::from_secs(10)).await, "{}", daemon.log());
    let told = || !smtp.messages().is_empty();
    assert!(poll_until(Duration::from_secs(15), told).await, "due in 4 s, grace 2 s\n{}", daemon.log());
    assert_eq!(subjects(&smtp.messages()), ["[nbwarden] missed on sim: task Hourly counts (task_missed)"]);
}

#[tokio::test]
async fn an_account_that_cannot_read_the_tasks_is_warned_about_once_and_the_jobs_are_still_watched() {
    let scenario = format!("{USERS}tasks:\n  - {{ id: t1, title: Nightly, owner: joe, every: 1h, start: -30m }}\n");
    let auth = "{ portal_url: '{portal}', username: joe, password: joe }";
    let site = Site::start(&scenario, Flavor::Enterprise, Some(auth), "{ every: 1s, timeout: 2s }").await;
    site.target_key("tasks", "{ every: 1s }");
    let daemon = Daemon::start(&site.config_path, &[]);
    let warning = "cannot read the scheduled tasks; the last read stands";
    assert!(daemon.wait_for_log(warning, Duration::from_secs(10)).await, "{}", daemon.log());
    let lists = site.sim.stats().lists;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let log = daemon.log();
    assert_eq!(log.matches(warning).count(), 1, "warned once over several reads:\n{log}");
    assert!(site.sim.stats().lists >= lists + 2, "the jobs are still polled:\n{log}");
}

#[tokio::test]
async fn once_reads_the_tasks_and_a_webhook_and_a_program_receive_the_missed_task() {
    let hook = crate::util::hook::HookServer::start(&[204]).await;
    let out_dir = tempfile::tempdir().unwrap();
    // Its next run is due 3 s after the start, and never starts.
    let scenario = format!(
        "{USERS}tasks:\n  - {{ id: hourly, title: Hourly counts, owner: joe, every: 1h, start: -59m57s, stops_running_after: 1 }}\n"
    );
    let site = Site::start(&scenario, Flavor::Enterprise, None, "{ timeout: 5s }").await;
    site.target_key("tasks", "{ every: 5m }");
    let script = r#"printf '%s|%s|%s' "$NBWARDEN_TASK_ID" "$NBWARDEN_TASK_TITLE" "$NBWARDEN_EVENT" > "$OUT/env""#;
    site.rules(&format!(
        "rules:\n  - name: missed\n    on: task_missed\n    grace: 1s\n    actions:\n      - {{ type: webhook, url: '{}' }}\n      - {{ type: exec, command: [sh, -c, '{}'], env: {{ OUT: '{}' }} }}\n",
        hook.url,
        script.replace('\'', "''"),
        out_dir.path().display()
    ));
    let first = super::outcomes(&site.run(&["once", "--json"]).await);
    assert!(first.is_empty(), "the first read is a baseline, and nothing is due yet: {first:?}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = super::outcomes(&site.run(&["once", "--json"]).await);
    assert_eq!(second.iter().map(|o| o.1.as_str()).collect::<Vec<_>>(), ["done", "done"], "{second:?}");
    let body: Value = serde_json::from_str(&hook.received()[0].body).unwrap();
    assert_eq!(
        (body["event"]["kind"].as_str(), body["task"]["title"].as_str()),
        (Some("task_missed"), Some("Hourly counts"))
    );
    assert_eq!(body["task"]["schedule"], "every 1h");
    assert_eq!(std::fs::read_to_string(out_dir.path().join("env")).unwrap(), "hourly|Hourly counts|task_missed");
    assert!(super::outcomes(&site.run(&["once", "--json"]).await).is_empty(), "told once");
}
