//! The last 24 hours of each target, for the status page's chart: the most jobs running at a
//! poll within each 10-minute slot, and the failures seen in it (this machine's clock). At most
//! 144 slots per target; the state store keeps them, so a restart keeps the chart.

use crate::clock::LocalMs;
use serde::Serialize;
use std::collections::VecDeque;

/// The width of a slot.
pub const SLOT_MS: i64 = 600_000;
/// How far back the chart goes.
pub const SPAN_MS: i64 = 86_400_000;

/// One slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Slot {
    /// Its start.
    pub start_ms: LocalMs,
    /// The most jobs running at a poll within it.
    pub running: usize,
    /// Jobs seen failing within it.
    pub failures: u32,
}

/// The slots of one target, oldest first.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct Activity(VecDeque<Slot>);

impl Activity {
    /// The slots kept by the store, as of `now`: those of the last 24 hours, oldest first.
    pub fn restored(mut slots: Vec<Slot>, now: LocalMs) -> Activity {
        slots.sort_by_key(|s| s.start_ms);
        slots.dedup_by_key(|s| s.start_ms);
        slots.retain(|s| s.start_ms > now.plus(-SPAN_MS) && s.start_ms <= now);
        Activity(slots.into())
    }

    /// The newest slot, the one polls update.
    pub fn latest(&self) -> Option<Slot> {
        self.0.back().copied()
    }

    /// A poll at `now` saw `running` jobs running.
    pub fn polled(&mut self, now: LocalMs, running: usize) {
        let slot = self.slot(now);
        slot.running = slot.running.max(running);
    }

    /// `count` jobs were seen failing at `now`.
    pub fn failed(&mut self, now: LocalMs, count: u32) {
        self.slot(now).failures += count;
    }

    /// The slots, oldest first.
    pub fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.0.iter()
    }

    fn slot(&mut self, now: LocalMs) -> &mut Slot {
        let start_ms = now.plus(-now.0.rem_euclid(SLOT_MS));
        while self.0.front().is_some_and(|s| s.start_ms <= now.plus(-SPAN_MS)) {
            self.0.pop_front();
        }
        if self.0.back().is_none_or(|s| s.start_ms != start_ms) {
            self.0.push_back(Slot { start_ms, running: 0, failures: 0 });
        }
        self.0.back_mut().expect("a slot was just pushed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_keep_the_most_running_and_the_failures_for_24_hours() {
        let at = LocalMs;
        let mut activity = Activity::default();
        activity.polled(at(SLOT_MS), 3);
        activity.polled(at(SLOT_MS + 1_000), 5);
        activity.polled(at(SLOT_MS + 2_000), 4);
        activity.failed(at(SLOT_MS + 2_000), 2);
        activity.polled(at(3 * SLOT_MS), 1);
        let slots: Vec<Slot> = activity.slots().copied().collect();
        assert_eq!(
            slots,
            [
                Slot { start_ms: at(SLOT_MS), running: 5, failures: 2 },
                Slot { start_ms: at(3 * SLOT_MS), running: 1, failures: 0 }
            ]
        );
        activity.polled(at(SLOT_MS + SPAN_MS), 0);
        assert_eq!(activity.slots().next().unwrap().start_ms, at(3 * SLOT_MS), "a day later the first slot is gone");
        for n in 0..1_000 {
            activity.polled(at(SPAN_MS * 2 + n * SLOT_MS), 1);
        }
        assert_eq!(activity.slots().count(), (SPAN_MS / SLOT_MS) as usize, "bounded");
    }

    #[test]
    fn restored_slots_are_those_of_the_last_24_hours_in_order() {
        let at = LocalMs;
        let slot = |start: i64, running: usize| Slot { start_ms: at(start), running, failures: 0 };
        let now = at(SPAN_MS + 5 * SLOT_MS);
        let kept = vec![slot(SPAN_MS + 2 * SLOT_MS, 2), slot(0, 9), slot(6 * SLOT_MS, 1), slot(6 * SLOT_MS, 1)];
        let activity = Activity::restored(kept, now);
        let starts: Vec<i64> = activity.slots().map(|s| s.start_ms.0).collect();
        assert_eq!(starts, [6 * SLOT_MS, SPAN_MS + 2 * SLOT_MS], "a day old is gone; oldest first; no slot twice");
        assert_eq!(activity.latest(), Some(slot(SPAN_MS + 2 * SLOT_MS, 2)));
    }
}
