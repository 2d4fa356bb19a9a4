//! Scheduled-task diff (pure; no I/O): the previous state of a target's tasks and a new read of
//! them (with the runs read for the tasks that need it) → task events: a run that ended failed
//! (with the failures in a row), a task that stopped. Also when a task's next run is due, for
//! `task_missed` rules, which compare it with their own grace. The first read is a silent baseline.

use crate::arcgis::tasks::{Task, TaskRun};
use crate::arcgis::{Job, Status};
use crate::clock::ServerMs;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What is kept about one task between reads (stored as JSON with the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The task as last read.
    pub task: Task,
    /// Runs that failed in a row, up to the last finished one.
    pub consecutive_failures: u32,
    /// The last finished run's status.
    pub last_result: Option<String>,
    /// The id of a run still unfinished at the last read: its runs are read again.
    pub unfinished_run: Option<String>,
}

impl Seen {
    /// What templates and match keys see of this task; `due_ms` for a missed run.
    pub fn facts(&self, tz: chrono_tz::Tz, due_ms: Option<ServerMs>) -> TaskFacts {
        TaskFacts {
            task: self.task.clone(),
            consecutive_failures: self.consecutive_failures,
            result: self.last_result.clone(),
            next_due_ms: next_due(&self.task, tz),
            due_ms,
        }
    }
}

/// One task as a firing carries it to the actions (`task.*` in templates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFacts {
    /// The task as read.
    pub task: Task,
    /// Failures in a row, up to the last finished run.
    pub consecutive_failures: u32,
    /// The last finished run's status.
    pub result: Option<String>,
    /// When its next run is due.
    pub next_due_ms: Option<ServerMs>,
    /// The run that was missed (`task_missed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<ServerMs>,
}

impl TaskFacts {
    /// The task as a job-shaped record, for what actions share with job rules: the owner as
    /// recipient, batching, the Message-ID. Its id is the task's, its type `scheduled task`.
    pub fn as_job(&self) -> Job {
        let status = Status::parse(self.result.as_deref().unwrap_or(""));
        let mut job = Job::new(self.task.id.clone(), status);
        job.job_type = Some("scheduled task".into());
        job.username = Some(self.task.owner.clone()).filter(|o| !o.is_empty());
        job.item_id = self.task.item_id.clone();
        job.started_at = self.task.last_start_ms;
        job.task_id = Some(self.task.id.clone());
        job.edit(|more| more.task_title = Some(self.task.title.clone()));
        job
    }

    /// The schedule in words: `every 1h`, or the cron pattern.
    pub fn schedule(&self) -> String {
        match (self.task.interval_seconds, &self.task.cron) {
            (Some(seconds), _) => {
                format!("every {}", crate::config::format_duration(std::time::Duration::from_secs(seconds)))
            }
            (None, Some(cron)) => format!("cron {cron}"),
            (None, None) => "none".into(),
        }
    }
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
}

impl TaskEvent {
    /// The task's id.
    pub fn task_id(&self) -> &str {
        match self {
            TaskEvent::Failed { task, .. } | TaskEvent::Stopped { task } => &task.id,
        }
    }
}

/// The tasks whose runs must be read: those whose `lastStart` moved since the last read, and
/// those whose last run was still unfinished. At the baseline, the active tasks that have run,
/// to learn their failures in a row.
pub fn needs_runs<'a>(prev: Option<&BTreeMap<String, Seen>>, tasks: &'a [Task]) -> Vec<&'a Task> {
    let Some(prev) = prev else { return tasks.iter().filter(|t| t.active && t.last_start_ms.is_some()).collect() };
    let moved = |t: &Task| match prev.get(&t.id) {
        Some(seen) => seen.task.last_start_ms != t.last_start_ms || seen.unfinished_run.is_some(),
        None => t.last_start_ms.is_some(),
    };
    tasks.iter().filter(|t| moved(t)).collect()
}

/// The new state and the events of one read; `runs` holds the runs read (by task id).
pub fn diff(
    prev: Option<&BTreeMap<String, Seen>>,
    tasks: Vec<Task>,
    runs: &HashMap<String, Vec<TaskRun>>,
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
        });
        if let Some(read) = runs.get(&task.id) {
            let since = before.map(|b| b.task.last_start_ms);
            events.extend(count_runs(&mut seen, &task, read, (prev.is_some(), since.flatten())));
        }
        if let (Some(_), Some(before)) = (prev, before) {
            if stopped(&before.task, &task) {
                events.push(TaskEvent::Stopped { task: task.clone() });
            }
        }
        seen.task = task;
        next.insert(seen.task.id.clone(), seen);
    }
    (next, events)
}

/// Counts the runs finished since the last read: those created after the task's `lastStart` as
/// last read (`since`), and the one still unfinished then. At the baseline (`told` false) every
/// run is counted and none is an event.
fn count_runs(
    seen: &mut Seen,
    task: &Task,
    runs: &[TaskRun],
    (told, since): (bool, Option<ServerMs>),
) -> Vec<TaskEvent> {
    let mut events = Vec::new();
    let unfinished = seen.unfinished_run.take();
    for run in runs {
        let new = run.created_ms > since || unfinished.as_deref() == Some(run.id.as_str());
        if !new {
            continue;
        }
        match run.status.as_str() {
            "scheduled" | "executing" => seen.unfinished_run = Some(run.id.clone()),
            "skipped" => {}
            status => {
                seen.consecutive_failures = if run.failed() { seen.consecutive_failures + 1 } else { 0 };
                seen.last_result = Some(status.to_string());
                if run.failed() && told {
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
/// `grace_ms` at `now` and the task is active.
pub fn missed(task: &Task, now: ServerMs, grace_ms: i64, tz: chrono_tz::Tz) -> Option<ServerMs> {
    if !task.active {
        return None;
    }
    let due = next_due(task, tz)?;
    (now > due + grace_ms).then_some(due)
}

/// When the next run is due: one interval after the last start, or the schedule's next slot
/// after it (the cron pattern read in `tz`); from the start date before the first run.
pub fn next_due(task: &Task, tz: chrono_tz::Tz) -> Option<ServerMs> {
    let (from, first) = match task.last_start_ms {
        Some(last) => (last, false),
        None => (task.start_ms?, true),
    };
    if let Some(seconds) = task.interval_seconds {
        return Some(if first { from } else { from + seconds as i64 * 1000 });
    }
    let cron = crate::config::parse_cron(task.cron.as_deref()?).ok()?;
    let after = chrono::DateTime::from_timestamp_millis((from - i64::from(first)).0)?.with_timezone(&tz);
    cron.find_next_occurrence(&after, false).ok().map(|t| ServerMs(t.timestamp_millis()))
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
            start_ms: Some(ServerMs(0)),
            last_start_ms: last_start.map(ServerMs),
            active,
            state: Some(if active { "active" } else { "paused" }.into()),
        }
    }

    fn run(n: i64, status: &str) -> TaskRun {
        TaskRun { id: format!("r{n}"), status: status.into(), created_ms: Some(ServerMs(n * HOUR)), modified_ms: None }
    }

    fn read(
        prev: Option<&BTreeMap<String, Seen>>,
        t: Task,
        runs: Vec<TaskRun>,
    ) -> (BTreeMap<String, Seen>, Vec<TaskEvent>) {
        diff(prev, vec![t], &HashMap::from([("t".to_string(), runs)]))
    }

    fn kinds(events: &[TaskEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                TaskEvent::Failed { consecutive_failures, .. } => format!("failed {consecutive_failures}"),
                TaskEvent::Stopped { .. } => "stopped".into(),
            })
            .collect()
    }

    #[test]
    fn failures_count_in_a_row_the_baseline_is_silent_and_a_stop_is_told_once() {
        let (state, events) = read(None, task(Some(HOUR), true), vec![run(0, "failed"), run(1, "failed")]);
        assert!(events.is_empty(), "baseline: {events:?}");
        assert_eq!(state["t"].consecutive_failures, 2);
        let third = vec![run(0, "failed"), run(1, "failed"), run(2, "failed")];
        assert_eq!(needs_runs(Some(&state), &[task(Some(2 * HOUR), true)]).len(), 1, "lastStart moved");
        let (state, events) = read(Some(&state), task(Some(2 * HOUR), true), third.clone());
        assert_eq!(kinds(&events), ["failed 3"]);
        let (state, events) = read(Some(&state), task(Some(2 * HOUR), false), vec![]);
        assert_eq!(kinds(&events), ["stopped"]);
        let (_, events) = read(Some(&state), task(Some(2 * HOUR), false), vec![]);
        assert!(events.is_empty(), "told once: {events:?}");
    }

    #[test]
    fn a_run_still_executing_is_read_again_and_a_success_resets_the_count() {
        let (state, _) = read(None, task(Some(0), true), vec![run(0, "failed")]);
        let (state, events) = read(Some(&state), task(Some(HOUR), true), vec![run(0, "failed"), run(1, "executing")]);
        assert!(events.is_empty());
        assert_eq!(needs_runs(Some(&state), &[task(Some(HOUR), true)]).len(), 1, "its run is unfinished");
        let (state, events) = read(Some(&state), task(Some(HOUR), true), vec![run(0, "failed"), run(1, "failed")]);
        assert_eq!(kinds(&events), ["failed 2"]);
        let (state, _) = read(Some(&state), task(Some(2 * HOUR), true), vec![run(1, "failed"), run(2, "succeeded")]);
        assert_eq!((state["t"].consecutive_failures, state["t"].last_result.as_deref()), (0, Some("succeeded")));
    }

    #[test]
    fn a_run_is_missed_past_the_grace_after_its_due_time_and_the_cron_reads_in_the_zone() {
        let utc = chrono_tz::UTC;
        let hourly = task(Some(HOUR), true);
        assert_eq!(next_due(&hourly, utc), Some(ServerMs(2 * HOUR)));
        assert_eq!(missed(&hourly, ServerMs(2 * HOUR + 10 * MIN), 15 * MIN, utc), None, "within the grace");
        assert_eq!(missed(&hourly, ServerMs(2 * HOUR + 16 * MIN), 15 * MIN, utc), Some(ServerMs(2 * HOUR)));
        assert_eq!(
            missed(&task(Some(HOUR), false), ServerMs(10 * HOUR), 15 * MIN, utc),
            None,
            "a stopped task misses nothing"
        );
        let first = Task { last_start_ms: None, start_ms: Some(ServerMs(5 * HOUR)), ..hourly.clone() };
        assert_eq!(next_due(&first, utc), Some(ServerMs(5 * HOUR)), "before its first run: its start date");
        let cron = Task { cron: Some("0 2 * * *".into()), interval_seconds: None, ..task(Some(2 * HOUR), true) };
        assert_eq!(next_due(&cron, utc), Some(ServerMs(26 * HOUR)), "the next day at 02:00 UTC");
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().expect("zone");
        assert_eq!(
            next_due(&cron, berlin),
            Some(ServerMs(25 * HOUR)),
            "02:00 in Berlin (UTC+1 in January) is 01:00 UTC"
        );
    }

    #[test]
    fn the_baseline_reads_the_runs_of_active_tasks_that_have_run() {
        let never = Task { id: "n".into(), last_start_ms: None, ..task(None, true) };
        let stopped = Task { id: "s".into(), ..task(Some(HOUR), false) };
        let tasks = [task(Some(HOUR), true), never, stopped];
        let ids: Vec<&str> = needs_runs(None, &tasks).iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["t"]);
        let facts =
            Seen { task: task(Some(HOUR), true), consecutive_failures: 2, last_result: None, unfinished_run: None }
                .facts(chrono_tz::UTC, None);
        assert_eq!((facts.schedule(), facts.next_due_ms), ("every 1h".to_string(), Some(ServerMs(2 * HOUR))));
    }
}
