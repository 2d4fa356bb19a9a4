//! The scheduled-tasks watcher of a target with `tasks:`, the core's driver for task reads: one
//! read of the org's tasks, the runs of those the core asks for (a few at once), the core's
//! decision, and one commit of the changes, the ledger and the planned actions.

use super::{Line, Shared, Target};
use crate::arcgis::tasks::{Task, TaskRun};
use crate::arcgis::JobSource;
use crate::cycle::TaskDecision;
use crate::store::{PollCommit, TaskCommit};
use crate::task_diff::Seen;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

impl Target {
    /// Reads the target's scheduled tasks and fires its task rules. A failed read keeps the last
    /// one; a task whose runs could not be read keeps its last state, so that its runs are read
    /// again at the next read.
    pub async fn watch_tasks(&mut self, shared: &Shared) -> crate::store::Result<Vec<Line>> {
        let Some(config) = self.config.tasks.clone() else { return Ok(Vec::new()) };
        let Some(tasks) = self.read_tasks().await else { return Ok(Vec::new()) };
        let wanted: Vec<Task> = self.core.tasks_to_read(&tasks).into_iter().cloned().collect();
        let (runs, unread) = read_runs(&self.source, wanted).await;
        let (dispatch, name) = (&shared.dispatch, self.config.name.clone());
        let observed = self.core.observe_tasks(self.source.server_now(), tasks, &runs, &unread);
        let TaskDecision { firings, decision } =
            self.core.decide_tasks(&dispatch.rules, &name, &observed, config.zone());
        let mut commit = PollCommit::new(dispatch.scope(), &name, observed.at);
        commit.tasks = Some(changes(self.core.tasks.as_ref(), &observed.next, runs));
        let crate::dispatch::Committed { reports, ledger } =
            dispatch.commit(commit, decision, &*self.source, Vec::new()).await?;
        let told = firings.iter().filter(|f| !f.quiet).count();
        let (count, events, baseline) = (observed.next.len(), observed.events.len(), observed.baseline);
        match baseline || told > 0 {
            true => {
                tracing::info!(target_name = %name, tasks = count, events, told, baseline, "read the scheduled tasks")
            }
            false => tracing::debug!(target_name = %name, tasks = count, events, "read the scheduled tasks"),
        }
        for firing in firings.iter().filter(|f| !f.quiet) {
            let rule = &dispatch.rules.rules[firing.rule];
            metrics::counter!(crate::telemetry::FIRINGS, "target" => name.clone(), "rule" => rule.name.clone())
                .increment(1);
        }
        self.core.adopt_tasks(observed, &ledger);
        Ok(reports.into_iter().map(Line::Action).collect())
    }

    /// The org's tasks; `None` when they cannot be read. The first failure in a row is a warning,
    /// the next ones are not, and a read that works again says so.
    async fn read_tasks(&mut self) -> Option<Vec<Task>> {
        let name = &self.config.name;
        match self.source.scheduled_tasks().await {
            Ok(tasks) => {
                if std::mem::replace(&mut self.tasks_failing, false) {
                    tracing::info!(target_name = %name, "the scheduled tasks can be read again");
                }
                Some(tasks)
            }
            Err(e) if std::mem::replace(&mut self.tasks_failing, true) => {
                tracing::debug!(target_name = %name, error = %e, "cannot read the scheduled tasks");
                None
            }
            Err(e) => {
                tracing::warn!(target_name = %name, error = %e, "cannot read the scheduled tasks; the last read stands, and they are read again every tasks.every");
                None
            }
        }
    }
}

/// What a read writes: the tasks new or changed, those gone, the runs read.
fn changes(
    prev: Option<&BTreeMap<String, Seen>>,
    next: &BTreeMap<String, Seen>,
    runs: HashMap<String, Vec<TaskRun>>,
) -> TaskCommit {
    let before = |id: &String| prev.and_then(|p| p.get(id));
    let changed = next.iter().filter(|(id, seen)| before(id) != Some(seen)).map(|(_, seen)| seen.clone()).collect();
    let removed = prev.map(|p| p.keys().filter(|id| !next.contains_key(*id)).cloned().collect()).unwrap_or_default();
    let runs = runs.into_iter().flat_map(|(id, runs)| runs.into_iter().map(move |run| (id.clone(), run))).collect();
    TaskCommit { changed, removed, runs }
}

/// The runs of each task, read a few at once; and the ids of the tasks whose runs could not be read.
async fn read_runs(source: &Arc<dyn JobSource>, tasks: Vec<Task>) -> (HashMap<String, Vec<TaskRun>>, HashSet<String>) {
    let reads = tasks.into_iter().map(|task| {
        let source = source.clone();
        async move {
            let read = source.task_runs(&task.owner, &task.id).await;
            (task.id, read)
        }
    });
    let (mut runs, mut unread) = (HashMap::new(), HashSet::new());
    for (id, read) in super::bounded(reads).await {
        match read {
            Ok(list) => {
                runs.insert(id, list);
            }
            Err(e) => {
                tracing::warn!(task = %crate::text::sanitize(&id), error = %e, "cannot read the task's runs; they are read again next time");
                unread.insert(id);
            }
        }
    }
    (runs, unread)
}
