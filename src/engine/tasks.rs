//! The scheduled-tasks watcher of a target with `tasks:`: one read of the org's tasks, the runs of
//! those whose `lastStart` moved (a few at once), the task diff, the task rules, and
//! one commit of the changes, the ledger and the planned actions. The first read is a baseline.

use super::{Line, Shared, Target};
use crate::arcgis::tasks::{Task, TaskRun};
use crate::arcgis::JobSource;
use crate::rules::tasks::task_key;
use crate::rules::{Firing, TaskInput};
use crate::store::{PollCommit, TaskCommit};
use crate::task_diff::{self, Seen};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

impl Target {
    /// Reads the target's scheduled tasks and fires its task rules. A failed read keeps the last
    /// one; a task whose runs could not be read keeps its last state, so that its runs are read
    /// again at the next read.
    pub async fn watch_tasks(&mut self, shared: &Shared) -> crate::store::Result<Vec<Line>> {
        let Some(config) = self.config.tasks.clone() else { return Ok(Vec::new()) };
        let Some(tasks) = self.read_tasks().await else { return Ok(Vec::new()) };
        let prev = self.state.tasks.as_ref();
        let wanted: Vec<Task> = task_diff::needs_runs(prev, &tasks).into_iter().cloned().collect();
        let (runs, unread) = read_runs(&self.source, wanted).await;
        let (mut next, events) = task_diff::diff(prev, tasks, &runs);
        for id in &unread {
            match prev.and_then(|p| p.get(id)) {
                Some(seen) => next.insert(id.clone(), seen.clone()),
                None => next.remove(id),
            };
        }
        let (dispatch, name) = (&shared.dispatch, self.config.name.clone());
        let now_ms = self.source.server_now_ms();
        let input = TaskInput {
            target: &name,
            now_ms,
            tasks: &next,
            events: &events,
            ledger: &self.state.ledger,
            baseline: prev.is_none(),
            zone: config.zone(),
        };
        let firings = dispatch.rules.evaluate_tasks(&input);
        let plan = crate::dispatch::plan_tasks(&dispatch.rules, &firings, now_ms);
        let mut commit = PollCommit::new(dispatch.scope(), &name, now_ms);
        commit.tasks = Some(changes(prev, &next, runs));
        let reports = dispatch.commit(commit, plan, &*self.source, Vec::new()).await?;
        let told = firings.iter().filter(|f| !f.quiet).count();
        match prev.is_none() || told > 0 {
            true => {
                tracing::info!(target_name = %name, tasks = next.len(), events = events.len(), told, baseline = prev.is_none(), "read the scheduled tasks")
            }
            false => {
                tracing::debug!(target_name = %name, tasks = next.len(), events = events.len(), "read the scheduled tasks")
            }
        }
        for firing in &firings {
            let rule = &dispatch.rules.rules[firing.rule];
            self.state.ledger.record(&rule.ledger_name(), &task_key(&firing.facts.task.id), &firing.trigger, now_ms);
            if !firing.quiet {
                metrics::counter!(crate::telemetry::FIRINGS, "target" => name.clone(), "rule" => rule.name.clone())
                    .increment(1);
            }
        }
        self.state.tasks = Some(next);
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

    /// Gives each firing's job the title of the task that started it, when the watcher knows it.
    pub(super) fn name_tasks(&self, firings: &mut [Firing]) {
        let Some(tasks) = &self.state.tasks else { return };
        for firing in firings {
            let title = firing.job.task_id.as_ref().and_then(|id| tasks.get(id)).map(|seen| seen.task.title.clone());
            firing.job.task_title = title;
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
