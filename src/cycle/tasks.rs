//! A read of the org's scheduled tasks through the core: which tasks' runs to read, the task
//! diff, the task rules (a missed run once per due time and rule), the plan, and `adopt`. The
//! first read is a baseline: its firings are recorded, quietly.

use super::{plan_tasks, Core, Decision};
use crate::arcgis::tasks::{Task, TaskRun};
use crate::clock::ServerMs;
use crate::plan::LedgerRecord;
use crate::rules::{RuleSet, TaskFiring, TaskInput};
use crate::task_diff::{self, Seen, TaskEvent};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A read of the tasks and what changed since the last one.
#[derive(Debug)]
pub struct TasksObserved {
    /// When.
    pub at: ServerMs,
    /// The tasks as they now stand.
    pub next: BTreeMap<String, Seen>,
    /// What changed (none at the baseline).
    pub events: Vec<TaskEvent>,
    /// The first read.
    pub baseline: bool,
}

/// What one read of the tasks decided.
#[derive(Debug)]
pub struct TaskDecision {
    /// The firings, quiet ones (the baseline's) included.
    pub firings: Vec<TaskFiring>,
    /// Their ledger rows and actions.
    pub decision: Decision,
}

impl Core {
    /// The tasks among `tasks` whose runs must be read: those whose `lastStart` moved or whose run
    /// was unfinished; at the baseline, the active tasks that have run.
    pub fn tasks_to_read<'a>(&self, tasks: &'a [Task]) -> Vec<&'a Task> {
        task_diff::needs_runs(self.tasks.as_ref(), tasks)
    }

    /// Diffs a read of the tasks at `at`, with the `runs` read, against the last
    /// read. A task whose runs could not be read (`unread`) keeps its last state, so that its runs
    /// are read again next time.
    pub fn observe_tasks(
        &self,
        at: ServerMs,
        tasks: Vec<Task>,
        runs: &HashMap<String, Vec<TaskRun>>,
        unread: &HashSet<String>,
    ) -> TasksObserved {
        let prev = self.tasks.as_ref();
        let (mut next, events) = task_diff::diff(prev, tasks, runs);
        for id in unread {
            match prev.and_then(|p| p.get(id)) {
                Some(seen) => next.insert(id.clone(), seen.clone()),
                None => next.remove(id),
            };
        }
        TasksObserved { at, next, events, baseline: prev.is_none() }
    }

    /// Fires the task rules of `target` (cron schedules read in `zone`) and plans their actions.
    pub fn decide_tasks(
        &self,
        rules: &RuleSet,
        target: &str,
        observed: &TasksObserved,
        zone: chrono_tz::Tz,
    ) -> TaskDecision {
        let input = TaskInput {
            target,
            now: observed.at,
            tasks: &observed.next,
            events: &observed.events,
            ledger: &self.ledger,
            baseline: observed.baseline,
            zone,
        };
        let firings = rules.evaluate_tasks(&input);
        let decision = plan_tasks(rules, &firings, observed.at);
        TaskDecision { firings, decision }
    }

    /// Takes a committed read in: the tasks as read and the ledger rows.
    pub fn adopt_tasks(&mut self, observed: TasksObserved, ledger: &[LedgerRecord]) {
        self.record(ledger, observed.at);
        self.tasks = Some(observed.next);
    }
}
