//! Deadlines (pure): the next instant at which a poll rule's `runtime_over` starts to hold for a
//! listed job, so that the scheduler can poll right then instead of at the next regular poll.

use super::{RuleSet, Subject, Test, Trigger, Verdict};
use crate::diff::Snapshot;
use crate::ledger::Streaks;
use crate::ledger::{poll_trigger, LedgerIndex};

impl RuleSet {
    /// The earliest server instant in `(now_ms, until_ms)` at which some poll rule of `target` with
    /// `runtime_over` would fire for a job still running (all its conditions holding then, the ledger
    /// allowing it). Work: one pass over the unfinished jobs per such rule.
    pub fn next_crossing(
        &self,
        target: &str,
        snapshot: &Snapshot,
        ledger: &LedgerIndex,
        now_ms: i64,
        until_ms: i64,
    ) -> Option<i64> {
        let mut best = until_ms;
        for rule in self.rules.iter().filter(|r| r.applies_to(target) && matches!(r.trigger, Trigger::Poll)) {
            let limit = rule.conditions.iter().filter_map(|c| match (&c.test, c.negated) {
                (Test::RuntimeOver(limit), false) => Some(limit.as_millis() as i64),
                _ => None,
            });
            let Some(limit) = limit.max() else { continue };
            let fired = ledger.rule(&rule.ledger_name());
            let repeat_ms = rule.repeat.map(|d| d.as_millis() as i64);
            let unfinished = snapshot.jobs().iter().zip(snapshot.id_hashes()).filter(|(j, _)| j.ended_at.is_none());
            for (job, id_hash) in unfinished {
                let Some(at) = job.started_at.map(|start| start + limit + 1) else { continue };
                if at <= now_ms || at >= best {
                    continue;
                }
                let subject = Subject { job, before: None, now_ms: at };
                let holds = rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds);
                if holds && poll_trigger(fired.and_then(|f| f.get(id_hash)), repeat_ms, at).is_some() {
                    best = at;
                }
            }
        }
        (best < until_ms).then_some(best)
    }

    /// True when a `for_polls` rule has started counting a job but not reached its count: the
    /// next poll should come soon rather than a whole interval later.
    pub fn streak_pending(&self, streaks: &Streaks) -> bool {
        streaks.iter().any(|((rule, _), count)| self.get(rule).is_some_and(|r| *count < r.for_polls))
    }
}

#[cfg(test)]
mod tests {
    use crate::arcgis::{Job, Status};
    use crate::diff::snapshot;
    use crate::ledger::LedgerIndex;
    use crate::rules::RuleSet;

    fn rules(yaml: &str) -> RuleSet {
        RuleSet::parse(std::path::Path::new("r.yaml"), yaml, &["t"]).unwrap()
    }

    fn job(id: &str, user: &str, started_at: i64) -> Job {
        Job {
            job_type: Some("executeNotebook".into()),
            username: Some(user.into()),
            started_at: Some(started_at),
            ..Job::new(id, Status::Executing)
        }
    }

    #[test]
    fn the_earliest_crossing_of_a_job_the_rule_would_fire_for() {
        let set = rules("rules:\n  - { name: r, match: { status: running, runtime_over: 90m, username: { not: svc } }, actions: [{ type: cancel }] }\n");
        let minute = 60_000;
        let now = 1_000 * minute;
        let jobs = vec![
            job("a", "joe", now - 85 * minute),  // crosses in 5 minutes
            job("b", "svc", now - 89 * minute),  // excluded by username
            job("c", "jane", now - 88 * minute), // crosses in 2 minutes
            job("d", "joe", now - 100 * minute), // already over: the regular poll handles it
        ];
        let snap = snapshot(jobs);
        let mut ledger = LedgerIndex::default();
        let until = now + 10 * minute;
        assert_eq!(set.next_crossing("t", &snap, &ledger, now, until), Some(now + 2 * minute + 1));
        ledger.record("r", "c", "poll", now);
        assert_eq!(set.next_crossing("t", &snap, &ledger, now, until), Some(now + 5 * minute + 1), "c already fired");
        assert_eq!(set.next_crossing("t", &snap, &ledger, now, now + minute), None, "nothing before the next poll");
        assert_eq!(set.next_crossing("other", &snap, &ledger, now, until), Some(now + 5 * minute + 1));
    }
}
