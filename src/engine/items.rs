//! Notebook item ids for `runtime_over_usual` when the job list does not carry them: one read of
//! `<jobs>/<id>` per job as it appears (and, at a process's first poll, per unfinished job), the
//! ids kept so that later polls fill them in. Proportional to change.

use super::{Shared, Target};
use crate::arcgis::{Job, JobSource, Phase};
use crate::cycle::Observed;
use crate::diff::JobEvent;
use std::collections::HashMap;
use std::sync::Arc;

impl Target {
    /// When a rule of this target has `runtime_over_usual`: learns the item ids of the jobs that
    /// need one and lack it, puts them into the snapshot and the events, and returns the runs this
    /// poll saw complete (to be stored). Without such a rule nothing is read or recorded.
    pub(super) async fn learn_items(&mut self, shared: &Shared, observed: &mut Observed) -> Vec<crate::usual::Run> {
        let rules = &shared.dispatch.rules;
        let name = self.config.name.clone();
        if !rules.wants_item(&name, None) {
            return Vec::new();
        }
        let first = !std::mem::replace(&mut self.items_checked, true);
        let (next, events, baseline) = (&mut observed.next, &mut observed.delta.events, observed.baseline);
        let wanted = |job: &Job| job.item_id.is_none() && rules.wants_item(&name, job.job_type.as_deref());
        let mut ids: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                JobEvent::Appeared(job) if wanted(job) => Some(job.id.clone()),
                _ => None,
            })
            .collect();
        if first || baseline {
            let unfinished = |j: &&Job| matches!(j.phase(), Phase::Running | Phase::Submitted);
            ids.extend(next.values().filter(unfinished).filter(|j| wanted(j)).map(|j| j.id.clone()));
            ids.sort();
            ids.dedup();
        }
        let found = read_items(&self.source, ids).await;
        // A failed job's resource, read for its messages, may have given the item already.
        let enriched = events.iter().filter_map(|e| match e {
            JobEvent::Appeared(job) => job.item_id.clone().map(|item| (job.id.clone(), item)),
            _ => None,
        });
        let found: HashMap<String, String> = found.into_iter().chain(enriched).collect();
        for (job, item) in &found {
            self.core.usual.learn_item(job, item);
        }
        next.set_items(&found);
        for event in events.iter_mut() {
            if let JobEvent::Appeared(job) = event {
                job.item_id = job.item_id.take().or_else(|| found.get(&job.id).cloned());
            }
        }
        self.core.count_runs(rules, &name, observed)
    }

    /// After a restart: the stored snapshot's item ids count as read (they may have been).
    pub(super) fn remember_items(&mut self, shared: &Shared) {
        if let Some(snapshot) = &self.core.snapshot {
            if shared.dispatch.rules.wants_item(&self.config.name, None) {
                self.core.usual.remember_items(snapshot.values());
            }
        }
    }
}

/// Reads the item id of each job, a few at once; a failed read leaves the job without.
pub(super) async fn read_items(source: &Arc<dyn JobSource>, ids: Vec<String>) -> Vec<(String, String)> {
    let reads = ids.into_iter().map(|id| {
        let source = source.clone();
        async move {
            let read = source.job(&id).await;
            (id, read)
        }
    });
    let mut found = Vec::new();
    for (id, read) in super::bounded(reads).await {
        match read.map(|job| job.item_id) {
            Ok(Some(item)) => found.push((id, item)),
            Ok(None) => {
                tracing::debug!(job = %crate::text::sanitize(&id), "the job's resource names no notebook item")
            }
            Err(e) => {
                tracing::info!(job = %crate::text::sanitize(&id), error = %e, "cannot read the job's notebook item")
            }
        }
    }
    found
}
