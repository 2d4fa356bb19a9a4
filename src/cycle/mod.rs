//! The one deterministic core of a target, with no I/O (in the manner of quinn-proto's state
//! machine): what the target remembers, and the steps that turn facts into a `Decision`.
//!
//! Facts in: a listing with the time of the poll on the server's clock, a read of the scheduled
//! tasks, a digest slot with the jobs seen in its window, the limits and the cancels of the last
//! hour. A decision out: ledger rows, actions, suppressed firings with the limit that held them;
//! and when the core next needs a poll (`wake`). Every step is in two halves: `observe`/`decide`
//! read the state, `adopt` changes it once the decision is committed, so a failed commit leaves
//! the core as it was.
//!
//! The drivers: `engine` (the daemon's and `once`'s polls, task reads and digest slots), the
//! scheduler (wake-ups), and `replay` (`nbwarden test` and `nbwarden backtest`).

mod budget;
mod digest;
mod jobs;
mod notebooks;
mod planning;
mod protection;
mod slots;
mod tasks;
mod wake;

pub use budget::Budget;
pub use digest::last_fired_slot;
pub use jobs::{Limits, Observed, PollDecision};
pub use notebooks::{CloseLimits, NotebookDecision, NotebooksRead};
pub use planning::{plan, plan_digest, plan_tasks, Decision, Guards, Silenced};
pub use protection::protected_by;
pub use slots::{last_slot, next_slot, slot_after};
pub use tasks::{TaskDecision, TasksObserved};
pub use wake::{Waiting, Wake, MAX_EXTRA_POLLS};

use crate::diff::Snapshot;
use crate::ledger::{LedgerIndex, Streaks};
use crate::plan::LedgerRecord;
use crate::task_diff::Seen;
use crate::usual::Usual;
use std::collections::{BTreeMap, HashMap};

/// What one target remembers from poll to poll: stored, and loaded at start.
#[derive(Debug, Default)]
pub struct Core {
    /// The last snapshot; `None` before the first successful poll (the next poll is a baseline).
    /// Only a commit that carries a snapshot counts as a poll.
    pub snapshot: Option<Snapshot>,
    /// What has fired.
    pub ledger: LedgerIndex,
    /// Consecutive matches of `for_polls` rules.
    pub streaks: Streaks,
    /// The last completed runs of each notebook item (`runtime_over_usual`).
    pub usual: Usual,
    /// The scheduled tasks as last read (`tasks:`); `None` before the first read.
    pub tasks: Option<BTreeMap<String, Seen>>,
    /// The task ids read from job resources (`inputs.taskId`) that the list leaves out, by job
    /// id, while the job is listed: put into each listing, so that the job does not change and
    /// its history (and `report --by task`) knows its task.
    pub job_tasks: HashMap<String, String>,
    /// The firings a silence in force covers that were told (`silenced`), so each is told once.
    pub silenced_told: std::collections::HashSet<Silenced>,
    /// The open notebooks as last read (`notebooks:`); `None` before the first read.
    pub notebooks: Option<NotebooksRead>,
    /// Consecutive matching reads of `for_polls` notebook rules (kept in memory: after a
    /// restart they count again from zero, which only delays a firing).
    pub notebook_streaks: Streaks,
}

impl Core {
    /// Takes in the silenced firings a committed decision told, and forgets those of silences
    /// no longer in force (`active`: their ids).
    pub fn adopt_silenced(&mut self, told: &[Silenced], active: &[&str]) {
        self.silenced_told.extend(told.iter().cloned());
        self.silenced_told.retain(|(id, _, _)| active.contains(&id.as_str()));
    }

    /// A core that starts from the completed runs known so far (none: from the first listing).
    pub fn with_usual(usual: Usual) -> Core {
        Core { usual, ..Core::default() }
    }

    /// Records a committed decision's ledger rows, at `at`.
    fn record(&mut self, ledger: &[LedgerRecord], at: crate::clock::ServerMs) {
        for record in ledger {
            self.ledger.record(&record.key(), &record.job_id, &record.trigger, at);
        }
    }

    /// Forgets ledger entries older than `before` of jobs no longer listed, as
    /// the store's pruning does, so that a daemon running for months holds only what it needs.
    pub fn prune(&mut self, before: crate::clock::ServerMs) -> usize {
        let listed: std::collections::HashSet<u64> =
            self.snapshot.as_ref().map(|s| s.id_hashes().iter().copied().collect()).unwrap_or_default();
        self.ledger.prune(before, |hash| listed.contains(&hash))
    }

    /// The jobs of the last listing.
    pub fn listed(&self) -> &[std::sync::Arc<crate::arcgis::Job>] {
        self.snapshot.as_ref().map_or(&[], |s| s.jobs())
    }

    /// The jobs of the last listing with the hash of each one's listed bytes, for the next list read.
    pub fn known(&self) -> crate::arcgis::Known<'_> {
        self.snapshot.as_ref().map(Snapshot::known).unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod tests;
