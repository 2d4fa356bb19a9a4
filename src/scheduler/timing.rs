//! When things happen (pure): poll cadences with jitter, cron slots in a time zone, and how long
//! a target may go without a successful poll before it is unhealthy.

use crate::config::{parse_cron, PollConfig};
use chrono::{DateTime, TimeZone};
use croner::Cron;
use std::time::Duration;

/// How often a target is polled.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// `poll.every`.
    Every(Duration),
    /// `poll.cron`, in the machine's time zone.
    Cron(Box<Cron>),
}

impl Cadence {
    /// The cadence `poll:` asks for.
    pub fn of(poll: &PollConfig) -> Result<Cadence, crate::config::CronError> {
        match &poll.cron {
            Some(pattern) => parse_cron(pattern).map(|c| Cadence::Cron(Box::new(c))),
            None => Ok(Cadence::Every(poll.interval())),
        }
    }

    /// The next regular poll (local epoch ms) after one that started at `last_ms`, never before
    /// `now_ms`, shifted by up to `jitter` (0..1) of a tenth of the interval, at most 2 s.
    pub fn next_poll(&self, last_ms: i64, now_ms: i64, jitter: f64) -> i64 {
        let spread = (self.interval(now_ms).as_millis() as f64 / 10.0).min(2000.0);
        let shift = (spread * jitter.clamp(0.0, 1.0)) as i64;
        let due = match self {
            Cadence::Every(every) => last_ms + every.as_millis() as i64,
            Cadence::Cron(cron) => next_slot(cron, None, last_ms.max(now_ms)).unwrap_or(i64::MAX - shift),
        };
        due.max(now_ms) + shift
    }

    /// The nominal gap between polls: `every`, or the gap between the next two cron slots.
    pub fn interval(&self, now_ms: i64) -> Duration {
        match self {
            Cadence::Every(every) => *every,
            Cadence::Cron(cron) => crate::config::gap(cron, now_ms),
        }
    }
}

/// The first slot of `cron` strictly after `after_ms`, in `tz` (the machine's when `None`).
pub fn next_slot(cron: &Cron, tz: Option<chrono_tz::Tz>, after_ms: i64) -> Option<i64> {
    match tz {
        Some(tz) => occurrence(cron, tz, after_ms, true),
        None => occurrence(cron, chrono::Local, after_ms, true),
    }
}

/// The last slot of `cron` at or before `at_ms`, in `tz` (the machine's when `None`).
pub fn last_slot(cron: &Cron, tz: Option<chrono_tz::Tz>, at_ms: i64) -> Option<i64> {
    match tz {
        Some(tz) => occurrence(cron, tz, at_ms, false),
        None => occurrence(cron, chrono::Local, at_ms, false),
    }
}

fn occurrence<Z: TimeZone>(cron: &Cron, tz: Z, from_ms: i64, forward: bool) -> Option<i64> {
    let from: DateTime<Z> = tz.timestamp_millis_opt(from_ms).single()?;
    // Forward: strictly after; backward: at or before.
    let found =
        if forward { cron.find_next_occurrence(&from, false) } else { cron.find_previous_occurrence(&from, true) };
    found.ok().map(|t| t.timestamp_millis())
}

/// A number in 0..1 that differs between calls (for jitter; not for anything secret).
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    (RandomState::new().hash_one(nanos) % 10_000) as f64 / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(every: Option<&str>, cron: Option<&str>) -> PollConfig {
        PollConfig { every: every.map(|e| e.parse().unwrap()), cron: cron.map(str::to_string), ..PollConfig::default() }
    }

    #[test]
    fn intervals_add_a_little_jitter_and_never_schedule_in_the_past() {
        let every = Cadence::of(&poll(Some("60s"), None)).unwrap();
        assert_eq!(every.next_poll(0, 0, 0.0), 60_000);
        assert_eq!(every.next_poll(0, 0, 1.0), 62_000, "at most 2 s of jitter");
        assert_eq!(every.next_poll(0, 90_000, 0.0), 90_000, "a late poll is not made up twice");
        let short = Cadence::of(&poll(Some("5s"), None)).unwrap();
        assert_eq!(short.next_poll(0, 0, 1.0), 5_500, "a tenth of a short interval");
    }

    #[test]
    fn cron_slots_in_a_time_zone() {
        let cron = parse_cron("0 8 * * MON-FRI").unwrap();
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        // Friday 2026-11-27 12:00 UTC → next slot Monday 2026-11-30 08:00 Berlin = 07:00 UTC.
        let friday = chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap().timestamp_millis();
        let monday = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap().timestamp_millis();
        assert_eq!(next_slot(&cron, Some(berlin), friday), Some(monday));
        assert_eq!(last_slot(&cron, Some(berlin), monday), Some(monday), "a slot is its own last slot");
        let before = last_slot(&cron, Some(berlin), monday - 1).unwrap();
        assert_eq!(before, monday - 3 * 86_400_000, "Friday's slot");
        let six = parse_cron("*/2 * * * * *").unwrap();
        assert_eq!(Cadence::Cron(Box::new(six)).interval(0), Duration::from_secs(2));
        assert!(parse_cron("61 * * * *").is_err());
    }
}
