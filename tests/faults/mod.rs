//! The fault suite: the real `nbwarden run` against a misbehaving simulator, SMTP server, webhook
//! and disk. For each fault: the daemon stays up, nothing disappears because of a failure, no
//! action is lost and none is repeated. Each test is bounded in time.

mod crash;
mod disk;

use crate::util::daemon::{poll_until, Daemon};
use crate::util::hook::HookServer;
use crate::util::smtp::{free_port, SmtpServer};
use crate::util::Site;
use nbwarden::config::{parse_yaml, Flavor};
use nbwarden::simulator::Ending;
use std::path::Path;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// A runaway job (cancelled at the first poll) and a live one (fails during the fault).
const SCENARIO: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: jane, password: jane, email: jane@example.com, admin: false }
jobs:
  - { id: jrunaway, username: joe, start: -2h }
  - { id: jlive, username: jane, start: -10m }
";

fn rules(hook: &str) -> String {
    format!(
        "rules:
  - {{ name: runaway, match: {{ status: running, runtime_over: 90m }}, actions: [{{ type: cancel }}] }}
  - {{ name: failures, on: status_changed, match: {{ to: failed }}, actions: [{{ type: webhook, url: '{hook}' }}] }}
"
    )
}

async fn started(poll: &str, hook: &HookServer) -> (Site, Daemon) {
    let site = Site::start(SCENARIO, Flavor::Enterprise, None, poll).await;
    site.rules(&rules(&hook.url));
    let daemon = Daemon::start(&site.config_path, &[]);
    let cancelled = poll_until(10 * SECOND, || site.sim.stats().cancels.get("jrunaway") == Some(&1)).await;
    assert!(cancelled, "{}", daemon.log());
    (site, daemon)
}

fn fault(yaml: &str) -> nbwarden::simulator::Fault {
    parse_yaml(Path::new("fault"), yaml).expect("fault parses")
}

/// Runs `fault` on the list call for `polls` polls while `jlive` fails, then checks the outcome:
/// the daemon is up, nothing disappeared, the failure notice went out once, the cancel happened once.
async fn survives(fault_yaml: &str, polls: usize, poll: &str) -> String {
    let hook = HookServer::start(&[200]).await;
    let (site, mut daemon) = started(poll, &hook).await;
    site.sim.add_fault(fault(fault_yaml));
    let failing = poll_until(20 * SECOND, || daemon.log().matches("poll failed").count() >= polls).await;
    assert!(failing, "the fault was not seen\n{}", daemon.log());
    site.sim.end_job("jlive", Ending::Failed);
    assert!(poll_until(20 * SECOND, || !hook.received().is_empty()).await, "{}", daemon.log());
    tokio::time::sleep(2 * SECOND).await;
    daemon.assert_running();
    let log = daemon.log();
    assert!(!log.contains("disappeared"), "nothing disappears because of a failure\n{log}");
    assert_eq!(hook.received().len(), 1, "the notice went out once\n{log}");
    assert_eq!(site.sim.stats().cancels.get("jrunaway"), Some(&1), "one cancel\n{log}");
    log
}

#[tokio::test]
async fn a_5xx_storm() {
    let log = survives("{ on: list, kind: http_error, status: 503, count: 4 }", 3, "{ every: 1s, timeout: 2s }").await;
    assert!(log.contains("HTTP 503"), "{log}");
}

#[tokio::test]
async fn html_error_pages() {
    let log = survives("{ on: list, kind: html, status: 502, count: 3 }", 3, "{ every: 1s, timeout: 2s }").await;
    assert!(log.contains("HTML"), "{log}");
}

#[tokio::test]
async fn truncated_json() {
    let log = survives("{ on: list, kind: truncated, count: 3 }", 3, "{ every: 1s, timeout: 2s }").await;
    assert!(log.contains("JSON"), "{log}");
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers() {
    let log = survives("{ on: list, kind: hang, count: 2 }", 2, "{ every: 1s, timeout: 1s }").await;
    assert!(log.contains("no answer") || log.contains("timed out") || log.contains("timeout"), "{log}");
}

#[tokio::test]
async fn a_token_that_expires_in_the_middle_of_a_cycle() {
    let hook = HookServer::start(&[200]).await;
    let (site, daemon) = started("{ every: 1s, timeout: 2s }", &hook).await;
    let logins = site.sim.stats().logins;
    site.sim.revoke_tokens();
    site.sim.end_job("jlive", Ending::Failed);
    assert!(poll_until(10 * SECOND, || hook.received().len() == 1).await, "{}", daemon.log());
    let stats = site.sim.stats();
    assert_eq!(stats.logins, logins + 1, "one new sign-in");
    assert!(!daemon.log().contains("poll failed"), "the 498 is absorbed by one sign-in\n{}", daemon.log());
}

#[tokio::test]
async fn a_refused_connection_never_delays_a_live_site() {
    let hook = HookServer::start(&[200]).await;
    let site = Site::start(SCENARIO, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules(&rules(&hook.url));
    let dead = format!("http://127.0.0.1:{}", free_port());
    site.add_target(&format!("{{ name: dead, flavor: enterprise, admin_url: '{dead}/portal/admin', auth: {{ token: t }}, poll: {{ every: 1s }} }}"));
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || site.sim.stats().cancels.get("jrunaway") == Some(&1)).await, "{}", daemon.log());
    site.sim.end_job("jlive", Ending::Failed);
    assert!(poll_until(10 * SECOND, || hook.received().len() == 1).await, "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("dead") && log.contains("poll failed"), "{log}");
    let lists = site.sim.stats().lists;
    let on_schedule = poll_until(5 * SECOND, || site.sim.stats().lists >= lists + 3).await;
    assert!(on_schedule, "the live site kept its one-second schedule while the dead one failed\n{log}");
}

#[tokio::test]
async fn a_clock_offset_of_ten_minutes_either_way() {
    for offset in ["10m", "-10m"] {
        let scenario = format!("clock_offset: '{offset}'\njobs:\n  - {{ id: jslow, username: joe, start: -89m50s }}\n");
        let site = Site::start(&scenario, Flavor::Enterprise, None, "{ every: 60s, timeout: 5s }").await;
        site.rules("rules:\n  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }\n");
        let crossing = site.sim.jobs()[0].start_ms + 90 * 60_000;
        let daemon = Daemon::start(&site.config_path, &[]);
        let cancelled = poll_until(25 * SECOND, || site.sim.stats().first_cancel_ms.contains_key("jslow")).await;
        assert!(cancelled, "{offset}: {}", daemon.log());
        let late = site.sim.stats().first_cancel_ms["jslow"] - crossing;
        assert!((0..=2000).contains(&late), "{offset}: cancelled {late} ms after the crossing (server clock)");
    }
}

#[tokio::test]
async fn smtp_down_for_a_while_then_up() {
    let port = free_port();
    let site = Site::start(SCENARIO, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules("rules:\n  - { name: failures, on: status_changed, match: { to: failed }, actions: [{ type: email, to: [owner] }] }\n");
    site.top(&format!("email: {{ host: 127.0.0.1, port: {port}, security: none, from: n@example.org, timeout: 2s }}"));
    let daemon = Daemon::start(&site.config_path, &[]);
    assert!(poll_until(10 * SECOND, || site.sim.stats().lists >= 1).await, "{}", daemon.log());
    site.sim.end_job("jlive", Ending::Failed);
    assert!(daemon.wait_for_log("queued for another try", 10 * SECOND).await, "{}", daemon.log());
    let smtp = SmtpServer::start(Some(port), None);
    let delivered = poll_until(20 * SECOND, || smtp.messages().len() == 1).await;
    assert!(delivered, "{}", daemon.log());
    tokio::time::sleep(3 * SECOND).await;
    assert_eq!(smtp.messages().len(), 1, "exactly once");
    assert_eq!(smtp.messages()[0]["envelope_to"][0], "jane@example.com");
}

#[tokio::test]
async fn a_webhook_answering_500_then_200() {
    let hook = HookServer::start(&[500, 500, 200]).await;
    let (site, daemon) = started("{ every: 1s, timeout: 2s }", &hook).await;
    site.sim.end_job("jlive", Ending::Failed);
    assert!(poll_until(15 * SECOND, || hook.received().len() == 3).await, "{}", daemon.log());
    tokio::time::sleep(3 * SECOND).await;
    assert_eq!(hook.received().len(), 3, "two failures, one delivery, nothing after it");
    assert!(daemon.log().contains("webhook done"), "{}", daemon.log());
}
