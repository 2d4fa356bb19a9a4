//! The state store, beside the pipeline: snapshots, the ledger, streaks, the action queue, the
//! audit trail and the history of job changes, behind `Store`: SQLite and PostgreSQL.

pub mod lease;
mod packed;
pub mod progress;
mod sql;

pub use sql::{Backend, Change, Fired, SqlStore, StateLock, TASK_RUNS_KEPT};

use crate::arcgis::signin::{History, Refusal, SignInLog};
use crate::arcgis::Job;
use crate::clock::{LocalMs, Offset, ServerMs};
use crate::cycle::Core;
use crate::diff::Snapshot;

use crate::plan::{Attempt, AuditEntry, CancelCheck, LedgerRecord, Planned, Queued};

/// Real state, or the separate state of `run --dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// What really happened.
    Real,
    /// What a dry run planned.
    Dry,
}

impl Scope {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Real => "real",
            Scope::Dry => "dry",
        }
    }

    /// The scope of a stored spelling.
    pub fn parse(stored: &str) -> Option<Scope> {
        [Scope::Real, Scope::Dry].into_iter().find(|s| s.as_str() == stored)
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be created or opened.
    #[error("cannot open the state store {path}: {detail}")]
    OpenFailed {
        /// Where it is (a file, or a database URL without its credentials).
        path: String,
        /// Why, and what to check.
        detail: String,
    },
    /// Applying the schema migrations failed.
    #[error("cannot migrate the state store {path}: {detail}")]
    MigrateFailed {
        /// Where it is.
        path: String,
        /// Why.
        detail: String,
    },
    /// A query failed (disk full, read-only file, lost connection, corruption, …).
    #[error("state store: {0}")]
    QueryFailed(String),
    /// This replica no longer holds the target's lease: another replica polls and acts on it now.
    #[error("this replica no longer holds the lease of target \"{0}\"; another replica took it over, so nothing more is done for it here")]
    Fenced(String),
    /// Another process holds the SQLite state file.
    #[error("another nbwarden ({}) holds {path}; two processes on one state file would each act on every firing: stop it first, or give this one its own state.path", pid.map_or("another process".to_string(), |p| format!("pid {p}")))]
    Held {
        /// The state file.
        path: String,
        /// The process holding it, when it said.
        pid: Option<u32>,
    },
    /// A stored record could not be read back.
    #[error("state store: a stored record is unreadable: {0}")]
    DecodeFailed(String),
}

impl Error {
    /// The store at `path` could not be opened: `detail`, and what to check.
    pub fn open_failed(path: &str, detail: String, hint: &str) -> Error {
        Error::OpenFailed { path: path.into(), detail: format!("{detail}; {hint}") }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        // SQLITE_CORRUPT found past the first pages: say what it means and what to do.
        let corrupt = e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "11" || c == "26");
        match corrupt {
            true => Error::QueryFailed(format!("{e}: the state file is corrupted; move it aside to start from a fresh state (a baseline; the firings recorded in it are forgotten), or restore it from a backup")),
            false => Error::QueryFailed(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::DecodeFailed(e.to_string())
    }
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What one read of a target's scheduled tasks writes.
#[derive(Debug, Default)]
pub struct TaskCommit {
    /// Tasks new or changed.
    pub changed: Vec<crate::task_diff::Seen>,
    /// Tasks gone from the org.
    pub removed: Vec<String>,
    /// The runs read, by task id.
    pub runs: Vec<(String, crate::arcgis::tasks::TaskRun)>,
}

/// Everything one poll commits, in one transaction, before any action runs.
#[derive(Debug)]
pub struct PollCommit<'a> {
    /// Real or dry run.
    pub scope: Scope,
    /// The target.
    pub target: &'a str,
    /// When, on the target's server clock (ledger rows, history, the last poll).
    pub now_ms: ServerMs,
    /// When, on this machine's clock (the queue, the audit trail).
    pub local_ms: LocalMs,
    /// The whole new snapshot, when the commit is a poll's (`None`: a digest's).
    pub snapshot: Option<&'a Snapshot>,
    /// Listed jobs that are new or changed.
    pub upserts: Vec<&'a Job>,
    /// Jobs no longer listed, with their final status: they stay as history.
    pub gone: Vec<Job>,
    /// Runs completed, with their notebook item.
    pub runs: Vec<crate::usual::Run>,
    /// A read of the target's scheduled tasks.
    pub tasks: Option<TaskCommit>,
    /// A read of the open notebooks, when the commit is one.
    pub notebooks: Option<NotebooksRecord>,
    /// New ledger entries.
    pub ledger: Vec<LedgerRecord>,
    /// Streak counts to set.
    pub streaks_set: Vec<(String, String, u32)>,
    /// Streaks to drop.
    pub streaks_dropped: Vec<(String, String)>,
    /// Cancel checks to set (replacing any of the same job).
    pub checks_set: Vec<CancelCheck>,
    /// Cancel checks finished (by job id).
    pub checks_dropped: Vec<String>,
    /// Actions to queue.
    pub actions: Vec<Planned>,
    /// Audit lines that belong to no queued action (suppressed, cancel_ignored, a dry run's planned).
    pub audit: Vec<AuditEntry>,
}

/// What a commit of a read of the open notebooks records: always the read's time (the target's
/// last read, after which `backtest` replays none), and the notebooks when they changed.
#[derive(Debug, Clone, PartialEq)]
pub enum NotebooksRecord {
    /// The same notebooks as the read before.
    Unchanged,
    /// A read that differs from the one before, recorded whole.
    Changed(Vec<crate::arcgis::notebooks::OpenNotebook>),
}

impl<'a> PollCommit<'a> {
    /// A commit of `target` at `now_ms` that changes nothing yet (dispatch sets `local_ms`).
    pub fn new(scope: Scope, target: &'a str, now_ms: ServerMs) -> PollCommit<'a> {
        PollCommit {
            scope,
            target,
            now_ms,
            local_ms: LocalMs(now_ms.0),
            snapshot: None,
            upserts: Vec::new(),
            gone: Vec::new(),
            runs: Vec::new(),
            tasks: None,
            notebooks: None,
            ledger: Vec::new(),
            streaks_set: Vec::new(),
            streaks_dropped: Vec::new(),
            checks_set: Vec::new(),
            checks_dropped: Vec::new(),
            actions: Vec::new(),
            audit: Vec::new(),
        }
    }
}

/// The persisted state nbwarden needs.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Everything stored about one target.
    async fn load_target(&self, scope: Scope, target: &str) -> Result<Core>;
    /// Commits one poll; returns the ids of the queued actions, in order.
    async fn commit_poll(&self, commit: &PollCommit<'_>) -> Result<Vec<i64>>;
    /// Up to `limit` queued actions due at `now_ms` (local clock) with ids above `after_id`,
    /// oldest first: a queue of any length is read a page at a time.
    async fn due_actions(&self, scope: Scope, now: LocalMs, after_id: i64, limit: u32) -> Result<Vec<Queued>>;
    /// Adds parts settled (from the progress journal) to queued actions.
    async fn add_settled(&self, entries: &[(i64, String)]) -> Result<()>;
    /// Records one attempt of a queued action (and, when final, its audit line).
    async fn record_attempt(&self, id: i64, attempt: &Attempt, now: LocalMs) -> Result<()>;
    /// Cancelled jobs still to be verified. Read at every poll: dispatch adds to them as it acts.
    async fn cancel_checks(&self, scope: Scope, target: &str) -> Result<Vec<CancelCheck>>;
    /// Starts verifying a cancelled job on the next polls.
    async fn add_cancel_check(&self, scope: Scope, target: &str, check: &CancelCheck) -> Result<()>;
    /// Audit lines of a job, newest first.
    async fn audit_for_job(&self, scope: Scope, target: &str, job_id: &str) -> Result<Vec<AuditEntry>>;
    /// Cancels of a target since `since_ms` (local clock): queued or done, or (`planned`) only
    /// planned — by a dry run, or by shadow rules.
    async fn cancels_since(&self, scope: Scope, target: &str, since: LocalMs, planned: bool) -> Result<u32>;
    /// Notebooks of a target closed (queued or done) since `since`, or (`planned`) only planned.
    async fn closes_since(&self, scope: Scope, target: &str, since: LocalMs, planned: bool) -> Result<u32>;
    /// Jobs of a target listed now or updated since `since_ms` (server clock), for digests.
    async fn history_since(&self, scope: Scope, target: &str, since: ServerMs) -> Result<Vec<Job>>;
    /// Drops what is older than the retention; returns the rows removed (see [`Cutoff`]).
    async fn prune(&self, cutoff: &Cutoff) -> Result<u64>;
    /// The refused sign-ins of every account since its last successful one.
    async fn sign_in_refusals(&self) -> Result<std::collections::HashMap<String, History>>;
    /// Records a refused sign-in of `account`, or (`None`) forgets its refusals after a success.
    async fn record_sign_in(&self, account: &str, refusal: Option<&Refusal>) -> Result<()>;
    /// The silences that have not ended before `since` (the daemon reads them at each poll).
    async fn silences(&self, since: LocalMs) -> Result<Vec<crate::silence::Silence>>;
    /// The activity slots kept for `target` (the status page's chart), from `since` on.
    async fn activity(&self, scope: Scope, target: &str, since: LocalMs) -> Result<Vec<crate::activity::Slot>>;
    /// Keeps `slot` of `target` (replacing what was kept for its start), and drops the slots
    /// that started before `drop_before`.
    async fn save_activity(
        &self,
        scope: Scope,
        target: &str,
        slot: &crate::activity::Slot,
        drop_before: LocalMs,
    ) -> Result<()>;
    /// Keeps what Portal said of notebook items of `target` (loaded with it).
    async fn save_items(&self, scope: Scope, target: &str, items: &[(String, crate::arcgis::Item)]) -> Result<()>;
}

/// Where pruning cuts, on the clock of each column: the audit trail and the action queue are on
/// this machine's clock; each target's history and ledger on its server's (they are compared
/// with job times). A target without an entry (no longer configured) is cut at `local`, read
/// as if its server had no offset.
#[derive(Debug, Clone, Default)]
pub struct Cutoff {
    /// This machine's clock.
    pub local: LocalMs,
    /// Per target: its server's clock.
    pub servers: Vec<(String, ServerMs)>,
}

impl Cutoff {
    /// `retention` before `now`, on this machine's clock and on each target's server clock.
    pub fn ago(retention: std::time::Duration, now: LocalMs, offsets: &[(String, Offset)]) -> Cutoff {
        let local = now.plus(-(retention.as_millis() as i64));
        Cutoff { local, servers: offsets.iter().map(|(t, offset)| (t.clone(), local.on_server(*offset))).collect() }
    }

    /// The cut of `target`: on its server's clock, or this machine's when it is not configured.
    pub fn of(&self, target: &str) -> ServerMs {
        let unknown = || self.local.on_server(Offset::default());
        self.servers.iter().find(|(t, _)| t == target).map_or_else(unknown, |(_, cut)| *cut)
    }
}

/// The store as the place where refused sign-ins outlive the process.
pub struct SignInRecords(pub std::sync::Arc<dyn Store>);

#[async_trait::async_trait]
impl SignInLog for SignInRecords {
    async fn refused(&self, account: &str, refusal: &Refusal) {
        if let Err(e) = self.0.record_sign_in(account, Some(refusal)).await {
            tracing::warn!(error = %e, "could not record a refused sign-in; a restart would not know to wait");
        }
    }

    async fn succeeded(&self, account: &str) {
        if let Err(e) = self.0.record_sign_in(account, None).await {
            tracing::warn!(error = %e, "could not clear the refused sign-ins of {account}");
        }
    }
}
