//! Leases: the targets spread over the replicas, one polls each at a time, a standby is healthy,
//! a killed holder's target is polled again within `lease_ttl` plus one poll interval, and a
//! paused holder that wakes up after losing its lease does nothing more for that target.

use super::{now_ms, runs, Cluster, POLL, SECOND, TTL};
use crate::util::daemon::poll_until;
use crate::util::postgres;
use std::time::Duration;

/// One admin and one owner, and a job that runs for hours.
fn quiet_site(i: usize) -> String {
    format!(
        "users:\n  - {{ username: admin, password: simulator, email: gis-admins@example.com }}\n  - {{ username: ann, password: x, email: ann@example.com, admin: false }}\njobs:\n  - {{ id: long{i}, username: ann, start: -5m }}\n"
    )
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the endpoint answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn targets_spread_one_replica_polls_each_and_a_killed_holder_is_followed_within_a_lease_and_a_poll() {
    let Some(server) = postgres::url("replicas: spread and takeover") else { return };
    let db = postgres::fresh_database(&server).await;
    let sites: Vec<String> = (1..=3).map(quiet_site).collect();
    let mut cluster = Cluster::start(&sites, "rules: []\n", db).await;
    for name in ["a", "b", "c"] {
        cluster.launch(name);
    }
    let holders = cluster.settled(&["a", "b", "c"], 30 * SECOND).await;
    assert_eq!(holders.len(), 3, "every target is held: {holders:?}\n{}", cluster.logs());
    let mut held: Vec<&String> = holders.values().collect();
    held.sort();
    assert_eq!(held, ["a", "b", "c"], "three targets over three replicas: one each\n{}", cluster.logs());

    // A fourth replica finds nothing free: it stands by, healthy.
    cluster.launch("d");
    let standby = format!("http://127.0.0.1:{}", cluster.ports["d"]);
    let mut health = (0, String::new());
    for _ in 0..100 {
        health = match reqwest::get(format!("{standby}/healthz")).await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        };
        if health.1.contains("standby") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health.0, 200, "a standby is healthy: {health:?}");
    assert!(health.1.contains("standby"), "and says so: {health:?}\n{}", cluster.logs());

    // For a few polls, each target is polled by its holder only.
    let watched_from = now_ms();
    tokio::time::sleep(3 * POLL).await;
    for (target, holder) in &holders {
        let calls = cluster.calls(target);
        let since: Vec<_> = calls.iter().filter(|(at, call, _)| *at >= watched_from && call == "list").collect();
        assert!(since.len() >= 2, "{target} is polled: {since:?}");
        assert!(since.iter().all(|(_, _, by)| by == holder), "{target} is polled by {holder} only: {since:?}");
    }
    let (_, status) = get(&format!("http://127.0.0.1:{}/status", cluster.ports[&holders["t1"]])).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let t1 = status["targets"].as_array().unwrap().iter().find(|t| t["name"] == "t1").unwrap().clone();
    assert_eq!((t1["holder"].as_str(), t1["held_here"].as_bool()), (Some(holders["t1"].as_str()), Some(true)), "{t1}");
    assert!(t1["epoch"].as_i64().unwrap() >= 1, "{t1}");

    // The holder of t1 is killed: another replica polls t1 within lease_ttl plus one interval.
    let victim = holders["t1"].clone();
    cluster.kill(&victim).await;
    let killed_at = now_ms();
    let mut successor = None;
    poll_until(3 * TTL, || {
        successor =
            cluster.calls("t1").into_iter().find(|(at, call, by)| *at > killed_at && call == "list" && *by != victim);
        successor.is_some()
    })
    .await;
    let (first_ms, _, by) = successor.unwrap_or_else(|| panic!("nobody took t1 over\n{}", cluster.logs()));
    let waited = Duration::from_millis((first_ms - killed_at) as u64);
    println!("t1: killed holder {victim}; {by} polled it {} ms later", waited.as_millis());
    assert!(waited <= TTL + POLL, "taken over after {waited:?}, more than {TTL:?} + {POLL:?}\n{}", cluster.logs());
    let (_, metrics) = get(&format!("http://127.0.0.1:{}/metrics", cluster.ports[&by])).await;
    assert!(metrics.contains("nbwarden_lease_takeovers_total 1"), "{metrics}");
    assert!(metrics.contains("nbwarden_lease_held{target=\"t1\"} 1"), "{metrics}");

    // Over the whole run, each target went from one replica to the next, never back and forth:
    // at most a give-back at the start and the takeover.
    for target in ["t1", "t2", "t3"] {
        let runs = runs(&cluster.calls(target));
        assert!(runs.len() <= 3, "{target} is polled by one replica at a time: {runs:?}");
    }
}

/// A job that crosses 90 minutes `crossing_in` from now.
fn crossing_site(crossing_in: Duration) -> String {
    format!(
        "users:\n  - {{ username: admin, password: simulator, email: gis-admins@example.com }}\n  - {{ username: ann, password: x, email: ann@example.com, admin: false }}\njobs:\n  - {{ id: runaway, username: ann, start: -{}s }}\n",
        90 * 60 - crossing_in.as_secs()
    )
}

const CANCEL_AND_TELL: &str = "rules:
  - name: runaway
    match: { status: running, runtime_over: 90m }
    actions:
      - { type: cancel }
      - { type: email, to: [owner], subject: cancelled, body: '{% for j in jobs %}[{{ j.id }}]{% endfor %}' }
";

#[tokio::test]
async fn a_holder_paused_past_its_lease_does_nothing_for_the_target_when_it_wakes() {
    let Some(server) = postgres::url("replicas: paused holder") else { return };
    let db = postgres::fresh_database(&server).await;
    let mut cluster = Cluster::start(&[crossing_site(12 * SECOND)], CANCEL_AND_TELL, db).await;
    cluster.launch("a");
    let holders = cluster.settled(&["a"], 20 * SECOND).await;
    assert_eq!(holders.get("t1").map(String::as_str), Some("a"), "{}", cluster.logs());
    assert!(poll_until(10 * SECOND, || !cluster.calls("t1").is_empty()).await, "a polled t1");
    cluster.launch("b");
    tokio::time::sleep(SECOND).await;
    // a is paused with the job still running; it crosses its limit while b holds the target.
    cluster.replicas["a"].signal("STOP");
    let cancelled =
        poll_until(40 * SECOND, || cluster.calls("t1").iter().any(|(_, call, _)| call == "cancel runaway")).await;
    assert!(cancelled, "b cancels the runaway job\n{}", cluster.logs());
    let mails = cluster.smtp.wait_for(1).await;
    cluster.replicas["a"].signal("CONT");
    let woke_at = now_ms();
    tokio::time::sleep(2 * TTL + 2 * POLL).await;
    let after: Vec<_> = cluster.calls("t1").into_iter().filter(|(at, _, by)| *at >= woke_at && by == "a").collect();
    assert!(after.is_empty(), "a called the site for t1 after waking: {after:?}\n{}", cluster.logs());
    let cancels: Vec<_> = cluster.calls("t1").into_iter().filter(|(_, call, _)| call.starts_with("cancel")).collect();
    assert_eq!(cancels.len(), 1, "one cancel, by b: {cancels:?}");
    assert_eq!(cancels[0].2, "b");
    assert_eq!(mails.len(), 1);
    assert_eq!(cluster.smtp.messages().len(), 1, "one message, nothing sent again");
    assert!(cluster.replicas["a"].log().contains("lost the lease"), "a says so:\n{}", cluster.replicas["a"].log());
}
