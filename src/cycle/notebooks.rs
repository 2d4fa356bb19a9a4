//! A read of the open notebooks through the core: the notebook rules (once per rule, notebook and
//! last activity, after `for_polls` matching reads), planned within the close limits (most idle
//! first), the protection list and the silences; then `adopt`. Every read is a level read: the
//! first one may act, and nothing "appears".

use super::{plan, Budget, Core, Decision, Guards};
use crate::arcgis::notebooks::OpenNotebook;
use crate::clock::ServerMs;
use crate::config::{LimitsConfig, ProtectConfig};
use crate::ledger::Streaks;
use crate::plan::LedgerRecord;
use crate::rules::notebooks::NotebookInput;
use crate::rules::RuleSet;
use std::collections::BTreeMap;

/// A read of the open notebooks.
#[derive(Debug, Clone)]
pub struct NotebooksRead {
    /// When, on the server's clock.
    pub at: ServerMs,
    /// The open notebooks, by id.
    pub notebooks: BTreeMap<String, OpenNotebook>,
}

impl NotebooksRead {
    /// The read of `notebooks` at `at`.
    pub fn new(at: ServerMs, notebooks: Vec<OpenNotebook>) -> NotebooksRead {
        NotebooksRead { at, notebooks: notebooks.into_iter().map(|n| (n.id.clone(), n)).collect() }
    }
}

/// The close limits of one read, and what else keeps a firing from its actions.
#[derive(Debug, Clone, Copy)]
pub struct CloseLimits<'a> {
    /// `limits:` of the target (`max_closes_per_poll`, `max_closes_per_hour`).
    pub config: &'a LimitsConfig,
    /// Closes (queued or done; in a dry run, planned) in the last hour.
    pub recent: u32,
    /// `protect:` of the target.
    pub protect: &'a ProtectConfig,
    /// The silences in force now.
    pub silences: &'a [crate::silence::Silence],
}

/// What one read of the open notebooks decided.
#[derive(Debug)]
pub struct NotebookDecision {
    /// How many firings there were.
    pub firings: usize,
    /// The `for_polls` streaks after this read.
    pub streaks: Streaks,
    /// Their ledger rows and actions.
    pub decision: Decision,
}

impl Core {
    /// Fires the notebook rules of `target` over `read` and plans their actions.
    pub fn decide_notebooks(
        &self,
        rules: &RuleSet,
        target: &str,
        read: &NotebooksRead,
        limits: &CloseLimits,
    ) -> NotebookDecision {
        let input = NotebookInput {
            target,
            now: read.at,
            notebooks: &read.notebooks,
            ledger: &self.ledger,
            streaks: &self.notebook_streaks,
        };
        let (firings, streaks) = rules.evaluate_notebooks(&input);
        let mut budget = Budget::closes(limits.config, limits.recent);
        let guards = Guards { protect: limits.protect, silences: limits.silences, told: &self.silenced_told };
        let count = firings.len();
        let decision = plan(rules, target, firings, (&mut budget, &guards), read.at);
        NotebookDecision { firings: count, streaks, decision }
    }

    /// Takes a committed read in: the notebooks as read, the streaks and the ledger rows.
    pub fn adopt_notebooks(&mut self, read: NotebooksRead, streaks: Streaks, ledger: &[LedgerRecord]) {
        self.record(ledger, read.at);
        self.notebook_streaks = streaks;
        self.notebooks = Some(read);
    }
}
