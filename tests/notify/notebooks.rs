//! Idle interactive notebooks through the real binary, a real SMTP server and the simulator, on
//! both flavors: an idle notebook is warned once and then closed once, a restart in between
//! included; a notebook in use, a protected user's, and one whose activity moves as it is read
//! before the close are never closed; a dry run closes and sends nothing; the close limits hold
//! with many idle notebooks at once, most idle first.

use super::smtp_config;
use crate::util::daemon::{poll_until, Daemon};
use crate::util::smtp::SmtpServer;
use crate::util::Site;
use nbwarden::config::Flavor;
use serde_json::Value;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

const USERS: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: ann, password: x, email: ann@example.com, admin: false }
  - { username: bob, password: x, email: bob@example.com, admin: false }
  - { username: svc_etl, password: x, email: etl@example.com, admin: false }
";

/// Warned at 3 s idle, closed at 6 s: the shipped pair, shortened.
const RULES: &str = "rules:
  - name: idle-warning
    on: notebook
    match: { idle_over: 3s }
    actions:
      - { type: email, to: [owner], subject: 'Your notebook {{ notebook.title or notebook.id }} will be closed soon' }
  - name: idle-close
    on: notebook
    match: { idle_over: 6s }
    actions: [{ type: close_notebook }]
";

async fn site(notebooks: &str, smtp: &SmtpServer, flavor: Flavor) -> Site {
    // Notebook Server gives no titles: Portal's items do.
    let items = "items:\n  - { id: item1, title: Parcel cleanup, owner: ann }\n";
    let scenario = format!("{USERS}{items}notebooks:\n{notebooks}");
    let site = Site::start(&scenario, flavor, None, "{ every: 1s, timeout: 2s }").await;
    site.target_key("notebooks", "{ every: 1s }");
    site.target_key("protect", "{ users: [svc_*] }");
    site.top(&smtp_config(smtp.port));
    site.rules(RULES);
    site
}

fn subjects_to(smtp: &SmtpServer, address: &str) -> Vec<String> {
    let to = |m: &Value| m["to"].as_str().is_some_and(|t| t.contains(address));
    smtp.messages().iter().filter(|m| to(m)).map(|m| m["subject"].as_str().unwrap_or_default().to_string()).collect()
}

async fn warned_then_closed_once(flavor: Flavor) {
    let smtp = SmtpServer::start(None, None);
    let notebooks = "
  - { id: nb-idle, item_id: item1, title: Parcel cleanup, owner: ann, active: 0s }
  - { id: nb-busy, item_id: item2, owner: bob, active: 0s, active_every: 1s }
  - { id: nb-svc, item_id: item3, owner: svc_etl, active: 0s }
  - { id: nb-moving, item_id: item4, owner: bob, active: 0s, busy_when_read: true }
";
    let site = site(notebooks, &smtp, flavor).await;
    let base = site.serve_http();
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let warned = || !subjects_to(&smtp, "ann@example.com").is_empty();
    assert!(poll_until(15 * SECOND, warned).await, "{}", daemon.log());
    // A restart between the warning and the close: neither comes twice.
    daemon.signal("TERM");
    assert!(daemon.wait_exit(10 * SECOND).await.is_some_and(|s| s.success()), "{}", daemon.log());
    let daemon = Daemon::start(&site.config_path, &[]);
    let closed = || site.sim.stats().closes.get("nb-idle") == Some(&1);
    assert!(poll_until(15 * SECOND, closed).await, "{:?}\n{}", site.sim.stats().closes, daemon.log());
    tokio::time::sleep(3 * SECOND).await;
    let subjects = subjects_to(&smtp, "ann@example.com");
    assert_eq!(subjects, ["Your notebook Parcel cleanup will be closed soon"], "warned once");
    let closes = site.sim.stats().closes;
    assert_eq!(closes.get("nb-idle"), Some(&1), "closed once: {closes:?}");
    assert!(!closes.contains_key("nb-busy"), "in use: never closed: {closes:?}");
    assert!(!closes.contains_key("nb-svc"), "protected: never closed: {closes:?}");
    assert!(!closes.contains_key("nb-moving"), "its activity moved at the re-read: never closed: {closes:?}");
    assert_eq!(subjects_to(&smtp, "etl@example.com").len(), 1, "the protected owner is still told");
    let log = daemon.log();
    assert!(log.contains("its activity moved since the read that fired"), "{log}");
    assert!(log.contains("closed notebook 'Parcel cleanup' (nb-idle) of ann"), "{log}");
    assert!(log.contains("protect.users \\\"svc_*\\\"") || log.contains("protect.users \"svc_*\""), "{log}");
    // The console lists what is open, most idle first.
    let status: Value = reqwest::Client::new()
        .get(format!("{base}/status"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let open: Vec<&str> = status["notebooks"].as_array().unwrap().iter().filter_map(|n| n["id"].as_str()).collect();
    assert!(!open.contains(&"nb-idle") && open.contains(&"nb-busy"), "{status:#}");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("nbwarden_notebooks_closed_total{target=\"sim\"} 1"), "{metrics}");
    assert!(
        metrics.contains("nbwarden_open_notebooks{target=\"sim\",runtime=\"ArcGIS Notebook Python 3 Standard\"} 3"),
        "{metrics}"
    );
    crate::daemon::promtool_checks(&metrics);
    // `report`: the closes by owner and runtime.
    let mut daemon = daemon;
    daemon.signal("TERM");
    assert!(daemon.wait_exit(10 * SECOND).await.is_some(), "{}", daemon.log());
    let out = site.run(&["report", "--since", "1h", "--format", "json"]).await;
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let closes = &report["closes"];
    assert_eq!(
        closes,
        &serde_json::json!([{ "owner": "ann", "runtime": "ArcGIS Notebook Python 3 Standard", "closes": 1 }]),
        "{report:#}"
    );
    // `backtest`: the recorded reads replayed through the core fire what the daemon fired.
    let out = site.run(&["backtest", "--since", "1h", "--json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for name in ["idle-warning", "idle-close"] {
        let rule =
            lines.iter().find(|l| l["kind"] == "rule" && l["rule"] == name).unwrap_or_else(|| panic!("{lines:#?}"));
        assert!(rule["firings"].as_u64() >= Some(2), "{rule}");
        let none = serde_json::json!([]);
        assert_eq!((&rule["only_backtest"], &rule["only_live"]), (&none, &none), "{rule}\n{lines:#?}");
    }
}

#[tokio::test]
async fn kubernetes_an_idle_notebook_is_warned_once_then_closed_once_across_a_restart() {
    warned_then_closed_once(Flavor::Enterprise).await;
}

#[tokio::test]
async fn notebook_server_an_idle_notebook_is_warned_once_then_closed_once_across_a_restart() {
    warned_then_closed_once(Flavor::NotebookServer).await;
}

#[tokio::test]
async fn a_dry_run_closes_and_sends_nothing_on_notebook_server() {
    dry_run_closes_nothing(Flavor::NotebookServer).await;
}

#[tokio::test]
async fn a_dry_run_closes_and_sends_nothing_on_kubernetes() {
    dry_run_closes_nothing(Flavor::Enterprise).await;
}

async fn dry_run_closes_nothing(flavor: Flavor) {
    let smtp = SmtpServer::start(None, None);
    let site =
        site("  - { id: nb-idle, item_id: item1, title: Parcel cleanup, owner: ann, active: -1h }\n", &smtp, flavor)
            .await;
    let daemon = Daemon::start(&site.config_path, &["--dry-run"]);
    let planned =
        || daemon.log().contains("close_notebook planned: would close notebook 'Parcel cleanup' (nb-idle) of ann");
    assert!(poll_until(15 * SECOND, planned).await, "{}", daemon.log());
    tokio::time::sleep(2 * SECOND).await;
    assert!(site.sim.stats().closes.is_empty(), "{:?}", site.sim.stats().closes);
    assert!(smtp.messages().is_empty(), "{:?}", smtp.messages());
}

#[tokio::test]
async fn the_close_limits_hold_with_many_idle_notebooks_most_idle_first_on_kubernetes() {
    limits_hold(Flavor::Enterprise).await;
}

#[tokio::test]
async fn the_close_limits_hold_with_many_idle_notebooks_most_idle_first_on_notebook_server() {
    limits_hold(Flavor::NotebookServer).await;
}

async fn limits_hold(flavor: Flavor) {
    let smtp = SmtpServer::start(None, None);
    let notebooks: String =
        (1..=12).map(|n| format!("  - {{ id: nb{n:02}, item_id: item{n}, owner: ann, active: -{n}h }}\n")).collect();
    let site = site(&notebooks, &smtp, flavor).await;
    site.target_key("limits", "{ max_closes_per_poll: 2, max_closes_per_hour: 5 }");
    let daemon = Daemon::start(&site.config_path, &[]);
    let five = || site.sim.stats().closes.len() >= 5;
    assert!(poll_until(15 * SECOND, five).await, "{:?}\n{}", site.sim.stats().closes, daemon.log());
    tokio::time::sleep(3 * SECOND).await;
    let closes = site.sim.stats().closes;
    let closed: Vec<&str> = closes.keys().map(String::as_str).collect();
    assert_eq!(closed, ["nb08", "nb09", "nb10", "nb11", "nb12"], "the five most idle, each once: {closes:?}");
    assert!(closes.values().all(|n| *n == 1), "{closes:?}");
    assert!(daemon.log().contains("max_closes_per_hour (5"), "{}", daemon.log());
}

#[tokio::test]
async fn explain_finds_a_notebook_by_id_or_title_and_says_why_each_rule_fires_or_not() {
    let smtp = SmtpServer::start(None, None);
    let notebooks = "
  - { id: nb-idle, item_id: item1, title: Parcel cleanup, owner: ann, active: -1h }
  - { id: nb-svc, item_id: item3, title: ETL, owner: svc_etl, active: -1h }
  - { id: nb-new, item_id: item4, title: Fresh, owner: bob, active: 0s }
";
    let site = site(notebooks, &smtp, Flavor::Enterprise).await;
    let text = |args: &[&str]| {
        let site = &site;
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = site.run(&args).await;
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let idle = text(&["explain", "Parcel*"]).await;
    // An hour idle, give or take the second of the server's Date header.
    let hour = idle.contains("of ann on sim: idle 1h") || idle.contains("of ann on sim: idle 59m59s");
    assert!(idle.contains("notebook nb-idle \"Parcel cleanup\" of ann on sim: idle ") && hour, "{idle}");
    assert!(idle.contains("rule idle-warning (on notebook): YES: it fires at the next read\n"), "{idle}");
    let close = "rule idle-close (on notebook): YES: it fires at the next read, if the close limits allow";
    assert!(idle.contains(close), "{idle}");
    let protected = text(&["explain", "nb-svc"]).await;
    assert!(protected.contains("not closed: protect.users \"svc_*\" of target sim protects it"), "{protected}");
    let fresh = text(&["explain", "nb-new"]).await;
    assert!(fresh.contains("rule idle-warning (on notebook): no: idle_over: 3s does not hold"), "{fresh}");
    let checked = text(&["check", "--targets"]).await;
    assert!(
        checked.contains("open notebooks (notebooks:): 3 open, read from <admin>/notebooks and notebooks/deployments"),
        "{checked}"
    );
    let none = site.run(&["explain", "nb-nope"]).await;
    assert!(!none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("nor an open notebook"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
}
