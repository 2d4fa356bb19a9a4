//! `explain` for a scheduled task, found by id or title on a target: every task rule that applies
//! to the target, and why it does or does not fire for the task, with what the watcher recorded.

use crate::arcgis::model::rfc3339;
use crate::engine::Target;
use crate::rules::tasks::task_key;
use crate::rules::{Rule, RuleSet, Trigger};
use crate::task_diff::{next_due, Seen};
use crate::text::sanitize;
use std::fmt::Write;

/// The explanation for every task of `target` whose id or title is `id` (empty when none is);
/// an error when the tasks cannot be read.
pub async fn explain(rules: &RuleSet, target: &Target, id: &str) -> Result<String, crate::arcgis::Error> {
    let Some(config) = &target.config.tasks else { return Ok(String::new()) };
    let (tasks, recorded) = match target.core().tasks.as_ref() {
        Some(stored) => (stored.values().cloned().collect(), true),
        None => {
            let read = target.source.scheduled_tasks().await?;
            let seen = |task| Seen { task, consecutive_failures: 0, last_result: None, unfinished_run: None };
            (read.into_iter().map(seen).collect::<Vec<Seen>>(), false)
        }
    };
    let mut out = String::new();
    let now = target.source.server_now();
    for seen in tasks.iter().filter(|s| s.task.id == id || s.task.title.eq_ignore_ascii_case(id)) {
        let task = &seen.task;
        let due = next_due(task, config.zone()).and_then(rfc3339).unwrap_or_else(|| "not known".into());
        let failures = match recorded {
            true => format!(
                "{} failure(s) in a row, last run {}",
                seen.consecutive_failures,
                seen.last_result.as_deref().unwrap_or("not known")
            ),
            false => "not watched yet, so its runs are not known".into(),
        };
        let _ = writeln!(
            out,
            "task {} \"{}\" of {} on {}: {}, next run due {due}; {failures}",
            sanitize(&task.id),
            sanitize(&task.title),
            sanitize(&task.owner),
            target.config.name,
            if task.active {
                "active".to_string()
            } else {
                format!("inactive ({})", task.state.as_deref().unwrap_or("?"))
            },
        );
        for rule in rules.rules.iter().filter(|r| r.trigger.is_task()) {
            let _ = writeln!(
                out,
                "  rule {} (on {}): {}",
                rule.name,
                rule.trigger.as_str(),
                verdict(rule, target, seen, now)
            );
        }
    }
    Ok(out)
}

/// Whether `rule` fires for the task, and why not.
fn verdict(rule: &Rule, target: &Target, seen: &Seen, now: crate::clock::ServerMs) -> String {
    if !rule.applies_to(&target.config.name) {
        return "does not apply to this target".into();
    }
    let zone = target.config.tasks.as_ref().map_or(chrono_tz::UTC, |t| t.zone());
    let facts = seen.facts(zone, None);
    if let Some(failing) = rule.task_conditions.iter().find(|c| !c.holds(&facts)) {
        return format!("no: {failing} does not hold for this task");
    }
    let fired: Vec<String> = target
        .core()
        .ledger
        .get(&rule.ledger_name(), &task_key(&seen.task.id))
        .map(|e| e.triggers.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let told = match fired.is_empty() {
        true => String::new(),
        false => format!("; already fired for {}", fired.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")),
    };
    let task = &seen.task;
    let state = match &rule.trigger {
        Trigger::TaskFailed => "its conditions hold; it fires when a run of the task ends failed".to_string(),
        Trigger::TaskStopped if task.active => {
            "its conditions hold; it fires if the task leaves the active state".into()
        }
        Trigger::TaskStopped => "its conditions hold; the task is not active".into(),
        Trigger::TaskMissed { .. } if !task.active => "no: the task is not active, so no run is due".into(),
        Trigger::TaskMissed { grace } => match next_due(task, zone) {
            Some(due) => {
                let late = due + grace.as_millis() as i64;
                let when = rfc3339(late).unwrap_or_default();
                match now > late {
                    true => format!(
                        "YES: the run due at {} has not started within the grace ({when})",
                        rfc3339(due).unwrap_or_default()
                    ),
                    false => format!(
                        "not yet: it fires if the run due at {} has not started by {when}",
                        rfc3339(due).unwrap_or_default()
                    ),
                }
            }
            None => "no: the task's schedule gives no next run".into(),
        },
        _ => return "not a task rule".into(),
    };
    format!("{state}{told}")
}
