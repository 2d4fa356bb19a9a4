//! Deadlines (pure): the next instant at which a poll rule's `runtime_over` or
//! `runtime_over_usual` starts to hold for a listed job, so that the scheduler can poll right then
//! instead of at the next regular poll.

use super::{Rule, RuleSet, Subject, Test, Trigger, Verdict};
use crate::arcgis::Job;
use crate::diff::Snapshot;
use crate::ledger::Streaks;
use crate::ledger::{poll_trigger, LedgerIndex};
use crate::usual::Usual;

impl RuleSet {
    /// The earliest server instant in `(since_ms, until_ms)` at which some poll rule of `target` with
    /// `runtime_over` or `runtime_over_usual` would fire for a job still running (all its conditions
    /// holding then, the ledger allowing it); `since_ms` is when the last evaluation could no
    /// longer see it (a crossing already past is due at once). Work: one pass over the unfinished
    /// jobs per such rule.
    pub fn next_crossing(
        &self,
        target: &str,
        (snapshot, usual): (&Snapshot, &Usual),
        ledger: &LedgerIndex,
        since_ms: i64,
        until_ms: i64,
    ) -> Option<i64> {
        let mut best = until_ms;
        for rule in self.rules.iter().filter(|r| r.applies_to(target) && matches!(r.trigger, Trigger::Poll)) {
            if !has_limit(rule) {
                continue;
            }
            let fired = ledger.rule(&rule.ledger_name());
            let repeat_ms = rule.repeat.map(|d| d.as_millis() as i64);
            let unfinished = snapshot.jobs().iter().zip(snapshot.id_hashes()).filter(|(j, _)| j.ended_at.is_none());
            for (job, id_hash) in unfinished {
                let Some(at) = crossing(rule, job, usual) else { continue };
                if at <= since_ms || at >= best {
                    continue;
                }
                let subject = Subject::at(job, at, usual);
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

/// Whether the rule has a runtime limit that a job crosses by running on.
fn has_limit(rule: &Rule) -> bool {
    rule.conditions.iter().any(|c| !c.negated && matches!(c.test, Test::RuntimeOver(_) | Test::RuntimeOverUsual(_)))
}

/// When the job passes the last of the rule's runtime limits (its own for `runtime_over_usual`).
fn crossing(rule: &Rule, job: &Job, usual: &Usual) -> Option<i64> {
    let mut limit = None;
    for condition in rule.conditions.iter().filter(|c| !c.negated) {
        let this = match &condition.test {
            Test::RuntimeOver(d) => d.as_millis() as i64,
            Test::RuntimeOverUsual(u) => u.limit_ms(usual, usual.item_of(job)?)?,
            _ => continue,
        };
        limit = limit.max(Some(this));
    }
    Some(job.started_at? + limit? + 1)
}

#[cfg(test)]
mod tests {
    use crate::arcgis::{Job, Status};
    use crate::diff::snapshot;
    use crate::ledger::LedgerIndex;
    use crate::rules::RuleSet;
    use crate::usual::Usual;

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
        assert_eq!(set.next_crossing("t", (&snap, Usual::empty()), &ledger, now, until), Some(now + 2 * minute + 1));
        ledger.record("r", "c", "poll", now);
        assert_eq!(
            set.next_crossing("t", (&snap, Usual::empty()), &ledger, now, until),
            Some(now + 5 * minute + 1),
            "c already fired"
        );
        assert_eq!(
            set.next_crossing("t", (&snap, Usual::empty()), &ledger, now, now + minute),
            None,
            "nothing before the next poll"
        );
        assert_eq!(
            set.next_crossing("other", (&snap, Usual::empty()), &ledger, now, until),
            Some(now + 5 * minute + 1)
        );
    }
}
