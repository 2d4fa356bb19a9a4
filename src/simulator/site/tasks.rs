//! Scheduled notebook tasks of the simulated Portal (arcgis-api.md §1.3 and §10): each task's
//! runs come due by its interval or cron schedule from its start; a run executes for a while and
//! ends as the plan says; five failures in a row stop the task (Portal's `system/limits`), and a
//! task may silently stop running while it stays active. Served as `allScheduledTasks` (paged
//! until `nextStart` is -1) and `community/users/<owner>/tasks/<id>/runs`.

use super::{Refusal, Site};
use crate::config::ConfigDuration;
use crate::simulator::scenario::Offset;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// `succeeded`.
    Succeeded,
    /// `failed`.
    Failed,
    /// `submitfailed`: the job could not be submitted.
    Submitfailed,
}

impl RunEnd {
    fn as_str(self) -> &'static str {
        match self {
            RunEnd::Succeeded => "succeeded",
            RunEnd::Failed => "failed",
            RunEnd::Submitfailed => "submitfailed",
        }
    }
}

/// One scheduled task of the scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPlan {
    /// The task's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its owner (`userId`).
    pub owner: String,
    /// The notebook item it runs.
    #[serde(default)]
    pub item_id: Option<String>,
    /// `runIntervalSeconds`: a run every this long from `start`.
    pub every: Option<ConfigDuration>,
    /// `cronSchedule`, five fields (minute hour day-of-month month day-of-week), UTC.
    pub cron: Option<String>,
    /// `startDate`, from the simulator's start (signed).
    #[serde(default)]
    pub start: Offset,
    /// How the runs end, in turn; the last repeats (default: every run succeeds).
    #[serde(default)]
    pub runs: Vec<RunEnd>,
    /// How long a run executes.
    #[serde(default = "a_minute")]
    pub run_takes: ConfigDuration,
    /// After this many runs no run starts any more, though the task stays active.
    pub stops_running_after: Option<u32>,
    /// Failures in a row that stop the task (Portal's default is 5).
    #[serde(default = "five")]
    pub max_failures: u32,
}

fn a_minute() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(60))
}

fn five() -> u32 {
    5
}

/// One run as it stands at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// `runId`.
    pub id: String,
    /// When it started (the site's clock).
    pub created_ms: i64,
    /// `executing`, `succeeded`, `failed` or `submitfailed`.
    pub status: &'static str,
}

/// A task as it stands at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// Its runs so far, oldest first.
    pub runs: Vec<RunState>,
    /// False once `max_failures` runs in a row failed.
    pub active: bool,
}

impl TaskPlan {
    /// The instants at which runs come due, from `start_ms` up to `now_ms`.
    fn due(&self, start_ms: i64, now_ms: i64) -> Vec<i64> {
        let mut due = Vec::new();
        if let Some(every) = self.every.filter(|e| !e.0.is_zero()) {
            let step = every.0.as_millis() as i64;
            let mut at = start_ms;
            while at <= now_ms && due.len() < 100_000 {
                due.push(at);
                at += step;
            }
        } else if let Some(cron) = self.cron.as_deref().and_then(|c| crate::config::parse_cron(c).ok()) {
            let mut from = chrono::DateTime::from_timestamp_millis(start_ms - 1).unwrap_or_default();
            while let Ok(next) = cron.find_next_occurrence(&from, false) {
                if next.timestamp_millis() > now_ms || due.len() >= 100_000 {
                    break;
                }
                due.push(next.timestamp_millis());
                from = next;
            }
        }
        due
    }

    /// The task at `now_ms`, its start at `start_ms` (both the site's clock).
    pub fn state(&self, start_ms: i64, now_ms: i64) -> TaskState {
        let (mut runs, mut failures_in_a_row) = (Vec::new(), 0);
        let limit = self.stops_running_after.map_or(usize::MAX, |n| n as usize);
        for (index, at) in self.due(start_ms, now_ms).into_iter().enumerate().take(limit) {
            if failures_in_a_row >= self.max_failures {
                return TaskState { runs, active: false };
            }
            let end = self.runs.get(index).or(self.runs.last()).copied().unwrap_or(RunEnd::Succeeded);
            let finished = at + self.run_takes.0.as_millis() as i64 <= now_ms;
            let status = if finished { end.as_str() } else { "executing" };
            failures_in_a_row = match (finished, end) {
                (true, RunEnd::Failed | RunEnd::Submitfailed) => failures_in_a_row + 1,
                (true, RunEnd::Succeeded) => 0,
                (false, _) => failures_in_a_row,
            };
            runs.push(RunState { id: format!("{}-run{index}", self.id), created_ms: at, status });
        }
        TaskState { active: failures_in_a_row < self.max_failures, runs }
    }
}

impl Site {
    fn task_plan(&self, id: &str) -> Option<&TaskPlan> {
        self.tasks.iter().find(|t| t.id == id)
    }

    fn task_json(&self, plan: &TaskPlan, now_ms: i64) -> Value {
        let start_ms = self.started_ms + plan.start.0;
        let state = plan.state(start_ms, now_ms);
        let cron = plan.cron.as_deref().map(|c| {
            let f: Vec<&str> = c.split_whitespace().collect();
            let field = |i: usize| f.get(i).copied().unwrap_or("*");
            json!({ "minute": field(0), "hour": field(1), "dayOfMonth": field(2), "month": field(3), "dayOfWeek": field(4) })
        });
        json!({
            "id": plan.id, "itemId": plan.item_id.clone().unwrap_or_default(), "type": "ExecuteNotebook",
            "title": plan.title, "userId": plan.owner, "cronSchedule": cron,
            "runIntervalSeconds": plan.every.map(|e| e.0.as_secs()),
            "lastStart": state.runs.last().map_or(-1, |r| r.created_ms), "maxOccurrences": -1,
            "created": start_ms, "updated": start_ms, "startDate": start_ms,
            "active": state.active, "taskState": if state.active { "active" } else { "paused" },
        })
    }

    /// `portals/<id>/allScheduledTasks?start=&num=`: a page of the org's tasks (`start` from 1).
    pub fn all_tasks(&self, portal_id: &str, (start, num): (usize, usize), now_ms: i64) -> Result<Value, Refusal> {
        if portal_id != super::accounts::PORTAL_ID {
            return Err((400, format!("Invalid portal id '{portal_id}'.")));
        }
        let (start, num) = (start.max(1), num.clamp(1, 100));
        let page: Vec<Value> =
            self.tasks.iter().skip(start - 1).take(num).map(|plan| self.task_json(plan, now_ms)).collect();
        let next = start + page.len();
        let next_start = if next > self.tasks.len() { -1 } else { next as i64 };
        Ok(json!({ "total": self.tasks.len(), "start": start, "num": num, "nextStart": next_start, "tasks": page }))
    }

    /// `community/users/<owner>/tasks/<id>/runs`, newest first.
    pub fn task_runs(&mut self, owner: &str, id: &str, now_ms: i64) -> Result<Value, Refusal> {
        *self.stats.task_run_reads.entry(id.to_string()).or_default() += 1;
        let plan = self.task_plan(id).filter(|p| p.owner == owner).ok_or((404, format!("Task '{id}' not found.")))?;
        let state = plan.state(self.started_ms + plan.start.0, now_ms);
        let takes = plan.run_takes.0.as_millis() as i64;
        let runs: Vec<Value> = state
            .runs
            .iter()
            .rev()
            .map(|r| {
                let modified = if r.status == "executing" { r.created_ms } else { r.created_ms + takes };
                json!({ "runId": r.id, "status": r.status, "result": { "jobStatus": r.status },
                        "created": r.created_ms, "modified": modified, "task": { "id": plan.id } })
            })
            .collect();
        Ok(json!({ "runs": runs }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn plan(yaml: &str) -> TaskPlan {
        crate::config::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn five_failures_in_a_row_stop_the_task() {
        let p = plan("{ id: t, title: T, owner: joe, every: 1h, runs: [succeeded, failed], run_takes: 10m }");
        let statuses = |now: i64| p.state(0, now).runs.iter().map(|r| r.status).collect::<Vec<_>>();
        assert_eq!(statuses(65 * MIN), ["succeeded", "executing"]);
        let at_five = p.state(0, 5 * 60 * MIN + 10 * MIN);
        assert_eq!(at_five.runs.len(), 6);
        assert!(!at_five.active, "runs 2 to 6 failed: stopped");
        let later = p.state(0, 20 * 60 * MIN);
        assert_eq!((later.runs.len(), later.active), (6, false), "no run after the stop");
    }

    #[test]
    fn a_task_may_silently_stop_running_and_cron_schedules_come_due() {
        let silent = plan("{ id: s, title: S, owner: joe, every: 1h, stops_running_after: 2 }");
        let state = silent.state(0, 10 * 60 * MIN);
        assert_eq!((state.runs.len(), state.active), (2, true), "still active, no third run");
        let nightly = plan("{ id: n, title: N, owner: joe, cron: '0 2 * * *' }");
        let day = 24 * 60 * MIN;
        let runs = nightly.state(0, 3 * day).runs;
        let starts: Vec<i64> = runs.iter().map(|r| r.created_ms).collect();
        assert_eq!(starts, [2 * 60 * MIN, day + 2 * 60 * MIN, 2 * day + 2 * 60 * MIN]);
    }
}
