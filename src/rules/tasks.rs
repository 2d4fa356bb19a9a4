//! Task rules (pure; no I/O): the match keys of `task_failed`, `task_stopped` and `task_missed`
//! rules (`title`, `owner`, `item_id`, `consecutive_failures`), and the evaluation of one read of a
//! target's scheduled tasks into firings.

use super::load::{check_keys, Located};
use super::matcher::glob_matches;
use super::{Rule, RuleError, RuleSet, Trigger};
use crate::clock::ServerMs;
use crate::diff::{EventInfo, EventKind};
use crate::ledger::{Cause, LedgerIndex};
use crate::task_diff::{missed, Seen, TaskEvent, TaskFacts};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The match keys of task rules.
pub const TASK_MATCH_KEYS: &[&str] = &["title", "owner", "item_id", "consecutive_failures"];

/// `consecutive_failures: 3` (exactly, so that a warning goes out once) or `{ at_least: 3 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Exactly this many.
    Exactly(u32),
    /// This many or more.
    AtLeast(u32),
}

/// The test of one task match key.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskTest {
    /// `title`: `*` globs, case-insensitive.
    Title(Vec<String>),
    /// `owner`: `*` globs, case-insensitive.
    Owner(Vec<String>),
    /// `item_id`: exact.
    ItemId(Vec<String>),
    /// `consecutive_failures` (`task_failed` rules).
    ConsecutiveFailures(Count),
}

/// One task match key of a rule, maybe negated (`{not: …}`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCondition {
    /// The key as written.
    pub key: &'static str,
    /// `{not: …}`.
    pub negated: bool,
    /// The test.
    pub test: TaskTest,
}

impl TaskCondition {
    /// Whether the condition holds for the task.
    pub fn holds(&self, facts: &TaskFacts) -> bool {
        let any_glob = |patterns: &[String], text: &str| patterns.iter().any(|p| glob_matches(p, text));
        let task = &facts.task;
        let holds = match &self.test {
            TaskTest::Title(patterns) => any_glob(patterns, &task.title),
            TaskTest::Owner(patterns) => any_glob(patterns, &task.owner),
            TaskTest::ItemId(ids) => task.item_id.as_ref().is_some_and(|item| ids.contains(item)),
            TaskTest::ConsecutiveFailures(Count::Exactly(n)) => facts.consecutive_failures == *n,
            TaskTest::ConsecutiveFailures(Count::AtLeast(n)) => facts.consecutive_failures >= *n,
        };
        holds != self.negated
    }
}

impl std::fmt::Display for TaskCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = match &self.test {
            TaskTest::Title(v) | TaskTest::Owner(v) | TaskTest::ItemId(v) => v.join(" | "),
            TaskTest::ConsecutiveFailures(Count::Exactly(n)) => n.to_string(),
            TaskTest::ConsecutiveFailures(Count::AtLeast(n)) => format!("at least {n}"),
        };
        write!(f, "{}: {}{value}", self.key, if self.negated { "not " } else { "" })
    }
}

/// The `match` of a task rule, checked.
pub(super) fn conditions(
    r: &Located,
    map: &Map<String, Value>,
    trigger: &Trigger,
    errors: &mut Vec<RuleError>,
) -> Vec<TaskCondition> {
    check_keys(r, map, TASK_MATCH_KEYS, "the `match` of a task rule", errors);
    let mut out = Vec::new();
    for &key in TASK_MATCH_KEYS {
        let Some(value) = map.get(key) else { continue };
        let (negated, inner) = super::load::negation(value);
        let test = match key {
            "consecutive_failures" if !matches!(trigger, Trigger::TaskFailed) => {
                errors.push(r.error(Some(key), "`consecutive_failures` only applies to `on: task_failed` rules"));
                None
            }
            "consecutive_failures" => count(inner).map(TaskTest::ConsecutiveFailures).or_else(|| {
                errors.push(
                    r.error(Some(key), "`consecutive_failures` takes a whole number from 1, or `{ at_least: N }`"),
                );
                None
            }),
            _ => super::load::strings(r, key, inner, errors).map(|list| match key {
                "title" => TaskTest::Title(list),
                "owner" => TaskTest::Owner(list),
                _ => TaskTest::ItemId(list),
            }),
        };
        out.extend(test.map(|test| TaskCondition { key, negated, test }));
    }
    out
}

fn count(value: &Value) -> Option<Count> {
    let whole = |v: &Value| v.as_u64().filter(|n| (1..=1_000).contains(n)).map(|n| n as u32);
    match value {
        Value::Object(m) if m.len() == 1 => m.get("at_least").and_then(whole).map(Count::AtLeast),
        other => whole(other).map(Count::Exactly),
    }
}

/// What stands before a task's id in the ledger's job ids.
const TASK_PREFIX: &str = "task:";

/// The ledger's job id of a task.
pub fn task_key(task_id: &str) -> String {
    format!("{TASK_PREFIX}{task_id}")
}

/// The task's id in a ledger's job id, when it is a task's.
pub fn task_of(job_id: &str) -> Option<&str> {
    job_id.strip_prefix(TASK_PREFIX)
}

/// One task rule matching one task once.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFiring {
    /// Index of the rule in the rule set.
    pub rule: usize,
    /// The task as matched.
    pub facts: TaskFacts,
    /// What started it (`task_failed`, `task_stopped`, `task_missed`).
    pub event: EventInfo,
    /// The trigger part of the firing key: `failed:<run>`, `stopped@<last start>`, `missed@<due>`.
    pub trigger: Cause,
    /// Recorded but not acted on: a run already overdue at the baseline read.
    pub quiet: bool,
}

/// Everything one evaluation of a target's tasks reads.
#[derive(Debug, Clone, Copy)]
pub struct TaskInput<'a> {
    /// The target's name.
    pub target: &'a str,
    /// Now on the server's clock.
    pub now: ServerMs,
    /// The tasks after this read.
    pub tasks: &'a BTreeMap<String, Seen>,
    /// The events of this read (none at the baseline).
    pub events: &'a [TaskEvent],
    /// What has fired before.
    pub ledger: &'a LedgerIndex,
    /// The first read of the target's tasks.
    pub baseline: bool,
    /// The zone of the tasks' cron schedules.
    pub zone: chrono_tz::Tz,
}

impl RuleSet {
    /// Whether some rule of `target` is a task rule.
    pub fn watches_tasks(&self, target: &str) -> bool {
        self.rules.iter().any(|r| r.applies_to(target) && r.trigger.is_task())
    }

    /// The firings of the task rules that apply to the target, in rule then task order.
    pub fn evaluate_tasks(&self, input: &TaskInput) -> Vec<TaskFiring> {
        let mut out = Vec::new();
        for (index, rule) in self.rules.iter().enumerate().filter(|(_, r)| r.applies_to(input.target)) {
            let candidates = match &rule.trigger {
                Trigger::TaskFailed | Trigger::TaskStopped => events_of(rule, input),
                Trigger::TaskMissed { grace } => missed_runs(input, grace.as_millis() as i64),
                _ => continue,
            };
            let ledger_name = rule.ledger_name();
            for (facts, event, trigger) in candidates {
                let matched = rule.task_conditions.iter().all(|c| c.holds(&facts));
                if matched && !input.ledger.fired(&ledger_name, &task_key(&facts.task.id), &trigger) {
                    out.push(TaskFiring { rule: index, facts, event, trigger, quiet: input.baseline });
                }
            }
        }
        out
    }
}

type Candidate = (TaskFacts, EventInfo, Cause);

fn events_of(rule: &Rule, input: &TaskInput) -> Vec<Candidate> {
    let facts = |id: &str, due| input.tasks.get(id).map(|seen| seen.facts(input.zone, due));
    let mut out = Vec::new();
    for event in input.events {
        let Some(mut facts) = facts(event.task_id(), None) else { continue };
        let (kind, trigger, to) = match (event, &rule.trigger) {
            (TaskEvent::Failed { run, consecutive_failures, .. }, Trigger::TaskFailed) => {
                facts.consecutive_failures = *consecutive_failures;
                facts.result = Some(run.status.clone());
                (EventKind::TaskFailed, Cause::RunFailed(run.id.clone()), Some(run.status.clone()))
            }
            (TaskEvent::Stopped { task }, Trigger::TaskStopped) => {
                (EventKind::TaskStopped, Cause::Stopped(task.last_start_ms.unwrap_or_default()), task.state.clone())
            }
            _ => continue,
        };
        out.push((facts, EventInfo { kind, from: None, to }, trigger));
    }
    out
}

fn missed_runs(input: &TaskInput, grace_ms: i64) -> Vec<Candidate> {
    let mut out = Vec::new();
    for seen in input.tasks.values() {
        let Some(due) = missed(&seen.task, input.now, grace_ms, input.zone) else { continue };
        let event = EventInfo { kind: crate::diff::EventKind::TaskMissed, from: None, to: None };
        out.push((seen.facts(input.zone, Some(due)), event, Cause::Missed(due)));
    }
    out
}

#[cfg(test)]
mod tests;
