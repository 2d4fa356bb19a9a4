//! The task rules in a back-test: the scheduled-task watcher's reads are rebuilt, one every
//! `tasks.every` up to its last read, from what the store keeps (each task as last read, and its
//! newest runs: when each was created, when it last changed, how it ended), and replayed through
//! the core. Where that history cannot show what the watcher saw, the rule is reported as not
//! back-testable, with the reason.

use crate::arcgis::tasks::{Task, TaskRun};
use crate::clock::ServerMs;
use crate::config::TargetConfig;
use crate::replay::TaskRead;
use crate::rules::{Rule, Trigger};
use crate::store::{Scope, SqlStore};
use std::collections::{BTreeMap, HashMap};

/// At most this many reads are rebuilt per target; a longer span reads less often.
const MAX_READS: i64 = 20_000;

/// Why a target's task rules cannot be back-tested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Untestable {
    /// The target has no `tasks:`, so the watcher never reads its tasks.
    NotWatched,
    /// The watcher has not read this target's tasks yet.
    NeverRead,
    /// A task's kept runs begin after the back-test does.
    RunsCut { task: String, from_ms: ServerMs },
    /// When a task stopped is not kept: only each task's last state is.
    StopNotKept,
    /// The target has no `notebooks:`, so its open notebooks are never read.
    NotebooksNotWatched,
    /// No read of this target's open notebooks is recorded before the back-test's end.
    NotebooksNeverRead,
}

impl std::fmt::Display for Untestable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Untestable::NotWatched => write!(f, "the target has no `tasks:`, so its scheduled tasks were never read"),
            Untestable::NeverRead => write!(f, "the scheduled tasks of this target have not been read yet"),
            Untestable::RunsCut { task, from_ms } => write!(
                f,
                "the store keeps the newest {} runs of each task, and those of task {} begin at {}, after the back-test's start; back-test from then",
                crate::store::TASK_RUNS_KEPT,
                crate::text::sanitize(task),
                crate::arcgis::model::rfc3339(*from_ms).unwrap_or_default()
            ),
            Untestable::NotebooksNotWatched => {
                write!(f, "the target has no `notebooks:`, so its open notebooks were never read")
            }
            Untestable::NotebooksNeverRead => {
                write!(f, "no read of this target's open notebooks is recorded before the back-test's end")
            }
            Untestable::StopNotKept => write!(
                f,
                "the store keeps each task as last read, not when it stopped, so `on: task_stopped` cannot be replayed"
            ),
        }
    }
}

/// The rebuilt reads of `target`'s tasks from `since` to `until` (server clock), the first one
/// the watcher's baseline and the last one at its last read; or why they cannot be rebuilt.
pub(super) async fn reads(
    store: &SqlStore,
    target: &TargetConfig,
    (since, until): (ServerMs, ServerMs),
) -> anyhow::Result<Result<Vec<TaskRead>, Untestable>> {
    let Some(config) = &target.tasks else { return Ok(Err(Untestable::NotWatched)) };
    let Some(seen) = store.tasks(Scope::Real, &target.name).await? else { return Ok(Err(Untestable::NeverRead)) };
    let mut runs = HashMap::new();
    for id in seen.keys() {
        let kept = store.task_runs(Scope::Real, &target.name, id).await?;
        let first = kept.first().and_then(|r| r.created_ms).unwrap_or(ServerMs(i64::MIN));
        if kept.len() as i64 >= crate::store::TASK_RUNS_KEPT && first > since {
            return Ok(Err(Untestable::RunsCut { task: seen[id].task.title.clone(), from_ms: first }));
        }
        runs.insert(id.clone(), kept);
    }
    let tasks: Vec<Task> = seen.into_values().map(|s| s.task).collect();
    // The reads end with the daemon's last read of the tasks: it saw no run after it, and a run
    // due after it was missed by nothing the daemon watched.
    let last = store.tasks_read_ms(Scope::Real, &target.name).await?.map_or(until, ServerMs).min(until);
    let every = (config.every.0.as_millis() as i64).max((until - since) / MAX_READS).max(1);
    let mut times: Vec<ServerMs> = (0..).map(|n| since + n * every).take_while(|at| *at < last).collect();
    times.extend(Some(last).filter(|at| *at >= since));
    Ok(Ok(times.into_iter().map(|at| read_at(at, &tasks, &runs)).collect()))
}

/// The read the watcher would have made at `at_ms`: each task with its last start then, and its
/// runs created by then (one still going then reads `executing`).
fn read_at(at_ms: ServerMs, tasks: &[Task], runs: &HashMap<String, Vec<TaskRun>>) -> TaskRead {
    let mut by_task = HashMap::new();
    let tasks = tasks
        .iter()
        .map(|task| {
            let then: Vec<TaskRun> = runs
                .get(&task.id)
                .into_iter()
                .flatten()
                .filter(|run| run.created_ms.is_some_and(|c| c <= at_ms))
                .map(|run| match run.modified_ms.is_some_and(|m| m > at_ms) {
                    true => TaskRun { status: "executing".into(), modified_ms: None, ..run.clone() },
                    false => run.clone(),
                })
                .collect();
            let last_start_ms = then.iter().filter_map(|r| r.created_ms).max();
            by_task.insert(task.id.clone(), then);
            Task { last_start_ms, ..task.clone() }
        })
        .collect();
    TaskRead { at_ms, tasks, runs: by_task }
}

/// Why `rule` cannot be back-tested whatever the history: `task_stopped`.
pub(super) fn untestable_rule(rule: &Rule) -> Option<Untestable> {
    matches!(rule.trigger, Trigger::TaskStopped).then_some(Untestable::StopNotKept)
}

/// Per task rule, the targets it could not be back-tested on, with why.
pub(super) type Untested = BTreeMap<String, Vec<(String, Untestable)>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PollCommit, Store, TaskCommit};

    #[tokio::test]
    async fn the_rebuilt_reads_end_at_the_watchers_last_read_of_the_tasks() {
        let (_dir, store, target) = super::super::store_and_target("tasks: { every: 1s }").await;
        let target = &target;
        let window = (ServerMs(0), ServerMs(10_000));
        assert_eq!(reads(&store, target, window).await.unwrap().map(|_| ()), Err(Untestable::NeverRead));
        let read = TaskCommit { changed: Vec::new(), removed: Vec::new(), runs: Vec::new() };
        let commit = PollCommit { tasks: Some(read), ..PollCommit::new(Scope::Real, "t", ServerMs(2_500)) };
        store.commit_poll(&commit).await.unwrap();
        let times: Vec<i64> = reads(&store, target, window).await.unwrap().unwrap().iter().map(|r| r.at_ms.0).collect();
        assert_eq!(times, [0, 1_000, 2_000, 2_500], "none after the last read");
    }
}
