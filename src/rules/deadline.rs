//! Deadlines (pure): the next instant at which a poll rule's `runtime_over` or
//! `runtime_over_usual` starts to hold for a listed job, so that the scheduler can poll right then
//! instead of at the next regular poll.

use super::matcher::UsualLimit;
use super::{Rule, RuleSet, Subject, Test, Trigger, Verdict};
use crate::arcgis::Job;
use crate::clock::ServerMs;
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
        seen: (&Snapshot, &Usual),
        ledger: &LedgerIndex,
        since: ServerMs,
        until: ServerMs,
    ) -> Option<ServerMs> {
        let mut best = until;
        self.crossings(target, seen, ledger, (since, until), &mut |_, _, at| {
            best = best.min(at);
            best
        });
        (best < until).then_some(best)
    }

    /// Every crossing in `(since, until)`: (rule index, job index in the snapshot, when), in
    /// rule order (a dry run reports them as pending).
    pub fn crossings_within(
        &self,
        target: &str,
        seen: (&Snapshot, &Usual),
        ledger: &LedgerIndex,
        since: ServerMs,
        until: ServerMs,
    ) -> Vec<(usize, usize, ServerMs)> {
        let mut found = Vec::new();
        self.crossings(target, seen, ledger, (since, until), &mut |rule, job, at| {
            found.push((rule, job, at));
            until
        });
        found
    }

    /// Calls `crossed(rule, job, at)` for each crossing in the window; it answers the end of the
    /// window still of interest (a search for the earliest narrows it).
    fn crossings(
        &self,
        target: &str,
        (snapshot, usual): (&Snapshot, &Usual),
        ledger: &LedgerIndex,
        (since, until): (ServerMs, ServerMs),
        crossed: &mut dyn FnMut(usize, usize, ServerMs) -> ServerMs,
    ) {
        let mut end = until;
        let rules =
            self.rules.iter().enumerate().filter(|(_, r)| r.applies_to(target) && matches!(r.trigger, Trigger::Poll));
        for (index, rule) in rules.filter(|(_, r)| has_limit(r)) {
            let fired = ledger.rule(&rule.ledger_name());
            let repeat_ms = rule.repeat_ms();
            // Only the jobs in a phase the rule can match are read (most name `status: running`).
            // A job without an end time and a start is never a candidate; with fixed limits only,
            // its crossing comes from its start alone, and its `Job` is read only when that falls
            // in the window.
            let (mask, fixed) = (super::evaluate::phase_mask(rule), fixed_limit(rule));
            let (phases, starts, ids) = (snapshot.phase_bits(), snapshot.open_starts(), snapshot.id_hashes());
            let candidates = (0..starts.len()).filter(|&p| phases[p] & mask != 0 && starts[p] != i64::MIN);
            for position in candidates {
                let outside = |at: ServerMs| at <= since || at >= end;
                if fixed.is_some_and(|limit| outside(ServerMs(starts[position]).plus(limit + 1))) {
                    continue;
                }
                let (job, id_hash) = (snapshot.job(position), &ids[position]);
                let Some(at) = crossing(rule, job, usual) else { continue };
                if outside(at) {
                    continue;
                }
                let subject = Subject::at(job, at, usual);
                let holds = rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds);
                if holds && poll_trigger(fired.and_then(|f| f.get(id_hash)), repeat_ms, at).is_some() {
                    end = crossed(index, position, at);
                }
            }
        }
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

/// The last of the rule's runtime limits in ms, when none is a job's own (`runtime_over_usual`).
fn fixed_limit(rule: &Rule) -> Option<i64> {
    last_limit(rule, |_| None)
}

/// When the job passes the last of the rule's runtime limits (its own for `runtime_over_usual`).
fn crossing(rule: &Rule, job: &Job, usual: &Usual) -> Option<ServerMs> {
    let limit = last_limit(rule, |u| u.limit_ms(usual, usual.item_of(job)?))?;
    Some(job.started_at?.plus(limit + 1))
}

/// The last of the rule's runtime limits in ms, `own` giving a `runtime_over_usual` one; `None`
/// when there is none, or when `own` cannot tell.
fn last_limit(rule: &Rule, own: impl Fn(&UsualLimit) -> Option<i64>) -> Option<i64> {
    let mut limit = None;
    for condition in rule.conditions.iter().filter(|c| !c.negated) {
        let this = match &condition.test {
            Test::RuntimeOver(d) => d.as_millis() as i64,
            Test::RuntimeOverUsual(u) => own(u)?,
            _ => continue,
        };
        limit = limit.max(Some(this));
    }
    limit
}

#[cfg(test)]
mod tests {
    use crate::arcgis::{Job, Status};
    use crate::clock::ServerMs;
    use crate::diff::snapshot;
    use crate::ledger::LedgerIndex;
    use crate::rules::RuleSet;
    use crate::usual::Usual;

    fn rules(yaml: &str) -> RuleSet {
        RuleSet::parse(std::path::Path::new("r.yaml"), yaml, &["t", "dev"]).unwrap()
    }

    fn job(id: &str, user: &str, started_at: ServerMs) -> Job {
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
        let now = ServerMs(1_000 * minute);
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
        ledger.record("r", "c", &crate::ledger::Cause::Poll, now);
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

    /// A dry run lists every crossing before the next poll: each rule's, each job's, in rule order;
    /// event rules and rules of other targets have none.
    #[test]
    fn every_crossing_within_the_window_in_rule_order() {
        let set = rules(
            "rules:
  - { name: long, match: { runtime_over: 90m }, actions: [{ type: cancel }] }
  - { name: new, on: appeared, match: { runtime_over: 86m }, actions: [{ type: log }] }
  - { name: dev, targets: dev, match: { runtime_over: 86m }, actions: [{ type: log }] }
  - { name: short, match: { runtime_over: 87m }, actions: [{ type: log }] }
",
        );
        let minute = 60_000;
        let now = ServerMs(1_000 * minute);
        let snap = snapshot(vec![job("a", "joe", now - 85 * minute), job("c", "jane", now - 88 * minute)]);
        let found = set.crossings_within("t", (&snap, Usual::empty()), &LedgerIndex::default(), now, now + 10 * minute);
        let position = |id: &str| snap.jobs().iter().position(|j| j.id == id).unwrap();
        assert_eq!(
            found,
            [
                (0, position("a"), now + 5 * minute + 1),
                (0, position("c"), now + 2 * minute + 1),
                (3, position("a"), now + 2 * minute + 1)
            ]
        );
    }

    /// `runtime_over_usual` crosses at the item's own limit (3 × the median of its runs), and with
    /// `runtime_over` too, at the later of the two.
    #[test]
    fn a_usual_runtime_limit_crosses_at_the_items_own_limit() {
        let minute = 60_000;
        let now = ServerMs(1_000 * minute);
        let mut usual = Usual::default();
        for _ in 0..5 {
            usual.add("nb", 10 * minute);
        }
        let snap = snapshot(vec![Job { item_id: Some("nb".into()), ..job("a", "joe", now - 25 * minute) }]);
        let until = now + 60 * minute;
        // With a fixed limit already past, the item's own later one still crosses.
        let cases = [
            ("{ runtime_over_usual: 3x }", 5),
            ("{ runtime_over_usual: 3x, runtime_over: 40m }", 15),
            ("{ runtime_over_usual: 3x, runtime_over: 20m }", 5),
        ];
        for (matching, at) in cases {
            let set = rules(&format!("rules:\n  - {{ name: r, match: {matching}, actions: [{{ type: log }}] }}\n"));
            let crossing = set.next_crossing("t", (&snap, &usual), &LedgerIndex::default(), now, until);
            assert_eq!(crossing, Some(now + at * minute + 1), "{matching}");
        }
    }

    /// A `for_polls` streak short of its count asks for the next poll soon; a full one, or one of
    /// a rule no longer loaded, does not.
    #[test]
    fn a_streak_short_of_its_count_is_pending() {
        let set =
            rules("rules:\n  - { name: stuck, for_polls: 3, match: { status: running }, actions: [{ type: log }] }\n");
        let streak =
            |rule: &str, count: u32| crate::ledger::Streaks::from([((rule.to_string(), "a".to_string()), count)]);
        assert!(set.streak_pending(&streak("stuck", 2)));
        assert!(!set.streak_pending(&streak("stuck", 3)));
        assert!(!set.streak_pending(&streak("stuck", 4)));
        assert!(!set.streak_pending(&streak("gone", 1)));
        assert!(!set.streak_pending(&crate::ledger::Streaks::new()));
    }
}
