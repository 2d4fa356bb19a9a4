//! The core's driver for a timeline of open-notebook reads, for `nbwarden test` and the back-test
//! of notebook rules: each read through the core, within the close limits (the closes of the last
//! hour counted here, as the store counts them in a daemon). Pure: nothing executed or stored.

use super::Step;
use crate::arcgis::notebooks::OpenNotebook;
use crate::clock::ServerMs;
use crate::config::{LimitsConfig, ProtectConfig};
use crate::cycle::{CloseLimits, Core, NotebooksRead};
use crate::rules::RuleSet;

/// One read of a target's open notebooks.
#[derive(Debug, Clone)]
pub struct NotebookRead {
    /// When.
    pub at_ms: ServerMs,
    /// The open notebooks.
    pub notebooks: Vec<OpenNotebook>,
}

/// Replays `reads` of `target`'s open notebooks within `limits` and `protect`.
pub fn replay_notebooks(
    rules: &RuleSet,
    target: &str,
    (limits, protect): (&LimitsConfig, &ProtectConfig),
    reads: Vec<NotebookRead>,
) -> Vec<Step> {
    let mut core = Core::default();
    let mut closes: Vec<ServerMs> = Vec::new();
    let mut steps = Vec::new();
    for (index, read) in reads.into_iter().enumerate() {
        let read = NotebooksRead::new(read.at_ms, read.notebooks);
        let hour_ago = read.at.plus(-3_600_000);
        let recent = closes.iter().filter(|at| **at >= hour_ago).count() as u32;
        let limits = CloseLimits { config: limits, recent, protect, silences: &[] };
        let decision = core.decide_notebooks(rules, target, &read, &limits);
        let closing = decision.decision.actions.iter().filter(|a| a.action.is_destructive());
        closes.extend(closing.flat_map(|a| a.jobs.iter().map(|_| read.at)));
        let at_ms = read.at;
        core.adopt_notebooks(read, decision.streaks, &decision.decision.ledger);
        steps.push(Step { poll: index, at_ms, plan: decision.decision });
    }
    steps
}
