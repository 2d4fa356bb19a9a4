//! Replaying a timeline of polls through the real cores — diff, rule evaluation with `for_polls`
//! and `repeat`, planning within the target's limits, digest slots — with nothing executed and
//! nothing stored: what rule unit tests (`nbwarden test`) and back-tests (`nbwarden backtest`,
//! with the daemon's extra polls at deadline crossings) see. Pure and synchronous.

use crate::arcgis::{Job, Phase};
use crate::config::LimitsConfig;
use crate::diff::{diff, snapshot, Snapshot};
use crate::dispatch::{plan, plan_digest, Budget, Plan};
use crate::engine::digest::DIGEST_JOB;
use crate::ledger::{LedgerIndex, Streaks};
use crate::plan::LedgerRecord;
use crate::rules::evaluate::Input;
use crate::rules::{RuleSet, Subject, Trigger, Verdict};
use crate::scheduler::timing::next_slot;
use crate::usual::Usual;
use std::collections::BTreeMap;

mod tasks;
pub use tasks::{replay_tasks, TaskRead};

/// One poll of the timeline: when (the server's clock, epoch ms) and what it listed.
#[derive(Debug, Clone)]
pub struct Poll {
    /// When, epoch ms.
    pub at_ms: i64,
    /// The jobs listed.
    pub jobs: Vec<Job>,
}

/// What one poll (or one digest slot just before it) planned.
#[derive(Debug)]
pub struct Step {
    /// The poll's index in the timeline (0 is the first, the baseline).
    pub poll: usize,
    /// When, epoch ms.
    pub at_ms: i64,
    /// Its firings, planned actions and suppressed firings.
    pub plan: Plan,
}

/// Cancels planned within the last hour, for the hourly limit (real and shadow apart).
#[derive(Default)]
struct Cancels(Vec<(i64, bool)>);

impl Cancels {
    fn since(&self, since_ms: i64, shadow: bool) -> u32 {
        self.0.iter().filter(|(at, s)| *at >= since_ms && *s == shadow).count() as u32
    }
}

/// What the replay carries from poll to poll.
#[derive(Default)]
struct State {
    ledger: LedgerIndex,
    streaks: Streaks,
    previous: Option<Snapshot>,
    /// Jobs no longer listed, with when they were last seen (digest windows).
    gone: BTreeMap<String, (i64, Job)>,
    cancels: Cancels,
    /// When the previous poll was.
    last_ms: Option<i64>,
    /// The completed runs of each notebook item so far.
    usual: Usual,
}

/// Replays `polls` (in time order) of `target` through `rules`; the usual runtimes start from
/// `stored` runs, or (`None`) from the completed jobs of the first poll, as a daemon's baseline;
/// schedule rules without a `timezone` run in `zone` (the machine's when `None`). With `between`,
/// polls are added where the daemon would have polled although nothing changed: at each runtime
/// limit's crossing, and `between` after a poll that left a `for_polls` streak pending.
pub fn replay(
    (rules, target, limits): (&RuleSet, &str, &LimitsConfig),
    polls: impl IntoIterator<Item = Poll>,
    stored: Option<Usual>,
    zone: Option<chrono_tz::Tz>,
    between: Option<i64>,
) -> Vec<Step> {
    let learn_baseline = stored.is_none() && rules.wants_item(target, None);
    let mut state = State { usual: stored.unwrap_or_default(), ..State::default() };
    let mut steps = Vec::new();
    for (index, poll) in polls.into_iter().enumerate() {
        if let (Some(interval), Some(last)) = (between, state.last_ms) {
            for at in extra_polls(rules, target, &state, last, poll.at_ms, interval) {
                let jobs = state.previous.as_ref().map(|s| s.jobs().to_vec()).unwrap_or_default();
                steps.extend(step(rules, target, limits, &mut state, Poll { at_ms: at, jobs }, index, zone));
            }
        }
        if index == 0 && learn_baseline {
            state.usual.observe_baseline(&poll.jobs);
        }
        steps.extend(step(rules, target, limits, &mut state, poll, index, zone));
    }
    steps
}

/// The polls the daemon would have added between `last_ms` and `next_ms`, nothing having changed.
fn extra_polls(rules: &RuleSet, target: &str, state: &State, last_ms: i64, next_ms: i64, interval: i64) -> Vec<i64> {
    let Some(snapshot) = state.previous.as_ref() else { return Vec::new() };
    let crossing = rules.next_crossing(target, (snapshot, &state.usual), &state.ledger, last_ms, next_ms);
    let streak = rules.streak_pending(&state.streaks).then_some(last_ms + interval);
    let at = crossing.into_iter().chain(streak).filter(|at| *at < next_ms).min();
    at.into_iter().collect()
}

/// One poll: its digest slots since the previous one, then diff, evaluation and planning.
fn step(
    rules: &RuleSet,
    target: &str,
    limits: &LimitsConfig,
    state: &mut State,
    poll: Poll,
    index: usize,
    zone: Option<chrono_tz::Tz>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    if let (Some(last), Some(listed)) = (state.last_ms, state.previous.as_ref()) {
        let window = (last, poll.at_ms, index);
        let seen = (&state.gone, listed, &state.usual);
        steps.extend(digests(rules, target, seen, &mut state.ledger, window, zone));
    }
    let next = snapshot(poll.jobs);
    let delta = diff(state.previous.as_ref(), &next);
    if rules.wants_item(target, None) {
        state.usual.observe(&delta.events, poll.at_ms);
    }
    let input = Input {
        target,
        now_ms: poll.at_ms,
        snapshot: &next,
        events: &delta.events,
        ledger: &state.ledger,
        streaks: &state.streaks,
        usual: &state.usual,
    };
    let evaluation = rules.evaluate(&input);
    let running = next.values().filter(|j| j.phase() == Phase::Running).count();
    let hour_ago = poll.at_ms - 3_600_000;
    state.cancels.0.retain(|(at, _)| *at >= hour_ago);
    let mut budget = Budget::new(limits, running, state.cancels.since(hour_ago, false)).with_shadow(Budget::new(
        limits,
        running,
        state.cancels.since(hour_ago, true),
    ));
    let planned = plan(rules, target, &evaluation.firings, &mut budget, poll.at_ms);
    for record in &planned.ledger {
        state.ledger.record(&record.rule, &record.job_id, &record.trigger, poll.at_ms);
    }
    for action in planned.actions.iter().filter(|a| a.action.is_destructive()) {
        let shadow = rules.get(&action.rule).is_some_and(|r| r.shadow);
        state.cancels.0.extend(action.jobs.iter().map(|_| (poll.at_ms, shadow)));
    }
    state.streaks = evaluation.streaks;
    // Jobs no longer listed were last seen at the previous poll; those listed are seen now (the
    // digest window reads them from the snapshot), so only what changed is copied.
    for event in &delta.events {
        if let crate::diff::JobEvent::Disappeared { last_seen, .. } = event {
            let at = state.last_ms.unwrap_or(poll.at_ms);
            state.gone.insert(last_seen.id.clone(), (at, last_seen.clone()));
        }
    }
    for &index in &delta.upserts {
        state.gone.remove(&next.jobs()[index].id);
    }
    steps.push(Step { poll: index, at_ms: poll.at_ms, plan: planned });
    state.previous = Some(next);
    state.last_ms = Some(poll.at_ms);
    steps
}

/// The digest slots of schedule rules after `after_ms` up to `until_ms`, each with the jobs seen
/// within its window that match; recorded in the ledger so that each slot fires once.
fn digests(
    rules: &RuleSet,
    target: &str,
    (gone, listed, usual): (&BTreeMap<String, (i64, Job)>, &Snapshot, &Usual),
    ledger: &mut LedgerIndex,
    (after_ms, until_ms, poll): (i64, i64, usize),
    zone: Option<chrono_tz::Tz>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    for rule in rules.rules.iter().filter(|r| r.applies_to(target)) {
        let Trigger::Schedule(schedule) = &rule.trigger else { continue };
        let mut from = after_ms;
        let tz = schedule.timezone.or(zone);
        while let Some(slot) = next_slot(&schedule.cron, tz, from).filter(|s| *s <= until_ms) {
            from = slot;
            let since = slot - schedule.window.as_millis() as i64;
            // Jobs listed at the last poll (`after_ms`), and those gone within the window.
            let gone_within = gone.values().filter(|(at, _)| *at >= since && *at <= slot).map(|(_, job)| job);
            let mut jobs: Vec<Job> = listed
                .values()
                .filter(|_| after_ms >= since)
                .chain(gone_within)
                .filter(|job| {
                    let subject = Subject::at(job, slot, usual);
                    rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds)
                })
                .cloned()
                .collect();
            jobs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
            let trigger = crate::engine::digest::slot_trigger(slot);
            let record =
                LedgerRecord { rule: rule.ledger_name().into(), job_id: DIGEST_JOB.into(), trigger: trigger.clone() };
            ledger.record(&record.rule, DIGEST_JOB, &trigger, slot);
            steps.push(Step { poll, at_ms: slot, plan: plan_digest(rule, record, jobs, slot) });
        }
    }
    steps.sort_by_key(|s| s.at_ms);
    steps
}
