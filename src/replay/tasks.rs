//! The core's driver for a timeline of scheduled-task reads, for `nbwarden test`: each read gives
//! every task and its runs, of which only those the core asks for are used. Pure: nothing
//! executed, nothing stored.

use super::Step;
use crate::arcgis::tasks::{Task, TaskRun};
use crate::clock::ServerMs;
use crate::cycle::Core;
use crate::rules::RuleSet;
use std::collections::{HashMap, HashSet};

/// One read of a target's scheduled tasks.
#[derive(Debug, Clone)]
pub struct TaskRead {
    /// When.
    pub at_ms: ServerMs,
    /// The tasks as listed.
    pub tasks: Vec<Task>,
    /// Each task's runs, oldest first.
    pub runs: HashMap<String, Vec<TaskRun>>,
}

/// Replays `reads` of `target`'s tasks; the cron schedules are read in `zone`. A step's plan
/// holds what was told: the baseline's quiet firings are recorded, not listed.
pub fn replay_tasks(rules: &RuleSet, target: &str, reads: Vec<TaskRead>, zone: chrono_tz::Tz) -> Vec<Step> {
    let mut core = Core::default();
    let mut steps = Vec::new();
    for (index, read) in reads.into_iter().enumerate() {
        let wanted: HashSet<String> = core.tasks_to_read(&read.tasks).iter().map(|t| t.id.clone()).collect();
        let runs: HashMap<String, Vec<TaskRun>> = read.runs.into_iter().filter(|(id, _)| wanted.contains(id)).collect();
        let observed = core.observe_tasks(read.at_ms, read.tasks, &runs, &HashSet::new());
        let mut plan = core.decide_tasks(rules, target, &observed, zone).decision;
        core.adopt_tasks(observed, &plan.ledger);
        if index == 0 {
            plan.ledger.clear();
        }
        steps.push(Step { poll: index, at_ms: read.at_ms, plan });
    }
    steps
}
