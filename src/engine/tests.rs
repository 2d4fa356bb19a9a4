//! `tick` with a scripted job source: a failed poll is never diffed, disappearance reads once.

use super::*;
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
        assert!(target.state.snapshot.is_some(), "poll {round}: the snapshot survives a failure");
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
    let services = crate::actions::Services::new(None, &Default::default(), None).unwrap();
    let (rules, services, clock) = (Arc::new(rules), Arc::new(services), crate::clock::system());
    let shared = Shared::new(Dispatcher { rules, store, mode: Mode::Act, services, clock });
    let config: crate::config::TargetConfig = crate::config::yaml::from_str(
        "{ name: fake, flavor: enterprise, admin_url: 'http://fake/admin', auth: { token: t } }",
    )
    .unwrap();
    let running = Some(running.iter().map(|r| r.to_string()).collect());
    let source = crate::arcgis::fake::FakeSource { running, ..crate::arcgis::fake::FakeSource::scripted(polls) };
    let target = Target::load(config, source.shared(), &shared).await.unwrap();
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
    assert_eq!(reports, ["action cancel failed"], "cancel_ignored after three polls, in one process");
}

#[tokio::test]
async fn a_job_read_once_for_its_end_carries_its_messages_to_the_rules() {
    let text = "rules:
  - { name: gone, on: disappeared, match: { status: failed }, actions: [{ type: log, message: 'gone {{ job.item_id }} {{ job.messages | last }}' }] }
  - { name: fast, on: status_changed, match: { from: none, to: failed }, actions: [{ type: log, message: 'fast {{ job.item_id }} {{ job.messages | join(\"|\") }}' }] }
";
    let rules = RuleSet::parse(std::path::Path::new("r.yaml"), text, &["fake"]).unwrap();
    let mut quick = Job::new("failquick", Status::Failed);
    quick.ended_at = Some(900);
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
        target.state.snapshot.as_ref().unwrap().values().map(|j| j.item_id.as_deref()).collect();
    assert_eq!(items, [Some("nb-a"), Some("nb-b")], "a read at the first poll (running), b as it appeared");
    let changes = store.changes(crate::store::Scope::Real, "fake", i64::MAX).await.unwrap();
    let rows: Vec<(&str, Option<&str>)> =
        changes.iter().map(|c| (c.job.id.as_str(), c.job.item_id.as_deref())).collect();
    assert_eq!(rows, [("a", Some("nb-a")), ("b", Some("nb-b"))], "one history row each, with its item");
}
