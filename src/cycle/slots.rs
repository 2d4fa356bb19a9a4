//! When the core next needs to act without a change on the site: the slots of its `on: schedule`
//! rules (the cron read in the rule's zone, or the machine's), a missed one caught up once after
//! a restart; and the instant a scheduled task's due run passes the grace of a `task_missed` rule.

use super::{last_fired_slot, Core};
use crate::clock::{LocalMs, ServerMs};
use crate::ledger::Cause;
use crate::rules::tasks::task_key;
use crate::rules::{RuleSet, Schedule, Trigger};
use chrono::{DateTime, TimeZone};
use croner::Cron;

/// The first slot of `cron` strictly after `after`, in `tz` (the machine's when `None`).
pub fn next_slot(cron: &Cron, tz: Option<chrono_tz::Tz>, after: LocalMs) -> Option<LocalMs> {
    match tz {
        Some(tz) => occurrence(cron, tz, after, true),
        None => occurrence(cron, chrono::Local, after, true),
    }
}

/// The last slot of `cron` at or before `at`, in `tz` (the machine's when `None`).
pub fn last_slot(cron: &Cron, tz: Option<chrono_tz::Tz>, at: LocalMs) -> Option<LocalMs> {
    match tz {
        Some(tz) => occurrence(cron, tz, at, false),
        None => occurrence(cron, chrono::Local, at, false),
    }
}

fn occurrence<Z: TimeZone>(cron: &Cron, tz: Z, from: LocalMs, forward: bool) -> Option<LocalMs> {
    let from: DateTime<Z> = tz.timestamp_millis_opt(from.0).single()?;
    // Forward: strictly after; backward: at or before.
    let found =
        if forward { cron.find_next_occurrence(&from, false) } else { cron.find_previous_occurrence(&from, true) };
    found.ok().map(|t| LocalMs(t.timestamp_millis()))
}

/// The slot a schedule rule waits for once its slot came due and `now` has come: the latest one
/// passed meanwhile (a slow poll: never a burst), else the next.
pub fn slot_after(schedule: &Schedule, due: LocalMs, now: LocalMs) -> Option<LocalMs> {
    let (cron, tz) = (&schedule.cron, schedule.timezone);
    let passed = last_slot(cron, tz, now).filter(|last| *last > due);
    passed.or_else(|| next_slot(cron, tz, now))
}

impl Core {
    /// The slot each schedule rule of `target` waits for at `now` (by the rule's index): the
    /// latest slot, when the rule fired before and missed it (nbwarden was down), else the next.
    pub fn digest_slots(&self, rules: &RuleSet, target: &str, now: LocalMs) -> Vec<(usize, Option<LocalMs>)> {
        let mut slots = Vec::new();
        for (index, rule) in rules.rules.iter().enumerate().filter(|(_, r)| r.applies_to(target)) {
            let Trigger::Schedule(schedule) = &rule.trigger else { continue };
            let (cron, tz) = (&schedule.cron, schedule.timezone);
            let missed = last_fired_slot(self, &rule.ledger_name())
                .and_then(|fired| last_slot(cron, tz, now).filter(|last| *last > fired));
            slots.push((index, missed.or_else(|| next_slot(cron, tz, now))));
        }
        slots
    }

    /// When the due run of a scheduled task, as last read, passes the grace of a `task_missed`
    /// rule of `target` without having been told: the earliest such instant, so that the tasks
    /// are read then rather than at the next `tasks.every`. The schedules are read in `zone`.
    pub fn task_wake(&self, rules: &RuleSet, target: &str, zone: chrono_tz::Tz) -> Option<ServerMs> {
        let tasks = self.tasks.as_ref()?;
        let mut earliest: Option<ServerMs> = None;
        for rule in rules.rules.iter().filter(|r| r.applies_to(target)) {
            let Trigger::TaskMissed { grace } = rule.trigger else { continue };
            for seen in tasks.values().filter(|s| s.task.active) {
                let Some(due) = crate::task_diff::next_due(&seen.task, zone) else { continue };
                if self.ledger.fired(&rule.ledger_name(), &task_key(&seen.task.id), &Cause::Missed(due)) {
                    continue;
                }
                let at = due + grace.as_millis() as i64 + super::wake::CROSSING_MARGIN_MS;
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        }
        earliest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_slots_in_a_time_zone() {
        let cron = crate::config::parse_cron("0 8 * * MON-FRI").unwrap();
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        // Friday 2026-11-27 12:00 UTC → next slot Monday 2026-11-30 08:00 Berlin = 07:00 UTC.
        let friday = LocalMs(chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap().timestamp_millis());
        let monday = LocalMs(chrono::Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap().timestamp_millis());
        assert_eq!(next_slot(&cron, Some(berlin), friday), Some(monday));
        assert_eq!(last_slot(&cron, Some(berlin), monday), Some(monday), "a slot is its own last slot");
        let before = last_slot(&cron, Some(berlin), monday.plus(-1)).unwrap();
        assert_eq!(before, monday.plus(-3 * 86_400_000), "Friday's slot");
    }
}
