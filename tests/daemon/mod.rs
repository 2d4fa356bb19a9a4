//! The real `nbwarden run` against the simulator: schedule, deadline wake-ups, digests, signals,
//! reload, metrics, health and the status page.

mod browser;
mod console;
mod demo;
mod reload;
mod usual;

use crate::util::daemon::{poll_until, Daemon};
use crate::util::hook::HookServer;
use crate::util::{json_lines, Site};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

const CANCEL_AT_90M: &str = "rules:
  - name: runaway
    match: { type: executeNotebook, status: running, runtime_over: 90m }
    actions: [{ type: cancel }]
";

async fn get(url: &str, accept: &str) -> (u16, String) {
    match reqwest::Client::new().get(url).header("accept", accept).send().await {
        Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// GETs `url` every 100 ms until `done` holds for the answer (up to `within`); the last answer.
async fn get_until(url: &str, within: Duration, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let started = std::time::Instant::now();
    loop {
        let (code, body) = get(url, "*/*").await;
        if done(code, &body) || started.elapsed() > within {
            return (code, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn polls_on_schedule_and_stops_on_sigterm_with_the_state_committed() {
    let site = Site::with_rules(
        "jobs:\n  - { id: j1, username: joe, start: -5m }\n",
        "{ every: 1s, timeout: 2s }",
        CANCEL_AT_90M,
    )
    .await;
    let mut daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || site.sim.stats().lists >= 3).await, "{}", daemon.log());
    let before = site.sim.stats().lists;
    tokio::time::sleep(3 * SECOND).await;
    let polls = site.sim.stats().lists - before;
    assert!((2..=5).contains(&polls), "about one poll a second, got {polls} in 3 s");
    daemon.signal("TERM");
    let status = daemon.wait_exit(15 * SECOND).await.expect("exits after SIGTERM");
    assert!(status.success(), "exit 0: {status:?}\n{}", daemon.log());
    assert!(daemon.log().contains("stopped; state committed"));
    // The next process starts from the committed snapshot: not a baseline.
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(json_lines(&out)[0]["baseline"], false);
}

#[tokio::test]
async fn a_job_crossing_90_minutes_is_cancelled_within_2_seconds_with_polls_a_minute_apart() {
    // Crosses 90 minutes about 10 s after the simulator starts (well after the first poll, even on
    // a loaded machine); the regular polls are 60 s apart.
    let scenario =
        "jobs:\n  - { id: jslow, username: joe, start: -89m50s }\n  - { id: jfine, username: jane, start: -10m }\n";
    let site = Site::with_rules(scenario, "{ every: 60s, timeout: 5s }", CANCEL_AT_90M).await;
    let crossing = site.sim.jobs().iter().find(|j| j.id == "jslow").unwrap().start_ms + 90 * 60_000;
    let daemon = Daemon::start(&site.config_path, &[]);
    let cancelled = poll_until(25 * SECOND, || site.sim.stats().first_cancel_ms.contains_key("jslow")).await;
    assert!(cancelled, "{}", daemon.log());
    let at = site.sim.stats().first_cancel_ms["jslow"];
    let late = at - crossing;
    assert!((0..=2000).contains(&late), "cancelled {late} ms after the crossing\n{}", daemon.log());
    // One regular poll and one at the crossing. The server's clock is known from `Date` headers to
    // about half a second, so under load the deadline poll may come a little early, see the job
    // just short of 90 minutes, and poll once more half a second later: never more.
    let lists = site.sim.stats().lists;
    assert!((2..=3).contains(&lists), "{lists} list calls: one regular poll and one at the crossing\n{}", daemon.log());
    assert!(!site.sim.stats().cancels.contains_key("jfine"));
}

#[tokio::test]
async fn a_digest_fires_once_per_slot_and_catches_up_a_missed_slot_once() {
    let hook = HookServer::start(&[200]).await;
    let rules = format!(
        "rules:
  - name: digest
    on: schedule
    cron: '*/2 * * * * *'
    window: 1h
    match: {{ status: failed }}
    actions: [{{ type: webhook, url: '{}', body: '{{{{ now }}}} {{{{ jobs | length }}}}' }}]
",
        hook.url
    );
    let scenario = "jobs:\n  - { id: jf, username: joe, start: -30m, runs: 10m, ends: failed }\n  - { id: jr, username: joe, start: -5m }\n";
    let site = Site::with_rules(scenario, "{ every: 1s, timeout: 2s }", &rules).await;
    let slots = || hook.received().iter().map(|r| r.body.clone()).collect::<Vec<_>>();
    let mut daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || hook.received().len() >= 3).await, "{}", daemon.log());
    daemon.signal("TERM");
    daemon.wait_exit(15 * SECOND).await.expect("stops");
    let first_run = slots();
    let mut distinct = first_run.clone();
    distinct.dedup();
    assert_eq!(distinct, first_run, "one firing per slot: {first_run:?}");
    assert!(first_run.iter().all(|b| b.ends_with(" 1")), "only the failed job: {first_run:?}");
    let last_before = first_run.last().unwrap().clone();

    // Down for several slots; the restart catches up the latest missed slot once.
    tokio::time::sleep(5 * SECOND).await;
    let restarted_at = chrono::Utc::now();
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || slots().len() >= first_run.len() + 2).await, "{}", daemon.log());
    let after: Vec<String> = slots()[first_run.len()..].to_vec();
    let when = |body: &str| chrono::DateTime::parse_from_rfc3339(body.split(' ').next().unwrap()).unwrap();
    // The caught-up slot is the latest one missed before the daemon was up, which on a loaded
    // machine may be a little after `restarted_at`: it is before the first slot fired on schedule,
    // and the slots missed before it (at least one of the 5 s down) are not sent.
    let missed_before_restart = when(&last_before) + chrono::Duration::seconds(2) < restarted_at;
    assert!(missed_before_restart, "the test was down for at least one slot: {last_before} {restarted_at}");
    assert!(
        when(&after[0]) > when(&last_before) + chrono::Duration::seconds(2),
        "only the latest missed slot: {after:?}"
    );
    assert!(when(&after[1]) > when(&after[0]) && when(&after[1]) > restarted_at, "then on schedule: {after:?}");
    let all = slots();
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "no slot twice, restarts included: {all:?}");
}

#[tokio::test]
async fn sighup_with_a_broken_rule_file_keeps_the_old_rules() {
    let site = Site::with_rules(
        "jobs:\n  - { id: j1, username: joe, start: -5m }\n",
        "{ every: 1s, timeout: 2s }",
        CANCEL_AT_90M,
    )
    .await;
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(daemon.wait_for_log("watching", 10 * SECOND).await, "{}", daemon.log());
    site.rules("rules:\n  - name: runaway\n    match: { runtime_ovr: 90m }\n    actions: [{ type: cancel }]\n");
    daemon.signal("HUP");
    assert!(daemon.wait_for_log("the previous one keeps running", 10 * SECOND).await, "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("test.yaml:3") && log.contains("did you mean `runtime_over`"), "{log}");
    let metric = |text: &str, name: &str| {
        text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    let (_, metrics) = get(&format!("{base}/metrics"), "*/*").await;
    assert_eq!(
        metric(&metrics, "nbwarden_config_last_reload_successful "),
        Some(0.0),
        "a refused reload shows: {metrics}"
    );
    assert!(metric(&metrics, "nbwarden_config_last_reload_success_timestamp_seconds ").is_some_and(|t| t > 1e9));
    let plan = nbwarden::config::parse_yaml(std::path::Path::new("job"), "{ id: jlate, username: joe, start: -3h }");
    site.sim.add_job(plan.unwrap());
    let cancelled = poll_until(10 * SECOND, || site.sim.stats().cancels.contains_key("jlate")).await;
    assert!(cancelled, "the old rule still cancels\n{}", daemon.log());

    site.rules("rules:\n  - { name: quiet, match: { username: nobody }, actions: [{ type: log }] }\n");
    daemon.signal("HUP");
    assert!(daemon.wait_for_log("configuration reloaded", 10 * SECOND).await, "{}", daemon.log());
    let (code, _) = get(&format!("{base}/healthz"), "*/*").await;
    assert_eq!(code, 200, "the endpoint serves across reloads\n{}", daemon.log());
    let (_, metrics) = get(&format!("{base}/metrics"), "*/*").await;
    assert_eq!(metric(&metrics, "nbwarden_config_last_reload_successful "), Some(1.0), "{metrics}");
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_carry_every_series() {
    let site = Site::with_rules(
        "jobs:\n  - { id: jrun, username: joe, start: -2h }\n  - { id: jq, username: jane, start: -1m }\n",
        "{ every: 1s, timeout: 2s }",
        "rules:\n  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }\n  - { name: failed, on: status_changed, match: { to: failed }, actions: [{ type: log }] }\n",
    )
    .await;
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || site.sim.stats().lists >= 1).await, "{}", daemon.log());
    site.sim.end_job("jq", nbwarden::simulator::Ending::Failed);
    let wanted = "nbwarden_actions_total{target=\"sim\",rule=\"failed\"";
    let (_, text) = get_until(&format!("{base}/metrics"), 15 * SECOND, |_, body| body.contains(wanted)).await;
    assert!(text.contains(wanted), "{text}\n{}", daemon.log());
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            assert!(comment.starts_with(" HELP ") || comment.starts_with(" TYPE "), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
        }
        names.insert(name.to_string());
    }
    for wanted in [
        "nbwarden_polls_total",
        "nbwarden_poll_errors_total",
        "nbwarden_poll_duration_seconds_bucket",
        "nbwarden_jobs",
        "nbwarden_events_total",
        "nbwarden_firings_total",
        "nbwarden_actions_total",
        "nbwarden_last_successful_poll_timestamp_seconds",
        "nbwarden_token_refreshes_total",
    ] {
        assert!(names.contains(wanted), "{wanted} missing from\n{text}");
    }
    assert!(text.contains("nbwarden_jobs{target=\"sim\",phase=\"failed\"} 1"), "{text}");
    assert!(text.contains("rule=\"runaway\",action=\"cancel\",outcome=\"done\"} 1"), "{text}");
    promtool_checks(&text);
}

/// `promtool check metrics` (Debian's `prometheus`) finds nothing to say about `text`: no error,
/// no lint warning (names, units, `_total` on counters, HELP on every metric).
pub fn promtool_checks(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        return crate::util::skipped("promtool_checks", "no promtool (Debian's prometheus package)");
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
}

#[tokio::test]
async fn healthz_turns_unhealthy_when_a_target_keeps_failing() {
    let site = Site::with_rules(
        "jobs:\n  - { id: j1, username: joe, start: -5m }\n",
        "{ every: 1s, timeout: 1s }",
        CANCEL_AT_90M,
    )
    .await;
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    let healthz = format!("{base}/healthz");
    let (code, _) = get_until(&healthz, 10 * SECOND, |code, _| code == 200).await;
    assert_eq!(code, 200, "{}", daemon.log());
    // The site goes away: every poll fails; after 3 intervals plus a timeout the target is unhealthy.
    site.sim.add_fault(
        nbwarden::config::parse_yaml(std::path::Path::new("f"), "{ on: list, kind: http_error, status: 503 }").unwrap(),
    );
    let healthcheck = |url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nbwarden")).args(["healthcheck", "--url", url]).output().unwrap()
    };
    assert!(healthcheck(&healthz).status.success(), "healthy: exit 0");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let root = no_redirects.get(format!("{base}/")).send().await.unwrap();
    assert_eq!((root.status().as_u16(), root.headers()["location"].to_str().unwrap()), (308, "/status"));
    let (code, body) = get_until(&healthz, 15 * SECOND, |code, _| code == 503).await;
    assert_eq!(code, 503, "{}", daemon.log());
    assert!(body.starts_with("target sim: "), "{body}");
    let unhealthy = healthcheck(&healthz);
    assert_eq!(unhealthy.status.code(), Some(1), "while /healthz is 503");
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy (503): target sim: "));
    let (_, status) = get(&format!("{base}/status"), "application/json").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["targets"][0]["healthy"], false);
    assert!(status["targets"][0]["failures_in_a_row"].as_u64().unwrap() >= 3);
    let response = reqwest::Client::new().post(format!("{base}/status")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405, "read-only");
}

#[tokio::test]
async fn a_wrong_password_never_locks_the_account_and_a_reload_with_the_fixed_file_polls_at_once() {
    let site = Site::with_rules(
        "jobs:\n  - { id: j1, username: joe, start: -5m }\n",
        "{ every: 1s, timeout: 2s }",
        "rules: []\n",
    )
    .await;
    std::fs::write(site.dir.path().join("pw.txt"), "Wr0ng-Passw0rd\n").unwrap();
    site.set_auth("{ portal_url: '{portal}', username: admin, password_file: pw.txt }");
    let base = site.serve_http();
    let started = std::time::Instant::now();
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let healthz = format!("{base}/healthz");
    let (code, body) = get_until(&healthz, 10 * SECOND, |code, _| code == 503).await;
    assert_eq!(code, 503, "a waiting sign-in is unhealthy at once\n{}", daemon.log());
    assert!(body.contains("target sim: ") && body.contains("to protect the account from lockout"), "{body}");
    let (_, metrics) = get(&format!("{base}/metrics"), "*/*").await;
    let paused =
        metrics.lines().find(|l| l.starts_with("nbwarden_sign_in_paused_until_timestamp_seconds{target=\"sim\"}"));
    let until: f64 = paused.and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    assert!(until > 1e9, "the metric says until when: {paused:?}");
    tokio::time::sleep((10 * SECOND).saturating_sub(started.elapsed())).await;
    let stats = site.sim.stats();
    assert!(
        stats.failed_logins == 1,
        "{} sign-ins in 10 s of 1 s polls (the next try waits a minute)\n{}",
        stats.failed_logins,
        daemon.log()
    );
    assert_eq!((stats.lockouts, stats.lists), (0, 0), "never locked, never listed");
    crate::util::assert_never_locked(&stats.refused_at);
    daemon.assert_running();
    assert!(daemon.log().contains("sign-in waits until"), "{}", daemon.log());
    assert!(!daemon.log().contains("Wr0ng-Passw0rd"));

    std::fs::write(site.dir.path().join("pw.txt"), "simulator\n").unwrap();
    daemon.signal("HUP");
    assert!(poll_until(5 * SECOND, || site.sim.stats().lists >= 1).await, "{}", daemon.log());
    let (code, _) = get_until(&healthz, 5 * SECOND, |code, _| code == 200).await;
    assert_eq!(code, 200, "{}", daemon.log());
}
