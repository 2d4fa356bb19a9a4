//! SIGHUP reloads that change what runs: targets added and removed, `http.listen` moved, a new
//! configuration that cannot start, and `dry_run` turned off.

use super::{get, get_until, SECOND};
use crate::util::daemon::{poll_until, Daemon};
use crate::util::smtp::free_port;
use crate::util::Site;
use nbwarden::config::Flavor;
use nbwarden::simulator::{Scenario, Simulator};

const ONE_JOB: &str = "jobs:\n  - { id: j1, username: joe, start: -5m }\n";
const RUNAWAY: &str = "jobs:\n  - { id: jrun, username: joe, start: -2h }\n";

#[tokio::test]
async fn a_reload_adds_and_removes_targets() {
    let site = Site::with_rules(ONE_JOB, "{ every: 1s, timeout: 2s }", "rules: []\n").await;
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || site.sim.stats().lists >= 1).await, "{}", daemon.log());
    let scenario: Scenario = nbwarden::config::parse_yaml(std::path::Path::new("s"), ONE_JOB).unwrap();
    let second = Simulator::start(&scenario, Flavor::Enterprise, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let entry = format!(
        "{{ name: two, flavor: enterprise, admin_url: '{}', auth: {{ username: admin, password: simulator }}, poll: {{ every: 1s }} }}",
        second.admin_url()
    );
    site.add_target(&entry);
    daemon.signal("HUP");
    assert!(
        poll_until(10 * SECOND, || second.stats().lists >= 2).await,
        "the added target is polled\n{}",
        daemon.log()
    );
    let text = std::fs::read_to_string(&site.config_path).unwrap().replace(&format!("  - {entry}\n"), "");
    std::fs::write(&site.config_path, text).unwrap();
    daemon.signal("HUP");
    assert!(
        daemon.wait_for_log("targets=sim ", 10 * SECOND).await
            || daemon.log().matches("configuration reloaded").count() >= 2,
        "{}",
        daemon.log()
    );
    tokio::time::sleep(SECOND).await;
    let after = second.stats().lists;
    let sim_before = site.sim.stats().lists;
    tokio::time::sleep(3 * SECOND).await;
    assert_eq!(second.stats().lists, after, "the removed target is no longer polled\n{}", daemon.log());
    assert!(site.sim.stats().lists > sim_before, "the other one still is");
}

#[tokio::test]
async fn a_reload_moves_the_endpoint_to_the_new_address() {
    let site = Site::with_rules(ONE_JOB, "{ every: 1s, timeout: 2s }", "rules: []\n").await;
    let old = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    let (code, _) = get_until(&format!("{old}/healthz"), 10 * SECOND, |code, _| code == 200).await;
    assert_eq!(code, 200, "{}", daemon.log());
    let port = free_port();
    site.rewrite(|line| {
        if line.starts_with("http:") {
            format!("http: {{ listen: '127.0.0.1:{port}' }}")
        } else {
            line.to_string()
        }
    });
    daemon.signal("HUP");
    let new = format!("http://127.0.0.1:{port}");
    let (code, _) = get_until(&format!("{new}/healthz"), 10 * SECOND, |code, _| code == 200).await;
    assert_eq!(code, 200, "the endpoint follows http.listen\n{}", daemon.log());
    assert_eq!(get(&format!("{old}/healthz"), "*/*").await.0, 0, "the old address is closed");
}

#[tokio::test]
async fn a_new_configuration_that_cannot_start_keeps_the_old_one_running() {
    let site = Site::with_rules(ONE_JOB, "{ every: 1s, timeout: 2s }", "rules: []\n").await;
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(daemon.wait_for_log("watching", 10 * SECOND).await, "{}", daemon.log());
    // Valid, but its state file cannot be created (nor its lock taken): the old one goes on.
    site.rewrite(|line| line.replace("state: { path: state.db }", "state: { path: /proc/nbwarden/state.db }"));
    daemon.signal("HUP");
    assert!(daemon.wait_for_log("the previous configuration keeps running", 10 * SECOND).await, "{}", daemon.log());
    let lists = site.sim.stats().lists;
    assert!(poll_until(5 * SECOND, || site.sim.stats().lists >= lists + 2).await, "still polling\n{}", daemon.log());
}

#[tokio::test]
async fn a_reload_that_turns_dry_run_off_acts_on_what_still_matches() {
    let rules =
        "rules:\n  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }\n";
    let site = Site::with_rules(RUNAWAY, "{ every: 1s, timeout: 2s }", rules).await;
    site.top("dry_run: true");
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(daemon.wait_for_log("cancel planned", 10 * SECOND).await, "{}", daemon.log());
    tokio::time::sleep(2 * SECOND).await;
    assert!(site.sim.stats().cancels.is_empty(), "dry run: nothing cancelled");
    site.rewrite(|line| line.replace("dry_run: true", "dry_run: false"));
    daemon.signal("HUP");
    let cancelled = poll_until(10 * SECOND, || site.sim.stats().cancels.get("jrun") == Some(&1)).await;
    assert!(cancelled, "the real ledger never saw the dry-run firing\n{}", daemon.log());
}
