//! The core's driver for a recorded timeline of polls, with nothing executed and nothing stored:
//! what rule unit tests (`nbwarden test`) and back-tests (`nbwarden backtest`) see. It stands in
//! for the store (the cancels of the last hour, the jobs seen within a digest's window) and for
//! the scheduler (digest slots, and with `between` the daemon's extra polls when the core asks
//! for one); the cycle itself is the core's. Pure and synchronous.

use crate::arcgis::Job;
use crate::config::LimitsConfig;
use crate::cycle::{Core, Decision, Limits, PollDecision};
use crate::rules::{RuleSet, Trigger};
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
    pub plan: Decision,
}

/// Cancels planned within the last hour, for the hourly limit (real and shadow apart): the
/// store's count, in a daemon.
#[derive(Default)]
struct Cancels(Vec<(i64, bool)>);

impl Cancels {
    fn since(&self, since_ms: i64, shadow: bool) -> u32 {
        self.0.iter().filter(|(at, s)| *at >= since_ms && *s == shadow).count() as u32
    }
}

/// What the driver carries from poll to poll besides the core.
struct Driver<'a> {
    rules: &'a RuleSet,
    target: &'a str,
    limits: &'a LimitsConfig,
    zone: Option<chrono_tz::Tz>,
    core: Core,
    /// Jobs no longer listed, with when they were last seen (the store's history, for digests).
    gone: BTreeMap<String, (i64, Job)>,
    cancels: Cancels,
    /// When the previous poll was.
    last_ms: Option<i64>,
}

/// Replays `polls` (in time order) of `target` through `rules`; the usual runtimes start from
/// `stored` runs, or (`None`) from the completed jobs of the first poll, as a daemon's baseline;
/// schedule rules without a `timezone` run in `zone` (the machine's when `None`). With `between`,
/// polls are added where the daemon would have polled although nothing changed: when the core
/// asks for one (a runtime limit's crossing), and `between` after a poll that left a `for_polls`
/// streak pending.
pub fn replay(
    (rules, target, limits): (&RuleSet, &str, &LimitsConfig),
    polls: impl IntoIterator<Item = Poll>,
    stored: Option<Usual>,
    zone: Option<chrono_tz::Tz>,
    between: Option<i64>,
) -> Vec<Step> {
    let core = Core::with_usual(stored.unwrap_or_default());
    let mut driver =
        Driver { rules, target, limits, zone, core, gone: BTreeMap::new(), cancels: Cancels::default(), last_ms: None };
    let mut steps = Vec::new();
    for (index, poll) in polls.into_iter().enumerate() {
        if let (Some(interval), Some(last)) = (between, driver.last_ms) {
            if let Some(at) = driver.extra_poll(last, poll.at_ms, interval) {
                let jobs = driver.core.listed().to_vec();
                steps.extend(driver.step(Poll { at_ms: at, jobs }, index));
            }
        }
        steps.extend(driver.step(poll, index));
    }
    steps
}

impl Driver<'_> {
    /// The poll the daemon would have added between `last_ms` and `next_ms`, nothing having changed.
    fn extra_poll(&self, last_ms: i64, next_ms: i64, interval: i64) -> Option<i64> {
        self.core.snapshot.as_ref()?;
        let wake = self.core.wake(self.rules, self.target, (last_ms, next_ms));
        let streak = wake.streak.then_some(last_ms + interval);
        wake.crossing.into_iter().chain(streak).filter(|at| *at < next_ms).min()
    }

    /// One poll: its digest slots since the previous one, then the core's cycle.
    fn step(&mut self, poll: Poll, index: usize) -> Vec<Step> {
        let mut steps = match self.last_ms {
            Some(last) => self.digests((last, poll.at_ms), index),
            None => Vec::new(),
        };
        let observed = self.core.observe(poll.at_ms, poll.jobs, true);
        self.core.count_runs(self.rules, self.target, &observed);
        let hour_ago = poll.at_ms - 3_600_000;
        self.cancels.0.retain(|(at, _)| *at >= hour_ago);
        let (recent, shadow) = (self.cancels.since(hour_ago, false), self.cancels.since(hour_ago, true));
        let limits = Limits { config: self.limits, recent, shadow: Some(shadow) };
        let decided = self.core.decide(self.rules, self.target, &observed, limits);
        for action in decided.decision.actions.iter().filter(|a| a.action.is_destructive()) {
            let shadow = self.rules.get(&action.rule).is_some_and(|r| r.shadow);
            self.cancels.0.extend(action.jobs.iter().map(|_| (poll.at_ms, shadow)));
        }
        // Jobs no longer listed were last seen at the previous poll; those listed are seen now.
        let last_seen = self.last_ms.unwrap_or(poll.at_ms);
        for job in observed.disappeared() {
            self.gone.insert(job.id.clone(), (last_seen, job.clone()));
        }
        for job in observed.changed() {
            self.gone.remove(&job.id);
        }
        let PollDecision { evaluation, decision } = decided;
        self.core.adopt(observed, evaluation.streaks, &decision.ledger);
        steps.push(Step { poll: index, at_ms: poll.at_ms, plan: decision });
        self.last_ms = Some(poll.at_ms);
        steps
    }

    /// The digest slots of schedule rules after `after_ms` up to `until_ms`, each with the jobs
    /// seen within its window: those listed at the last poll, and those gone within it.
    fn digests(&mut self, (after_ms, until_ms): (i64, i64), poll: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        for rule in self.rules.rules.iter().filter(|r| r.applies_to(self.target)) {
            let Trigger::Schedule(schedule) = &rule.trigger else { continue };
            let tz = schedule.timezone.or(self.zone);
            let mut from = after_ms;
            while let Some(slot) = next_slot(&schedule.cron, tz, from).filter(|s| *s <= until_ms) {
                from = slot;
                let since = slot - schedule.window.as_millis() as i64;
                let listed = self.core.listed().iter().filter(|_| after_ms >= since);
                let gone = self.gone.values().filter(|(at, _)| *at >= since && *at <= slot).map(|(_, job)| job);
                let seen: Vec<Job> = listed.chain(gone).cloned().collect();
                if let Some(decision) = self.core.digest(rule, (slot, slot), seen) {
                    self.core.adopt_digest(&decision.ledger, slot);
                    steps.push(Step { poll, at_ms: slot, plan: decision });
                }
            }
        }
        steps.sort_by_key(|s| s.at_ms);
        steps
    }
}
