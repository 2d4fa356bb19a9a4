//! Planning (pure): firings become ledger records and planned actions within the blast-radius
//! budget; when a limit binds, the most overdue cancels go first.

use super::protection::protected_by;
use super::Budget;
use crate::actions::ActionConfig;
use crate::arcgis::{Job, NamedJob};
use crate::clock::{LocalMs, ServerMs};
use crate::config::ProtectConfig;
use crate::diff::EventInfo;
use crate::plan::{ActionReport, LedgerRecord, Outcome, Planned};
use crate::rules::{Firing, Rule, RuleSet, TaskFiring};
use crate::silence::Silence;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

/// What one poll's firings (or one digest slot, or one task read) become.
#[derive(Debug, Default)]
pub struct Decision {
    /// Ledger entries to commit.
    pub ledger: Vec<LedgerRecord>,
    /// Actions to queue (or, in a dry run, to report as planned).
    pub actions: Vec<Planned>,
    /// Firings over a limit: reported, not recorded, so they fire again when the budget allows.
    pub suppressed: Vec<ActionReport>,
    /// Destructive actions left out because the target's `protect:` covers the job (the firing
    /// is recorded and its other actions go out): reported, `skipped`.
    pub protected: Vec<ActionReport>,
    /// Firings a silence covers, told for the first time: reported `silenced`, not recorded, so
    /// they fire when the silence ends if they still match.
    pub silenced: Vec<ActionReport>,
    /// The (silence, rule, job) of every firing a silence covered: told once.
    pub silenced_keys: Vec<Silenced>,
}

/// A (silence id, rule, job) that was told as silenced.
pub type Silenced = (String, String, String);

/// What keeps a firing from its actions besides the budget: the target's protection list and
/// the silences in force (with those already told).
#[derive(Debug, Clone, Copy)]
pub struct Guards<'a> {
    /// `protect:` of the target.
    pub protect: &'a ProtectConfig,
    /// The silences in force now.
    pub silences: &'a [Silence],
    /// The silenced firings already told.
    pub told: &'a HashSet<Silenced>,
}

impl Default for Guards<'static> {
    fn default() -> Guards<'static> {
        static PROTECT: std::sync::LazyLock<ProtectConfig> = std::sync::LazyLock::new(ProtectConfig::default);
        static TOLD: std::sync::LazyLock<HashSet<Silenced>> = std::sync::LazyLock::new(HashSet::new);
        Guards { protect: &PROTECT, silences: &[], told: &TOLD }
    }
}

/// Plans the firings of one poll of `target` (pure). Batched actions (e-mail) of one rule go out
/// as one planned action listing every job of the poll. A job `protect` covers is never the
/// object of a destructive action and takes nothing from the budget; a firing a silence covers
/// does nothing and is not recorded.
pub fn plan(
    rules: &RuleSet,
    target: &str,
    firings: Vec<Firing>,
    (budget, guards): (&mut Budget, &Guards),
    now: ServerMs,
) -> Decision {
    let mut plan = Decision::default();
    // One action per firing, about: sized once (the pages of what a batch leaves unused are never
    // touched), rather than moved as it grows.
    plan.actions.reserve(firings.len());
    plan.ledger.reserve(firings.len());
    // A batch per rule, action, and whether it resolves (an alert's resolutions go apart).
    let mut batches: HashMap<(usize, usize, bool), usize> = HashMap::new();
    let silenced: Vec<Option<&Silence>> = firings
        .iter()
        .map(|f| guards.silences.iter().find(|s| s.covers(target, &rules.rules[f.rule].name, &f.job)))
        .collect();
    // A silenced firing is kept out of the budget as if it were protected.
    let protection: Vec<Option<String>> = firings
        .iter()
        .zip(&silenced)
        .map(|(f, silence)| match silence {
            Some(s) => Some(format!("silence {}", s.id)),
            None => rules.rules[f.rule].cancels_on(&f.trigger).then(|| protected_by(guards.protect, &f.job)).flatten(),
        })
        .collect();
    let granted = grant(rules, &firings, &protection, budget, now);
    for (position, firing) in firings.into_iter().enumerate() {
        let rule = &rules.rules[firing.rule];
        if let Some(silence) = silenced[position] {
            plan.silence(target, rule, &firing.job, silence, guards.told);
            continue;
        }
        let protected = protection[position].as_deref();
        if rule.cancels_on(&firing.trigger) && protected.is_none() && !granted.contains(&position) {
            let budget = budget.of(rule.shadow);
            let detail = format!("limit reached: {}; fires again when the budget allows", budget.reason);
            let ids = [firing.job.id.clone()];
            let suppressed = rule.actions.iter().map(|a| report(target, rule, a, &ids, Outcome::Suppressed, &detail));
            plan.suppressed.extend(suppressed);
            continue;
        }
        plan.ledger.push(record(rule, firing.job.id.clone(), firing.trigger.clone()));
        let resolves = firing.trigger == crate::ledger::Cause::Resolved;
        for (index, action) in rule.actions.iter().enumerate().filter(|(_, a)| rule.acts_on(a, &firing.trigger)) {
            if let (Some(entry), true) = (protected, action.is_destructive()) {
                let detail = format!("not done: {entry} of target {target} protects this job");
                let ids = std::slice::from_ref(&firing.job.id);
                plan.protected.push(report(target, rule, action, ids, Outcome::Skipped, &detail));
                continue;
            }
            // Shared with the snapshot, names and all: a first poll may fire tens of thousands.
            let this = firing.job.clone();
            if let Some(&at) = batches.get(&(firing.rule, index, resolves)) {
                plan.actions[at].jobs.push(this);
                continue;
            }
            if action.is_batched() {
                batches.insert((firing.rule, index, resolves), plan.actions.len());
            }
            plan.actions.push(Planned::of(rule, index, vec![this], &firing.event, now));
        }
    }
    plan
}

/// The destructive firings the budget allows (their positions): when it binds, the most overdue
/// go first (SPEC §4.14): the furthest past its rule's `runtime_over`, then the longest running,
/// then by job id, so that a limit never spares the worst runaway for a newer one. Protected
/// jobs are not cancelled, so they take nothing.
fn grant(
    rules: &RuleSet,
    firings: &[Firing],
    protection: &[Option<String>],
    budget: &mut Budget,
    now: ServerMs,
) -> HashSet<usize> {
    let cancels = |i: usize| rules.rules[firings[i].rule].cancels_on(&firings[i].trigger) && protection[i].is_none();
    let mut destructive: Vec<usize> = (0..firings.len()).filter(|&i| cancels(i)).collect();
    destructive.sort_by_cached_key(|&i| {
        let firing = &firings[i];
        let runtime = firing.job.runtime(now).unwrap_or_default();
        let overdue = runtime.saturating_sub(rules.rules[firing.rule].runtime_threshold().unwrap_or_default());
        (Reverse(overdue), Reverse(runtime), firing.job.id.clone())
    });
    destructive.into_iter().filter(|&i| budget.of(rules.rules[firings[i].rule].shadow).take()).collect()
}

impl Decision {
    /// Holds back a firing `silence` covers: told once per silence, rule and job.
    fn silence(&mut self, target: &str, rule: &Rule, job: &Job, silence: &Silence, told: &HashSet<Silenced>) {
        let key = (silence.id.clone(), rule.ledger_name().into_owned(), job.id.clone());
        if !told.contains(&key) && !self.silenced_keys.contains(&key) {
            let until = crate::arcgis::model::rfc3339(silence.ends).unwrap_or_default();
            let comment = crate::text::sanitize(&silence.comment);
            let detail =
                format!("silenced by {} until {until} ({comment}): fires then if it still matches", silence.id);
            let ids = [job.id.clone()];
            self.silenced
                .extend(rule.actions.iter().map(|a| report(target, rule, a, &ids, Outcome::Silenced, &detail)));
        }
        self.silenced_keys.push(key);
    }

    /// Moves the destructive actions whose job `protect` covers (its title known only now, say)
    /// to `protected`, reported `skipped` with the entry; their firings stay recorded.
    pub fn protect(&mut self, rules: &RuleSet, target: &str, protect: &ProtectConfig) {
        // In place: a first poll may plan tens of thousands of actions.
        self.actions.retain(|planned| {
            let entry = planned.jobs.iter().find_map(|job| protected_by(protect, job));
            match (planned.action.is_destructive(), entry, rules.get(&planned.rule)) {
                (true, Some(entry), Some(rule)) => {
                    let detail = format!("not done: {entry} of target {target} protects this job");
                    let ids: Vec<String> = planned.jobs.iter().map(|j| j.id.clone()).collect();
                    self.protected.push(report(target, rule, &planned.action, &ids, Outcome::Skipped, &detail));
                    false
                }
                _ => true,
            }
        });
    }
}

/// Plans one slot of a digest rule (pure): the slot goes to the ledger under `job_id`, and each
/// action lists every job (none: only the slot is recorded). The slot is given as the cron wrote
/// it (08:00:00, the templates' `now`) and on the server's clock (runtimes, the Message-ID).
pub fn plan_digest(
    rule: &Rule,
    record: LedgerRecord,
    jobs: Vec<NamedJob>,
    (slot, on_server): (LocalMs, ServerMs),
) -> Decision {
    let event = EventInfo { kind: crate::diff::EventKind::Schedule, from: None, to: None };
    let planned = |index| Planned { slot: Some(slot), ..Planned::of(rule, index, jobs.clone(), &event, on_server) };
    let actions = if jobs.is_empty() { Vec::new() } else { (0..rule.actions.len()).map(planned).collect() };
    Decision { ledger: vec![record], actions, ..Decision::default() }
}

/// Plans one read of a target's tasks (pure): each firing is recorded in the ledger under its
/// task, and each of its rule's actions planned for that task alone; a quiet firing (the
/// baseline) is only recorded. Task rules never cancel, so no budget applies.
pub fn plan_tasks(rules: &RuleSet, firings: &[TaskFiring], now: ServerMs) -> Decision {
    let mut plan = Decision::default();
    for firing in firings {
        let rule = &rules.rules[firing.rule];
        let job_id = crate::rules::tasks::task_key(&firing.facts.task.id);
        plan.ledger.push(record(rule, job_id, firing.trigger.clone()));
        if firing.quiet {
            continue;
        }
        for index in 0..rule.actions.len() {
            let mut planned = Planned::of(rule, index, vec![firing.facts.as_job().into()], &firing.event, now);
            planned.task = Some(Box::new(firing.facts.clone()));
            plan.actions.push(planned);
        }
    }
    plan
}

fn report(
    target: &str,
    rule: &Rule,
    action: &ActionConfig,
    job_ids: &[String],
    outcome: Outcome,
    detail: &str,
) -> ActionReport {
    ActionReport {
        target: target.into(),
        rule: rule.name.clone(),
        action: action.kind().into(),
        job_ids: job_ids.to_vec(),
        outcome,
        detail: detail.into(),
        shadow: rule.shadow,
    }
}

/// The ledger record of a firing of `rule`.
pub(super) fn record(rule: &Rule, job_id: String, trigger: crate::ledger::Cause) -> LedgerRecord {
    LedgerRecord { rule: rule.name.clone(), shadow: rule.shadow, job_id, trigger }
}
