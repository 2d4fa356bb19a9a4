//! When the core next needs a poll although nothing changes on the site: a job crossing a rule's
//! runtime limit (`runtime_over`, or its own `runtime_over_usual`), and a `for_polls` streak
//! that waits for its next poll. And, for a dry run, the firings that wait, with when.

use super::{Core, Observed};
use crate::arcgis::Job;
use crate::clock::ServerMs;
use crate::rules::{Evaluation, RuleSet};

/// Why the core wants a poll before the regular one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wake {
    /// The first crossing of a limit by a listed job.
    pub crossing: Option<ServerMs>,
    /// A `for_polls` streak waits for its next poll.
    pub streak: bool,
}

/// The shortest time between two polls of a target.
pub const MIN_GAP_MS: i64 = 500;
/// Polled this long after a crossing, so that a clock estimate off by half a second never polls early.
pub const CROSSING_MARGIN_MS: i64 = 500;
/// A pending `for_polls` streak is polled again this long after its last poll.
pub const STREAK_WAKE_MS: i64 = 1_000;
/// Extra polls allowed between two regular polls: many jobs never make a storm.
pub const MAX_EXTRA_POLLS: u32 = 10;

impl Wake {
    /// When to poll next for this, after a poll at `now`: a little after the crossing, or a
    /// second later for a streak; never sooner than `MIN_GAP_MS`.
    pub fn at(&self, now: ServerMs) -> Option<ServerMs> {
        let crossing = self.crossing.map(|at| at.plus(CROSSING_MARGIN_MS));
        let streak = self.streak.then_some(now.plus(STREAK_WAKE_MS));
        Some(crossing.into_iter().chain(streak).min()?.max(now.plus(MIN_GAP_MS)))
    }
}

/// A firing that waits: the rule's index, the job, and when it would fire, in words.
pub type Waiting = (usize, Job, String);

impl Core {
    /// What needs a poll after `since` and before `until`.
    pub fn wake(&self, rules: &RuleSet, target: &str, (since, until): (ServerMs, ServerMs)) -> Wake {
        let crossing = self
            .snapshot
            .as_ref()
            .and_then(|snapshot| rules.next_crossing(target, (snapshot, &self.usual), &self.ledger, since, until));
        Wake { crossing, streak: rules.streak_pending(&self.streaks) }
    }

    /// What would fire soon without a change (a dry run says so, as `pending`): a `for_polls`
    /// streak not yet complete, and a job crossing a limit before `until`, the next regular poll.
    pub fn waiting(
        &self,
        rules: &RuleSet,
        target: &str,
        (observed, evaluation): (&Observed, &Evaluation),
        until: ServerMs,
    ) -> Vec<Waiting> {
        let jobs = observed.next.jobs();
        let mut waiting: Vec<Waiting> = evaluation
            .pending
            .iter()
            .map(|p| {
                let needed = rules.rules[p.rule].for_polls;
                let when = format!("at the next poll if it still matches ({} of {needed} polls)", p.seen);
                (p.rule, Job::clone(&jobs[p.job]), when)
            })
            .collect();
        let seen = (&observed.next, &self.usual);
        for (rule, job, at) in rules.crossings_within(target, seen, &self.ledger, observed.at, until) {
            let polls = rules.rules[rule].for_polls;
            let streak = if polls > 1 { format!(" and stays so for {polls} polls") } else { String::new() };
            let at = crate::arcgis::model::rfc3339(at).unwrap_or_default();
            let when = format!("at {at} (before the next regular poll), when the job crosses the rule's limit, if it still matches{streak}");
            waiting.push((rule, Job::clone(&jobs[job]), when));
        }
        waiting
    }
}
