//! Exactly once across replicas: holders SIGKILLed at random points over 20 cycles, and the
//! PostgreSQL server restarted mid-run. Every cancel reaches its simulator once, every notice is
//! one message at the SMTP server (by Message-ID), and nothing planned is lost. Each failure
//! notice goes to its owner at once and to a slow mailbox (3 s), so that kills land between the
//! parts of one action; repeated deliveries are bounded by the sends the kills hit in flight,
//! counted from what the database's journal held at each kill (`util::crash`).

use super::{Cluster, SECOND};
use crate::util::crash::{self, Kill, Part, RULES, SLOW};
use crate::util::daemon::poll_until;
use crate::util::postgres::{self, PrivateServer};
use crate::util::Lcg;
use std::collections::BTreeMap;
use std::time::Duration;

const JOBS: usize = 8;
const ANN: &str = "ann@example.com";
/// The rule of each subject.
const SUBJECTS: [(&str, &str); 2] = [("cancelled", "runaway"), ("failed", "failures")];

/// Site `site`'s jobs: `JOBS` crossing 90 minutes and `JOBS` failing, one of each every `gap`.
fn busy_site(site: usize, gap: Duration) -> String {
    let mut yaml = String::from(
        "users:\n  - { username: admin, password: simulator, email: gis-admins@example.com }\n  - { username: ann, password: x, email: ann@example.com, admin: false }\njobs:\n",
    );
    for i in 0..JOBS {
        // After the baselines (waited for below): a job failed before it is part of the baseline,
        // which is silent by design.
        let at = Duration::from_secs(10) + gap * i as u32;
        yaml.push_str(&format!("  - {{ id: s{site}run{i}, username: ann, start: -{}s }}\n", 90 * 60 - at.as_secs()));
        yaml.push_str(&format!(
            "  - {{ id: s{site}bad{i}, username: ann, start: -1m, runs: {}ms, ends: failed }}\n",
            60_000 + at.as_millis()
        ));
    }
    yaml
}

/// Every job the rules act on: (site's target, cancelled job, failed job).
fn expected(sites: usize) -> Vec<(String, String, String)> {
    (1..=sites)
        .flat_map(|s| (0..JOBS).map(move |i| (format!("t{s}"), format!("s{s}run{i}"), format!("s{s}bad{i}"))))
        .collect()
}

/// Distinct messages (by Message-ID) per "subject job recipient", and how many deliveries
/// repeated one.
fn notices(cluster: &Cluster) -> (BTreeMap<String, usize>, usize) {
    crate::util::smtp::notices(&cluster.smtp.messages())
}

/// True once every cancel and every notice of `sites` has happened.
fn all_done(cluster: &Cluster, sites: usize) -> bool {
    let (mails, _) = notices(cluster);
    expected(sites).iter().all(|(target, run, bad)| {
        cluster.sites[target].stats().cancels.contains_key(run)
            && mails.contains_key(&format!("cancelled {run} {ANN}"))
            && mails.contains_key(&format!("failed {bad} {ANN}"))
            && mails.contains_key(&format!("failed {bad} {SLOW}"))
    })
}

/// Each cancel once at its site, each notice one message, nothing else sent.
fn assert_exactly_once(cluster: &Cluster, sites: usize, what: &str) {
    let (mails, repeats) = notices(cluster);
    println!("{what}: {repeats} repeated deliveries of one Message-ID");
    for (target, run, bad) in expected(sites) {
        let cancels = cluster.sites[&target].stats().cancels.get(&run).copied();
        assert_eq!(cancels, Some(1), "{what}: {run} cancelled once at {target}");
        assert_eq!(mails.get(&format!("cancelled {run} {ANN}")), Some(&1), "{what}: one notice for {run}");
        for to in [ANN, SLOW] {
            assert_eq!(mails.get(&format!("failed {bad} {to}")), Some(&1), "{what}: one notice for {bad} to {to}");
        }
    }
    assert_eq!(mails.len(), 3 * sites * JOBS, "{what}: nothing else was sent: {mails:?}");
}

#[tokio::test]
async fn holders_killed_at_random_points_over_20_cycles_lose_and_repeat_nothing() {
    let Some(server) = postgres::url("replicas: SIGKILL cycles") else { return };
    let db = postgres::fresh_database(&server).await;
    let sites: Vec<String> = (1..=2).map(|s| busy_site(s, Duration::from_millis(6_000))).collect();
    let mut cluster = Cluster::start(&sites, RULES, db).await;
    // A mailbox that takes its time: kills land inside claimed e-mail actions, between their parts.
    cluster.smtp.set_slow_recipients(Some(Duration::from_secs(3)));
    let (seed, mut random) = Lcg::seeded("replica crash test seed");
    cluster.launch("a");
    cluster.launch("b");
    assert!(cluster.baselines(2, 8 * SECOND).await, "both targets polled once\n{}", cluster.logs());
    let mut kills: Vec<Kill> = Vec::new();
    for cycle in 0..20 {
        tokio::time::sleep(Duration::from_millis(300 + random.next(1200))).await;
        // A holder, chosen at random among the replicas holding something.
        let holders = cluster.holders().await;
        let mut candidates: Vec<String> = holders.values().cloned().collect();
        candidates.dedup();
        if candidates.is_empty() {
            candidates = vec!["a".into(), "b".into()];
        }
        let victim = candidates[random.next(candidates.len() as u64) as usize].clone();
        let at = std::time::SystemTime::now();
        cluster.kill(&victim).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let delivered = cluster.smtp.delivered();
        kills.push(Kill { at, journaled: crash::recorded(&cluster.db).await, delivered });
        // Back at once (it takes its own leases again), or after the other took them over.
        let away = Duration::from_millis(random.next(super::TTL.as_millis() as u64 + 1_000));
        eprintln!("cycle {cycle}: killed {victim} (holders {holders:?}), back in {away:?}");
        tokio::time::sleep(away).await;
        cluster.launch(&victim);
    }
    let takeovers: Vec<usize> = ["t1", "t2"].iter().map(|t| super::runs(&cluster.calls(t)).len() - 1).collect();
    eprintln!("handovers between replicas per target: {takeovers:?}");
    assert!(takeovers.iter().sum::<usize>() >= 2, "seed {seed}: the targets changed hands: {takeovers:?}");
    let done = poll_until(60 * SECOND, || all_done(&cluster, 2)).await;
    tokio::time::sleep(3 * SECOND).await;
    assert!(done, "seed {seed}: not everything was done: {:?}\n{}", notices(&cluster), cluster.logs());
    assert_exactly_once(&cluster, 2, &format!("seed {seed}"));
    let deliveries = cluster.smtp.deliveries().await;
    let actions = crash::email_actions(&cluster.db).await;
    let part = |message: &serde_json::Value| crash::part_of(message, &SUBJECTS, &actions);
    let (repeats, in_flight) = (crash::repeats(&deliveries, &part), crash::in_flight(&kills, &deliveries, &part));
    println!("seed {seed}: {} repeated deliveries, {in_flight} sends in flight at 20 kills", repeats.len());
    let lost = crash::lost(&kills, &deliveries, &part);
    assert!(lost.is_empty(), "seed {seed}: sent again although journaled before: {lost:?}");
    let first: Vec<&Part> = repeats.iter().take(5).collect();
    assert!(
        repeats.len() <= in_flight,
        "seed {seed}: {} repeats (first {first:?}), but the kills hit only {in_flight} sends in flight\n{}",
        repeats.len(),
        cluster.logs()
    );
}

#[tokio::test]
async fn a_postgresql_restart_mid_run_loses_and_repeats_nothing() {
    let Some(server) = PrivateServer::start("replicas: PostgreSQL restart") else { return };
    let db = postgres::fresh_database(&server.url).await;
    let sites: Vec<String> = (1..=2).map(|s| busy_site(s, Duration::from_millis(1_500))).collect();
    let mut cluster = Cluster::start(&sites, RULES, db).await;
    cluster.launch("a");
    cluster.launch("b");
    let holders = cluster.settled(&["a", "b"], 20 * SECOND).await;
    assert_eq!(holders.len(), 2, "{}", cluster.logs());
    assert!(cluster.baselines(2, 8 * SECOND).await, "both targets polled once\n{}", cluster.logs());
    for _ in 0..2 {
        tokio::time::sleep(3 * SECOND).await;
        server.restart();
    }
    let done = poll_until(60 * SECOND, || all_done(&cluster, 2)).await;
    tokio::time::sleep(3 * SECOND).await;
    assert!(done, "not everything was done after the restarts: {:?}\n{}", notices(&cluster), cluster.logs());
    assert_exactly_once(&cluster, 2, "PostgreSQL restarts");
    for (name, replica) in &mut cluster.replicas {
        replica.assert_running();
        let log = replica.log();
        assert!(!log.contains("panicked"), "{name}:\n{log}");
    }
}
