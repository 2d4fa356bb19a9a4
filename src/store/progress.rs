//! The progress journal in the database (PostgreSQL): each part of an action is committed the
//! moment it is done, fenced by the target's lease, so that a replica taking the target over
//! resumes the action without doing that part again.

use super::lease::Leases;
use super::Store;
use crate::journal::ProgressLog;
use std::sync::Arc;

/// Progress recorded in the store itself.
pub struct StoreJournal {
    store: Arc<dyn Store>,
    leases: Option<Arc<Leases>>,
}

impl std::fmt::Debug for StoreJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreJournal")
    }
}

impl StoreJournal {
    /// Records progress in `store`; with `leases`, only while this replica holds the target.
    pub fn new(store: Arc<dyn Store>, leases: Option<Arc<Leases>>) -> StoreJournal {
        StoreJournal { store, leases }
    }
}

#[async_trait::async_trait]
impl ProgressLog for StoreJournal {
    async fn append(&self, target: &str, id: i64, key: &str) {
        if let Err(e) = self.store.add_settled(&[(id, key.to_string())]).await {
            tracing::warn!(target_name = %target, id, error = %e, "could not record an action's progress; it is recorded with the action's outcome");
        }
    }

    fn may_act(&self, target: &str) -> bool {
        self.leases.as_ref().is_none_or(|l| l.holds(target).is_some())
    }
}
