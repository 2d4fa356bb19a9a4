//! The core's planning and its steps, on plain values.

use super::*;
use crate::arcgis::{Job, Listing, Status};
use crate::config::LimitsConfig;
use crate::diff::EventInfo;
use crate::plan::Outcome;
use crate::rules::{Firing, RuleSet};
use std::sync::Arc;

pub(crate) const NOW: crate::clock::ServerMs = crate::clock::ServerMs(1_700_000_000_000);

pub(crate) fn limits(per_poll: u32, per_hour: u32, fraction: f64) -> LimitsConfig {
    LimitsConfig {
        max_cancels_per_poll: per_poll,
        max_cancels_per_hour: per_hour,
        max_cancel_fraction: fraction,
        ..LimitsConfig::default()
    }
}

pub(crate) fn rules(text: &str) -> RuleSet {
    RuleSet::parse(std::path::Path::new("r.yaml"), text, &["t"]).unwrap()
}

pub(crate) fn firing(set: &RuleSet, rule: &str, job: &str) -> Firing {
    let index = set.rules.iter().position(|r| r.name == rule).expect("rule");
    let event = EventInfo { kind: crate::diff::EventKind::Poll, from: None, to: None };
    Firing { rule: index, job: Job::new(job, Status::Executing).into(), event, trigger: crate::ledger::Cause::Poll }
}

#[test]
fn the_tightest_limit_wins_and_one_job_is_always_allowed() {
    assert_eq!(Budget::new(&limits(10, 60, 0.5), 100, 0).left, 10);
    assert_eq!(Budget::new(&limits(10, 60, 0.5), 6, 0).left, 3);
    assert_eq!(Budget::new(&limits(10, 60, 0.5), 1, 0).left, 1, "a single job is always allowed");
    let hourly = Budget::new(&limits(10, 60, 1.0), 100, 58);
    assert_eq!(hourly.left, 2);
    assert!(hourly.reason.contains("max_cancels_per_hour"));
    assert_eq!(Budget::new(&limits(10, 5, 1.0), 100, 9).left, 0);
}

/// `max_cancel_fraction` rounds down (SPEC: "never cancel more than this share of the running jobs"):
/// half of 3 running is 1, never 2; half of 5 is 2; a third of 2 is 0, so the one always allowed.
#[test]
fn the_share_of_running_jobs_rounds_down() {
    for (fraction, running, left) in [(0.5, 3, 1), (0.5, 5, 2), (0.34, 3, 1), (0.99, 2, 1), (0.33, 2, 1), (1.0, 3, 3)] {
        let budget = Budget::new(&limits(10, 60, fraction), running, 0);
        assert_eq!(budget.left, left, "{fraction} of {running}");
    }
    let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n");
    let firings: Vec<Firing> = ["a", "b", "c"].iter().map(|j| firing(&set, "stop", j)).collect();
    let plan =
        plan(&set, "t", firings.to_vec(), (&mut Budget::new(&limits(10, 60, 0.5), 3, 0), &Default::default()), NOW);
    assert_eq!((plan.actions.len(), plan.suppressed.len()), (1, 2), "3 running, 50 %: one cancel");
    assert!(
        plan.suppressed[0].detail.contains("max_cancel_fraction (0.5 of 3 running)"),
        "{}",
        plan.suppressed[0].detail
    );
}

/// When a limit binds, the most overdue job is cancelled first (SPEC §4.14), not the first by id:
/// four running jobs of 70, 80, 95 and 10 minutes, a 60-minute rule and room for two cancels.
#[test]
fn a_binding_limit_cancels_the_most_overdue_first_and_names_the_others() {
    let set = rules(
        "rules:\n  - { name: strict, match: { runtime_over: 60m }, actions: [{ type: cancel }] }\n  - { name: late, match: { runtime_over: 30m }, actions: [{ type: cancel }] }\n",
    );
    let started = |rule: &str, id: &str, minutes: i64| {
        let mut firing = firing(&set, rule, id);
        firing.job.job_mut().started_at = Some(NOW - minutes * 60_000);
        firing
    };
    let firings = [started("strict", "j70", 70), started("strict", "j80", 80), started("strict", "j95", 95)];
    let planned =
        plan(&set, "t", firings.to_vec(), (&mut Budget::new(&limits(2, 60, 1.0), 4, 0), &Default::default()), NOW);
    let cancelled: Vec<&str> = planned.actions.iter().map(|p| p.jobs[0].id.as_str()).collect();
    assert_eq!(cancelled, ["j80", "j95"], "in the poll's order, the two most overdue");
    assert_eq!(planned.suppressed.len(), 1);
    assert_eq!(planned.suppressed[0].job_ids, ["j70"]);
    assert!(planned.suppressed[0].detail.contains("max_cancels_per_poll (2)"), "{}", planned.suppressed[0].detail);
    // How far past its own rule's threshold, then the longer runtime, then the id.
    let firings = [
        started("strict", "a95", 95),
        started("late", "b70", 70),
        started("late", "c65", 65),
        started("late", "d65", 65),
    ];
    for (left, wanted) in [(1, vec!["b70"]), (2, vec!["a95", "b70"]), (3, vec!["a95", "b70", "c65"])] {
        let planned = plan(
            &set,
            "t",
            firings.to_vec(),
            (&mut Budget::new(&limits(left, 60, 1.0), 4, 0), &Default::default()),
            NOW,
        );
        let cancelled: Vec<&str> = planned.actions.iter().map(|p| p.jobs[0].id.as_str()).collect();
        assert_eq!(cancelled, wanted, "room for {left}");
    }
    let firings = [started("late", "y40", 40), started("late", "x40", 40)];
    let planned =
        plan(&set, "t", firings.to_vec(), (&mut Budget::new(&limits(1, 60, 1.0), 2, 0), &Default::default()), NOW);
    assert_eq!(planned.actions[0].jobs[0].id, "x40", "a tie goes to the first id");
}

/// A job the target's `protect:` covers is never cancelled (SPEC §4.15): its firing is recorded,
/// its notice goes out, its cancel is reported `skipped` with the entry that protects it, and it
/// takes nothing from the budget, which goes to the unprotected job.
#[test]
fn a_protected_job_is_told_about_but_never_cancelled_and_takes_no_budget() {
    let set = rules("rules:\n  - { name: stop, actions: [{ type: log }, { type: cancel }] }\n");
    let owned = |id: &str, user: &str| {
        let mut firing = firing(&set, "stop", id);
        firing.job.job_mut().username = Some(user.into());
        firing
    };
    let firings = [owned("a", "svc_etl"), owned("b", "joe")];
    let protect = crate::config::ProtectConfig { users: vec!["svc_*".into()], ..Default::default() };
    let planned = plan(
        &set,
        "t",
        firings.to_vec(),
        (&mut Budget::new(&limits(1, 60, 1.0), 2, 0), &Guards { protect: &protect, ..Guards::default() }),
        NOW,
    );
    let acts: Vec<(&str, &str)> = planned.actions.iter().map(|p| (p.action.kind(), p.jobs[0].id.as_str())).collect();
    assert_eq!(acts, [("log", "a"), ("log", "b"), ("cancel", "b")], "the one cancel allowed goes to joe's job");
    assert_eq!(planned.ledger.len(), 2, "both firings are recorded");
    assert!(planned.suppressed.is_empty());
    let [protected] = &planned.protected[..] else { panic!("{:?}", planned.protected) };
    assert_eq!(
        (protected.action.as_str(), protected.job_ids.clone(), protected.outcome),
        ("cancel", vec!["a".to_string()], Outcome::Skipped)
    );
    assert!(protected.detail.contains("protect.users \"svc_*\" of target t"), "{}", protected.detail);
}

#[test]
fn planning_batches_records_and_suppresses_over_the_budget() {
    let set = rules(
        "rules:\n  - { name: note, actions: [{ type: record, tag: p }, { type: log }] }\n  - { name: stop, actions: [{ type: cancel }] }\n",
    );
    let firings: Vec<Firing> =
        ["a", "b"].iter().flat_map(|j| [firing(&set, "note", j), firing(&set, "stop", j)]).collect();
    let mut budget = Budget::new(&limits(1, 60, 1.0), 10, 0);
    let plan = plan(&set, "t", firings.to_vec(), (&mut budget, &Default::default()), NOW);
    let planned: Vec<(&str, &str, Vec<&str>)> = plan
        .actions
        .iter()
        .map(|p| (p.rule.as_str(), p.action.kind(), p.jobs.iter().map(|j| j.id.as_str()).collect()))
        .collect();
    assert_eq!(
        planned,
        [
            ("note", "record", vec!["a", "b"]),
            ("note", "log", vec!["a"]),
            ("stop", "cancel", vec!["a"]),
            ("note", "log", vec!["b"])
        ],
        "a batched action lists every job of the poll; the others go one by one"
    );
    let ledger: Vec<(&str, &str)> = plan.ledger.iter().map(|l| (l.rule.as_str(), l.job_id.as_str())).collect();
    assert_eq!(ledger, [("note", "a"), ("stop", "a"), ("note", "b")], "a suppressed firing is not recorded");
    assert_eq!(plan.suppressed.len(), 1);
    assert_eq!(
        (plan.suppressed[0].outcome, plan.suppressed[0].job_ids.clone()),
        (Outcome::Suppressed, vec!["b".into()])
    );
    assert!(plan.actions.iter().all(|p| p.planned_ms == NOW && !p.secrets_scrubbed));
}

/// A read of scheduled tasks: each firing is recorded under its task; a quiet one (the baseline's)
/// only that; the others plan each action for that task alone, carrying its facts.
#[test]
fn task_firings_are_recorded_under_their_task_and_planned_unless_quiet() {
    let set =
        rules("rules:\n  - { name: failing, on: task_failed, actions: [{ type: log }, { type: record, tag: t }] }\n");
    let facts = |id: &str| crate::task_diff::TaskFacts {
        task: crate::arcgis::tasks::Task {
            id: id.into(),
            title: format!("Task {id}"),
            owner: "joe".into(),
            ..Default::default()
        },
        consecutive_failures: 2,
        result: Some("failed".into()),
        next_due_ms: None,
        due_ms: None,
    };
    let event = EventInfo { kind: crate::diff::EventKind::TaskFailed, from: None, to: None };
    let firing = |id: &str, quiet: bool| crate::rules::TaskFiring {
        rule: 0,
        facts: facts(id),
        event: event.clone(),
        trigger: crate::ledger::Cause::RunFailed(format!("{id}-run")),
        quiet,
    };
    let plan = plan_tasks(&set, &[firing("t1", false), firing("t0", true)], NOW);
    let ledger: Vec<(&str, &str, String)> =
        plan.ledger.iter().map(|l| (l.rule.as_str(), l.job_id.as_str(), l.trigger.to_string())).collect();
    let (t1, t0) = (crate::rules::tasks::task_key("t1"), crate::rules::tasks::task_key("t0"));
    let wanted =
        [("failing", t1.as_str(), "failed:t1-run".to_string()), ("failing", t0.as_str(), "failed:t0-run".into())];
    assert_eq!(ledger, wanted);
    let planned: Vec<(&str, usize, &str)> =
        plan.actions.iter().map(|p| (p.action.kind(), p.jobs.len(), p.jobs[0].id.as_str())).collect();
    assert_eq!(planned, [("log", 1, "t1"), ("record", 1, "t1")], "the quiet firing plans nothing");
    assert!(plan.actions.iter().all(|p| p.task.as_deref() == Some(&facts("t1")) && p.planned_ms == NOW));
    assert!(plan.suppressed.is_empty());
}

/// A digest slot is decided once: after it is adopted, the same slot gives nothing; a rule that
/// is no schedule rule gives nothing either. Its actions show the slot as the cron wrote it and
/// measure runtimes on the server's clock.
#[test]
fn a_digest_slot_is_decided_once_and_only_for_a_schedule_rule() {
    use crate::clock::LocalMs;
    let set = rules(
        "rules:\n  - { name: daily, on: schedule, cron: '0 8 * * *', window: 1d, actions: [{ type: log }] }\n  - { name: each, actions: [{ type: log }] }\n",
    );
    let (daily, each) = (&set.rules[0], &set.rules[1]);
    let mut core = Core::default();
    let slot = (LocalMs(NOW.0), NOW + 5_000);
    let job = || Job::new("j1", Status::Failed);
    assert!(core.digest(each, slot, [job()]).is_none(), "not a schedule rule");
    let decision = core.digest(daily, slot, [job()]).expect("the slot's first decision");
    assert_eq!(decision.ledger[0].trigger, crate::ledger::Cause::Slot(slot.0));
    assert_eq!(decision.actions[0].jobs[0].id, "j1");
    let planned = &decision.actions[0];
    assert_eq!(
        (planned.slot, planned.planned_ms),
        (Some(slot.0), slot.1),
        "shown as the cron wrote it, timed on the server"
    );
    assert!(!core.slot_fired(daily, slot.0));
    core.adopt_digest(&decision.ledger, slot.1);
    assert!(core.slot_fired(daily, slot.0));
    assert!(core.digest(daily, slot, [job()]).is_none(), "the slot fired");
    assert!(core.digest(daily, (LocalMs(NOW.0 + 1), slot.1), [job()]).is_some(), "another slot");
}

/// A task id read from a job's resource is put into later listings that lack it, so that the
/// job does not change; a list that carries every task id (`inputs`) needs no memory of them.
#[test]
fn task_ids_read_from_resources_fill_listings_until_the_list_carries_them() {
    let mut core = Core::default();
    core.job_tasks.insert("j1".into(), "t1".into());
    let bare = Job::new("j1", Status::Executing);
    let observed = core.observe(NOW, Listing::of(vec![bare], true));
    assert_eq!(observed.next.jobs()[0].task_id.as_deref(), Some("t1"));
    assert_eq!(core.job_tasks.len(), 1, "kept while the list lacks them");
    let listed = Job { task_id: Some(String::new()), ..Job::new("j1", Status::Executing) };
    core.observe(NOW + 1, Listing::of(vec![listed], true));
    assert!(core.job_tasks.is_empty(), "the list carries them now");
}

/// A resend goes to the actions that follow the state only; a resolution too, in a batch of its
/// own; the first firing to every action.
#[test]
fn resends_and_resolutions_go_to_the_alert_only_in_batches_of_their_own() {
    use crate::ledger::Cause;
    let set = rules("rules:\n  - { name: long, actions: [{ type: alertmanager, url: 'http://am:9093' }, { type: log }, { type: cancel }] }\n");
    let with = |job: &str, trigger: Cause| Firing { trigger, ..firing(&set, "long", job) };
    let firings =
        [with("a", Cause::Poll), with("b", Cause::Repeat(1)), with("c", Cause::Resolved), with("d", Cause::Resolved)];
    let planned =
        plan(&set, "t", firings.to_vec(), (&mut Budget::new(&limits(10, 60, 1.0), 4, 0), &Default::default()), NOW);
    let acts: Vec<(&str, Vec<&str>)> =
        planned.actions.iter().map(|p| (p.action.kind(), p.jobs.iter().map(|j| j.id.as_str()).collect())).collect();
    assert_eq!(
        acts,
        [("alertmanager", vec!["a", "b"]), ("log", vec!["a"]), ("cancel", vec!["a"]), ("alertmanager", vec!["c", "d"])]
    );
    assert_eq!(planned.ledger.len(), 4, "every firing is recorded");
}

/// A title read only after planning (Enterprise's list gives no item ids; the firing job's is read
/// before the commit) still protects: `Decision::protect` moves the cancel to `protected`,
/// `skipped` with its entry, and leaves the rest, and the firing's record, as they are.
#[test]
fn a_title_known_only_after_planning_still_protects_the_job() {
    let set = rules("rules:\n  - { name: stop, actions: [{ type: log }, { type: cancel }] }\n");
    let firings = [firing(&set, "stop", "a"), firing(&set, "stop", "b")];
    let protect = crate::config::ProtectConfig { titles: vec!["nightly *".into()], ..Default::default() };
    let mut planned = plan(
        &set,
        "t",
        firings.to_vec(),
        (&mut Budget::new(&limits(10, 60, 1.0), 2, 0), &Guards { protect: &protect, ..Guards::default() }),
        NOW,
    );
    assert_eq!(planned.actions.len(), 4, "no title known yet: nothing protected");
    let titled = crate::arcgis::Item { title: Some("Nightly ETL".into()), ..Default::default() };
    let names = std::sync::Arc::new(crate::arcgis::Names { notebook: Some(titled), task_title: None });
    for p in planned.actions.iter_mut() {
        p.jobs.iter_mut().filter(|j| j.id == "a").for_each(|j| j.name(names.clone()));
    }
    planned.protect(&set, "t", &protect);
    let acts: Vec<(&str, &str)> = planned.actions.iter().map(|p| (p.action.kind(), p.jobs[0].id.as_str())).collect();
    assert_eq!(acts, [("log", "a"), ("log", "b"), ("cancel", "b")]);
    let [left_out] = &planned.protected[..] else { panic!("{:?}", planned.protected) };
    assert_eq!(
        (left_out.action.as_str(), left_out.job_ids.clone(), left_out.outcome),
        ("cancel", vec!["a".to_string()], Outcome::Skipped)
    );
    assert!(left_out.detail.contains("protect.titles \"nightly *\""), "{}", left_out.detail);
    assert_eq!(planned.ledger.len(), 2);
}

/// A firing a silence covers does nothing, is not recorded, takes no budget, and is told once per
/// silence, rule and job: the keys of a decision, once adopted, keep it from being told again.
#[test]
fn a_silenced_firing_is_told_once_and_never_recorded() {
    use crate::silence::{Matcher, Silence};
    let set = rules("rules:\n  - { name: stop, actions: [{ type: log }, { type: cancel }] }\n");
    let firings = [firing(&set, "stop", "a"), firing(&set, "stop", "b")];
    let silence = Silence {
        id: "s1".into(),
        matchers: vec![Matcher::Job("a".into())],
        starts: crate::clock::LocalMs(0),
        ends: crate::clock::LocalMs(1),
        comment: "tonight".into(),
        author: "ops".into(),
    };
    let mut core = Core::default();
    let decide = |core: &Core| {
        let guards =
            Guards { silences: std::slice::from_ref(&silence), told: &core.silenced_told, ..Guards::default() };
        plan(&set, "t", firings.to_vec(), (&mut Budget::new(&limits(1, 60, 1.0), 2, 0), &guards), NOW)
    };
    let first = decide(&core);
    let acts: Vec<(&str, &str)> = first.actions.iter().map(|p| (p.action.kind(), p.jobs[0].id.as_str())).collect();
    assert_eq!(acts, [("log", "b"), ("cancel", "b")], "the one cancel allowed goes to b");
    assert_eq!(first.ledger.iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(), ["b"], "a is not recorded");
    assert_eq!(first.silenced.len(), 2, "both of a's actions told");
    assert!(first.silenced.iter().all(|r| r.outcome == Outcome::Silenced && r.detail.contains("silenced by s1")));
    core.adopt_silenced(&first.silenced_keys, &["s1"]);
    assert!(decide(&core).silenced.is_empty(), "told once");
    core.adopt_silenced(&[], &[]);
    assert_eq!(decide(&core).silenced.len(), 2, "a silence no longer in force is forgotten");
}

/// `max_cancel_fraction` is a share of the jobs running in the listing, not of all listed: of 2
/// running among 8 listed, half allows 1 cancel.
#[test]
fn the_cancel_fraction_counts_only_the_running_jobs_of_the_listing() {
    let set = rules(
        "rules:\n  - { name: stop, match: { status: running, runtime_over: 1m }, actions: [{ type: cancel }] }\n",
    );
    let started = |id: &str, status| Job { started_at: Some(NOW.plus(-3_600_000)), ..Job::new(id, status) };
    let mut jobs: Vec<Job> = ["r1", "r2"].into_iter().map(|id| started(id, Status::Executing)).collect();
    jobs.extend((0..6).map(|i| started(&format!("done{i}"), Status::Completed)));
    let mut core = Core::default();
    let observed = core.observe(NOW, Listing::of(jobs, true));
    let config = limits(10, 60, 0.5);
    let protect = crate::config::ProtectConfig::default();
    let limits = Limits { config: &config, recent: 0, shadow: None, protect: &protect, silences: &[] };
    let decided = core.decide(&set, "t", &observed, limits);
    let cancels = decided.decision.actions.iter().filter(|p| p.action.kind() == "cancel").count();
    assert_eq!(cancels, 1, "half of the 2 running jobs");
}

/// A first poll may fire tens of thousands of times: each action holds the snapshot's own job,
/// not a copy, with names shared by the jobs given the same, and its rule's configuration.
#[test]
fn planned_actions_share_the_snapshots_jobs_their_names_and_their_rules_actions() {
    let set = rules(
        "rules:\n  - { name: old, match: { status: running, runtime_over: 1m }, actions: [{ type: log }, { type: log }] }\n",
    );
    let started = |id: &str| Job { started_at: Some(NOW.plus(-3_600_000)), ..Job::new(id, Status::Executing) };
    let mut core = Core::default();
    let observed = core.observe(NOW, Listing::of(vec![started("r1"), started("r2")], true));
    let (config, protect) = (limits(10, 60, 1.0), crate::config::ProtectConfig::default());
    let limits = Limits { config: &config, recent: 0, shadow: None, protect: &protect, silences: &[] };
    let actions = core.decide(&set, "t", &observed, limits).decision.actions;
    assert_eq!(actions.len(), 4, "two jobs, two actions each");
    let names = actions[0].jobs[0].names().expect("named").clone();
    for (n, planned) in actions.iter().enumerate() {
        let job = &planned.jobs[0];
        let listed = observed.next.jobs().iter().find(|j| j.id == job.id).expect("listed");
        assert!(Arc::ptr_eq(listed, job.listed()), "the snapshot's job itself, not a copy");
        assert!(Arc::ptr_eq(&names, job.names().expect("named")), "the same names, shared");
        assert!(Arc::ptr_eq(&set.rules[0].actions[n % 2], &planned.action), "the rule's configuration itself");
    }
    assert!(names.notebook.as_ref().is_some_and(|item| item.why.is_some()), "named: why no title is known");
    assert_eq!(actions[0].jobs[0].title(), None);
}
