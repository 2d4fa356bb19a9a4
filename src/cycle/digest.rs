//! A slot of an `on: schedule` rule (a digest) through the core: the jobs seen within the rule's
//! `window` that match, in one batch per action; the slot is recorded in the ledger so that it
//! fires once, restarts included.

use super::{plan_digest, Core, Decision};
use crate::arcgis::Job;
use crate::ledger::DIGEST_JOB;
use crate::plan::LedgerRecord;
use crate::rules::{Rule, Subject, Trigger, Verdict};

/// The ledger trigger of one slot (local epoch ms).
pub fn slot_trigger(slot_ms: i64) -> String {
    format!("schedule@{slot_ms}")
}

/// The latest slot recorded for the rule whose ledger name is `rule`, if any.
pub fn last_fired_slot(core: &Core, rule: &str) -> Option<i64> {
    let entry = core.ledger.get(rule, DIGEST_JOB)?;
    entry.triggers.iter().filter_map(|t| t.strip_prefix("schedule@")?.parse().ok()).max()
}

impl Core {
    /// Whether the slot at `slot_ms` (local clock) of `rule` has fired.
    pub fn slot_fired(&self, rule: &Rule, slot_ms: i64) -> bool {
        self.ledger.fired(&rule.ledger_name(), DIGEST_JOB, &slot_trigger(slot_ms))
    }

    /// Decides the slot of schedule rule `rule` at `slot_ms` (local clock, as the cron wrote it;
    /// `slot_server_ms` is the same instant on the server's clock): `None` if it fired already,
    /// or `rule` is no schedule rule. `seen`: the jobs listed within its window.
    pub fn digest(
        &self,
        rule: &Rule,
        (slot_ms, slot_server_ms): (i64, i64),
        seen: impl IntoIterator<Item = Job>,
    ) -> Option<Decision> {
        if !matches!(rule.trigger, Trigger::Schedule(_)) || self.slot_fired(rule, slot_ms) {
            return None;
        }
        let matches = |job: &Job| {
            let subject = Subject::at(job, slot_server_ms, &self.usual);
            rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds)
        };
        let mut jobs: Vec<Job> = seen.into_iter().filter(matches).collect();
        jobs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
        let slot = super::planning::record(rule, DIGEST_JOB.into(), slot_trigger(slot_ms));
        Some(plan_digest(rule, slot, jobs, slot_ms))
    }

    /// Takes a committed slot in, at `slot_server_ms`.
    pub fn adopt_digest(&mut self, decision: &[LedgerRecord], slot_server_ms: i64) {
        self.record(decision, slot_server_ms);
    }
}
