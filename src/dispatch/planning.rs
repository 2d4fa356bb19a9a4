//! Planning (pure): firings become ledger records and planned actions within the blast-radius
//! budget. Then the one plan-and-commit path of polls and digest slots, where the run mode
//! decides what is queued, what is previewed and what is written.

use super::{failpoint, Dispatcher, Mode};
use crate::actions::{ActionConfig, ActionContext, Progress};
use crate::arcgis::{Job, JobSource};
use crate::config::LimitsConfig;
use crate::diff::EventInfo;
use crate::plan::{ActionReport, AuditEntry, LedgerRecord, Outcome, Planned};
use crate::rules::{Firing, Rule, RuleSet, TaskFiring};
use crate::store::PollCommit;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

/// How many destructive firings one poll of one target may still plan; shadow rules may have a
/// budget of their own, so that their planned cancels never use up the real ones (and the reverse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub(super) left: u32,
    pub(super) reason: String,
    shadow: Option<Box<Budget>>,
}

impl Budget {
    /// The tightest of the per-poll, per-hour and share-of-running limits (one job always allowed).
    pub fn new(limits: &LimitsConfig, running: usize, cancels_last_hour: u32) -> Budget {
        let share = ((limits.max_cancel_fraction * running as f64).floor() as u32).max(1);
        let hour = limits.max_cancels_per_hour.saturating_sub(cancels_last_hour);
        let candidates = [
            (limits.max_cancels_per_poll, format!("max_cancels_per_poll ({})", limits.max_cancels_per_poll)),
            (
                hour,
                format!("max_cancels_per_hour ({}, {cancels_last_hour} in the last hour)", limits.max_cancels_per_hour),
            ),
            (share, format!("max_cancel_fraction ({} of {running} running)", limits.max_cancel_fraction)),
        ];
        let (left, reason) = candidates.into_iter().min_by_key(|(n, _)| *n).unwrap_or((0, String::new()));
        Budget { left, reason, shadow: None }
    }

    /// This budget, with `shadow` for the cancels of shadow rules.
    pub fn with_shadow(mut self, shadow: Budget) -> Budget {
        self.shadow = Some(Box::new(shadow));
        self
    }

    /// The budget a rule's cancels count against.
    fn of(&mut self, shadow: bool) -> &mut Budget {
        match (shadow, self.shadow.is_some()) {
            (true, true) => self.shadow.as_deref_mut().expect("a shadow budget"),
            _ => self,
        }
    }

    fn take(&mut self) -> bool {
        let ok = self.left > 0;
        self.left = self.left.saturating_sub(1);
        ok
    }
}

/// What one poll's firings (or one digest slot) become.
#[derive(Debug, Default)]
pub struct Plan {
    /// Ledger entries to commit.
    pub ledger: Vec<LedgerRecord>,
    /// Actions to queue (or, in a dry run, to report as planned).
    pub actions: Vec<Planned>,
    /// Firings over a limit: reported, not recorded, so they fire again when the budget allows.
    pub suppressed: Vec<ActionReport>,
}

/// Plans the firings of one poll of `target` (pure). Batched actions (e-mail) of one rule go out
/// as one planned action listing every job of the poll.
pub fn plan(rules: &RuleSet, target: &str, firings: &[Firing], budget: &mut Budget, now_ms: i64) -> Plan {
    let mut plan = Plan::default();
    let mut batches: HashMap<(usize, usize), usize> = HashMap::new();
    let granted = grant(rules, firings, budget, now_ms);
    for (position, firing) in firings.iter().enumerate() {
        let rule = &rules.rules[firing.rule];
        if rule.cancels() && !granted.contains(&position) {
            let budget = budget.of(rule.shadow);
            let detail = format!("limit reached: {}; fires again when the budget allows", budget.reason);
            let ids = [firing.job.id.clone()];
            let suppressed = rule.actions.iter().map(|a| report(target, rule, a, &ids, Outcome::Suppressed, &detail));
            plan.suppressed.extend(suppressed);
            continue;
        }
        plan.ledger.push(LedgerRecord {
            rule: rule.ledger_name().into(),
            job_id: firing.job.id.clone(),
            trigger: firing.trigger.clone(),
        });
        for (index, action) in rule.actions.iter().enumerate() {
            if let Some(&at) = batches.get(&(firing.rule, index)) {
                plan.actions[at].jobs.push(firing.job.clone());
                continue;
            }
            if action.is_batched() {
                batches.insert((firing.rule, index), plan.actions.len());
            }
            plan.actions.push(Planned::of(rule, index, vec![firing.job.clone()], &firing.event, now_ms));
        }
    }
    plan
}

/// The destructive firings the budget allows (their positions): when it binds, the most overdue
/// go first (SPEC §4.14): the furthest past its rule's `runtime_over`, then the longest running,
/// then by job id, so that a limit never spares the worst runaway for a newer one.
fn grant(rules: &RuleSet, firings: &[Firing], budget: &mut Budget, now_ms: i64) -> HashSet<usize> {
    let mut destructive: Vec<usize> = (0..firings.len()).filter(|&i| rules.rules[firings[i].rule].cancels()).collect();
    destructive.sort_by_cached_key(|&i| {
        let firing = &firings[i];
        let runtime = firing.job.runtime(now_ms).unwrap_or_default();
        let overdue = runtime.saturating_sub(rules.rules[firing.rule].runtime_threshold().unwrap_or_default());
        (Reverse(overdue), Reverse(runtime), firing.job.id.clone())
    });
    destructive.into_iter().filter(|&i| budget.of(rules.rules[firings[i].rule].shadow).take()).collect()
}

/// Plans one slot of a digest rule (pure): the slot goes to the ledger under `job_id`, and each
/// action lists every job (none: only the slot is recorded). `slot_ms` is the slot as the cron
/// wrote it (08:00:00), for templates and the Message-ID.
pub fn plan_digest(rule: &Rule, slot: LedgerRecord, jobs: Vec<Job>, slot_ms: i64) -> Plan {
    let event = EventInfo { kind: "schedule".into(), from: None, to: None };
    let actions = if jobs.is_empty() {
        Vec::new()
    } else {
        (0..rule.actions.len()).map(|index| Planned::of(rule, index, jobs.clone(), &event, slot_ms)).collect()
    };
    Plan { ledger: vec![slot], actions, suppressed: Vec::new() }
}

/// Plans one read of a target's tasks (pure): each firing is recorded in the ledger under its
/// task, and each of its rule's actions planned for that task alone; a quiet firing (the
/// baseline) is only recorded. Task rules never cancel, so no budget applies.
pub fn plan_tasks(rules: &RuleSet, firings: &[TaskFiring], now_ms: i64) -> Plan {
    let mut plan = Plan::default();
    for firing in firings {
        let rule = &rules.rules[firing.rule];
        let job_id = crate::rules::tasks::task_key(&firing.facts.task.id);
        plan.ledger.push(LedgerRecord { rule: rule.ledger_name().into(), job_id, trigger: firing.trigger.clone() });
        if firing.quiet {
            continue;
        }
        for index in 0..rule.actions.len() {
            let mut planned = Planned::of(rule, index, vec![firing.facts.as_job()], &firing.event, now_ms);
            planned.task = Some(firing.facts.clone());
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

/// The report of a planned action.
pub(super) fn planned_report(target: &str, planned: &Planned, outcome: Outcome, detail: String) -> ActionReport {
    ActionReport {
        target: target.into(),
        rule: planned.rule.clone(),
        action: planned.action.kind().into(),
        job_ids: planned.job_ids(),
        outcome,
        detail,
        shadow: false,
    }
}

impl Dispatcher {
    /// The one plan-and-commit path of a poll or a digest slot. The plan's ledger, its actions
    /// when acting, and the audit lines of what it reports commit with the rest of `commit` in
    /// one transaction; a preview writes nothing. Returns what to report now: `reports` (cancel
    /// checks), the suppressed firings and, unless acting, what each planned action would do.
    pub async fn commit(
        &self,
        mut commit: PollCommit<'_>,
        plan: Plan,
        source: &dyn JobSource,
        mut reports: Vec<ActionReport>,
    ) -> crate::store::Result<Vec<ActionReport>> {
        commit.local_ms = self.now_ms();
        commit.ledger = plan.ledger;
        let acting = self.mode == Mode::Act;
        reports.extend(plan.suppressed);
        // Shadow rules' actions are only previewed, whatever the mode; the others when not acting.
        let (queued, previewed): (Vec<Planned>, Vec<Planned>) =
            plan.actions.into_iter().partition(|p| acting && !self.is_shadow(&p.rule));
        reports.extend(previewed.iter().map(|p| self.preview(commit.target, source, p)));
        commit.actions = queued;
        if self.mode.writes() {
            commit.audit = reports.iter().map(|r| self.audit_entry(r)).collect();
            self.store.commit_poll(&commit).await?;
            failpoint("after_commit").await;
        }
        Ok(reports)
    }

    /// What the rules would do for firings that wait (`once --dry-run`): each action of each
    /// waiting (rule, job) previewed, as `pending`, with `when` it would fire.
    pub fn pending(
        &self,
        target: &str,
        source: &dyn JobSource,
        waiting: &[(usize, Job, String)],
        now_ms: i64,
    ) -> Vec<ActionReport> {
        let event = EventInfo { kind: "poll".into(), from: None, to: None };
        let mut reports = Vec::new();
        for (index, job, when) in waiting {
            let rule = &self.rules.rules[*index];
            for action in 0..rule.actions.len() {
                let planned = Planned::of(rule, action, vec![job.clone()], &event, now_ms);
                let report = self.preview(target, source, &planned);
                let detail = format!("{} {when}", report.detail);
                reports.push(ActionReport { outcome: Outcome::Pending, detail, ..report });
            }
        }
        reports
    }

    /// The report of a planned action in a dry run: plugins are never called, only previewed.
    fn preview(&self, target: &str, source: &dyn JobSource, planned: &Planned) -> ActionReport {
        let progress = Progress::default();
        let services = &self.services;
        let occasion = planned.occasion();
        let cx = ActionContext { target, source, occasion, services, progress: &progress, now_ms: self.now_ms() };
        let report = planned_report(target, planned, Outcome::Planned, planned.action.build().preview(&cx));
        ActionReport { shadow: self.is_shadow(&planned.rule), ..report }
    }

    /// Whether `rule` is a current `mode: shadow` rule.
    pub fn is_shadow(&self, rule: &str) -> bool {
        self.rules.get(rule).is_some_and(|r| r.shadow)
    }

    /// The audit line of a report that belongs to no queued action; the trail tells a cancel
    /// that was ignored from other failures.
    fn audit_entry(&self, report: &ActionReport) -> AuditEntry {
        let mut report = report.clone();
        if report.detail.starts_with("cancel_ignored") {
            report.outcome = Outcome::CancelIgnored;
        }
        AuditEntry { at_ms: self.now_ms(), report }
    }
}
