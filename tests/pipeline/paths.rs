//! Paths no other test reached (issue: "the untested paths"): `once --dry-run` on an existing
//! state, `run --dry-run`, SIGINT, `poll.cron`, `owners.lookup: none`, webhook and SMTP timeouts.

use crate::util::daemon::{poll_until, Daemon};
use crate::util::{json_lines, raw_http, text, Site};
use nbwarden::config::Flavor;
use nbwarden::simulator::Ending;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

const JOBS: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: j, email: joe@example.com, admin: false }
jobs:
  - { id: jrun, username: joe, start: -2h }
  - { id: jlive, username: joe, start: -5m }
  - { id: jother, username: ann, start: -5m }
";

const RULES: &str = "rules:
  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }
  - { name: failures, on: status_changed, match: { to: failed }, actions: [{ type: log, message: 'failed {{ job.id }}' }] }
";

fn lines_of(out: &std::process::Output, kind: &str) -> Vec<serde_json::Value> {
    json_lines(out).into_iter().filter(|l| l["kind"] == kind).collect()
}

#[tokio::test]
async fn once_dry_run_on_an_existing_state_previews_and_the_next_real_once_still_sees_the_change() {
    let site = Site::simple(JOBS, Flavor::Enterprise).await;
    site.rules(RULES);
    let real = site.run(&["once", "--json"]).await;
    assert!(real.status.success(), "{}", text(&real.stderr));
    site.sim.end_job("jlive", Ending::Failed);
    for _ in 0..2 {
        let preview = site.run(&["once", "--dry-run", "--json"]).await;
        let events = lines_of(&preview, "event");
        assert!(events.iter().any(|e| e["job_id"] == "jlive" && e["to"] == "FAILED"), "{events:?}");
        let actions = lines_of(&preview, "action");
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert_eq!((actions[0]["rule"].as_str(), actions[0]["outcome"].as_str()), (Some("failures"), Some("planned")));
    }
    let next = site.run(&["once", "--json"]).await;
    let actions = lines_of(&next, "action");
    assert_eq!(actions.len(), 1, "the preview wrote nothing: the change is still new: {actions:?}");
    assert_eq!(actions[0]["outcome"], "done");
}

#[tokio::test]
async fn run_dry_run_plans_once_and_cancels_nothing() {
    let site = Site::start(JOBS, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules(RULES);
    let mut daemon = Daemon::start(&site.config_path, &["--dry-run"]);
    assert!(daemon.wait_for_log("cancel planned", 10 * SECOND).await, "{}", daemon.log());
    assert!(poll_until(5 * SECOND, || site.sim.stats().lists >= 4).await);
    assert!(site.sim.stats().cancels.is_empty(), "a dry run never cancels");
    assert_eq!(daemon.log().matches("cancel planned").count(), 1, "its own ledger: planned once\n{}", daemon.log());
    daemon.signal("INT");
    let status = daemon.wait_exit(15 * SECOND).await.expect("SIGINT stops the daemon");
    assert!(status.success(), "{status:?}\n{}", daemon.log());
    // The real state never saw it: a real `once` cancels.
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(lines_of(&out, "action")[0]["outcome"], "done", "{}", text(&out.stdout));
}

#[tokio::test]
async fn poll_cron_polls_on_its_seconds() {
    let site = Site::start(JOBS, Flavor::Enterprise, None, "{ cron: '* * * * * *', timeout: 2s }").await;
    site.rules("rules: []\n");
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(8 * SECOND, || site.sim.stats().lists >= 3).await, "{}", daemon.log());
}

#[tokio::test]
async fn owners_lookup_none_uses_the_map_and_the_fallback_only() {
    let site = Site::simple(JOBS, Flavor::Enterprise).await;
    site.rules("rules:\n  - { name: f, on: status_changed, match: { to: failed }, actions: [{ type: email, to: [owner], subject: s, body: b }] }\n");
    site.top("email: { transport: file, dir: outbox, from: n@example.org }\nowners: { lookup: none, fallback: gis@example.org, map: { joe: joe-team@example.org } }");
    assert!(site.run(&["once"]).await.status.success());
    site.sim.end_job("jlive", Ending::Failed);
    site.sim.end_job("jother", Ending::Failed);
    let out = site.run(&["once", "--json"]).await;
    let detail = lines_of(&out, "action")[0]["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("joe-team@example.org") && detail.contains("gis@example.org"), "{detail}");
    assert_eq!(site.sim.stats().user_lookups, 0, "no Portal look-up");
}

/// After the baseline, `jlive` fails; the one action of `rules` (with `top` added to the
/// configuration) meets a server that accepts and never answers: the attempt ends at the
/// action's timeout and is queued for another try.
async fn times_out_and_is_queued(
    rules: impl Fn(std::net::SocketAddr) -> String,
    top: impl Fn(std::net::SocketAddr) -> String,
) {
    let silent = raw_http::serve(None).await;
    let site = Site::simple(JOBS, Flavor::Enterprise).await;
    site.rules(&format!(
        "rules:\n  - {{ name: f, on: status_changed, match: {{ to: failed }}, actions: [{}] }}\n",
        rules(silent)
    ));
    site.top(&top(silent));
    assert!(site.run(&["once"]).await.status.success());
    site.sim.end_job("jlive", Ending::Failed);
    let started = std::time::Instant::now();
    let out = site.run(&["once", "--json"]).await;
    let action = &lines_of(&out, "action")[0];
    assert_eq!(action["outcome"], "failed");
    assert!(action["detail"].as_str().unwrap().contains("queued for another try"), "{action}");
    assert!(started.elapsed() < 20 * SECOND, "bounded by the timeout: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_webhook_that_never_answers_times_out_and_is_queued() {
    times_out_and_is_queued(
        |addr| format!("{{ type: webhook, url: 'http://{addr}/hook', timeout: 1s }}"),
        |_| String::new(),
    )
    .await;
}

#[tokio::test]
async fn an_smtp_server_that_never_greets_times_out_and_is_queued() {
    let email = |addr: std::net::SocketAddr| {
        format!("email: {{ host: 127.0.0.1, port: {}, security: none, from: n@example.org, timeout: 1s }}", addr.port())
    };
    times_out_and_is_queued(|_| "{ type: email, to: [ops@example.org] }".into(), email).await;
}

#[tokio::test]
async fn a_dry_run_meets_the_hourly_cancel_limit_as_the_real_run_would() {
    let jobs = "jobs:\n  - { id: jr1, username: joe, start: -2h }\n  - { id: jr2, username: joe, start: -3h }\n";
    let site = Site::simple(jobs, Flavor::Enterprise).await;
    site.rules(
        "rules:\n  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }\n",
    );
    site.target_key("limits", "{ max_cancels_per_hour: 1, max_cancel_fraction: 1.0 }");
    site.top("dry_run: true");
    let outcomes = |out: &std::process::Output| {
        let mut o: Vec<String> =
            lines_of(out, "action").iter().map(|a| a["outcome"].as_str().unwrap().to_string()).collect();
        o.sort();
        o
    };
    let first = site.run(&["once", "--json"]).await;
    assert_eq!(outcomes(&first), ["planned", "suppressed"], "{}", text(&first.stdout));
    let second = site.run(&["once", "--json"]).await;
    assert_eq!(
        outcomes(&second),
        ["suppressed"],
        "the planned cancel counts against the hour: {}",
        text(&second.stdout)
    );
    assert!(site.sim.stats().cancels.is_empty());
}

#[tokio::test]
async fn actions_running_at_the_end_of_the_grace_period_are_left_queued_for_the_next_start() {
    let silent = raw_http::serve(None).await;
    let site = Site::start(JOBS, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules(&format!("rules:\n  - {{ name: f, on: status_changed, match: {{ to: failed }}, actions: [{{ type: webhook, url: 'http://{silent}/hook', timeout: 60s }}] }}\n"));
    let mut daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || site.sim.stats().lists >= 1).await, "{}", daemon.log());
    site.sim.end_job("jlive", Ending::Failed);
    assert!(daemon.wait_for_log("status_changed", 10 * SECOND).await, "{}", daemon.log());
    tokio::time::sleep(SECOND).await;
    let stopping = std::time::Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(20 * SECOND).await.expect("stops within the grace period");
    assert!(status.success(), "{status:?}\n{}", daemon.log());
    let took = stopping.elapsed();
    assert!(took >= 9 * SECOND && took < 16 * SECOND, "waited the 10 s grace, no more: {took:?}");
    sqlx::any::install_default_drivers();
    let pool =
        sqlx::AnyPool::connect(&format!("sqlite://{}", site.dir.path().join("state.db").display())).await.unwrap();
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM actions WHERE kind = 'webhook'").fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(status, "pending", "the abandoned webhook runs again at the next start");
}

#[tokio::test]
async fn a_digest_in_a_dry_run_is_planned_and_sends_nothing() {
    let site = Site::start(JOBS, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules("rules:\n  - { name: digest, on: schedule, cron: '*/2 * * * * *', match: { status: running }, actions: [{ type: email, to: [ops@example.org] }] }\n");
    site.top("email: { transport: file, dir: outbox, from: n@example.org }");
    let daemon = Daemon::start(&site.config_path, &["--dry-run"]);
    assert!(daemon.wait_for_log("email planned", 10 * SECOND).await, "{}", daemon.log());
    let outbox = site.dir.path().join("outbox");
    let written = std::fs::read_dir(&outbox).map_or(0, |d| d.count());
    assert_eq!(written, 0, "nothing is written in a dry run\n{}", daemon.log());
}

#[tokio::test]
async fn the_sendmail_transport_hands_the_message_to_sendmail() {
    let site = Site::simple(JOBS, Flavor::Enterprise).await;
    let bin = site.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = bin.join("sendmail");
    let captured = site.dir.path().join("captured.eml");
    std::fs::write(&script, format!("#!/bin/sh\necho \"$@\" > {0}.args\ncat > {0}\n", captured.display())).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&script).unwrap().permissions(), 0o755);
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    site.rules("rules:\n  - { name: f, on: status_changed, match: { to: failed }, actions: [{ type: email, to: [ops@example.org], subject: 'failed {{ job.id }}' }] }\n");
    site.top("email: { transport: sendmail, from: n@example.org }");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    assert!(site.run_env(&["once"], &[("PATH", &path)]).await.status.success());
    site.sim.end_job("jlive", Ending::Failed);
    let out = site.run_env(&["once", "--json"], &[("PATH", &path)]).await;
    assert_eq!(lines_of(&out, "action")[0]["outcome"], "done", "{}", text(&out.stdout));
    let message = std::fs::read_to_string(&captured).unwrap();
    assert!(message.contains("Subject: failed jlive") && message.contains("To: ops@example.org"), "{message}");
    assert!(std::fs::read_to_string(format!("{}.args", captured.display())).unwrap().contains("ops@example.org"));
}

#[tokio::test]
async fn starttls_and_implicit_tls_never_fall_back_to_plain_text() {
    for security in ["starttls", "tls"] {
        let smtp = crate::util::smtp::SmtpServer::start(None, None);
        let site = Site::simple(JOBS, Flavor::Enterprise).await;
        site.rules("rules:\n  - { name: f, on: status_changed, match: { to: failed }, actions: [{ type: email, to: [ops@example.org] }] }\n");
        site.top(&format!(
            "email: {{ host: 127.0.0.1, port: {}, security: {security}, from: n@example.org, timeout: 3s }}",
            smtp.port
        ));
        assert!(site.run(&["once"]).await.status.success());
        site.sim.end_job("jlive", Ending::Failed);
        let out = site.run(&["once", "--json"]).await;
        let action = &lines_of(&out, "action")[0];
        assert_eq!(action["outcome"], "failed", "{security}: {action}");
        tokio::time::sleep(SECOND / 2).await;
        assert!(smtp.messages().is_empty(), "{security}: a plain-text server got nothing: {action}");
    }
}
