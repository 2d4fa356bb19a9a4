//! `tick` with a scripted job source: a failed poll is never diffed, disappearance reads once.

use super::*;
use crate::arcgis::fake::FakeSource;
use crate::arcgis::{Error, Job, Status};
use crate::dispatch::{Dispatcher, Mode};
use crate::rules::RuleSet;
use crate::store::{SqlStore, Store};

fn jobs(ids: &[&str]) -> crate::arcgis::Result<Vec<Job>> {
    crate::arcgis::fake::executing(ids)
}

fn summary(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l {
            Line::Poll { ok, baseline, .. } => format!("poll ok={ok} baseline={baseline:?}"),
            Line::Event { job_id, event, to, .. } => format!("{event} {job_id} {}", to.as_deref().unwrap_or("")),
            Line::Action(r) => format!("action {} {}", r.action, r.outcome),
        })
        .collect()
}

#[tokio::test]
async fn a_failed_poll_keeps_the_snapshot_and_is_never_diffed() {
    let script = vec![
        jobs(&["a", "b"]),
        Err(Error::Timeout { url: "fake".into(), after: "1s".into() }),
        jobs(&["a", "b"]),
        jobs(&["a"]),
    ];
    let (shared, mut target) = fake_target(script, &[], RuleSet::default()).await;
    let table: [&[&str]; 4] = [
        &["poll ok=true baseline=Some(true)"],
        &["poll ok=false baseline=None"],
        &["poll ok=true baseline=Some(false)"],
        &["poll ok=true baseline=Some(false)", "disappeared b unknown"],
    ];
    for (round, expected) in table.into_iter().enumerate() {
        let lines = target.tick(&shared).await;
        assert_eq!(summary(&lines), expected, "poll {round}");
        assert!(target.core.snapshot.is_some(), "poll {round}: the snapshot survives a failure");
    }
}

async fn fake_target(
    polls: Vec<crate::arcgis::Result<Vec<Job>>>,
    running: &[&'static str],
    rules: RuleSet,
) -> (Arc<Shared>, Target) {
    fake_target_in(Arc::new(SqlStore::open_memory().await.unwrap()), polls, running, rules).await
}

async fn fake_target_in(
    store: Arc<dyn Store>,
    polls: Vec<crate::arcgis::Result<Vec<Job>>>,
    running: &[&'static str],
    rules: RuleSet,
) -> (Arc<Shared>, Target) {
    let running = Some(running.iter().map(|r| r.to_string()).collect());
    target_of(store, FakeSource { running, ..FakeSource::scripted(polls) }.shared(), rules).await
}

async fn target_of(store: Arc<dyn Store>, source: Arc<FakeSource>, rules: RuleSet) -> (Arc<Shared>, Target) {
    let services = crate::actions::Services::new(None, &Default::default(), None).unwrap();
    let (rules, services, clock) = (Arc::new(rules), Arc::new(services), crate::clock::system());
    let shared = Shared::new(Dispatcher { rules, store, mode: Mode::Act, services, clock });
    let config: crate::config::TargetConfig = crate::config::yaml::from_str(
        "{ name: fake, flavor: enterprise, admin_url: 'http://fake/admin', auth: { token: t } }",
    )
    .unwrap();
    let target = Target::load(config, source, &shared).await.unwrap();
    (shared, target)
}

#[tokio::test]
async fn a_cancel_made_while_running_is_verified_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "rules:\n  - { name: stop, match: { status: running }, actions: [{ type: cancel }] }\n",
    )
    .unwrap();
    let rules = RuleSet::load(&[dir.path().join("r.yaml")], &["fake"]).unwrap();
    let (shared, mut target) = fake_target((0..5).map(|_| jobs(&["stuck"])).collect(), &["stuck"], rules).await;
    target.tick(&shared).await;
    let sources = sources(std::slice::from_ref(&target));
    let done = shared.dispatch.execute_due(&sources, crate::dispatch::RetryPolicy::RUN).await.unwrap();
    assert_eq!(done[0].outcome, crate::plan::Outcome::Done);
    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.extend(summary(&target.tick(&shared).await).into_iter().filter(|l| l.starts_with("action")));
    }
    assert_eq!(reports, ["action cancel cancel_ignored"], "cancel_ignored after three polls, in one process");
}

#[tokio::test]
async fn a_job_read_once_for_its_end_carries_its_messages_to_the_rules() {
    let text = "rules:
  - { name: gone, on: disappeared, match: { status: failed }, actions: [{ type: log, message: 'gone {{ job.item_id }} {{ job.messages | last }}' }] }
  - { name: fast, on: status_changed, match: { from: none, to: failed }, actions: [{ type: log, message: 'fast {{ job.item_id }} {{ job.messages | join(\"|\") }}' }] }
";
    let rules = RuleSet::parse(std::path::Path::new("r.yaml"), text, &["fake"]).unwrap();
    let mut quick = Job::new("failquick", Status::Failed);
    quick.ended_at = Some(crate::clock::ServerMs(900));
    let script = vec![jobs(&["failgone", "x"]), Ok(vec![Job::new("x", Status::Executing), quick])];
    let (shared, mut target) = fake_target(script, &[], rules).await;
    target.tick(&shared).await;
    target.tick(&shared).await;
    let sources = sources(std::slice::from_ref(&target));
    let policy = crate::dispatch::RetryPolicy::RUN;
    let done = shared.dispatch.execute_due(&sources, policy).await.unwrap();
    let mut details: Vec<&str> = done.iter().map(|r| r.detail.as_str()).collect();
    details.sort();
    assert_eq!(details, ["fast item1 Traceback|KeyError: 'X'", "gone item1 KeyError: 'X'"]);
}

#[tokio::test]
async fn an_item_read_once_stays_with_the_job_and_an_unchanged_poll_writes_no_history() {
    let text =
        "rules:\n  - { name: unusual, match: { runtime_over_usual: 3x }, actions: [{ type: log, message: x }] }\n";
    let rules = RuleSet::parse(std::path::Path::new("r.yaml"), text, &["fake"]).unwrap();
    let store = Arc::new(SqlStore::open_memory().await.unwrap());
    let script = vec![jobs(&["a"]), jobs(&["a", "b"]), jobs(&["a", "b"]), jobs(&["a", "b"])];
    let (shared, mut target) = fake_target_in(store.clone(), script, &["a", "b"], rules).await;
    for _ in 0..4 {
        target.tick(&shared).await;
    }
    let items: Vec<Option<&str>> =
        target.core.snapshot.as_ref().unwrap().values().map(|j| j.item_id.as_deref()).collect();
    assert_eq!(items, [Some("nb-a"), Some("nb-b")], "a read at the first poll (running), b as it appeared");
    let changes = store.changes(crate::store::Scope::Real, "fake", crate::clock::ServerMs(i64::MAX)).await.unwrap();
    let rows: Vec<(&str, Option<&str>)> =
        changes.iter().map(|c| (c.job.id.as_str(), c.job.item_id.as_deref())).collect();
    assert_eq!(rows, [("a", Some("nb-a")), ("b", Some("nb-b"))], "one history row each, with its item");
}

/// A fresh process (`once`) that lists the same body as the stored snapshot decodes none of the
/// stored jobs: the snapshot is read in place, the list read knows the body again, the diff finds
/// the same list, and the runaway rule skips the running job as too young from its start alone.
/// Once the job has run past the limit, the rule reads it, and it is cancelled.
#[tokio::test]
async fn a_fresh_process_listing_the_stored_body_again_decodes_no_job_until_a_rule_reads_one() {
    let text = "rules:
  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }
  - { name: failed, on: status_changed, match: { to: failed }, actions: [{ type: log }] }
";
    let rules = RuleSet::parse(std::path::Path::new("r.yaml"), text, &["fake"]).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::open_memory().await.unwrap());
    let body = r#"{"asyncNotebookJobs":[{"jobId":"a","status":"EXECUTING","startTime":1000},
        {"jobId":"b","status":"COMPLETED","startTime":1000,"endTime":2000}]}"#;
    let site = |minutes: i64| {
        let now = crate::clock::ServerMs(1_000 + minutes * 60_000);
        FakeSource { body: Some(body.into()), now, ..FakeSource::default() }.shared()
    };
    let (shared, mut first) = target_of(store.clone(), site(1), rules.clone()).await;
    assert_eq!(summary(&first.tick(&shared).await), ["poll ok=true baseline=Some(true)"]);
    let decoded = |target: &Target| target.core.snapshot.as_ref().unwrap().decoded();

    let (shared, mut fresh) = target_of(store.clone(), site(60), rules.clone()).await;
    assert!(!decoded(&fresh), "loaded: the stored parts read in place");
    assert_eq!(summary(&fresh.tick(&shared).await), ["poll ok=true baseline=Some(false)"]);
    assert!(!decoded(&fresh), "a steady poll of the same body reads no stored job");

    let (shared, mut late) = target_of(store, site(91), rules).await;
    assert_eq!(summary(&late.tick(&shared).await), ["poll ok=true baseline=Some(false)"]);
    assert!(decoded(&late), "the job past the limit is read");
    let sources = sources(std::slice::from_ref(&late));
    let done = shared.dispatch.execute_due(&sources, crate::dispatch::RetryPolicy::ONCE).await.unwrap();
    let done: Vec<(&str, &[String])> = done.iter().map(|r| (r.action.as_str(), &r.job_ids[..])).collect();
    assert_eq!(done, [("cancel", &["a".to_string()][..])]);
}

/// A digest slot on a site whose clock runs 5 minutes ahead of this machine's: a job gone from
/// the list counts when it went within `window` before the slot on the site's clock (the edge
/// included), a listed job always, each only when it matches. A slot fires once (also after a
/// restart), a later slot fires again, and the last slot fired is read back from the ledger.
#[tokio::test]
async fn a_digest_takes_the_jobs_gone_within_its_window_on_the_sites_clock() {
    use crate::store::{PollCommit, Scope};
    const LOCAL: i64 = 1_800_000_000_000;
    const AHEAD: i64 = 300_000;
    const HOUR: i64 = 3_600_000;
    let (slot, next_slot) = (LOCAL - 60_000, LOCAL);
    let slot_server = slot + AHEAD;
    let store: Arc<dyn Store> = Arc::new(SqlStore::open_memory().await.unwrap());
    let failed = |id: &str| Job::new(id, Status::Failed);
    let listed = vec![failed("listed"), Job::new("running", Status::Executing)];
    let snapshot = crate::diff::snapshot(listed.clone());
    let baseline = PollCommit {
        snapshot: Some(&snapshot),
        upserts: listed.iter().collect(),
        ..PollCommit::new(Scope::Real, "fake", crate::clock::ServerMs(slot_server - 2 * HOUR))
    };
    store.commit_poll(&baseline).await.unwrap();
    for (id, at) in [("before", slot_server - HOUR - 1), ("edge", slot_server - HOUR), ("late", slot_server - 1)] {
        let gone =
            PollCommit { gone: vec![failed(id)], ..PollCommit::new(Scope::Real, "fake", crate::clock::ServerMs(at)) };
        store.commit_poll(&gone).await.unwrap();
    }
    let text = "rules:\n  - { name: digest, on: schedule, cron: '0 8 * * *', window: 1h, match: { status: failed }, actions: [{ type: log, message: x }] }\n";
    let rules = Arc::new(RuleSet::parse(std::path::Path::new("r.yaml"), text, &["fake"]).unwrap());
    let services = Arc::new(crate::actions::Services::new(None, &Default::default(), None).unwrap());
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::ManualClock::at(LOCAL));
    let dispatcher = Dispatcher { rules, store: store.clone(), mode: Mode::Act, services, clock };
    let shared = Shared::new(dispatcher);
    let config: crate::config::TargetConfig = crate::config::yaml::from_str(
        "{ name: fake, flavor: enterprise, admin_url: 'http://fake/admin', auth: { token: t } }",
    )
    .unwrap();
    let source =
        crate::arcgis::fake::FakeSource { now: crate::clock::ServerMs(LOCAL + AHEAD), ..Default::default() }.shared();
    let mut target = Target::load(config.clone(), source.clone(), &shared).await.unwrap();
    assert_eq!(target.core().snapshot.as_ref().map(|s| s.len()), Some(2), "the listed jobs, from the store");

    let queued = || async {
        let due = store.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX), 0, 10).await.unwrap();
        due.iter().map(|q| q.planned.jobs.iter().map(|j| j.id.clone()).collect()).collect::<Vec<Vec<String>>>()
    };
    target.digest(&shared, 0, crate::clock::LocalMs(slot)).await.unwrap();
    assert_eq!(queued().await, [["edge", "late", "listed"]], "gone within the hour before the slot, or listed; failed");
    assert_eq!(crate::cycle::last_fired_slot(target.core(), "digest"), Some(crate::clock::LocalMs(slot)));
    target.digest(&shared, 0, crate::clock::LocalMs(slot)).await.unwrap();
    let mut restarted = Target::load(config, source, &shared).await.unwrap();
    restarted.digest(&shared, 0, crate::clock::LocalMs(slot)).await.unwrap();
    assert_eq!(queued().await.len(), 1, "a slot fires once, also after a restart");
    restarted.digest(&shared, 0, crate::clock::LocalMs(next_slot)).await.unwrap();
    assert_eq!(queued().await.len(), 2, "the next slot fires");
    assert_eq!(crate::cycle::last_fired_slot(restarted.core(), "digest"), Some(crate::clock::LocalMs(next_slot)));
    let fired_at = next_slot + AHEAD;
    assert_eq!(restarted.prune_memory(crate::clock::ServerMs(fired_at)), 0, "what fired at the cut stays");
    assert_eq!(restarted.prune_memory(crate::clock::ServerMs(fired_at + 1)), 1, "the digest's slots are no listed job");
    assert_eq!(crate::cycle::last_fired_slot(restarted.core(), "digest"), None);
}

/// A job first seen failed has its resource read once, for its messages; a rule firing on it
/// does not read it again for its notebook item, whether the resource named one or none.
#[tokio::test]
async fn a_failed_jobs_resource_is_read_once_in_a_poll() {
    let text = "rules:\n  - { name: failed, match: { status: failed }, actions: [{ type: log, message: x }] }\n";
    let rules = RuleSet::parse(std::path::Path::new("r.yaml"), text, &["fake"]).unwrap();
    let failed = |id: &str| Job::new(id, Status::Failed);
    let script = vec![jobs(&["x"]), Ok(vec![Job::new("x", Status::Executing), failed("quiet"), failed("failloud")])];
    let reads = [("quiet".to_string(), Status::Failed)].into();
    let source = FakeSource { reads, ..FakeSource::scripted(script) }.shared();
    let store = Arc::new(SqlStore::open_memory().await.unwrap());
    let (shared, mut target) = target_of(store.clone(), source.clone(), rules).await;
    target.tick(&shared).await;
    target.tick(&shared).await;
    assert_eq!(source.job_reads.load(std::sync::atomic::Ordering::SeqCst), 2, "one read of each failed job");
    let due = store.due_actions(crate::store::Scope::Real, crate::clock::LocalMs(i64::MAX), 0, 10).await.unwrap();
    let mut items: Vec<(String, Option<String>)> =
        due.iter().flat_map(|q| &q.planned.jobs).map(|j| (j.id.clone(), j.item_id.clone())).collect();
    items.sort();
    assert_eq!(items, [("failloud".into(), Some("item1".into())), ("quiet".into(), None)], "the item the read named");
}
