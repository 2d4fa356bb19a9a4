//! The core's driver for a recorded timeline of polls, with nothing executed and nothing stored:
//! what rule unit tests (`nbwarden test`) and back-tests (`nbwarden backtest`) see. It stands in
//! for the store (the cancels of the last hour, the jobs seen within a digest's window) and for
//! the scheduler (digest slots, and with `between` the daemon's extra polls when the core asks
//! for one); the cycle itself is the core's. Pure and synchronous.

use crate::arcgis::{Job, Listing};
use crate::clock::{Offset, ServerMs};
use crate::config::{LimitsConfig, ProtectConfig};
use crate::cycle::{next_slot, Core, Decision, Limits, PollDecision, MAX_EXTRA_POLLS};
use crate::rules::{RuleSet, Trigger};
use crate::usual::Usual;
use std::collections::BTreeMap;

mod notebooks;
mod tasks;
pub use notebooks::{replay_notebooks, NotebookRead};
pub use tasks::{replay_tasks, TaskRead};

/// One poll of the timeline: when and what it listed.
#[derive(Debug, Clone)]
pub struct Poll {
    /// When.
    pub at_ms: ServerMs,
    /// The jobs listed.
    pub jobs: Vec<Job>,
}

/// What one poll (or one digest slot just before it) planned.
#[derive(Debug)]
pub struct Step {
    /// The poll's index in the timeline (0 is the first, the baseline).
    pub poll: usize,
    /// When.
    pub at_ms: ServerMs,
    /// Its firings, planned actions and suppressed firings.
    pub plan: Decision,
}

/// Cancels planned within the last hour, for the hourly limit (real and shadow apart): the
/// store's count, in a daemon.
#[derive(Default)]
struct Cancels(Vec<(ServerMs, bool)>);

impl Cancels {
    fn since(&self, since: ServerMs, shadow: bool) -> u32 {
        self.0.iter().filter(|(at, s)| *at >= since && *s == shadow).count() as u32
    }
}

/// What the driver carries from poll to poll besides the core.
struct Driver<'a> {
    rules: &'a RuleSet,
    target: &'a str,
    limits: &'a LimitsConfig,
    protect: &'a ProtectConfig,
    zone: Option<chrono_tz::Tz>,
    core: Core,
    /// Jobs no longer listed, with when they were last seen (the store's history, for digests).
    gone: BTreeMap<String, (ServerMs, Job)>,
    cancels: Cancels,
    /// When the previous poll was.
    last_ms: Option<ServerMs>,
    /// The daemon's cadence, when its unrecorded polls are to be made (`backtest`).
    interval: Option<i64>,
    /// The next regular poll, and the extra polls left before it.
    regular_ms: Option<ServerMs>,
    extra_left: u32,
    /// The last poll had firings a limit held back: they come again at the next poll.
    held: bool,
}

/// Replays `polls` (in time order) of `target` through `rules`; the usual runtimes start from
/// `stored` runs, or (`None`) from the completed jobs of the first poll, as a daemon's baseline;
/// schedule rules without a `timezone` run in `zone` (the machine's when `None`). With `between`,
/// the daemon's cadence, the polls it made although nothing changed are added where they could
/// fire: the extra polls the core's `wake` asks for (a limit's crossing, a pending `for_polls`
/// streak), at most `MAX_EXTRA_POLLS` per interval as the scheduler makes them, and the regular
/// polls after a crossing the extra polls missed, while a streak is pending, after firings a limit
/// held back, and all of them when a rule repeats.
pub fn replay(
    (rules, target, (limits, protect)): (&RuleSet, &str, (&LimitsConfig, &ProtectConfig)),
    polls: impl IntoIterator<Item = Poll>,
    stored: Option<Usual>,
    zone: Option<chrono_tz::Tz>,
    between: Option<i64>,
) -> Vec<Step> {
    let core = Core::with_usual(stored.unwrap_or_default());
    let mut driver = Driver {
        rules,
        target,
        limits,
        protect,
        zone,
        core,
        gone: BTreeMap::new(),
        cancels: Cancels::default(),
        last_ms: None,
        interval: between,
        regular_ms: None,
        extra_left: MAX_EXTRA_POLLS,
        held: false,
    };
    let mut steps = Vec::new();
    for (index, poll) in polls.into_iter().enumerate() {
        steps.extend(driver.unrecorded(poll.at_ms, index));
        steps.extend(driver.step(poll.at_ms, Listing::of(poll.jobs, true), index));
    }
    steps
}

impl Driver<'_> {
    /// The polls the daemon made before `next_ms` with nothing changed that could fire: the
    /// extra ones the core's wake asks for, and the regular ones while something may fire; the
    /// idle regular polls in between are passed over (they only renew the extra polls).
    fn unrecorded(&mut self, next_ms: ServerMs, index: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let (Some(interval), Some(mut last)) = (self.interval, self.last_ms) else { return steps };
        let repeats = self.rules.rules.iter().any(|r| r.applies_to(self.target) && r.repeat_ms().is_some());
        loop {
            let regular = self.regular_ms.unwrap_or(last + interval);
            let wake = self.core.wake(self.rules, self.target, (last, next_ms));
            let extra = wake.at(last).filter(|at| self.extra_left > 0 && *at < regular);
            let crossing = wake.crossing;
            let busy = wake.streak || self.held || repeats || crossing.is_some_and(|at| at <= regular);
            let due = match (extra, busy, crossing) {
                (Some(at), _, _) => at,
                (None, true, _) => regular,
                (None, false, Some(crossing)) => {
                    // Idle regular polls up to the last one before the crossing.
                    last = regular + (crossing - regular) / interval * interval;
                    (self.regular_ms, self.extra_left) = (Some(last + interval), MAX_EXTRA_POLLS);
                    if last >= next_ms {
                        return steps;
                    }
                    continue;
                }
                (None, false, None) => return steps,
            };
            if due >= next_ms {
                return steps;
            }
            if extra.is_some() {
                self.extra_left -= 1;
            }
            let listed = crate::arcgis::Listed::new(self.core.listed().to_vec(), Vec::new());
            let listing = Listing { listed, complete: true, ..Listing::default() };
            steps.extend(self.step(due, listing, index));
            last = due;
        }
    }

    /// One poll: its digest slots since the previous one, then the core's cycle.
    fn step(&mut self, at_ms: ServerMs, listing: Listing, index: usize) -> Vec<Step> {
        let mut steps = match self.last_ms {
            Some(last) => self.digests((last, at_ms), index),
            None => Vec::new(),
        };
        let observed = self.core.observe(at_ms, listing);
        self.core.count_runs(self.rules, self.target, &observed);
        let hour_ago = at_ms - 3_600_000;
        self.cancels.0.retain(|(at, _)| *at >= hour_ago);
        let (recent, shadow) = (self.cancels.since(hour_ago, false), self.cancels.since(hour_ago, true));
        let limits = Limits { config: self.limits, recent, shadow: Some(shadow), protect: self.protect, silences: &[] };
        let decided = self.core.decide(self.rules, self.target, &observed, limits);
        for action in decided.decision.actions.iter().filter(|a| a.action.is_destructive()) {
            let shadow = self.rules.get(&action.rule).is_some_and(|r| r.shadow);
            self.cancels.0.extend(action.jobs.iter().map(|_| (at_ms, shadow)));
        }
        // Jobs no longer listed were last seen at the previous poll; those listed are seen now.
        let last_seen = self.last_ms.unwrap_or(at_ms);
        for job in observed.disappeared() {
            self.gone.insert(job.id.clone(), (last_seen, job.clone()));
        }
        for job in observed.changed() {
            self.gone.remove(&job.id);
        }
        let PollDecision { evaluation, decision } = decided;
        self.core.adopt(observed, evaluation.streaks, &decision.ledger);
        self.held = !decision.suppressed.is_empty();
        if let Some(interval) = self.interval.filter(|_| self.regular_ms.is_none_or(|r| at_ms >= r)) {
            (self.regular_ms, self.extra_left) = (Some(at_ms + interval), MAX_EXTRA_POLLS);
        }
        steps.push(Step { poll: index, at_ms, plan: decision });
        self.last_ms = Some(at_ms);
        steps
    }

    /// The digest slots of schedule rules after `after_ms` up to `until_ms`, each with the jobs
    /// seen within its window: those listed at the last poll, and those gone within it.
    fn digests(&mut self, (after_ms, until_ms): (ServerMs, ServerMs), poll: usize) -> Vec<Step> {
        // The recorded history is on the server's clock; a replay's slots are read on it.
        let (after, until) = (after_ms.on_local(Offset::default()), until_ms.on_local(Offset::default()));
        let mut steps = Vec::new();
        for rule in self.rules.rules.iter().filter(|r| r.applies_to(self.target)) {
            let Trigger::Schedule(schedule) = &rule.trigger else { continue };
            let tz = schedule.timezone.or(self.zone);
            let mut from = after;
            while let Some(local) = next_slot(&schedule.cron, tz, from).filter(|s| *s <= until) {
                from = local;
                let slot = local.on_server(Offset::default());
                let since = slot - schedule.window.as_millis() as i64;
                let listed = self.core.listed().iter().filter(|_| after_ms >= since);
                let gone = self.gone.values().filter(|(at, _)| *at >= since && *at <= slot).map(|(_, job)| job);
                let seen: Vec<Job> = listed.map(|job| &**job).chain(gone).cloned().collect();
                if let Some(decision) = self.core.digest(rule, (local, slot), seen) {
                    self.core.adopt_digest(&decision.ledger, slot);
                    steps.push(Step { poll, at_ms: slot, plan: decision });
                }
            }
        }
        steps.sort_by_key(|s| s.at_ms);
        steps
    }
}
