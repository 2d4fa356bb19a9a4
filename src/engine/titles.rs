//! Notebook titles: each item id seen on a new or changed job is read once from Portal
//! (`content/items/<id>`) for its title and owner, a few per poll, and kept in the store, so that
//! people read "Parcels import" rather than an item id. Proportional to change: an item is read
//! once, whatever number of jobs run it. A Portal that fails is asked again less and less often.

use super::{Shared, Target};
use crate::arcgis::Item;
use crate::cycle::Observed;
use crate::diff::JobEvent;
use std::collections::BTreeSet;

/// The most items read from Portal at one poll; the others wait for the next.
const ITEM_READS_PER_POLL: usize = 32;

/// The items to read, and how many polls to let pass after a read failed.
#[derive(Debug, Default)]
pub(super) struct PendingItems {
    ids: BTreeSet<String>,
    failures: u32,
    skip: u32,
}

impl PendingItems {
    /// Adds items to read.
    pub(super) fn extend(&mut self, ids: impl IntoIterator<Item = String>) {
        self.ids.extend(ids);
    }
}

impl Target {
    /// Reads the titles of the items of the jobs this poll saw new, changed or gone, that are not
    /// known yet; what Portal says (a title, or why not) is kept in the core and the store.
    pub(super) async fn learn_titles(&mut self, shared: &Shared, observed: &Observed) {
        let usual = &self.core.usual;
        // The events' jobs too: a failed job's resource, read for its messages, names its item.
        let events = observed.delta.events.iter().map(|event| match event {
            JobEvent::Appeared(job) | JobEvent::StatusChanged { after: job, .. } => job,
            JobEvent::Disappeared { last_seen, .. } => last_seen,
        });
        let seen = observed.changed().chain(events).filter_map(|job| usual.item_of(job));
        let new: Vec<String> = seen.filter(|id| !usual.knows_notebook(id)).map(str::to_string).collect();
        self.pending_items.ids.extend(new);
        self.read_pending_items(shared).await;
    }

    /// Reads up to `ITEM_READS_PER_POLL` of the pending items, unless a failed read asks to wait.
    pub(super) async fn read_pending_items(&mut self, shared: &Shared) {
        let pending = &mut self.pending_items;
        if pending.skip > 0 {
            pending.skip -= 1;
            return;
        }
        if pending.ids.is_empty() {
            return;
        }
        let ids: Vec<String> = pending.ids.iter().take(ITEM_READS_PER_POLL).cloned().collect();
        let reads = ids.into_iter().map(|id| {
            let source = self.source.clone();
            async move {
                let read = source.item(&id).await;
                (id, read)
            }
        });
        let mut learned: Vec<(String, Item)> = Vec::new();
        let mut failed = false;
        for (id, read) in super::bounded(reads).await {
            match read {
                Ok(item) => {
                    self.pending_items.ids.remove(&id);
                    learned.push((id, item));
                }
                Err(e) => {
                    failed = true;
                    tracing::info!(target_name = %self.config.name, item = %crate::text::sanitize(&id), error = %e, "cannot read the notebook item's title; trying again later");
                }
            }
        }
        let pending = &mut self.pending_items;
        (pending.failures, pending.skip) = match failed {
            true => (pending.failures + 1, (1 << pending.failures.min(5)) - 1),
            false => (0, 0),
        };
        for (id, item) in &learned {
            self.core.usual.learn_notebook(id, item.clone());
        }
        let dispatch = &shared.dispatch;
        if dispatch.mode.writes() && !learned.is_empty() {
            if let Err(e) = dispatch.store.save_items(dispatch.scope(), &self.config.name, &learned).await {
                tracing::warn!(target_name = %self.config.name, error = %e, "could not keep the notebook titles; they are read again after a restart");
            }
        }
    }
}

impl Target {
    /// Gives the jobs of the planned actions their notebook titles when the list gave no item
    /// ids (Enterprise's abbreviated list): each job's resource read for its item (unless this
    /// poll read it already: then the item it named, if any), each new item read from Portal;
    /// then a cancel of a job a title protects is left out. Proportional to the firings.
    pub(super) async fn name_planned(
        &mut self,
        shared: &Shared,
        decision: &mut crate::cycle::Decision,
        resourced: &super::Resourced,
    ) {
        let usual = &self.core.usual;
        let lacking: BTreeSet<String> = decision
            .actions
            .iter()
            .flat_map(|p| &p.jobs)
            .filter(|job| usual.item_of(job).is_none())
            .map(|job| job.id.clone())
            .collect();
        let (read, unread): (Vec<String>, Vec<String>) = lacking.into_iter().partition(|id| resourced.contains_key(id));
        let named = read.iter().filter_map(|id| Some((id.clone(), resourced[id].clone()?)));
        for (job, item) in named.chain(super::items::read_items(&self.source, unread).await) {
            self.core.usual.learn_item(&job, &item);
        }
        let usual = &self.core.usual;
        let unknown: BTreeSet<String> = decision
            .actions
            .iter()
            .flat_map(|p| &p.jobs)
            .filter_map(|job| usual.item_of(job))
            .filter(|item| !usual.knows_notebook(item))
            .map(str::to_string)
            .collect();
        if !unknown.is_empty() {
            self.pending_items.ids.extend(unknown);
            self.read_pending_items(shared).await;
        }
        let usual = &self.core.usual;
        for job in decision.actions.iter_mut().flat_map(|p| p.jobs.iter_mut()) {
            let learned = job.item_id.is_none().then(|| usual.item_of(job).map(str::to_string)).flatten();
            if learned.is_some() {
                job.job_mut().item_id = learned;
            }
        }
        let untitled = decision.actions.iter_mut().flat_map(|p| p.jobs.iter_mut()).filter(|job| job.title().is_none());
        self.core.name_all(untitled);
        decision.protect(&shared.dispatch.rules, &self.config.name, &self.config.protect);
    }
}
