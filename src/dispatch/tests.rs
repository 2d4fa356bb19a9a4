//! Planning, budgets, the plan-and-commit path, retries and the secrets of queued actions, with
//! `type: record` (a plugin of the real trait) and a failing site, on a real SQLite file.

use super::execute::backoff;
use super::*;
use crate::actions::recording::calls;
use crate::actions::ActionConfig;
use crate::arcgis::fake::FakeSource;
use crate::arcgis::{Job, JobSource, Status};
use crate::clock::{LocalMs, ManualClock};
use crate::cycle::tests::{firing, limits, rules, NOW};
use crate::cycle::{plan, Budget};
use crate::diff::EventInfo;
use crate::journal::Journal;
use crate::plan::{Attempt, Outcome, Planned, Queued};
use crate::rules::Firing;
use crate::store::{PollCommit, SqlStore};
use std::collections::HashMap;
use std::time::Duration;

/// A site whose cancels fail with `error` (none: succeed), counting them.
fn site(error: Option<crate::arcgis::Error>) -> Arc<FakeSource> {
    FakeSource { cancel_error: error, now: NOW, ..FakeSource::default() }.shared()
}

/// A dispatcher on a SQLite file in `dir`, with its progress journal, at a manual clock.
async fn dispatcher(dir: &std::path::Path, set: RuleSet, mode: Mode) -> (Arc<Dispatcher>, ManualClock) {
    let path = dir.join("state.db");
    let store: Arc<dyn Store> = Arc::new(SqlStore::open_sqlite(&path).await.unwrap());
    let journal = Some(Arc::new(Journal::open(&path).unwrap().0) as Arc<dyn crate::journal::ProgressLog>);
    let services = Services::new(None, &Default::default(), journal).unwrap();
    let clock = ManualClock::at(NOW.0);
    let services = Arc::new(services);
    let dispatch = Dispatcher { rules: Arc::new(set), store, mode, services, clock: Arc::new(clock.clone()) };
    (Arc::new(dispatch), clock)
}

/// Plans and commits the firings of `rule` for `jobs` as a poll of target `t` would.
async fn commit(dispatch: &Dispatcher, rule: &str, jobs: &[&str]) -> Vec<crate::plan::ActionReport> {
    let firings: Vec<Firing> = jobs.iter().map(|j| firing(&dispatch.rules, rule, j)).collect();
    let mut budget = Budget::new(&limits(10, 60, 1.0), jobs.len(), 0);
    let plan = plan(&dispatch.rules, "t", firings, (&mut budget, &Default::default()), NOW);
    let commit = PollCommit::new(dispatch.scope(), "t", NOW);
    dispatch.commit(commit, plan, &*site(None), Vec::new()).await.unwrap().reports
}

fn sources(site: Arc<FakeSource>) -> HashMap<String, Arc<dyn JobSource>> {
    HashMap::from([("t".to_string(), site as Arc<dyn JobSource>)])
}

#[tokio::test]
async fn a_new_plugin_is_planned_executed_journaled_and_scrubbed_like_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let text = "rules:\n  - { name: r, actions: [{ type: record, tag: life, token: s3cret }] }\n";
    let (dispatch, _) = dispatcher(dir.path(), rules(text), Mode::Act).await;
    assert!(commit(&dispatch, "r", &["j1", "j2"]).await.is_empty(), "acting: nothing to report yet");

    for file in std::fs::read_dir(dir.path()).unwrap() {
        let (path, bytes) = (file.as_ref().unwrap().path(), std::fs::read(file.unwrap().path()).unwrap());
        assert!(!String::from_utf8_lossy(&bytes).contains("s3cret"), "the token is in {}", path.display());
    }
    let queued = dispatch.due_after(0, DUE_PAGE).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].planned.secrets_scrubbed);

    let reports = dispatch.execute_due(&sources(site(None)), RetryPolicy::ONCE).await.unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!((reports[0].outcome, reports[0].detail.as_str()), (Outcome::Done, "recorded j1,j2"));
    let made = calls("life");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].token, "s3cret", "the secret comes from the current rules");
    let (_, journaled) = Journal::open(&dir.path().join("state.db")).unwrap();
    let keys: Vec<&str> = journaled.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(keys, ["j1", "j2", crate::journal::FINISHED], "each part journaled once, as it was done");
    assert!(dispatch.execute_due(&sources(site(None)), RetryPolicy::ONCE).await.unwrap().is_empty(), "never twice");
}

#[tokio::test]
async fn transient_failures_retry_with_backoff_and_skip_what_was_settled() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, clock) = dispatcher(
        dir.path(),
        rules("rules:\n  - { name: r, actions: [{ type: record, tag: retry, fail: 1 }] }\n"),
        Mode::Act,
    )
    .await;
    commit(&dispatch, "r", &["j1", "j2"]).await;
    let first = dispatch.execute_due(&sources(site(None)), RetryPolicy::RUN).await.unwrap();
    assert_eq!(first[0].outcome, Outcome::Failed);
    assert!(first[0].detail.ends_with("queued for another try"), "{}", first[0].detail);
    assert!(dispatch.due_after(0, DUE_PAGE).await.unwrap().is_empty(), "not due before its backoff");
    clock.advance(1_200);
    let second = dispatch.execute_due(&sources(site(None)), RetryPolicy::RUN).await.unwrap();
    assert_eq!((second[0].outcome, second[0].detail.as_str()), (Outcome::Done, "recorded j2"));
    let made: Vec<Vec<String>> = calls("retry").into_iter().map(|c| c.jobs).collect();
    assert_eq!(made, [vec!["j1", "j2"], vec!["j2"]], "the retry skips the part the failed attempt settled");
}

#[tokio::test]
async fn quick_attempts_pause_between_tries_within_one_dispatch() {
    let dir = tempfile::tempdir().unwrap();
    let set = rules("rules:\n  - { name: r, actions: [{ type: record, tag: quick, fail: 2 }] }\n");
    let (dispatch, _) = dispatcher(dir.path(), set.clone(), Mode::Act).await;
    // Paused time once the store is open (its pool's timers would race a paused clock).
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let attempt = dispatch.execute(Some(site(None)), &queued(&set, "r", LocalMs(NOW.0)), RetryPolicy::ONCE).await;
    assert!(matches!(attempt, Attempt::Final { outcome: Outcome::Done, .. }), "{attempt:?}");
    assert_eq!(calls("quick").len(), 3);
    let paused = started.elapsed().as_millis();
    assert!((900..905).contains(&paused), "300 ms, then 600 ms (timers round up to the millisecond): {paused}");
}

#[tokio::test]
async fn a_permanent_failure_is_final_and_a_dry_run_executes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = "rules:\n  - { name: r, actions: [{ type: record, tag: never, permanent: true }] }\n";
    let (dispatch, _) = dispatcher(dir.path(), rules(text), Mode::Act).await;
    commit(&dispatch, "r", &["j1"]).await;
    let reports = dispatch.execute_due(&sources(site(None)), RetryPolicy::ONCE).await.unwrap();
    assert_eq!((reports[0].outcome, reports[0].detail.as_str()), (Outcome::Failed, "told to fail"));
    assert_eq!(calls("never").len(), 1, "not retried");

    let dry = tempfile::tempdir().unwrap();
    let text = "rules:\n  - { name: r, actions: [{ type: record, tag: dry }] }\n";
    let (dispatch, _) = dispatcher(dry.path(), rules(text), Mode::DryRun).await;
    let reports = commit(&dispatch, "r", &["j1"]).await;
    assert_eq!((reports[0].outcome, reports[0].detail.as_str()), (Outcome::Planned, "would record 1 jobs"));
    assert!(dispatch.execute_due(&sources(site(None)), RetryPolicy::ONCE).await.unwrap().is_empty());
    assert!(calls("dry").is_empty(), "a dry run never calls a plugin");
}

fn queued(set: &RuleSet, rule: &str, created: LocalMs) -> Queued {
    let rule = set.get(rule).expect("rule");
    let event = EventInfo { kind: crate::diff::EventKind::Poll, from: None, to: None };
    let planned =
        Planned::of(rule, 0, vec![Job::new("j1", Status::Executing).into()], &event, crate::clock::ServerMs(0));
    Queued { id: 1, target: "t".into(), planned: planned.stored(), attempts: 0, created }
}

const ONE_TRY: RetryPolicy =
    RetryPolicy { quick_attempts: 1, quick_pause: Duration::ZERO, give_up_after: Duration::from_secs(3600) };

#[tokio::test]
async fn transient_failures_are_retried_until_an_hour_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n");
    let (dispatch, clock) = dispatcher(dir.path(), set.clone(), Mode::Act).await;
    let down = || Some(crate::arcgis::Error::Connect { url: "t".into(), detail: "refused".into() });
    let young = dispatch.execute(Some(site(down())), &queued(&set, "stop", LocalMs(NOW.0)), ONE_TRY).await;
    assert!(matches!(young, Attempt::Retry { .. }), "{young:?}");
    clock.advance(3_600_000);
    let old = dispatch.execute(Some(site(down())), &queued(&set, "stop", LocalMs(NOW.0)), ONE_TRY).await;
    let Attempt::Final { outcome, detail } = old else { panic!("{old:?}") };
    assert_eq!(outcome, Outcome::Failed);
    assert!(detail.contains("gave up after 1h"), "{detail}");
}

/// Check, then act: a cancel reads the job again first. A job that ended since the poll (each
/// way a job ends) is skipped without a cancel call; one still queued or running is cancelled.
#[tokio::test]
async fn a_cancel_reads_the_job_first_and_cancels_only_what_still_waits_or_runs() {
    let dir = tempfile::tempdir().unwrap();
    let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n");
    let (dispatch, _) = dispatcher(dir.path(), set.clone(), Mode::Act).await;
    let table = [
        (Status::Completed, Outcome::Skipped, 0, "the job is COMPLETED (completed) now"),
        (Status::Failed, Outcome::Skipped, 0, "the job is FAILED (failed) now"),
        (Status::Cancelled("CANCELLED".into()), Outcome::Skipped, 0, "the job is CANCELLED (cancelled) now"),
        (Status::Submitted, Outcome::Done, 1, "cancelled fake/j1"),
        (Status::Executing, Outcome::Done, 1, "cancelled fake/j1"),
        (Status::Processing, Outcome::Done, 1, "cancelled fake/j1"),
    ];
    for (status, expected, calls, said) in table {
        let reads = HashMap::from([("j1".to_string(), status.clone())]);
        let source = FakeSource { reads, now: NOW, ..FakeSource::default() }.shared();
        let attempt = dispatch.execute(Some(source.clone()), &queued(&set, "stop", LocalMs(NOW.0)), ONE_TRY).await;
        assert_eq!(attempt, Attempt::Final { outcome: expected, detail: said.into() }, "{status:?}");
        assert_eq!(source.cancelled(), calls, "{status:?}: cancel calls");
    }
}

#[tokio::test]
async fn a_paused_sign_in_during_a_cancel_is_retried_after_the_pause() {
    let dir = tempfile::tempdir().unwrap();
    let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n");
    let (dispatch, _) = dispatcher(dir.path(), set.clone(), Mode::Act).await;
    let paused = crate::arcgis::Error::SignInPaused {
        account: "a".into(),
        reason: "refused once".into(),
        until: "later".into(),
        until_at: LocalMs(0),
    };
    let attempt = dispatch.execute(Some(site(Some(paused))), &queued(&set, "stop", LocalMs(NOW.0)), ONE_TRY).await;
    assert!(matches!(attempt, Attempt::Retry { .. }), "transient, not permanent: {attempt:?}");
}

#[tokio::test]
async fn a_target_or_rule_gone_while_its_action_waits() {
    let dir = tempfile::tempdir().unwrap();
    let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n  - { name: hook, actions: [{ type: webhook, url: 'https://u:pw@h/x' }] }\n");
    let (dispatch, _) = dispatcher(dir.path(), set.clone(), Mode::Act).await;
    let gone = dispatch.execute(None, &queued(&set, "stop", LocalMs(NOW.0)), ONE_TRY).await;
    assert_eq!(gone, Attempt::Final { outcome: Outcome::Failed, detail: "the target is no longer configured".into() });
    // The rule was removed: a cancel holds no secret and runs from its stored copy; a webhook
    // whose URL was scrubbed of credentials cannot, and says why.
    let (without, _) = dispatcher(dir.path(), RuleSet::default(), Mode::Act).await;
    let cancelling = site(Some(crate::arcgis::Error::NoPortal { what: "x" }));
    let cancel = without.execute(Some(cancelling.clone()), &queued(&set, "stop", LocalMs(NOW.0)), ONE_TRY).await;
    assert_eq!(cancelling.cancelled(), 1, "{cancel:?}");
    let hook = without.execute(Some(cancelling), &queued(&set, "hook", LocalMs(NOW.0)), ONE_TRY).await;
    let Attempt::Final { outcome, detail } = hook else { panic!("{hook:?}") };
    assert_eq!(outcome, Outcome::Failed);
    assert!(detail.contains("rule hook no longer has this webhook action"), "{detail}");
}

#[tokio::test]
async fn a_rule_changed_while_its_action_waits_gives_its_current_settings() {
    let dir = tempfile::tempdir().unwrap();
    let before = rules("rules:\n  - { name: hook, actions: [{ type: webhook, url: 'https://u:pw@old/x' }] }\n");
    let after = rules("rules:\n  - { name: hook, actions: [{ type: webhook, url: 'https://u:pw@new/x' }] }\n");
    let waiting = queued(&before, "hook", LocalMs(NOW.0));
    let (dispatch, _) = dispatcher(dir.path(), after, Mode::Act).await;
    let current = dispatch.current_action(&waiting.planned).unwrap();
    let ActionConfig::Webhook(hook) = &*current else { panic!("{current:?}") };
    assert_eq!(hook.url, "https://u:pw@new/x", "the current rule's action, secrets included");
    let (changed, _) =
        dispatcher(dir.path(), rules("rules:\n  - { name: hook, actions: [{ type: log }] }\n"), Mode::Act).await;
    let error = changed.current_action(&waiting.planned).unwrap_err();
    assert!(error.to_string().contains("no longer has this webhook action"), "{error}");
}

#[test]
fn backoff_grows_to_five_minutes_with_jitter() {
    for (attempts, secs) in [(1, 1.0), (2, 2.0), (3, 4.0), (20, 300.0)] {
        for now in [0, 499, 999] {
            let d = backoff(attempts, LocalMs(now)).as_secs_f64();
            assert!(d >= secs * 0.8 && d <= secs * 1.2, "{attempts}: {d}");
        }
    }
}

#[tokio::test]
async fn a_queue_longer_than_a_page_is_run_whole_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, _) =
        dispatcher(dir.path(), rules("rules:\n  - { name: r, actions: [{ type: log }] }\n"), Mode::Act).await;
    let jobs: Vec<String> = (0..DUE_PAGE as usize * 2 + 5).map(|i| format!("j{i:03}")).collect();
    commit(&dispatch, "r", &jobs.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(dispatch.due_after(0, DUE_PAGE).await.unwrap().len(), DUE_PAGE as usize, "one page read at a time");
    let reports = dispatch.execute_due(&sources(site(None)), RetryPolicy::ONCE).await.unwrap();
    let done: Vec<&str> = reports.iter().map(|r| r.job_ids[0].as_str()).collect();
    assert_eq!(done, jobs, "every queued action, once each, in queue order");
    assert!(dispatch.due_after(0, DUE_PAGE).await.unwrap().is_empty());
}

/// A `mode: shadow` rule spends a budget of its own and is only previewed, even when acting: the
/// real rule's cancels and the shadow rule's planned ones never use up each other's.
#[tokio::test]
async fn a_shadow_rule_spends_its_own_budget_and_is_only_previewed() {
    let dir = tempfile::tempdir().unwrap();
    let set = rules(
        "rules:\n  - { name: stop, actions: [{ type: cancel }] }\n  - { name: trial, mode: shadow, actions: [{ type: cancel }] }\n",
    );
    let (dispatch, _) = dispatcher(dir.path(), set.clone(), Mode::Act).await;
    let firings: Vec<Firing> =
        ["a", "b"].iter().flat_map(|j| [firing(&set, "trial", j), firing(&set, "stop", j)]).collect();
    let budget = || Budget::new(&limits(1, 60, 1.0), 10, 0);
    let plan = plan(&set, "t", firings, (&mut budget().with_shadow(budget()), &Default::default()), NOW);
    let planned: Vec<(&str, &str)> = plan.actions.iter().map(|p| (p.rule.as_str(), p.jobs[0].id.as_str())).collect();
    assert_eq!(planned, [("trial", "a"), ("stop", "a")], "one each: the shadow rule took none of the real budget");
    let suppressed: Vec<(&str, &str)> =
        plan.suppressed.iter().map(|r| (r.rule.as_str(), r.job_ids[0].as_str())).collect();
    assert_eq!(suppressed, [("trial", "b"), ("stop", "b")]);
    assert!(plan.suppressed[0].shadow && !plan.suppressed[1].shadow);
    let reports = dispatch
        .commit(PollCommit::new(dispatch.scope(), "t", NOW), plan, &*site(None), Vec::new())
        .await
        .map(|c| c.reports);
    let previewed: Vec<(&str, Outcome, bool)> =
        reports.as_ref().unwrap().iter().map(|r| (r.rule.as_str(), r.outcome, r.shadow)).collect();
    assert!(previewed.contains(&("trial", Outcome::Planned, true)), "{previewed:?}");
    let queued = dispatch.due_after(0, DUE_PAGE).await.unwrap();
    let queued: Vec<&str> = queued.iter().map(|q| q.planned.rule.as_str()).collect();
    assert_eq!(queued, ["stop"], "only the real rule's cancel is queued");
}

/// What a dry run tells of a firing that waits (`for_polls`, a crossing before the next poll):
/// each action previewed in full, as `pending`, with when it would happen.
#[tokio::test]
async fn a_waiting_firing_is_previewed_as_pending_with_when() {
    let dir = tempfile::tempdir().unwrap();
    let set = rules("rules:\n  - { name: stop, for_polls: 2, actions: [{ type: cancel }, { type: log }] }\n");
    let (dispatch, _) = dispatcher(dir.path(), set, Mode::DryRun).await;
    let waiting =
        [(0, Job::new("j1", Status::Executing), "at the next poll if it still matches (1 of 2 polls)".into())];
    let reports = dispatch.pending("t", &*site(None), &waiting, NOW);
    let seen: Vec<(&str, Outcome, &str, &str)> =
        reports.iter().map(|r| (r.action.as_str(), r.outcome, r.detail.as_str(), r.job_ids[0].as_str())).collect();
    assert_eq!(
        seen,
        [
            (
                "cancel",
                Outcome::Pending,
                "would cancel fake/j1/cancel at the next poll if it still matches (1 of 2 polls)",
                "j1"
            ),
            (
                "log",
                Outcome::Pending,
                "would log: rule stop on poll: j1 (EXECUTING, ?, ?) at the next poll if it still matches (1 of 2 polls)",
                "j1"
            ),
        ]
    );
}
