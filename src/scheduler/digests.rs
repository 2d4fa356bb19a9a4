//! The slots of one target's `on: schedule` rules: the next one of each, and a missed one caught
//! up once after a restart.

use crate::clock::LocalMs;
use crate::cycle::slot_after;
use crate::engine::Target;
use crate::rules::{RuleSet, Trigger};

/// Per schedule rule of a target: its index and the slot it fires next.
#[derive(Debug, Default)]
pub struct Digests(Vec<(usize, Option<LocalMs>)>);

impl Digests {
    /// The schedule rules of `target` at `now`, each with the slot the core says it waits for.
    pub fn new(rules: &RuleSet, target: &Target, now: LocalMs) -> Digests {
        Digests(target.core().digest_slots(rules, &target.config.name, now))
    }

    /// The earliest slot to come.
    pub fn next_due(&self) -> Option<LocalMs> {
        self.0.iter().filter_map(|(_, slot)| *slot).min()
    }

    /// The (rule, slot) pairs due at `now`. Each then waits for its next slot, or, when later
    /// slots have passed meanwhile (a slow poll), for the latest of them only: never a burst.
    pub fn take_due(&mut self, rules: &RuleSet, now: LocalMs) -> Vec<(usize, LocalMs)> {
        let mut due = Vec::new();
        for (index, slot) in &mut self.0 {
            let Some(at) = slot.filter(|at| *at <= now) else { continue };
            due.push((*index, at));
            if let Trigger::Schedule(schedule) = &rules.rules[*index].trigger {
                *slot = slot_after(schedule, at, now);
            }
        }
        due
    }
}
