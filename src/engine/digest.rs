//! `on: schedule` rules (digests), the core's driver for slots: the jobs seen within the rule's
//! window are read from the store's history, the core decides the slot, dispatch commits it.

use super::{Line, Shared, Target};
use crate::clock::{LocalMs, Offset};
use crate::store::PollCommit;

impl Target {
    /// Fires schedule rule `index` for `slot`, unless it already did.
    pub async fn digest(&mut self, shared: &Shared, index: usize, slot: LocalMs) -> crate::store::Result<Vec<Line>> {
        let dispatch = &shared.dispatch;
        let rule = &dispatch.rules.rules[index];
        let crate::rules::Trigger::Schedule(schedule) = &rule.trigger else { return Ok(Vec::new()) };
        let offset = Offset::between(self.source.server_now(), dispatch.now());
        let slot_server = slot.on_server(offset);
        if self.core.slot_fired(rule, slot) {
            return Ok(Vec::new());
        }
        let name = self.config.name.clone();
        let since = slot_server.plus(-(schedule.window.as_millis() as i64));
        let seen = dispatch.store.history_since(dispatch.scope(), &name, since).await?;
        let Some(decision) = self.core.digest(rule, (slot, slot_server), seen) else { return Ok(Vec::new()) };
        let jobs = decision.actions.first().map_or(0, |a| a.jobs.len());
        tracing::info!(target_name = %name, rule = %rule.name, jobs, "digest slot {}", crate::arcgis::model::rfc3339(slot).unwrap_or_default());
        let commit = PollCommit::new(dispatch.scope(), &name, slot_server);
        let crate::dispatch::Committed { reports, ledger } =
            dispatch.commit(commit, decision, &*self.source, Vec::new()).await?;
        self.core.adopt_digest(&ledger, slot_server);
        metrics::counter!(crate::telemetry::FIRINGS, "target" => name.clone(), "rule" => rule.name.clone())
            .increment(1);
        Ok(reports.into_iter().map(Line::Action).collect())
    }
}
