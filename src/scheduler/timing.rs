//! When things happen (pure): poll cadences with jitter, and how long a target may go without a
//! successful poll before it is unhealthy (cron slots in a time zone are the core's: `cycle::slots`).

use crate::clock::LocalMs;
use crate::config::{parse_cron, PollConfig};
use crate::cycle::next_slot;
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

    /// The next regular poll after one that started at `last`, never before `now`, shifted by
    /// up to `jitter` (0..1) of a tenth of the interval, at most 2 s.
    pub fn next_poll(&self, last: LocalMs, now: LocalMs, jitter: f64) -> LocalMs {
        let spread = (self.interval(now).as_millis() as f64 / 10.0).min(2000.0);
        let shift = (spread * jitter.clamp(0.0, 1.0)) as i64;
        let due = match self {
            Cadence::Every(every) => last.plus(every.as_millis() as i64),
            Cadence::Cron(cron) => next_slot(cron, None, last.max(now)).unwrap_or(LocalMs(i64::MAX - shift)),
        };
        due.max(now).plus(shift)
    }

    /// The nominal gap between polls: `every`, or the gap between the next two cron slots.
    pub fn interval(&self, now: LocalMs) -> Duration {
        match self {
            Cadence::Every(every) => *every,
            Cadence::Cron(cron) => crate::config::gap(cron, now),
        }
    }
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
        let at = LocalMs;
        assert_eq!(every.next_poll(at(0), at(0), 0.0), at(60_000));
        assert_eq!(every.next_poll(at(0), at(0), 1.0), at(62_000), "at most 2 s of jitter");
        assert_eq!(every.next_poll(at(0), at(90_000), 0.0), at(90_000), "a late poll is not made up twice");
        let short = Cadence::of(&poll(Some("5s"), None)).unwrap();
        assert_eq!(short.next_poll(at(0), at(0), 1.0), at(5_500), "a tenth of a short interval");
    }

    #[test]
    fn a_cron_cadence_polls_at_its_gap_and_a_bad_pattern_is_refused() {
        let six = parse_cron("*/2 * * * * *").unwrap();
        assert_eq!(Cadence::Cron(Box::new(six)).interval(LocalMs(0)), Duration::from_secs(2));
        assert!(parse_cron("61 * * * *").is_err());
    }
}
