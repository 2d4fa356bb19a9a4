//! The slots of one target's `on: schedule` rules: the next one of each, and a missed one caught
//! up once after a restart.

use super::timing::{last_slot, next_slot};
use crate::cycle::last_fired_slot;
use crate::engine::Target;
use crate::rules::{RuleSet, Trigger};

/// Per schedule rule of a target: its index and the slot (local epoch ms) it fires next.
#[derive(Debug, Default)]
pub struct Digests(Vec<(usize, Option<i64>)>);

impl Digests {
    /// The schedule rules of `target` at `now_ms`. A rule that fired before and missed its latest
    /// slot while nbwarden was down has that slot due now (once); otherwise the next slot.
    pub fn new(rules: &RuleSet, target: &Target, now_ms: i64) -> Digests {
        let name = &target.config.name;
        let mut slots = Vec::new();
        for (index, rule) in rules.rules.iter().enumerate().filter(|(_, r)| r.applies_to(name)) {
            let Trigger::Schedule(schedule) = &rule.trigger else { continue };
            let missed = last_fired_slot(target.core(), &rule.name)
                .and_then(|fired| last_slot(&schedule.cron, schedule.timezone, now_ms).filter(|last| *last > fired.0));
            let first = missed.or_else(|| next_slot(&schedule.cron, schedule.timezone, now_ms));
            slots.push((index, first));
        }
        Digests(slots)
    }

    /// The earliest slot to come.
    pub fn next_due(&self) -> Option<i64> {
        self.0.iter().filter_map(|(_, slot)| *slot).min()
    }

    /// The (rule, slot) pairs due at `now_ms`. Each then waits for its next slot, or, when later
    /// slots have passed meanwhile (a slow poll), for the latest of them only: never a burst.
    pub fn take_due(&mut self, rules: &RuleSet, now_ms: i64) -> Vec<(usize, i64)> {
        let mut due = Vec::new();
        for (index, slot) in &mut self.0 {
            let Some(at) = slot.filter(|at| *at <= now_ms) else { continue };
            due.push((*index, at));
            if let Trigger::Schedule(schedule) = &rules.rules[*index].trigger {
                let (cron, tz) = (&schedule.cron, schedule.timezone);
                let passed = last_slot(cron, tz, now_ms).filter(|last| *last > at);
                *slot = passed.or_else(|| next_slot(cron, tz, now_ms));
            }
        }
        due
    }
}
