//! Scheduled-task diff (pure; no I/O): the previous state of a target's tasks and a new read of
//! them (with the runs read for the tasks that need it) → task events: a run that ended failed
//! (with the failures in a row), a task that stopped, a run due by the schedule that has not
//! started within the grace period. The first read is a silent baseline. Not yet wired into the
//! daemon: the tasks watcher (issue 16) builds on it.

use crate::arcgis::tasks::{Task, TaskRun};
use std::collections::{BTreeMap, HashMap};

/// What is kept about one task between reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The task as last read.
    pub task: Task,
    /// Runs that failed in a row, up to the last finished one.
    pub consecutive_failures: u32,
    /// The last finished run's status.
    pub last_result: Option<String>,
    /// The id of a run still unfinished at the last read: its runs are read again.
    pub unfinished_run: Option<String>,
    /// The due instant last reported missed, so that each due run is reported once.
    pub missed_due_ms: Option<i64>,
}

/// A change in a target's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEvent {
    /// A run ended `failed` or `submitfailed`.
    Failed {
        /// The task.
        task: Task,
        /// The run.
        run: TaskRun,
        /// Failures in a row, this one included.
        consecutive_failures: u32,
    },
    /// The task left the active state.
    Stopped {
        /// The task.
        task: Task,
    },
    /// A run due at `due_ms` has not started within the grace period.
    Missed {
        /// The task.
        task: Task,
        /// When the run was due (epoch ms).
        due_ms: i64,
    },
}

/// The tasks whose runs must be read: those whose `lastStart` moved since the last read, and
/// those whose last run was still unfinished. None at the baseline.
pub fn needs_runs<'a>(prev: Option<&BTreeMap<String, Seen>>, tasks: &'a [Task]) -> Vec<&'a Task> {
    let Some(prev) = prev else { return Vec::new() };
    let moved = |t: &Task| match prev.get(&t.id) {
        Some(seen) => seen.task.last_start_ms != t.last_start_ms || seen.unfinished_run.is_some(),
        None => t.last_start_ms.is_some(),
    };
    tasks.iter().filter(|t| moved(t)).collect()
}

/// The new state and the events of one read at `now_ms`; `runs` holds the runs read (by task id).
pub fn diff(
    prev: Option<&BTreeMap<String, Seen>>,
    tasks: Vec<Task>,
    runs: &HashMap<String, Vec<TaskRun>>,
    (now_ms, grace_ms): (i64, i64),
) -> (BTreeMap<String, Seen>, Vec<TaskEvent>) {
    let mut next = BTreeMap::new();
    let mut events = Vec::new();
    for task in tasks {
        let before = prev.and_then(|p| p.get(&task.id));
        let mut seen = before.cloned().unwrap_or(Seen {
            task: task.clone(),
            consecutive_failures: 0,
            last_result: None,
            unfinished_run: None,
            missed_due_ms: None,
        });
        if let Some(read) = runs.get(&task.id) {
            events.extend(count_runs(&mut seen, &task, read, before.map(|b| b.task.last_start_ms)));
        }
        if let (Some(_), Some(before)) = (prev, before) {
            if stopped(&before.task, &task) {
                events.push(TaskEvent::Stopped { task: task.clone() });
            }
        }
        if let Some(due) = missed(&task, now_ms, grace_ms).filter(|due| seen.missed_due_ms < Some(*due)) {
            seen.missed_due_ms = Some(due);
            if prev.is_some() {
                events.push(TaskEvent::Missed { task: task.clone(), due_ms: due });
            }
        }
        seen.task = task;
        next.insert(seen.task.id.clone(), seen);
    }
    (next, events)
}

/// Counts the runs finished since the last read: those created after its `lastStart`
/// (`last_start`; `None` at the baseline, when a failure is counted but is no event) and the
/// one still unfinished then.
fn count_runs(seen: &mut Seen, task: &Task, runs: &[TaskRun], last_start: Option<Option<i64>>) -> Vec<TaskEvent> {
    let mut events = Vec::new();
    let unfinished = seen.unfinished_run.take();
    let after = last_start.flatten();
    for run in runs {
        let new = run.created_ms > after || unfinished.as_deref() == Some(run.id.as_str());
        if !new {
            continue;
        }
        match run.status.as_str() {
            "scheduled" | "executing" => seen.unfinished_run = Some(run.id.clone()),
            "skipped" => {}
            status => {
                seen.consecutive_failures = if run.failed() { seen.consecutive_failures + 1 } else { 0 };
                seen.last_result = Some(status.to_string());
                if run.failed() && last_start.is_some() {
                    events.push(TaskEvent::Failed {
                        task: task.clone(),
                        run: run.clone(),
                        consecutive_failures: seen.consecutive_failures,
                    });
                }
            }
        }
    }
    events
}

fn stopped(before: &Task, now: &Task) -> bool {
    let active = |t: &Task| t.active && t.state.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("active"));
    active(before) && !active(now)
}

/// The run due after the task's last start (or its start date) when it is overdue by more than
/// `grace_ms` at `now_ms` and the task is active.
pub fn missed(task: &Task, now_ms: i64, grace_ms: i64) -> Option<i64> {
    if !task.active {
        return None;
    }
    let due = next_due(task)?;
    (now_ms > due + grace_ms).then_some(due)
}

/// When the next run is due: one interval after the last start, or the schedule's next slot
/// after it (UTC); from the start date before the first run.
pub fn next_due(task: &Task) -> Option<i64> {
    let (from, first) = match task.last_start_ms {
        Some(last) => (last, false),
        None => (task.start_ms?, true),
    };
    if let Some(seconds) = task.interval_seconds {
        return Some(if first { from } else { from + seconds as i64 * 1000 });
    }
    let cron = crate::config::parse_cron(task.cron.as_deref()?).ok()?;
    let after = chrono::DateTime::from_timestamp_millis(from - i64::from(first))?;
    cron.find_next_occurrence(&after, false).ok().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn task(last_start: Option<i64>, active: bool) -> Task {
        Task {
            id: "t".into(),
            title: "Nightly".into(),
            owner: "joe".into(),
            item_id: Some("nb".into()),
            cron: None,
            interval_seconds: Some(3600),
            start_ms: Some(0),
            last_start_ms: last_start,
            active,
            state: Some(if active { "active" } else { "paused" }.into()),
        }
    }

    fn run(n: i64, status: &str) -> TaskRun {
        TaskRun { id: format!("r{n}"), status: status.into(), created_ms: Some(n * HOUR), modified_ms: None }
    }

    fn read(
        prev: Option<&BTreeMap<String, Seen>>,
        t: Task,
        runs: Vec<TaskRun>,
        now: i64,
    ) -> (BTreeMap<String, Seen>, Vec<TaskEvent>) {
        diff(prev, vec![t], &HashMap::from([("t".to_string(), runs)]), (now, 15 * MIN))
    }

    fn kinds(events: &[TaskEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                TaskEvent::Failed { consecutive_failures, .. } => format!("failed {consecutive_failures}"),
                TaskEvent::Stopped { .. } => "stopped".into(),
                TaskEvent::Missed { due_ms, .. } => format!("missed {}", due_ms / HOUR),
            })
            .collect()
    }

    #[test]
    fn failures_count_in_a_row_the_baseline_is_silent_and_a_stop_is_told_once() {
        let (state, events) = read(None, task(Some(HOUR), true), vec![run(0, "failed"), run(1, "failed")], HOUR + MIN);
        assert!(events.is_empty(), "baseline: {events:?}");
        assert_eq!(state["t"].consecutive_failures, 2);
        let third = vec![run(0, "failed"), run(1, "failed"), run(2, "failed")];
        assert_eq!(needs_runs(Some(&state), &[task(Some(2 * HOUR), true)]).len(), 1, "lastStart moved");
        let (state, events) = read(Some(&state), task(Some(2 * HOUR), true), third.clone(), 2 * HOUR + MIN);
        assert_eq!(kinds(&events), ["failed 3"]);
        let (state, events) = read(Some(&state), task(Some(2 * HOUR), false), vec![], 2 * HOUR + 2 * MIN);
        assert_eq!(kinds(&events), ["stopped"]);
        let (_, events) = read(Some(&state), task(Some(2 * HOUR), false), vec![], 2 * HOUR + 3 * MIN);
        assert!(events.is_empty(), "told once: {events:?}");
    }

    #[test]
    fn a_run_still_executing_is_read_again_and_a_success_resets_the_count() {
        let (state, _) = read(None, task(Some(0), true), vec![run(0, "failed")], MIN);
        let (state, events) =
            read(Some(&state), task(Some(HOUR), true), vec![run(0, "failed"), run(1, "executing")], HOUR + MIN);
        assert!(events.is_empty());
        assert_eq!(needs_runs(Some(&state), &[task(Some(HOUR), true)]).len(), 1, "its run is unfinished");
        let (state, events) =
            read(Some(&state), task(Some(HOUR), true), vec![run(0, "failed"), run(1, "failed")], HOUR + 20 * MIN);
        assert_eq!(kinds(&events), ["failed 2"]);
        let (state, _) = read(
            Some(&state),
            task(Some(2 * HOUR), true),
            vec![run(1, "failed"), run(2, "succeeded")],
            2 * HOUR + 20 * MIN,
        );
        assert_eq!((state["t"].consecutive_failures, state["t"].last_result.as_deref()), (0, Some("succeeded")));
    }

    #[test]
    fn a_run_not_started_within_the_grace_is_missed_once() {
        let (state, _) = read(None, task(Some(HOUR), true), vec![], HOUR + MIN);
        let (state, events) = read(Some(&state), task(Some(HOUR), true), vec![], 2 * HOUR + 10 * MIN);
        assert!(events.is_empty(), "within the grace");
        let (state, events) = read(Some(&state), task(Some(HOUR), true), vec![], 2 * HOUR + 16 * MIN);
        assert_eq!(kinds(&events), ["missed 2"]);
        let (_, events) = read(Some(&state), task(Some(HOUR), true), vec![], 2 * HOUR + 40 * MIN);
        assert!(events.is_empty(), "once per due run: {events:?}");
        let cron = Task { cron: Some("0 2 * * *".into()), interval_seconds: None, ..task(Some(2 * HOUR), true) };
        assert_eq!(next_due(&cron), Some(26 * HOUR), "the next day at 02:00 UTC");
        assert_eq!(missed(&task(Some(HOUR), false), 10 * HOUR, 15 * MIN), None, "a stopped task misses nothing");
    }
}
