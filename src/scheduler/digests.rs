//! The slots of one target's `on: schedule` rules: the next one of each, and a missed one caught
//! up once after a restart.

use crate::clock::LocalMs;
use crate::cycle::slot_after;
use crate::engine::Target;
use crate::rules::{RuleSet, Trigger};

/// Per schedule rule of a target: its index and the slot (local epoch ms) it fires next.
#[derive(Debug, Default)]
pub struct Digests(Vec<(usize, Option<i64>)>);

impl Digests {
    /// The schedule rules of `target` at `now_ms`, each with the slot the core says it waits for.
    pub fn new(rules: &RuleSet, target: &Target, now_ms: i64) -> Digests {
        let slots = target.core().digest_slots(rules, &target.config.name, LocalMs(now_ms));
        Digests(slots.into_iter().map(|(index, slot)| (index, slot.map(|s| s.0))).collect())
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
                *slot = slot_after(schedule, LocalMs(at), LocalMs(now_ms)).map(|s| s.0);
            }
        }
        due
    }
}
