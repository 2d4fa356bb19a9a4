//! `nbwarden report` over a history the real daemon recorded against the simulator: exact figures
//! in JSON and CSV, and the HTML page in headless Chromium with its charts drawn (a screenshot is
//! kept as `target/test-artifacts/report.png`).

use crate::util::browser::{browser, chromium, keep_screenshot};
use crate::util::daemon::{poll_until, Daemon};
use crate::util::{text, Site};
use nbwarden::config::Flavor;
use std::time::Duration;

const SCENARIO: &str = "jobs:
  - { id: ann1, username: ann, item_id: nbA, start: -30m, runs: 30m2s }
  - { id: ann2, username: ann, item_id: nbA, start: -20m, runs: 20m3s, ends: failed }
  - { id: bob1, username: bob, item_id: nbB, start: -89m57s }
";

const RULES: &str = "rules:
  - { name: runaway, match: { type: executeNotebook, status: running, runtime_over: 90m }, actions: [{ type: cancel }] }
";

#[tokio::test]
async fn a_report_of_a_recorded_run_has_exact_figures_and_its_page_draws_both_charts() {
    let site = Site::start(SCENARIO, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.target_key("limits", "{ max_cancel_fraction: 1.0 }");
    site.rules(RULES);
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let ended = || site.sim.jobs().iter().filter(|j| j.end_ms.is_some()).count() == 3;
    let done = poll_until(Duration::from_secs(20), || ended() && site.sim.stats().cancels.contains_key("bob1")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await.expect("stops");
    assert!(done, "{}", daemon.log());

    let out = site.run(&["report", "--since", "1d", "--format", "json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let group = |name: &str| report["groups"].as_array().unwrap().iter().find(|g| g["name"] == name).cloned().unwrap();
    let (ann, bob) = (group("ann"), group("bob"));
    assert_eq!(
        (ann["runs"].as_u64(), ann["failures"].as_u64(), ann["failure_rate"].as_f64()),
        (Some(2), Some(1), Some(0.5))
    );
    assert_eq!(ann["compute_minutes"], 50.1, "30m2s + 20m3s: {ann}");
    assert_eq!(ann["cancels"], 0);
    assert_eq!((bob["runs"].as_u64(), bob["cancels"].as_u64(), bob["failures"].as_u64()), (Some(1), Some(1), Some(0)));
    assert_eq!(bob["compute_minutes"], 90.0, "cancelled at 90 minutes: {bob}");
    assert_eq!(report["groups"][0]["name"], "bob", "most compute first");
    let longest: Vec<&str> =
        report["longest"].as_array().unwrap().iter().map(|l| l["job_id"].as_str().unwrap()).collect();
    assert_eq!(longest, ["bob1", "ann1", "ann2"]);

    let csv = text(&site.run(&["report", "--since", "1d", "--format", "csv", "--by", "type"]).await.stdout);
    assert!(csv.starts_with("section,key,field,value\n"), "{csv}");
    for row in ["runs,3", "compute_minutes,140.1", "failures,1", "cancels,1"] {
        assert!(csv.contains(&format!("group,executeNotebook,{row}\n")), "{row}: {csv}");
    }
    assert!(csv.contains("longest,1,job_id,bob1\n"), "{csv}");

    let page = site.dir.path().join("report.html");
    let out = site.run(&["report", "--since", "1d", "--out", page.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<table id=\"groups\">") && !html.contains("<script"), "self-contained, no scripts");
    let Some(binary) = chromium() else {
        assert!(std::env::var_os("NBWARDEN_REQUIRE_BROWSER").is_none(), "chromium is required here but missing");
        return crate::util::skipped(
            "a_report_of_a_recorded_run_has_exact_figures_and_its_page_draws_both_charts",
            "no chromium: only the written HTML was checked",
        );
    };
    let url = format!("file://{}", page.display());
    let dom = browser(binary, &url, None).await;
    let charts: Vec<&str> = dom.split("<svg").skip(1).collect();
    assert_eq!(charts.len(), 2, "two charts in the page as Chromium built it");
    assert!(charts[0].contains("Compute hours by owner") && charts[1].contains("Runs per day by outcome"));
    assert!(charts[0].matches("<rect").count() >= 3, "a bar per owner, and the background");
    assert!(charts[1].contains("failed") && charts[1].contains("cancelled"), "the legend");
    keep_screenshot(binary, &url, "report.png").await;
}

/// Enterprise before 12.1 lists jobs without `inputs`, so without their task: `report --by task`
/// knows a failed job's task from its resource (read for the failure, kept in the history) and a
/// completed job's from the task runs the watcher read (its owner's task that started then).
#[tokio::test]
async fn report_by_task_knows_the_tasks_that_an_abbreviated_list_leaves_out() {
    let scenario = "version: '11.5'
users:
  - { username: admin, password: simulator }
  - { username: joe, password: joe, admin: false }
jobs:
  - { id: jfail, username: joe, start: 2s, runs: 2s, ends: failed, task_id: nightly }
  - { id: jhourly, username: joe, start: -30m, runs: 1m }
  - { id: jhand, username: ann, start: -20m, runs: 1m }
tasks:
  - { id: nightly, title: Nightly parcels, owner: joe, every: 1d, start: 1h }
  - { id: hourly, title: Hourly check, owner: joe, every: 1h, start: -30m }
";
    let site = Site::start(scenario, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.target_key("tasks", "{ every: 1s }");
    site.rules("rules:\n  - { name: failures, on: status_changed, match: { to: failed }, actions: [{ type: log, message: 'failed {{ job.id }}' }] }\n");
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let failed = poll_until(Duration::from_secs(20), || daemon.log().contains("failed jfail")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await.expect("stops");
    assert!(failed, "{}", daemon.log());

    let out = site.run(&["report", "--since", "1d", "--by", "task", "--format", "json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut groups: Vec<(String, u64, u64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (g["name"].as_str().unwrap().to_string(), g["runs"].as_u64().unwrap(), g["failures"].as_u64().unwrap())
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("(not scheduled)".to_string(), 1, 0),
            ("Hourly check (hourly)".to_string(), 1, 0),
            ("Nightly parcels (nightly)".to_string(), 1, 1)
        ],
        "{report}"
    );
}
