//! Notebook rules (pure; no I/O): the match keys of `on: notebook` rules (`idle_over`,
//! `open_over`, `username`, `runtime`, `item_id`, `title`), and the evaluation of one read of a
//! target's open notebooks into firings: once per rule, notebook and last activity, after
//! `for_polls` matching reads.

use super::load::{check_keys, Located};
use super::matcher::glob_matches;
use super::{Firing, RuleError, RuleSet, Trigger};
use crate::arcgis::notebooks::OpenNotebook;
use crate::clock::ServerMs;
use crate::diff::{EventInfo, EventKind};
use crate::ledger::{Cause, LedgerIndex, Streaks};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The match keys of notebook rules.
pub const NOTEBOOK_MATCH_KEYS: &[&str] = &["idle_over", "open_over", "username", "runtime", "item_id", "title"];

/// The test of one notebook match key.
#[derive(Debug, Clone, PartialEq)]
pub enum NotebookTest {
    /// `idle_over`: now − `dateLastActivity` is more than this (never, when it is not known).
    IdleOver(Duration),
    /// `open_over`: open (its container or deployment up) for more than this.
    OpenOver(Duration),
    /// `username`: `*` globs, case-insensitive.
    Username(Vec<String>),
    /// `runtime`: `*` globs on the runtime's name.
    Runtime(Vec<String>),
    /// `item_id`: exact.
    ItemId(Vec<String>),
    /// `title`: `*` globs on the item's title.
    Title(Vec<String>),
}

/// One notebook match key of a rule, maybe negated (`{not: …}`).
#[derive(Debug, Clone, PartialEq)]
pub struct NotebookCondition {
    /// The key as written.
    pub key: &'static str,
    /// `{not: …}`.
    pub negated: bool,
    /// The test.
    pub test: NotebookTest,
}

impl NotebookCondition {
    /// Whether the condition holds for `notebook` at `now`; `None` when the notebook cannot
    /// answer (no activity time, no runtime, no title), which never matches.
    pub fn holds(&self, notebook: &OpenNotebook, now: ServerMs) -> Option<bool> {
        let any_glob =
            |patterns: &[String], text: Option<&str>| text.map(|t| patterns.iter().any(|p| glob_matches(p, t)));
        let holds = match &self.test {
            NotebookTest::IdleOver(limit) => notebook.idle(now).map(|idle| idle > *limit),
            NotebookTest::OpenOver(limit) => notebook.open_for(now).map(|open| open > *limit),
            NotebookTest::Username(patterns) => any_glob(patterns, Some(&notebook.username)),
            NotebookTest::Runtime(patterns) => any_glob(patterns, notebook.runtime.as_deref()),
            NotebookTest::ItemId(ids) => notebook.item_id.as_ref().map(|item| ids.contains(item)),
            NotebookTest::Title(patterns) => any_glob(patterns, notebook.title.as_deref()),
        }?;
        Some(holds != self.negated)
    }
}

impl std::fmt::Display for NotebookCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = match &self.test {
            NotebookTest::IdleOver(d) | NotebookTest::OpenOver(d) => crate::config::format_duration(*d),
            NotebookTest::Username(v) | NotebookTest::Runtime(v) | NotebookTest::ItemId(v) | NotebookTest::Title(v) => {
                v.join(" | ")
            }
        };
        write!(f, "{}: {}{value}", self.key, if self.negated { "not " } else { "" })
    }
}

/// The `match` of a notebook rule, checked.
pub(super) fn conditions(r: &Located, map: &Map<String, Value>, errors: &mut Vec<RuleError>) -> Vec<NotebookCondition> {
    check_keys(r, map, NOTEBOOK_MATCH_KEYS, "the `match` of a notebook rule", errors);
    let mut out = Vec::new();
    for &key in NOTEBOOK_MATCH_KEYS {
        let Some(value) = map.get(key) else { continue };
        let (negated, inner) = super::load::negation(value);
        let test = match key {
            "idle_over" => super::compile::duration(r, key, inner, errors).map(NotebookTest::IdleOver),
            "open_over" => super::compile::duration(r, key, inner, errors).map(NotebookTest::OpenOver),
            _ => super::load::strings(r, key, inner, errors).map(|list| match key {
                "username" => NotebookTest::Username(list),
                "runtime" => NotebookTest::Runtime(list),
                "item_id" => NotebookTest::ItemId(list),
                _ => NotebookTest::Title(list),
            }),
        };
        out.extend(test.map(|test| NotebookCondition { key, negated, test }));
    }
    out
}

/// Everything one evaluation of a target's open notebooks reads.
#[derive(Debug, Clone, Copy)]
pub struct NotebookInput<'a> {
    /// The target's name.
    pub target: &'a str,
    /// Now on the server's clock.
    pub now: ServerMs,
    /// The open notebooks of this read, by id.
    pub notebooks: &'a BTreeMap<String, OpenNotebook>,
    /// What has fired before.
    pub ledger: &'a LedgerIndex,
    /// Consecutive matching reads of `for_polls` rules, before this read.
    pub streaks: &'a Streaks,
}

/// The ledger's cause of a firing for `notebook`: its last activity (0 when not known).
pub fn activity_cause(notebook: &OpenNotebook) -> Cause {
    Cause::Activity(notebook.last_activity.unwrap_or_default())
}

impl RuleSet {
    /// The firings of the notebook rules of the target, in rule then notebook order, and the
    /// streaks after this read. A notebook fires once per rule and last activity: used again
    /// and idle again, it fires again.
    pub fn evaluate_notebooks(&self, input: &NotebookInput) -> (Vec<Firing>, Streaks) {
        let (mut firings, mut streaks) = (Vec::new(), Streaks::new());
        let rules = self.rules.iter().enumerate().filter(|(_, r)| r.applies_to(input.target));
        for (index, rule) in rules.filter(|(_, r)| matches!(r.trigger, Trigger::Notebook)) {
            let name = rule.ledger_name();
            for notebook in input.notebooks.values() {
                let matched = rule.notebook_conditions.iter().all(|c| c.holds(notebook, input.now) == Some(true));
                if !matched {
                    continue;
                }
                let key = (name.to_string(), notebook.id.clone());
                let streak = input.streaks.get(&key).copied().unwrap_or(0).saturating_add(1);
                streaks.insert(key, streak);
                let cause = activity_cause(notebook);
                if streak >= rule.for_polls && !input.ledger.fired(&name, &notebook.id, &cause) {
                    let event = EventInfo { kind: EventKind::Notebook, from: None, to: None };
                    firings.push(Firing { rule: index, job: notebook.as_job().into(), event, trigger: cause });
                }
            }
        }
        (firings, streaks)
    }
}

#[cfg(test)]
mod tests;
