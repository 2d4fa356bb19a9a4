//! Scheduled notebook tasks as Portal describes them (arcgis-api.md §1.3, §10): the org's tasks
//! from `portals/<id>/allScheduledTasks`, and a task's runs from
//! `community/users/<owner>/tasks/<id>/runs`. Every field is optional on the wire.

use crate::clock::ServerMs;
use serde::{Deserialize, Serialize};

/// One scheduled task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// `id`.
    pub id: String,
    /// `title`.
    pub title: String,
    /// `userId`: its owner.
    pub owner: String,
    /// `itemId`: the notebook it runs.
    pub item_id: Option<String>,
    /// `cronSchedule` as five crontab fields (minute hour day-of-month month day-of-week).
    pub cron: Option<String>,
    /// `runIntervalSeconds`.
    pub interval_seconds: Option<u64>,
    /// `startDate`.
    pub start_ms: Option<ServerMs>,
    /// `lastStart` (`None` before its first run).
    pub last_start_ms: Option<ServerMs>,
    /// `active`.
    pub active: bool,
    /// `taskState`, e.g. `active`, `paused`.
    pub state: Option<String>,
}

/// One run of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRun {
    /// `runId`.
    pub id: String,
    /// `scheduled`, `executing`, `succeeded`, `skipped`, `failed`, `submitfailed`.
    pub status: String,
    /// `created`.
    pub created_ms: Option<ServerMs>,
    /// `modified`.
    pub modified_ms: Option<ServerMs>,
}

impl TaskRun {
    /// A run that ended in failure (`failed` or `submitfailed`).
    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "submitfailed")
    }
}

/// A page of `allScheduledTasks`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskPage {
    #[serde(default)]
    pub tasks: Option<Vec<WireTask>>,
    #[serde(default)]
    pub next_start: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireTask {
    id: Option<String>,
    title: Option<String>,
    user_id: Option<String>,
    item_id: Option<String>,
    cron_schedule: Option<WireCron>,
    run_interval_seconds: Option<i64>,
    start_date: Option<i64>,
    last_start: Option<i64>,
    active: Option<bool>,
    task_state: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireCron {
    minute: Option<serde_json::Value>,
    hour: Option<serde_json::Value>,
    day_of_month: Option<serde_json::Value>,
    month: Option<serde_json::Value>,
    day_of_week: Option<serde_json::Value>,
}

impl WireCron {
    /// The five crontab fields; Portal writes `?` (Quartz's "no specific value", as its
    /// `createTask` examples send `dayOfWeek=?`) where crontab writes `*`.
    fn crontab(&self) -> String {
        let field = |v: &Option<serde_json::Value>| match v {
            Some(serde_json::Value::String(s)) if s.trim() == "?" => "*".to_string(),
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => "*".to_string(),
        };
        [&self.minute, &self.hour, &self.day_of_month, &self.month, &self.day_of_week].map(field).join(" ")
    }
}

impl WireTask {
    /// The task, when it has an id.
    pub fn task(self) -> Option<Task> {
        Some(Task {
            id: self.id.filter(|i| !i.is_empty())?,
            title: self.title.unwrap_or_default(),
            owner: self.user_id.unwrap_or_default(),
            item_id: self.item_id.filter(|i| !i.is_empty()),
            cron: self.cron_schedule.map(|c| c.crontab()),
            interval_seconds: self.run_interval_seconds.filter(|s| *s > 0).map(|s| s as u64),
            start_ms: self.start_date.filter(|t| *t > 0).map(ServerMs),
            last_start_ms: self.last_start.filter(|t| *t > 0).map(ServerMs),
            active: self.active.unwrap_or(true),
            state: self.task_state,
        })
    }
}

impl crate::arcgis::wire::Payload for TaskPage {
    const EXPECTED: &'static str = "\"tasks\"";
    fn is_payload(&self) -> bool {
        self.tasks.is_some()
    }
}

impl crate::arcgis::wire::Payload for RunsPage {
    const EXPECTED: &'static str = "\"runs\"";
    fn is_payload(&self) -> bool {
        self.runs.is_some()
    }
}

/// `runs` of a task.
#[derive(Debug, Deserialize)]
pub(crate) struct RunsPage {
    #[serde(default)]
    pub runs: Option<Vec<WireRun>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireRun {
    run_id: Option<String>,
    status: Option<String>,
    created: Option<i64>,
    modified: Option<i64>,
}

impl WireRun {
    /// The run, when it has an id.
    pub fn run(self) -> Option<TaskRun> {
        Some(TaskRun {
            id: self.run_id.filter(|i| !i.is_empty())?,
            status: self.status.unwrap_or_default().to_ascii_lowercase(),
            created_ms: self.created.map(ServerMs),
            modified_ms: self.modified.map(ServerMs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portal_cron_schedule_reads_as_crontab_fields() {
        let wire: WireTask = serde_json::from_value(serde_json::json!({
            "id": "t1",
            "cronSchedule": { "minute": 0, "hour": "2", "dayOfMonth": "*", "month": "*", "dayOfWeek": "?" },
        }))
        .expect("a task");
        let task = wire.task().expect("with an id");
        assert_eq!(task.cron.as_deref(), Some("0 2 * * *"));
        assert!(crate::config::parse_cron(task.cron.as_deref().unwrap()).is_ok());
        assert!(task.active, "active unless it says otherwise");
    }
}
