//! A timeline of scheduled-task reads through the real cores (task diff, task rules, planning),
//! for `nbwarden test`: each read gives every task and its runs, of which only those the watcher
//! would read are used. Pure: nothing executed, nothing stored.

use super::Step;
use crate::arcgis::tasks::{Task, TaskRun};
use crate::dispatch::plan_tasks;
use crate::ledger::LedgerIndex;
use crate::rules::{RuleSet, TaskInput};
use crate::task_diff::{diff, needs_runs, Seen};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One read of a target's scheduled tasks.
#[derive(Debug, Clone)]
pub struct TaskRead {
    /// When, epoch ms (server clock).
    pub at_ms: i64,
    /// The tasks as listed.
    pub tasks: Vec<Task>,
    /// Each task's runs, oldest first.
    pub runs: HashMap<String, Vec<TaskRun>>,
}

/// Replays `reads` of `target`'s tasks; the cron schedules are read in `zone`. A step's plan
/// holds what was told: the baseline's quiet firings are recorded, not listed.
pub fn replay_tasks(rules: &RuleSet, target: &str, reads: Vec<TaskRead>, zone: chrono_tz::Tz) -> Vec<Step> {
    let mut ledger = LedgerIndex::default();
    let mut prev: Option<BTreeMap<String, Seen>> = None;
    let mut steps = Vec::new();
    for (index, read) in reads.into_iter().enumerate() {
        let wanted: HashSet<String> = needs_runs(prev.as_ref(), &read.tasks).iter().map(|t| t.id.clone()).collect();
        let runs: HashMap<String, Vec<TaskRun>> = read.runs.into_iter().filter(|(id, _)| wanted.contains(id)).collect();
        let (next, events) = diff(prev.as_ref(), read.tasks, &runs);
        let input = TaskInput {
            target,
            now_ms: read.at_ms,
            tasks: &next,
            events: &events,
            ledger: &ledger,
            baseline: prev.is_none(),
            zone,
        };
        let firings = rules.evaluate_tasks(&input);
        let mut plan = plan_tasks(rules, &firings, read.at_ms);
        for record in &plan.ledger {
            ledger.record(&record.rule, &record.job_id, &record.trigger, read.at_ms);
        }
        if prev.is_none() {
            plan.ledger.clear();
        }
        steps.push(Step { poll: index, at_ms: read.at_ms, plan });
        prev = Some(next);
    }
    steps
}
