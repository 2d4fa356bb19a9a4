//! `on: schedule` rules (digests): at a slot of the rule's cron, the jobs seen within `window`
//! that match, in one batch per action; the slot is recorded in the ledger so that it fires once,
//! restarts included.

use super::{Line, Shared, Target};
use crate::plan::LedgerRecord;
use crate::rules::{Subject, Trigger, Verdict};
use crate::store::PollCommit;

pub use crate::ledger::DIGEST_JOB;

/// The ledger trigger of one slot (local epoch ms).
pub fn slot_trigger(slot_ms: i64) -> String {
    format!("schedule@{slot_ms}")
}

/// The latest slot recorded for `rule`, if any.
pub fn last_fired_slot(target: &Target, rule: &str) -> Option<i64> {
    let entry = target.ledger().get(rule, DIGEST_JOB)?;
    entry.triggers.iter().filter_map(|t| t.strip_prefix("schedule@")?.parse().ok()).max()
}

impl Target {
    /// Fires schedule rule `index` for the slot at `slot_ms` (local clock), unless it already did.
    pub async fn digest(&mut self, shared: &Shared, index: usize, slot_ms: i64) -> crate::store::Result<Vec<Line>> {
        let dispatch = &shared.dispatch;
        let rule = &dispatch.rules.rules[index];
        let Trigger::Schedule(schedule) = &rule.trigger else { return Ok(Vec::new()) };
        let trigger = slot_trigger(slot_ms);
        if self.state.ledger.fired(&rule.ledger_name(), DIGEST_JOB, &trigger) {
            return Ok(Vec::new());
        }
        let name = self.config.name.clone();
        let slot_server = slot_ms + self.source.server_now_ms() - dispatch.now_ms();
        let since = slot_server - schedule.window.as_millis() as i64;
        let seen = dispatch.store.history_since(dispatch.scope(), &name, since).await?;
        let mut jobs: Vec<_> = seen
            .into_iter()
            .filter(|job| {
                let subject = Subject::at(job, slot_server, &self.state.usual);
                rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds)
            })
            .collect();
        jobs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
        tracing::info!(target_name = %name, rule = %rule.name, jobs = jobs.len(), "digest slot {}", crate::arcgis::model::rfc3339(slot_ms).unwrap_or_default());
        let slot =
            LedgerRecord { rule: rule.ledger_name().into(), job_id: DIGEST_JOB.into(), trigger: trigger.clone() };
        let plan = crate::dispatch::plan_digest(rule, slot, jobs, slot_ms);
        let commit = PollCommit::new(dispatch.scope(), &name, slot_server);
        let reports = dispatch.commit(commit, plan, &*self.source, Vec::new()).await?;
        self.state.ledger.record(&rule.ledger_name(), DIGEST_JOB, &trigger, slot_server);
        metrics::counter!(crate::telemetry::FIRINGS, "target" => name.clone(), "rule" => rule.name.clone())
            .increment(1);
        Ok(reports.into_iter().map(Line::Action).collect())
    }

    /// Forgets ledger entries older than `before_ms` (server clock) of jobs no longer listed, as the
    /// store's pruning does, so that a daemon running for months holds only what it needs.
    pub fn prune_memory(&mut self, before_ms: i64) -> usize {
        let listed: std::collections::HashSet<u64> =
            self.state.snapshot.as_ref().map(|s| s.id_hashes().iter().copied().collect()).unwrap_or_default();
        self.state.ledger.prune(before_ms, |hash| listed.contains(&hash))
    }

    /// The last snapshot, once the target has been polled.
    pub fn snapshot(&self) -> Option<&crate::diff::Snapshot> {
        self.state.snapshot.as_ref()
    }
}
