//! Evaluation of every trigger, with `for_polls`, `repeat`, resends and the runtime floor.

use super::super::*;
use super::{load_text, rules};
use crate::arcgis::{Job, Status};
use crate::clock::ServerMs;
use crate::diff::{diff, snapshot, JobEvent};
use crate::ledger::{LedgerIndex, Streaks};

const NOW: ServerMs = ServerMs(10 * 3_600_000);

fn running(id: &str, user: &str, minutes: i64) -> Job {
    let mut job = Job::new(id, Status::Executing);
    job.job_type = Some("executeNotebook".into());
    job.username = Some(user.into());
    job.started_at = Some(NOW - minutes * 60_000);
    job
}

fn evaluate(set: &RuleSet, jobs: &[Job], events: &[JobEvent], ledger: &LedgerIndex, streaks: &Streaks) -> Evaluation {
    let snap = snapshot(jobs.to_vec());
    set.evaluate(&evaluate::Input {
        target: "prod",
        now: NOW,
        snapshot: &snap,
        events,
        ledger,
        streaks,
        usual: crate::usual::Usual::empty(),
    })
}

fn fired(evaluation: &Evaluation) -> Vec<String> {
    evaluation.firings.iter().map(|f| format!("{} {}", f.job.id, f.trigger)).collect()
}

#[test]
fn poll_rules_match_the_whole_snapshot_once_per_job() {
    let set = rules("rules:\n  - name: runaway\n    match: { type: executeNotebook, status: running, runtime_over: 90m, username: { not: [svc_etl, 'admin*'] } }\n    actions: [{ type: cancel }]\n");
    let jobs =
        [running("a", "joe", 91), running("b", "joe", 30), running("c", "svc_etl", 200), running("d", "admin_x", 200)];
    let mut ledger = LedgerIndex::default();
    let first = evaluate(&set, &jobs, &[], &ledger, &Streaks::new());
    assert_eq!(fired(&first), ["a poll"]);
    ledger.record("runaway", "a", &crate::ledger::Cause::Poll, NOW);
    assert!(evaluate(&set, &jobs, &[], &ledger, &Streaks::new()).firings.is_empty(), "never twice");
}

#[test]
fn a_poll_rule_visits_only_the_phases_its_status_names() {
    use crate::arcgis::model::Phase;
    let set = rules(
        "rules:
  - { name: one, match: { status: running }, actions: [{ type: log }] }
  - { name: twice, match: { status: [running, running, failed] }, actions: [{ type: log }] }
  - { name: not, match: { status: { not: running } }, actions: [{ type: log }] }
  - { name: any, actions: [{ type: log }] }
",
    );
    let masks: Vec<u8> = set.rules.iter().map(evaluate::phase_mask).collect();
    let bit = |p: Phase| 1u8 << p as u8;
    assert_eq!(masks, [bit(Phase::Running), bit(Phase::Running) | bit(Phase::Failed), u8::MAX, u8::MAX]);
}

#[test]
fn poll_rules_on_different_phases_each_see_their_own_jobs() {
    let set = rules(
        "rules:
  - { name: long, match: { status: running }, actions: [{ type: log }] }
  - { name: broken, match: { status: failed }, actions: [{ type: log }] }
  - { name: again, match: { status: [running, running] }, actions: [{ type: log }] }
",
    );
    let mut failed = running("f", "jane", 5);
    failed.status = Status::Failed;
    let result = evaluate(&set, &[running("r", "joe", 5), failed], &[], &LedgerIndex::default(), &Streaks::new());
    let by_rule: Vec<(&str, &str)> =
        result.firings.iter().map(|f| (set.rules[f.rule].name.as_str(), f.job.id.as_str())).collect();
    assert_eq!(by_rule, [("long", "r"), ("broken", "f"), ("again", "r")]);
    assert!(result.streaks.is_empty(), "a rule without for_polls keeps no streak");
}

#[test]
fn for_polls_needs_consecutive_matches() {
    let set =
        rules("rules:\n  - { name: stuck, for_polls: 3, match: { status: running }, actions: [{ type: log }] }\n");
    let ledger = LedgerIndex::default();
    let jobs = [running("a", "joe", 5)];
    let one = evaluate(&set, &jobs, &[], &ledger, &Streaks::new());
    let two = evaluate(&set, &jobs, &[], &ledger, &one.streaks);
    assert!(one.firings.is_empty() && two.firings.is_empty());
    let three = evaluate(&set, &jobs, &[], &ledger, &two.streaks);
    assert_eq!(fired(&three), ["a poll"]);
    let broken = evaluate(&set, &[], &[], &ledger, &two.streaks);
    assert!(broken.streaks.is_empty(), "a poll without the match resets the streak");
}

#[test]
fn repeat_fires_again_while_the_match_holds() {
    let set = rules("rules:\n  - { name: nag, repeat: 1h, match: { status: running }, actions: [{ type: log }] }\n");
    let mut ledger = LedgerIndex::default();
    ledger.record("nag", "a", &crate::ledger::Cause::Poll, NOW - 3_600_000);
    assert_eq!(fired(&evaluate(&set, &[running("a", "joe", 5)], &[], &ledger, &Streaks::new())), ["a poll#1"]);
    ledger.record("nag", "a", &"poll#1".parse::<crate::ledger::Cause>().unwrap(), NOW - 60_000);
    assert!(evaluate(&set, &[running("a", "joe", 5)], &[], &ledger, &Streaks::new()).firings.is_empty());
}

#[test]
fn event_rules_fire_on_their_events_only() {
    let set = rules(
        "rules:
  - { name: new, on: appeared, match: { username: joe }, actions: [{ type: log }] }
  - { name: failed, on: status_changed, match: { from: running, to: failed }, actions: [{ type: log }] }
  - { name: gone, on: disappeared, match: { status: completed }, actions: [{ type: log }] }
",
    );
    let before = snapshot(vec![running("a", "joe", 5), running("b", "jane", 5), running("c", "jane", 5)]);
    let mut failed = running("a", "joe", 5);
    failed.status = Status::Failed;
    let after = snapshot(vec![failed, running("b", "jane", 5), running("d", "joe", 1)]);
    let mut events = diff(Some(&before), &after).events;
    for event in &mut events {
        if let JobEvent::Disappeared { final_status, .. } = event {
            *final_status = Some(Status::Completed);
        }
    }
    let jobs: Vec<Job> = after.values().cloned().collect();
    let result = evaluate(&set, &jobs, &events, &LedgerIndex::default(), &Streaks::new());
    assert_eq!(fired(&result), ["d appeared", "a EXECUTING->FAILED", "c disappeared"]);
    assert_eq!(result.firings[1].event.from.as_deref(), Some("EXECUTING"));
    assert_eq!(result.firings[2].event.to.as_deref(), Some("COMPLETED"));
    let mut ledger = LedgerIndex::default();
    ledger.record("failed", "a", &"EXECUTING->FAILED".parse::<crate::ledger::Cause>().unwrap(), NOW);
    assert_eq!(fired(&evaluate(&set, &jobs, &events, &ledger, &Streaks::new())), ["d appeared", "c disappeared"]);
}

#[test]
fn a_job_first_seen_failed_is_a_change_from_none() {
    let set = rules(
        "rules:
  - { name: failures, on: status_changed, match: { to: failed }, actions: [{ type: log }] }
  - { name: from-running, on: status_changed, match: { from: running, to: failed }, actions: [{ type: log }] }
  - { name: fast, on: status_changed, match: { from: none }, actions: [{ type: log }] }
",
    );
    let before = snapshot(vec![running("old", "joe", 5)]);
    let mut quick = running("quick", "jane", 1);
    quick.status = Status::Failed;
    let after = snapshot(vec![running("old", "joe", 5), quick, running("new", "joe", 1)]);
    let events = diff(Some(&before), &after).events;
    let jobs: Vec<Job> = after.values().cloned().collect();
    let result = evaluate(&set, &jobs, &events, &LedgerIndex::default(), &Streaks::new());
    assert_eq!(fired(&result), ["quick none->FAILED", "new none->EXECUTING", "quick none->FAILED"]);
    let rules_fired: Vec<&str> = result.firings.iter().map(|f| set.rules[f.rule].name.as_str()).collect();
    assert_eq!(rules_fired, ["failures", "fast", "fast"], "`from: running` does not match a job first seen");
    assert_eq!(result.firings[0].event.from.as_deref(), Some("none"));
    assert_eq!(result.firings[0].event.kind, crate::diff::EventKind::StatusChanged);
    let mut ledger = LedgerIndex::default();
    ledger.record("failures", "quick", &"none->FAILED".parse::<crate::ledger::Cause>().unwrap(), NOW);
    let again = evaluate(&set, &jobs, &events, &ledger, &Streaks::new());
    assert!(!fired(&again).iter().any(|f| f == "quick none->FAILED" && again.firings[0].rule == 0), "once");
    assert!(diff(None, &after).events.is_empty(), "the baseline stays silent");
    let errors =
        load_text("rules:\n  - { name: x, on: status_changed, match: { to: none }, actions: [{ type: log }] }\n");
    assert!(errors.unwrap_err()[0].message.contains("`none` is for `from:`"));
}

#[test]
fn targets_limit_where_a_rule_applies_and_unanswerable_keys_are_noted() {
    let set = rules("rules:\n  - { name: dev-only, targets: dev, actions: [{ type: log }] }\n  - { name: items, match: { item_id: abc }, actions: [{ type: log }] }\n");
    let result = evaluate(&set, &[running("a", "joe", 5)], &[], &LedgerIndex::default(), &Streaks::new());
    assert!(result.firings.is_empty(), "dev-only does not apply to prod; item_id is unknown");
    assert_eq!(result.unanswerable.iter().collect::<Vec<_>>(), [&(1, "item_id")]);
}

#[test]
fn a_shadow_rule_records_its_firings_apart_and_mode_takes_only_shadow() {
    let set =
        rules("rules:\n  - { name: try, mode: shadow, match: { status: running }, actions: [{ type: cancel }] }\n");
    let rule = &set.rules[0];
    assert!(rule.shadow);
    assert_eq!(rule.ledger_name(), "try (shadow)");
    assert_eq!(crate::ledger::parse_key(&rule.ledger_name()), ("try", true));
    let mut ledger = LedgerIndex::default();
    ledger.record("try", "j1", &crate::ledger::Cause::Poll, ServerMs(1_000));
    let snap = snapshot(vec![Job::new("j1", Status::Executing)]);
    let streaks = Streaks::default();
    let firings = |ledger: &LedgerIndex| {
        let input = evaluate::Input {
            target: "prod",
            now: ServerMs(2_000),
            snapshot: &snap,
            events: &[],
            ledger,
            streaks: &streaks,
            usual: crate::usual::Usual::empty(),
        };
        set.evaluate(&input).firings.len()
    };
    assert_eq!(firings(&ledger), 1, "a real firing of `try` does not count for its shadow");
    ledger.record(&rule.ledger_name(), "j1", &crate::ledger::Cause::Poll, ServerMs(1_000));
    assert_eq!(firings(&ledger), 0, "its own shadow firing does");
    let errors = load_text("rules:\n  - { name: x, mode: dry, actions: [{ type: log }] }\n").unwrap_err();
    let text = errors[0].to_string();
    assert!(text.contains("`mode` may only be `shadow`") && text.contains("rules.yaml:2"), "{text}");
}

/// A poll rule with an action that follows the state (`alertmanager`) fires again every `resend`
/// while the job matches, and once, `resolved`, when it stops matching or leaves the list.
#[test]
fn an_alert_rule_resends_while_matching_and_resolves_once_when_it_stops() {
    use crate::ledger::Cause;
    let set = rules("rules:\n  - name: long\n    match: { status: running, runtime_over: 90m }\n    actions: [{ type: alertmanager, url: 'http://am:9093', resend: 1m }, { type: log }]\n");
    assert_eq!(set.rules[0].resend, Some(std::time::Duration::from_secs(60)));
    let mut ledger = LedgerIndex::default();
    let long = [running("a", "joe", 100), running("b", "joe", 100)];
    assert_eq!(fired(&evaluate(&set, &long, &[], &ledger, &Streaks::new())), ["a poll", "b poll"]);
    ledger.record("long", "a", &Cause::Poll, NOW - 60_000);
    ledger.record("long", "b", &Cause::Poll, NOW - 30_000);
    assert_eq!(fired(&evaluate(&set, &long, &[], &ledger, &Streaks::new())), ["a poll#1"], "b's resend is not due");
    // a ended (still listed, no longer running); b left the list.
    let mut ended = running("a", "joe", 100);
    ended.status = Status::Completed;
    let gone = JobEvent::Disappeared { last_seen: long[1].clone(), final_status: Some(Status::Failed) };
    let evaluation =
        evaluate(&set, std::slice::from_ref(&ended), std::slice::from_ref(&gone), &ledger, &Streaks::new());
    assert_eq!(fired(&evaluation), ["a resolved", "b resolved"]);
    assert_eq!(evaluation.firings[1].job.status, Status::Failed, "with its final status");
    ledger.record("long", "a", &Cause::Resolved, NOW);
    ledger.record("long", "b", &Cause::Resolved, NOW);
    assert!(evaluate(&set, &[ended.clone()], &[gone], &ledger, &Streaks::new()).firings.is_empty(), "resolved once");
    // What a rule of that name recorded before it was a poll rule fired no alert: nothing to resolve.
    ledger.record("long", "c", &Cause::Appeared, NOW - 60_000);
    let c = Job { id: "c".into(), ..ended };
    assert!(evaluate(&set, &[c], &[], &ledger, &Streaks::new()).firings.is_empty(), "no alert fired for c");
    // A rule without such an action resolves nothing.
    let plain =
        rules("rules:\n  - { name: long, match: { status: running, runtime_over: 90m }, actions: [{ type: log }] }\n");
    let mut ledger = LedgerIndex::default();
    ledger.record("long", "a", &Cause::Poll, NOW);
    assert!(evaluate(
        &plain,
        &[],
        &[JobEvent::Disappeared { last_seen: long[0].clone(), final_status: None }],
        &ledger,
        &Streaks::new()
    )
    .firings
    .is_empty());
    // `repeat` beside it is refused: it would repeat the log too.
    let both = RuleSet::parse(
        std::path::Path::new("r.yaml"),
        "rules:\n  - { name: x, repeat: 1h, actions: [{ type: alertmanager, url: 'http://am:9093' }] }\n",
        &["prod"],
    );
    assert!(both.unwrap_err()[0].message.contains("put the alert in a rule of its own"));
}

/// A job started `ms` before now, still running.
fn started_ms_ago(id: &str, ms: i64) -> Job {
    Job { started_at: Some(NOW - ms), ..running(id, "joe", 0) }
}

#[test]
fn a_runtime_limit_skips_young_jobs_exactly_as_the_condition_fails_them() {
    let set = rules(
        "rules:
  - { name: long, match: { status: running, runtime_over: 90m }, actions: [{ type: log }] }
  - { name: typed, match: { type: executeNotebook, runtime_over: 90m }, actions: [{ type: log }] }
",
    );
    let limit = 90 * 60_000;
    let mut untyped = started_ms_ago("untyped", limit - 5);
    untyped.job_type = None;
    let mut unstarted = running("unstarted", "joe", 0);
    unstarted.started_at = None;
    let mut ended = started_ms_ago("ended", limit + 5);
    ended.ended_at = Some(NOW - 1);
    let jobs = [started_ms_ago("at", limit), started_ms_ago("past", limit + 1), untyped, unstarted, ended];
    let result = evaluate(&set, &jobs, &[], &LedgerIndex::default(), &Streaks::new());
    let by_rule: Vec<(&str, &str)> =
        result.firings.iter().map(|f| (set.rules[f.rule].name.as_str(), f.job.id.as_str())).collect();
    // An ended job's runtime ends with it: `typed` names no status, and it ran over.
    assert_eq!(by_rule, [("long", "past"), ("typed", "ended"), ("typed", "past")], "over the limit, not at it");
    // A young job still answers the conditions before the limit: the untyped one is noted.
    let noted: Vec<&(usize, &str)> = result.unanswerable.iter().collect();
    assert_eq!(noted, [&(0, "runtime_over"), &(1, "runtime_over"), &(1, "type")]);
}

/// The shortcut past young jobs is what the test above relies on: the limit a rule's start alone
/// rules out (its first `runtime_over`, after `status` tests only), and when a job is that young.
#[test]
fn the_runtime_floor_is_a_first_limit_after_status_tests_only() {
    let set = rules(
        "rules:
  - { name: status_first, match: { status: running, runtime_over: 90m }, actions: [{ type: log }] }
  - { name: type_first, match: { type: executeNotebook, runtime_over: 90m }, actions: [{ type: log }] }
  - { name: no_limit, match: { status: running }, actions: [{ type: log }] }
",
    );
    let limit = std::time::Duration::from_secs(90 * 60);
    let floors: Vec<Option<std::time::Duration>> = set.rules.iter().map(evaluate::start_floor).collect();
    assert_eq!(floors, [Some(limit), None, None]);
    let started = |ms_ago: i64| (NOW - ms_ago).0;
    assert!(evaluate::young(started(90 * 60_000), NOW, limit), "at the limit: not over it");
    assert!(!evaluate::young(started(90 * 60_000 + 1), NOW, limit), "past it");
    assert!(!evaluate::young(i64::MIN, NOW, limit), "not a running job with a start");
}
