//! `nbwarden backtest`: a back-test of a recorded live run gives the firings the live run had; a
//! stricter version of a rule reports the extra cancels by job id; nothing is executed or written.

use crate::util::daemon::{poll_until, Daemon};
use crate::util::{json_lines, text, Site};
use nbwarden::config::Flavor;
use std::time::Duration;

const SCENARIO: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
jobs:
  - { id: runaway, username: admin, start: -89m54s }
  - { id: long, username: admin, start: -70m }
  - { id: f1, username: admin, start: -1m, runs: 64s, ends: failed }
  - { id: f2, username: admin, start: -1m, runs: 67s, ends: failed }
";

fn rules(limit: &str) -> String {
    format!(
        "rules:\n  - {{ name: runaway, match: {{ status: running, runtime_over: {limit} }}, actions: [{{ type: cancel }}] }}\n  - {{ name: failures, on: status_changed, match: {{ to: failed }}, actions: [{{ type: log, message: 'failed {{{{ job.id }}}}' }}] }}\n"
    )
}

#[tokio::test]
async fn a_backtest_of_a_recorded_run_fires_as_it_did_and_a_stricter_rule_reports_its_extra_cancels() {
    let site = Site::start(SCENARIO, Flavor::Enterprise, None, "{ every: 2s, timeout: 2s }").await;
    site.target_key("limits", "{ max_cancel_fraction: 1.0 }");
    site.rules(&rules("90m"));
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let done = poll_until(Duration::from_secs(20), || {
        let stats = site.sim.stats();
        let log = daemon.log();
        stats.cancels.contains_key("runaway") && log.contains("failed f1") && log.contains("failed f2")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await.expect("stops");
    assert!(done, "the live run cancelled and logged\n{}", daemon.log());

    let out = site.run(&["backtest", "--since", "1h", "--json"]).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let lines = json_lines(&out);
    let summary = |rule: &str| lines.iter().find(|l| l["kind"] == "rule" && l["rule"] == rule).cloned().unwrap();
    for rule in ["runaway", "failures"] {
        let s = summary(rule);
        assert_eq!(s["firings"], s["live_firings"], "{rule}: as live: {lines:?}");
        assert!(
            s["only_backtest"].as_array().unwrap().is_empty() && s["only_live"].as_array().unwrap().is_empty(),
            "{s}"
        );
    }
    assert_eq!(summary("runaway")["firings"], 1);
    assert_eq!(summary("failures")["firings"], 2);
    let cancel = lines.iter().find(|l| l["kind"] == "firing" && l["rule"] == "runaway").unwrap();
    assert_eq!(cancel["live"], true);
    assert!(cancel["actions"][0]["detail"].as_str().unwrap().contains("would cancel"), "{cancel}");

    let stricter = site.dir.path().join("stricter.yaml");
    std::fs::write(&stricter, rules("60m")).unwrap();
    let out = site.run(&["backtest", "--since", "1h", "--rules", stricter.to_str().unwrap()]).await;
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(said.contains("would have cancelled 1 more job(s): long"), "{said}");
    assert_eq!(site.sim.stats().cancels.len(), 1, "the back-test cancelled nothing");
    let again = site.run(&["backtest", "--since", "1h", "--json"]).await;
    assert_eq!(json_lines(&again), lines, "and wrote nothing: the same answer again");
}

#[tokio::test]
async fn a_backtest_of_runtime_over_usual_learns_each_notebooks_runs_from_the_history() {
    // The live rules know nothing of usual runtimes; Notebook Server's list carries each job's
    // item, so the history does. `jslow` crosses 3 x 10 m (its notebook's median) 3 s in, with
    // no change after it: the back-test steps to the crossing all the same.
    let mut scenario = String::from("jobs:\n");
    for n in 0..6 {
        scenario += &format!("  - {{ id: nb{n}, item_id: nb, username: joe, start: -{}h, runs: 10m }}\n", n + 2);
    }
    scenario += "  - { id: jslow, item_id: nb, username: joe, start: -29m57s }\n";
    scenario += "  - { id: jtwice, item_id: nb, username: joe, start: -20m }\n";
    let site = Site::start(&scenario, Flavor::NotebookServer, None, "{ every: 1s, timeout: 2s }").await;
    site.rules("rules:\n  - { name: quiet, on: status_changed, match: { to: failed }, actions: [{ type: log }] }\n");
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let crossed = site.sim.jobs().iter().find(|j| j.id == "jslow").unwrap().start_ms + 30 * 60_000 + 2_000;
    assert!(
        poll_until(Duration::from_secs(20), || nbwarden::clock::local_now_ms() > crossed
            && site.sim.stats().lists >= 3)
        .await
    );
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await.expect("stops");

    let usual = site.dir.path().join("usual.yaml");
    std::fs::write(&usual, "rules:\n  - { name: unusual, match: { status: running, runtime_over_usual: 3x }, actions: [{ type: cancel }] }\n").unwrap();
    let out = site.run(&["backtest", "--since", "1h", "--rules", usual.to_str().unwrap(), "--json"]).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let lines = json_lines(&out);
    let fired: Vec<&str> =
        lines.iter().filter(|l| l["kind"] == "firing").map(|l| l["job_ids"][0].as_str().unwrap_or("?")).collect();
    assert_eq!(fired, ["jslow"], "{lines:?}");
    assert!(site.sim.stats().cancels.is_empty(), "the back-test cancelled nothing");
}

/// A back-test under a binding limit cancels the most overdue job first, not the first by id, and
/// names each firing the limit held back (issue: four running jobs, 70, 80, 95 and 10 minutes old).
#[tokio::test]
async fn a_backtest_under_a_binding_limit_cancels_the_most_overdue_first_and_names_the_held() {
    let scenario = "jobs:
  - { id: j70, username: joe, start: -70m }
  - { id: j80, username: joe, start: -80m }
  - { id: j95, username: joe, start: -95m }
  - { id: j10, username: joe, start: -10m }
";
    let site = Site::start(scenario, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.target_key("limits", "{ max_cancels_per_poll: 1, max_cancel_fraction: 1.0 }");
    site.rules("rules:\n  - { name: quiet, on: status_changed, match: { to: failed }, actions: [{ type: log }] }\n");
    let mut daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(Duration::from_secs(20), || site.sim.stats().lists >= 2).await, "{}", daemon.log());
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await.expect("stops");

    let strict = site.dir.path().join("strict.yaml");
    let rule =
        "rules:\n  - { name: strict, match: { status: running, runtime_over: 60m }, actions: [{ type: cancel }] }\n";
    std::fs::write(&strict, rule).unwrap();
    let out = site.run(&["backtest", "--since", "1h", "--rules", strict.to_str().unwrap(), "--json"]).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let lines = json_lines(&out);
    let of_kind = |kind: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["kind"] == kind)
            .map(|l| l["job_ids"][0].as_str().unwrap_or("?").to_string())
            .collect()
    };
    // One cancel per poll, the most overdue first; the held ones come again at the daemon's next
    // regular poll, as many as it made before it stopped.
    let fired = of_kind("firing");
    assert!(
        fired.len() >= 2 && ["j95", "j80", "j70"].starts_with(&fired.iter().map(String::as_str).collect::<Vec<_>>()),
        "{lines:?}"
    );
    assert_eq!(of_kind("suppressed")[0], "j70", "{lines:?}");
    let held = lines.iter().find(|l| l["kind"] == "suppressed" && l["job_ids"][0] == "j70").unwrap();
    assert!(held["polls"].as_u64().unwrap() >= 2, "{held}");
    assert!(held["detail"].as_str().unwrap().contains("max_cancels_per_poll (1)"), "{held}");
    let said = text(&site.run(&["backtest", "--since", "1h", "--rules", strict.to_str().unwrap()]).await.stdout);
    assert!(
        said.contains("j70: held back at ") && said.contains("poll(s): limit reached: max_cancels_per_poll (1)"),
        "{said}"
    );
    assert!(site.sim.stats().cancels.is_empty(), "the back-test cancelled nothing");
}

/// A back-test of a recorded daemon run whose task rule fired shows that firing, from the task
/// reads rebuilt out of the kept runs, and never reports a task rule as "0 firings" when its
/// history cannot be replayed: `task_stopped` says why it is not back-testable.
#[tokio::test]
async fn a_backtest_replays_the_task_rules_that_fired_live_and_says_which_cannot_be() {
    let scenario = "users:
  - { username: admin, password: simulator }
  - { username: joe, password: joe, admin: false }
tasks:
  - { id: flaky, title: Nightly parcels, owner: joe, every: 1s, start: 1s, runs: [failed], run_takes: 300ms }
  - { id: fine, title: Hourly fine, owner: joe, every: 1h, start: -30m }
";
    let site = Site::start(scenario, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.target_key("tasks", "{ every: 1s }");
    site.rules(
        "rules:
  - { name: task-failed-3-times, on: task_failed, match: { consecutive_failures: 3 }, actions: [{ type: log, message: 'third failure of {{ task.title }}' }] }
  - { name: task-stopped, on: task_stopped, actions: [{ type: log, message: 'stopped {{ task.title }}' }] }
",
    );
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let fired = poll_until(Duration::from_secs(30), || daemon.log().contains("stopped Nightly parcels")).await;
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await.expect("stops");
    assert!(fired && daemon.log().contains("third failure of Nightly parcels"), "{}", daemon.log());

    let out = site.run(&["backtest", "--since", "1h", "--json"]).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let lines = json_lines(&out);
    let summary = |rule: &str| lines.iter().find(|l| l["kind"] == "rule" && l["rule"] == rule).cloned().unwrap();
    let failed = summary("task-failed-3-times");
    assert_eq!((failed["firings"].as_u64(), failed["live_firings"].as_u64()), (Some(1), Some(1)), "{lines:?}");
    assert!(failed["only_backtest"].as_array().unwrap().is_empty(), "the same run as live: {failed}");
    assert!(failed.get("not_backtestable").is_none(), "{failed}");
    let firing = lines.iter().find(|l| l["kind"] == "firing" && l["rule"] == "task-failed-3-times").unwrap();
    assert_eq!(firing["live"], true, "{firing}");
    assert!(firing["actions"][0]["detail"].as_str().unwrap().contains("third failure of Nightly parcels"), "{firing}");
    let stopped = summary("task-stopped");
    assert_eq!(stopped["live_firings"], 1, "{lines:?}\n{}", daemon.log());
    assert!(stopped["not_backtestable"][0]["reason"].as_str().unwrap().contains("task_stopped"), "{stopped}");

    let said = text(&site.run(&["backtest", "--since", "1h"]).await.stdout);
    assert!(said.contains("rule task-failed-3-times: 1 firing(s); the live rules fired 1"), "{said}");
    assert!(said.contains("rule task-stopped: not back-testable: the store keeps each task as last read"), "{said}");
    assert!(!said.contains("task-stopped: 0 firing"), "{said}");
}

/// A back-test shows each message as sending would split it: an owner gets a message about their
/// own jobs only, `owners.map` and the Portal look-ups give the addresses, a fixed address sees
/// every job of the batch.
#[tokio::test]
async fn a_backtest_shows_each_message_per_recipient_with_the_owners_looked_up() {
    let scenario = "users:
  - { username: admin, password: simulator }
  - { username: joe, password: joe, email: joe@example.com, admin: false }
  - { username: jane, password: jane, email: jane@example.com, admin: false }
jobs:
  - { id: fjoe, username: joe, start: -1m, runs: 63s, ends: failed }
  - { id: fjane, username: jane, start: -1m, runs: 63s, ends: failed }
  - { id: fsvc, username: svc_etl, start: -1m, runs: 63s, ends: failed }
";
    let site = Site::start(scenario, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.top("owners: { map: { svc_etl: etl-team@example.com } }");
    site.rules("rules:\n  - { name: failures, on: status_changed, match: { to: failed }, actions: [{ type: log, message: 'failed {{ job.id }}' }] }\n");
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let failed = poll_until(Duration::from_secs(20), || {
        ["fjoe", "fjane", "fsvc"].iter().all(|j| daemon.log().contains(&format!("failed {j}")))
    })
    .await;
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await.expect("stops");
    assert!(failed, "{}", daemon.log());

    let mail = site.dir.path().join("mail.yaml");
    let rule = "rules:\n  - { name: failures, on: status_changed, match: { to: failed }, actions: [{ type: email, to: [owner], cc: [gis-admins@example.com], subject: '{{ jobs | length }} failed: {{ jobs | map(attribute=\"id\") | join(\" \") }}' }] }\n";
    std::fs::write(&mail, rule).unwrap();
    let said = text(&site.run(&["backtest", "--since", "1h", "--rules", mail.to_str().unwrap()]).await.stdout);
    for (address, jobs) in [
        ("joe@example.com", "fjoe; subject: 1 failed: fjoe"),
        ("jane@example.com", "fjane; subject: 1 failed: fjane"),
        ("etl-team@example.com", "fsvc; subject: 1 failed: fsvc"),
    ] {
        assert!(said.contains(&format!("would e-mail {address} about {jobs}")), "{address}: {said}");
    }
    assert!(said.contains("would e-mail gis-admins@example.com about fjane, fjoe, fsvc; subject: 3 failed"), "{said}");
    assert!(!said.contains("the owner ("), "no batch-level line: {said}");
}
