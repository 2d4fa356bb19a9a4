//! The console's sections beside the targets and jobs: the scheduled tasks as last read, and the
//! loaded rules with what became of their firings in the last 24 hours.

use crate::arcgis::model::rfc3339;
use crate::clock::LocalMs;
use crate::plan::{ActionReport, Outcome};
use crate::text::sanitize;
use serde::Serialize;
use std::collections::VecDeque;

/// One scheduled task as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskView {
    /// The target.
    pub target: String,
    /// The task's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its owner.
    pub owner: String,
    /// `active`, `paused`, … as Portal says (`inactive` when it says nothing and the task is off).
    pub state: String,
    /// When its last run started (RFC 3339).
    pub last_run: Option<String>,
    /// That run's outcome, once finished.
    pub last_result: Option<String>,
    /// Runs that failed in a row.
    pub failures_in_a_row: u32,
    /// When its next run is due (RFC 3339).
    pub next_run: Option<String>,
    /// Why the last read of the target's tasks failed, while it does.
    pub last_error: Option<String>,
    /// The notebook item's page in Portal.
    pub item_url: Option<String>,
}

impl TaskView {
    /// The view of `seen` on `target`, its next run in `tz`.
    pub fn of(
        target: &str,
        seen: &crate::task_diff::Seen,
        tz: chrono_tz::Tz,
        item_url: Option<String>,
        error: Option<&str>,
    ) -> TaskView {
        let clean = |text: &str| sanitize(text).into_owned();
        let task = &seen.task;
        let state = task.state.clone().unwrap_or_else(|| if task.active { "active" } else { "inactive" }.into());
        TaskView {
            target: target.to_string(),
            id: clean(&task.id),
            title: clean(&task.title),
            owner: clean(&task.owner),
            state: clean(&state.to_ascii_lowercase()),
            last_run: task.last_start_ms.and_then(|at| rfc3339(at.0)),
            last_result: seen.last_result.as_deref().map(clean),
            failures_in_a_row: seen.consecutive_failures,
            next_run: crate::task_diff::next_due(task, tz).and_then(|at| rfc3339(at.0)),
            last_error: error.map(clean),
            item_url,
        }
    }
}

/// One open notebook as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotebookView {
    /// The target.
    pub target: String,
    /// The notebook's id.
    pub id: String,
    /// Its item's title, when known.
    pub title: Option<String>,
    /// Its owner.
    pub owner: String,
    /// Its runtime.
    pub runtime: Option<String>,
    /// How long it had been idle at the read (seconds), when its activity time is known.
    pub idle_seconds: Option<u64>,
    /// The same, for people.
    pub idle: String,
    /// Its last activity (RFC 3339).
    pub last_activity: Option<String>,
    /// Why the last read failed, while it does.
    pub last_error: Option<String>,
}

impl NotebookView {
    /// The view of `notebook` of `target`, as of the read at `at`.
    pub fn of(
        target: &str,
        notebook: &crate::arcgis::notebooks::OpenNotebook,
        at: crate::clock::ServerMs,
    ) -> NotebookView {
        let clean = |text: &str| sanitize(text).into_owned();
        let idle = notebook.idle(at);
        NotebookView {
            target: target.to_string(),
            id: clean(&notebook.id),
            title: notebook.title.as_deref().map(clean),
            owner: clean(&notebook.username),
            runtime: notebook.runtime.as_deref().map(clean),
            idle_seconds: idle.map(|d| d.as_secs()),
            idle: idle.map(crate::config::format_duration).unwrap_or_default(),
            last_activity: notebook.last_activity.and_then(|t| rfc3339(t.0)),
            last_error: None,
        }
    }
}

/// What is kept per rule: each firing of the last 24 hours, at most this many.
const FIRINGS_KEPT: usize = 10_000;
const DAY_MS: i64 = 86_400_000;

/// What became of a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Became {
    Fired,
    Suppressed,
    Silenced,
}

/// One loaded rule as `/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    /// Its name.
    pub name: String,
    /// `poll`, `status_changed`, `schedule`, `task_failed`, ….
    pub trigger: String,
    /// `live`, or `shadow` (planned, never executed).
    pub mode: &'static str,
    /// The targets it applies to; empty for every target.
    pub targets: Vec<String>,
    /// Its actions, in order.
    pub actions: Vec<&'static str>,
    /// Firings in the last 24 hours that ran (or, for shadow rules and dry runs, were planned).
    pub fired_24h: usize,
    /// The last of them (RFC 3339).
    pub last_fired: Option<String>,
    /// Firings held by a limit in the last 24 hours.
    pub suppressed_24h: usize,
    /// Firings a silence covered in the last 24 hours.
    pub silenced_24h: usize,
    #[serde(skip)]
    firings: VecDeque<(LocalMs, Became)>,
    /// The last firing counted: its target, jobs and poll, so that a firing's several actions
    /// count once.
    #[serde(skip)]
    last_key: Option<(String, Vec<String>, u64)>,
}

impl RuleView {
    /// A rule as loaded, with no firing yet.
    pub fn of(rule: &crate::rules::Rule) -> RuleView {
        RuleView {
            name: rule.name.clone(),
            trigger: rule.trigger.kind().to_string(),
            mode: if rule.shadow { "shadow" } else { "live" },
            targets: rule.targets.clone().unwrap_or_default(),
            actions: rule.actions.iter().map(|a| a.kind()).collect(),
            fired_24h: 0,
            last_fired: None,
            suppressed_24h: 0,
            silenced_24h: 0,
            firings: VecDeque::new(),
            last_key: None,
        }
    }

    /// `fresh`'s definition (after a reload) with this view's firings.
    pub fn with_definition_of(&self, fresh: RuleView) -> RuleView {
        RuleView { firings: self.firings.clone(), last_key: self.last_key.clone(), ..fresh }
    }

    /// Whether it applies to `target`.
    pub fn applies_to(&self, target: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t == target)
    }

    /// Counts `report`, an action of this rule, at `now`; `poll` tells the target's polls apart.
    pub fn counted(&mut self, report: &ActionReport, poll: u64, now: LocalMs) {
        let became = match report.outcome {
            Outcome::Suppressed => Became::Suppressed,
            Outcome::Silenced => Became::Silenced,
            Outcome::Done | Outcome::Planned | Outcome::Failed | Outcome::Skipped => Became::Fired,
            Outcome::Pending | Outcome::CancelIgnored => return,
        };
        let key = (report.target.clone(), report.job_ids.clone(), poll);
        if self.last_key.as_ref() == Some(&key) && self.firings.back().is_some_and(|(_, b)| *b == became) {
            return;
        }
        self.last_key = Some(key);
        if self.firings.len() == FIRINGS_KEPT {
            self.firings.pop_front();
        }
        self.firings.push_back((now, became));
    }

    /// This view with its counts as of `now`, the firings older than 24 hours forgotten.
    pub fn as_of(&mut self, now: LocalMs) -> RuleView {
        while self.firings.front().is_some_and(|(at, _)| now.since(*at) > DAY_MS) {
            self.firings.pop_front();
        }
        let count = |became| self.firings.iter().filter(|(_, b)| *b == became).count();
        let last = self.firings.iter().rev().find(|(_, b)| *b == Became::Fired);
        RuleView {
            fired_24h: count(Became::Fired),
            suppressed_24h: count(Became::Suppressed),
            silenced_24h: count(Became::Silenced),
            last_fired: last.and_then(|(at, _)| rfc3339(at.0)),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(job: &str, outcome: Outcome) -> ActionReport {
        ActionReport {
            target: "prod".into(),
            rule: "runaway".into(),
            action: "cancel".into(),
            job_ids: vec![job.into()],
            outcome,
            detail: String::new(),
            shadow: false,
        }
    }

    #[test]
    fn a_firings_actions_count_once_and_a_day_later_they_are_forgotten() {
        let text =
            "rules:\n  - { name: runaway, match: { runtime_over: 1h }, actions: [{ type: cancel }, { type: log }] }\n";
        let rule = crate::rules::RuleSet::parse(std::path::Path::new("r.yaml"), text, &[]).unwrap();
        let mut view = RuleView::of(&rule.rules[0]);
        assert_eq!((view.trigger.as_str(), view.mode, view.actions.clone()), ("poll", "live", vec!["cancel", "log"]));
        let at = LocalMs;
        view.counted(&report("j1", Outcome::Done), 1, at(1_000));
        view.counted(&report("j1", Outcome::Done), 1, at(1_001));
        view.counted(&report("j2", Outcome::Suppressed), 1, at(1_002));
        view.counted(&report("j3", Outcome::Silenced), 1, at(1_003));
        view.counted(&report("j3", Outcome::Pending), 1, at(1_004));
        view.counted(&report("j1", Outcome::Done), 2, at(5_000));
        let now = view.as_of(at(6_000));
        assert_eq!((now.fired_24h, now.suppressed_24h, now.silenced_24h), (2, 1, 1));
        assert_eq!(now.last_fired.as_deref(), Some("1970-01-01T00:00:05Z"));
        let later = view.as_of(at(1_003 + DAY_MS));
        assert_eq!((later.fired_24h, later.suppressed_24h, later.silenced_24h), (1, 0, 1), "a day later");
    }
}
