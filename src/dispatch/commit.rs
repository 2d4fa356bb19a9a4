//! The one commit path of polls, digest slots and task reads: a `Decision` of the core is written
//! (and reported) as the run mode says: queued, previewed, or neither.

use super::{failpoint, Dispatcher, Mode};
use crate::actions::{ActionContext, Progress};
use crate::arcgis::{Job, JobSource};
use crate::clock::ServerMs;
use crate::cycle::Decision;
use crate::diff::EventInfo;
use crate::plan::{ActionReport, AuditEntry, LedgerRecord, Outcome, Planned};
use crate::store::PollCommit;

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

/// What a commit leaves to its caller.
#[derive(Debug)]
pub struct Committed {
    /// What to report now.
    pub reports: Vec<ActionReport>,
    /// The ledger records committed, for the core to adopt: handed back, not copied beforehand (a
    /// first poll may record tens of thousands), and the queued actions already dropped.
    pub ledger: Vec<LedgerRecord>,
}

impl Dispatcher {
    /// The one plan-and-commit path of a poll or a digest slot. The plan's ledger, its actions
    /// when acting, and the audit lines of what it reports commit with the rest of `commit` in
    /// one transaction; a preview writes nothing. Returns what to report now (`reports`: cancel
    /// checks; the suppressed firings and, unless acting, what each planned action would do), and
    /// the ledger records committed.
    pub async fn commit(
        &self,
        mut commit: PollCommit<'_>,
        plan: Decision,
        source: &dyn JobSource,
        mut reports: Vec<ActionReport>,
    ) -> crate::store::Result<Committed> {
        commit.local_ms = self.now();
        commit.ledger = plan.ledger;
        let acting = self.mode == Mode::Act;
        reports.extend(plan.suppressed);
        reports.extend(plan.protected);
        reports.extend(plan.silenced);
        // Shadow rules' actions are only previewed, whatever the mode; the others when not acting.
        // Parted in place: a first poll may plan tens of thousands of actions.
        let mut queued = plan.actions;
        let previewed: Vec<Planned> = match acting {
            true => queued.extract_if(.., |p| self.is_shadow(&p.rule)).collect(),
            false => std::mem::take(&mut queued),
        };
        reports.extend(previewed.iter().map(|p| self.preview(commit.target, source, p)));
        commit.actions = queued;
        if self.mode.writes() {
            commit.audit = reports.iter().map(|r| self.audit_entry(r)).collect();
            self.store.commit_poll(&commit).await?;
            failpoint("after_commit").await;
        }
        Ok(Committed { reports, ledger: commit.ledger })
    }

    /// What the rules would do for firings that wait (`once --dry-run`): each action of each
    /// waiting (rule, job) previewed, as `pending`, with `when` it would fire.
    pub fn pending(
        &self,
        target: &str,
        source: &dyn JobSource,
        waiting: &[(usize, Job, String)],
        now: ServerMs,
    ) -> Vec<ActionReport> {
        let event = EventInfo { kind: crate::diff::EventKind::Poll, from: None, to: None };
        let mut reports = Vec::new();
        for (index, job, when) in waiting {
            let rule = &self.rules.rules[*index];
            for action in 0..rule.actions.len() {
                let planned = Planned::of(rule, action, vec![job.clone().into()], &event, now);
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
        let cx = ActionContext { target, source, occasion, services, progress: &progress, now: self.now() };
        let report = planned_report(target, planned, Outcome::Planned, planned.action.build().preview(&cx));
        ActionReport { shadow: self.is_shadow(&planned.rule), ..report }
    }

    /// Whether `rule` is a current `mode: shadow` rule.
    pub fn is_shadow(&self, rule: &str) -> bool {
        self.rules.get(rule).is_some_and(|r| r.shadow)
    }

    /// The audit line of a report that belongs to no queued action.
    fn audit_entry(&self, report: &ActionReport) -> AuditEntry {
        AuditEntry { at: self.now(), report: report.clone() }
    }
}
