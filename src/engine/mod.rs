//! The cycle: one `tick` per target polls, diffs, evaluates and commits; dispatch then executes.
//! The scheduler (or `once`) only decides when to call it.

pub mod digest;
mod items;
mod notebooks;
mod tasks;
mod tick;
mod titles;

use crate::arcgis::JobSource;
use crate::clock::{LocalMs, Offset};
use crate::config::TargetConfig;
use crate::cycle::Core;
use crate::dispatch::Dispatcher;
use crate::plan::ActionReport;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// One output line of SPEC §5.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    /// A poll of one target.
    Poll {
        /// The target.
        target: String,
        /// Whether the list call succeeded.
        ok: bool,
        /// Jobs listed.
        #[serde(skip_serializing_if = "Option::is_none")]
        jobs: Option<usize>,
        /// First poll of this target: no events.
        #[serde(skip_serializing_if = "Option::is_none")]
        baseline: Option<bool>,
        /// `all`, or `own` when the account is no administrator and sees only its own jobs.
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<crate::arcgis::Scope>,
        /// Why the poll failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// A failed sign-in: no sign-in is safe before this instant.
        #[serde(skip)]
        sign_in_wait: Option<LocalMs>,
    },
    /// A change between two polls.
    Event {
        /// The target.
        target: String,
        /// The job.
        job_id: String,
        /// appeared, status_changed, disappeared.
        event: String,
        /// Status before.
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Status after.
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// An action's outcome.
    Action(ActionReport),
}

impl Line {
    /// The target it is about.
    pub fn target(&self) -> &str {
        match self {
            Line::Poll { target, .. } | Line::Event { target, .. } => target,
            Line::Action(report) => &report.target,
        }
    }

    /// A failed poll or a failed action.
    pub fn is_failure(&self) -> bool {
        match self {
            Line::Poll { ok, .. } => !ok,
            Line::Action(report) => report.outcome.is_failure(),
            Line::Event { .. } => false,
        }
    }
}

impl Line {
    /// A failed poll of `target`.
    pub fn poll_failed(target: &str, error: String, sign_in_wait: Option<LocalMs>) -> Line {
        Line::Poll {
            target: target.into(),
            ok: false,
            jobs: None,
            baseline: None,
            scope: None,
            error: Some(error),
            sign_in_wait,
        }
    }
}

/// What every tick shares.
pub struct Shared {
    /// Rules, store, run mode, services and clock.
    pub dispatch: Arc<Dispatcher>,
    /// This replica's leases, when replicas share the store (`ha`).
    pub leases: Option<Arc<crate::store::lease::Leases>>,
    /// (rule, key) pairs already logged as unanswerable.
    reported: Mutex<HashSet<(String, &'static str)>>,
}

impl Shared {
    /// Shared state of one engine.
    pub fn new(dispatch: Dispatcher) -> Arc<Shared> {
        Arc::new(Shared { dispatch: Arc::new(dispatch), leases: None, reported: Mutex::new(HashSet::new()) })
    }
}

/// The job resources one poll read (by job id), each with the notebook item it named, if any.
type Resourced = HashMap<String, Option<String>>;

/// One target: its configuration, its job source and its state.
pub struct Target {
    /// As configured.
    pub config: TargetConfig,
    /// Where its jobs come from.
    pub source: Arc<dyn JobSource>,
    core: Core,
    /// What the site said about itself at the last poll (its warnings are logged when it changes).
    site: Option<crate::arcgis::SiteInfo>,
    /// Whether a poll of this process has looked for the item ids of unfinished jobs.
    items_checked: bool,
    /// Whether the last read of the scheduled tasks failed (its warning is logged once).
    tasks_failing: bool,
    /// Whether the last read of the open notebooks failed (its warning is logged once).
    notebooks_failing: bool,
    /// Notebook items whose titles are still to be read from Portal.
    pending_items: titles::PendingItems,
}

impl Target {
    /// Loads the target's stored state.
    pub async fn load(
        config: TargetConfig,
        source: Arc<dyn JobSource>,
        shared: &Shared,
    ) -> crate::store::Result<Target> {
        let core = shared.dispatch.store.load_target(shared.dispatch.scope(), &config.name).await?;
        let mut target = Target {
            config,
            source,
            core,
            site: None,
            items_checked: false,
            tasks_failing: false,
            notebooks_failing: false,
            pending_items: Default::default(),
        };
        target.remember_items(shared);
        Ok(target)
    }

    /// What the site said about itself at the last successful poll.
    pub fn site(&self) -> Option<&crate::arcgis::SiteInfo> {
        self.site.as_ref()
    }

    /// Forgets ledger entries older than `before_ms` (server clock) of jobs no longer listed.
    pub fn prune_memory(&mut self, before: crate::clock::ServerMs) -> usize {
        self.core.prune(before)
    }

    /// What the core of this target remembers: snapshot, ledger, streaks, usual runtimes, tasks.
    pub fn core(&self) -> &Core {
        &self.core
    }
}

/// The job sources by target name, for dispatch.
pub fn sources(targets: &[Target]) -> HashMap<String, Arc<dyn JobSource>> {
    targets.iter().map(|t| (t.config.name.clone(), t.source.clone())).collect()
}

/// `retention` before `now` (this machine's clock) and on each target's server clock.
pub fn prune_cutoff(
    retention: std::time::Duration,
    now: LocalMs,
    sources: &HashMap<String, Arc<dyn JobSource>>,
) -> crate::store::Cutoff {
    let offsets: Vec<_> =
        sources.iter().map(|(name, s)| (name.clone(), Offset::between(s.server_now(), now))).collect();
    crate::store::Cutoff::ago(retention, now, &offsets)
}

/// Reads one site is asked for at once, at most (job resources, item ids, task runs).
const PARALLEL_READS: usize = 8;

/// Runs the `reads`, at most `PARALLEL_READS` at once; their results, in no particular order.
async fn bounded<T: Send + 'static>(
    reads: impl IntoIterator<Item = impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let mut running = tokio::task::JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL_READS));
    for read in reads {
        let limit = limit.clone();
        running.spawn(async move {
            let _permit = limit.acquire_owned().await;
            read.await
        });
    }
    running.join_all().await
}

/// Ticks every target concurrently (a dead site never delays a live one); lines in target order.
pub async fn tick_all(targets: Vec<Target>, shared: &Arc<Shared>) -> (Vec<Target>, Vec<Line>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut target) in targets.into_iter().enumerate() {
        let shared = shared.clone();
        tasks.spawn(async move {
            // The tasks first, so that the poll's firings know the titles of the tasks of their jobs.
            let tasks = target.watch_tasks(&shared).await.unwrap_or_else(|e| {
                tracing::error!(target_name = %target.config.name, error = %e, "could not record the scheduled tasks");
                Vec::new()
            });
            let mut lines = target.tick(&shared).await;
            lines.extend(tasks);
            (index, target, lines)
        });
    }
    let mut done = tasks.join_all().await;
    done.sort_by_key(|(index, _, _)| *index);
    let mut lines = Vec::new();
    let targets = done
        .into_iter()
        .map(|(_, target, mut l)| {
            lines.append(&mut l);
            target
        })
        .collect();
    (targets, lines)
}

/// `nbwarden_firings_total` for the ledger rows a commit recorded (`mode="shadow"` for shadow rules).
fn count_firings(target: &str, fired: &[crate::plan::LedgerRecord]) {
    for record in fired {
        let mut labels = vec![("target", target.to_string()), ("rule", record.rule.clone())];
        if record.shadow {
            labels.push(("mode", "shadow".into()));
        }
        metrics::counter!(crate::telemetry::FIRINGS, &labels).increment(1);
    }
}

#[cfg(test)]
mod tests;
