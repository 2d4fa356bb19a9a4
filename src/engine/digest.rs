//! `on: schedule` rules (digests): at a slot of the rule's cron, the jobs seen within `window`
//! that match, in one batch per action; the slot is recorded in the ledger so that it fires once,
//! restarts included.

use super::{Line, Mode, Shared, Target};
use crate::rules::{EventInfo, Subject, Trigger, Verdict};
use crate::store::{LedgerRecord, Planned, PollCommit};

/// The job id under which digest slots are recorded in the ledger.
pub const DIGEST_JOB: &str = "*";

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
        let rule = &shared.rules.rules[index];
        let Trigger::Schedule(schedule) = &rule.trigger else { return Ok(Vec::new()) };
        let trigger = slot_trigger(slot_ms);
        if self.state.ledger.fired(&rule.name, DIGEST_JOB, &trigger) {
            return Ok(Vec::new());
        }
        let name = self.config.name.clone();
        let offset = self.source.server_now_ms() - crate::arcgis::auth::local_now_ms();
        let slot_server = slot_ms + offset;
        let since = slot_server - schedule.window.as_millis() as i64;
        let seen = shared.store.history_since(shared.mode.scope(), &name, since).await?;
        let mut jobs: Vec<_> = seen
            .into_iter()
            .filter(|job| {
                let subject = Subject { job, before: None, now_ms: slot_server };
                rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds)
            })
            .collect();
        jobs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
        let event = EventInfo { kind: "schedule".into(), from: None, to: None };
        let planned: Vec<Planned> = if jobs.is_empty() {
            Vec::new()
        } else {
            let make = |(action_index, action): (usize, &crate::actions::ActionConfig)| Planned {
                rule: rule.name.clone(),
                action: action.clone(),
                action_index,
                jobs: jobs.clone(),
                event: event.clone(),
                // The slot as the cron wrote it (08:00:00), for templates and the Message-ID.
                planned_ms: slot_ms,
                settled: Vec::new(),
                secrets_scrubbed: false,
            };
            rule.actions.iter().enumerate().map(make).collect()
        };
        tracing::info!(target_name = %name, rule = %rule.name, jobs = jobs.len(), "digest slot {}", crate::arcgis::model::rfc3339(slot_ms).unwrap_or_default());
        let record = LedgerRecord { rule: rule.name.clone(), job_id: DIGEST_JOB.into(), trigger: trigger.clone() };
        let commit = PollCommit {
            scope: shared.mode.scope(),
            target: &name,
            now_ms: slot_server,
            upserts: &[],
            gone: Vec::new(),
            ledger: vec![record],
            streaks_set: Vec::new(),
            streaks_dropped: Vec::new(),
            checks_set: Vec::new(),
            checks_dropped: Vec::new(),
            actions: if shared.mode == Mode::Act { planned.clone() } else { Vec::new() },
        };
        shared.store.commit_poll(&commit).await?;
        self.state.ledger.record(&rule.name, DIGEST_JOB, &trigger, slot_server);
        metrics::counter!(crate::status::metrics::FIRINGS, "target" => name.clone(), "rule" => rule.name.clone())
            .increment(1);
        if shared.mode == Mode::Act {
            return Ok(Vec::new());
        }
        let previews = planned.iter().map(|p| crate::dispatch::preview(&name, &*self.source, &shared.services, p));
        Ok(previews.map(Line::Action).collect())
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
