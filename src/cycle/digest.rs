//! A slot of an `on: schedule` rule (a digest) through the core: the jobs seen within the rule's
//! `window` that match, in one batch per action; the slot is recorded in the ledger so that it
//! fires once, restarts included.

use super::{plan_digest, Core, Decision};
use crate::arcgis::{Job, NamedJob};
use crate::clock::{LocalMs, ServerMs};
use crate::ledger::{Cause, DIGEST_JOB};
use crate::plan::LedgerRecord;
use crate::rules::{Rule, Subject, Trigger, Verdict};

/// The ledger trigger of one slot.
fn slot_trigger(slot: LocalMs) -> Cause {
    Cause::Slot(slot)
}

/// The latest slot recorded for the rule whose ledger name is `rule`, if any.
pub fn last_fired_slot(core: &Core, rule: &str) -> Option<LocalMs> {
    let entry = core.ledger.get(rule, DIGEST_JOB)?;
    let slot = |cause: &Cause| match cause {
        Cause::Slot(at) => Some(*at),
        _ => None,
    };
    entry.triggers.iter().filter_map(slot).max()
}

impl Core {
    /// Whether the slot `slot` of `rule` has fired.
    pub fn slot_fired(&self, rule: &Rule, slot: LocalMs) -> bool {
        self.ledger.fired(&rule.ledger_name(), DIGEST_JOB, &slot_trigger(slot))
    }

    /// Decides the slot of schedule rule `rule` at `slot` (this machine's clock, as the cron wrote
    /// it; `on_server` is the same instant on the server's clock): `None` if it fired already,
    /// or `rule` is no schedule rule. `seen`: the jobs listed within its window.
    pub fn digest(
        &self,
        rule: &Rule,
        (slot, on_server): (LocalMs, ServerMs),
        seen: impl IntoIterator<Item = Job>,
    ) -> Option<Decision> {
        if !matches!(rule.trigger, Trigger::Schedule(_)) || self.slot_fired(rule, slot) {
            return None;
        }
        let matches = |job: &Job| {
            let subject = Subject::at(job, on_server, &self.usual);
            rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds)
        };
        let mut jobs: Vec<NamedJob> = seen.into_iter().filter(matches).map(NamedJob::from).collect();
        self.name_all(jobs.iter_mut());
        jobs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
        let record = super::planning::record(rule, DIGEST_JOB.into(), slot_trigger(slot));
        Some(plan_digest(rule, record, jobs, (slot, on_server)))
    }

    /// Takes a committed slot in, at `on_server`.
    pub fn adopt_digest(&mut self, decision: &[LedgerRecord], on_server: ServerMs) {
        self.record(decision, on_server);
    }
}
