//! What dispatch plans and records, as plain records: the planned action, the queued one, how an
//! attempt ended, and the report of SPEC §5. Below the store and dispatch, which both use them;
//! it knows the action configurations as data, never how they run.

use crate::actions::{ActionConfig, Occasion};
use crate::arcgis::{Job, NamedJob};
use crate::clock::{LocalMs, ServerMs};
use crate::diff::EventInfo;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How an action ended, or why it did not run: the `outcome` of SPEC §5 and of the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened.
    Done,
    /// A dry run planned it; nothing was done.
    Planned,
    /// It failed (for good, or for now: the report says when it is queued for another try).
    Failed,
    /// Over a limit: reported, not recorded, so it fires again when the budget allows.
    Suppressed,
    /// Nothing to do any more (the job left the matching state).
    Skipped,
    /// A cancelled job was still running some polls later (the audit trail only).
    CancelIgnored,
    /// A dry run's firing that waits: on more matching polls (`for_polls`), or on a job's
    /// crossing of its limit before the next poll.
    Pending,
    /// A silence covers the firing: not done, not recorded, so it fires when the silence ends
    /// if it still matches.
    Silenced,
}

impl Outcome {
    /// Every outcome, in the order the status page lists them.
    pub const ALL: [Outcome; 8] = [
        Outcome::Done,
        Outcome::Planned,
        Outcome::Pending,
        Outcome::Failed,
        Outcome::Suppressed,
        Outcome::Silenced,
        Outcome::Skipped,
        Outcome::CancelIgnored,
    ];

    /// The stored and printed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Planned => "planned",
            Outcome::Failed => "failed",
            Outcome::Suppressed => "suppressed",
            Outcome::Skipped => "skipped",
            Outcome::CancelIgnored => "cancel_ignored",
            Outcome::Pending => "pending",
            Outcome::Silenced => "silenced",
        }
    }

    /// The outcome SPEC §5 prints: a cancel that was ignored is a failure there (the audit trail
    /// and the status board tell it apart).
    pub fn printed(self) -> Outcome {
        match self {
            Outcome::CancelIgnored => Outcome::Failed,
            other => other,
        }
    }

    /// Whether it failed.
    pub fn is_failure(self) -> bool {
        self.printed() == Outcome::Failed
    }

    /// The outcome spelled `text`.
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cancelled job that must leave the running phase within a few polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelCheck {
    /// The job.
    pub job_id: String,
    /// The rule that cancelled it.
    pub rule: String,
    /// Polls left before `cancel_ignored` is reported.
    pub polls_left: u32,
}

/// One firing recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRecord {
    /// The rule.
    pub rule: String,
    /// Of a `mode: shadow` rule: kept apart from the real rule's firings.
    pub shadow: bool,
    /// The job.
    pub job_id: String,
    /// The trigger part of the firing key.
    pub trigger: crate::ledger::Cause,
}

impl LedgerRecord {
    /// The rule's name in the ledger.
    pub fn key(&self) -> std::borrow::Cow<'_, str> {
        crate::ledger::key(&self.rule, self.shadow)
    }
}

/// What an action will do, as planned; stored so that a crash-resumed action does the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    /// The rule's name.
    pub rule: String,
    /// The action's configuration at planning time (stored scrubbed of secrets), shared with the
    /// rule's: a first poll may plan tens of thousands of actions.
    pub action: Arc<ActionConfig>,
    /// Its position in the rule's `actions`, to take its secrets from the current rules.
    #[serde(default)]
    pub action_index: usize,
    /// The jobs concerned (one, or a batch); for a task rule, the task as a job-shaped record
    /// (`TaskFacts::as_job`), so that recipients and batching work as for jobs.
    pub jobs: Vec<NamedJob>,
    /// The scheduled task of a task rule's firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Box<crate::task_diff::TaskFacts>>,
    /// What started it.
    pub event: EventInfo,
    /// When it was planned, on the server's clock (a digest: its slot, on the server's clock).
    pub planned_ms: ServerMs,
    /// A digest's slot as its cron wrote it, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<LocalMs>,
    /// Parts already settled by earlier attempts (e-mail recipients), skipped on retries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settled: Vec<String>,
    /// The stored copy had secrets scrubbed from `action`: it cannot run without its rule. Rows
    /// from before this field was kept count as scrubbed (the safe side).
    #[serde(default = "scrubbed_unless_known")]
    pub secrets_scrubbed: bool,
}

fn scrubbed_unless_known() -> bool {
    true
}

impl Planned {
    /// Action `index` of `rule` for `jobs`, fired by `event` and planned at `now`.
    pub fn of(
        rule: &crate::rules::Rule,
        index: usize,
        jobs: Vec<NamedJob>,
        event: &EventInfo,
        now: ServerMs,
    ) -> Planned {
        Planned {
            rule: rule.name.clone(),
            action: Arc::clone(&rule.actions[index]),
            action_index: index,
            jobs,
            task: None,
            event: event.clone(),
            planned_ms: now,
            slot: None,
            settled: Vec::new(),
            secrets_scrubbed: false,
        }
    }

    /// For the store's tests, which know no rule: rule `r` cancelling executing job `job`.
    #[cfg(test)]
    pub fn cancel_for_tests(job: &str) -> Planned {
        Planned {
            rule: "r".into(),
            action: Arc::new(ActionConfig::Cancel(crate::actions::CancelConfig {})),
            action_index: 0,
            jobs: vec![Job::new(job, crate::arcgis::Status::Executing).into()],
            task: None,
            event: EventInfo { kind: crate::diff::EventKind::Poll, from: None, to: None },
            planned_ms: ServerMs(1_000),
            slot: None,
            settled: Vec::new(),
            secrets_scrubbed: false,
        }
    }

    /// What the plugin acts on: the rule, the event, the jobs and when it was planned.
    pub fn occasion(&self) -> Occasion<'_> {
        let (rule, event, jobs, task) = (&self.rule, &self.event, &self.jobs, self.task.as_deref());
        Occasion { rule, event, jobs, task, planned_ms: self.planned_ms, slot: self.slot }
    }

    /// The copy that may be stored: its secrets scrubbed, and marked when there were any.
    pub fn stored(&self) -> Planned {
        let action = Arc::new(self.action.scrubbed());
        let secrets_scrubbed = action != self.action || self.secrets_scrubbed;
        Planned { action, secrets_scrubbed, ..self.clone() }
    }

    /// The ids of its jobs.
    pub fn job_ids(&self) -> Vec<String> {
        self.jobs.iter().map(|j| j.id.clone()).collect()
    }

    /// The job id each of its jobs was fired under in the ledger: the digest slot's `*`, the
    /// task's key, or the job's own id.
    fn fired_as<'a>(&self, job: &'a Job) -> std::borrow::Cow<'a, str> {
        match (&self.task, self.event.kind) {
            (Some(task), _) => crate::rules::tasks::task_key(&task.task.id).into(),
            (None, crate::diff::EventKind::Schedule) => crate::ledger::DIGEST_JOB.into(),
            (None, _) => job.id.as_str().into(),
        }
    }

    /// The ledger records of this action's firings as `trigger` (tests build commits with them).
    pub fn fired(&self, trigger: &crate::ledger::Cause) -> Vec<LedgerRecord> {
        let record = |job: &NamedJob| LedgerRecord {
            rule: self.rule.clone(),
            shadow: false,
            job_id: self.fired_as(job).into_owned(),
            trigger: trigger.clone(),
        };
        let mut records: Vec<LedgerRecord> = self.jobs.iter().map(record).collect();
        records.dedup();
        records
    }

    /// Keeps the jobs whose firing `recorded` holds ((rule, ledger job id) pairs this commit
    /// inserted; a queued action is never a shadow rule's); false when none is left: another process recorded them first and queued
    /// what they need, so this one queues nothing (defence in depth beside the state file lock).
    pub fn keep_recorded(&mut self, recorded: &std::collections::HashSet<(String, String)>) -> bool {
        let fired = |job: &Job| recorded.contains(&(self.rule.clone(), self.fired_as(job).into_owned()));
        let kept: Vec<NamedJob> = self.jobs.iter().filter(|j| fired(j)).cloned().collect();
        self.jobs = kept;
        !self.jobs.is_empty()
    }
}

/// A queued action, as read back for execution.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its row id.
    pub id: i64,
    /// The target.
    pub target: String,
    /// What to do.
    pub planned: Planned,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was queued.
    pub created: LocalMs,
}

/// How an attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Finished with this outcome (done, failed, skipped); written to the audit trail.
    Final {
        /// The outcome.
        outcome: Outcome,
        /// Details for people.
        detail: String,
    },
    /// A transient failure: try again at `next`.
    Retry {
        /// When to try again.
        next: LocalMs,
        /// The failure.
        detail: String,
        /// What the attempt settled, when that changed: stored so that the next try skips it.
        progress: Option<Vec<String>>,
    },
}

/// What became of one action: an `action` line of SPEC §5, and the body of an audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionReport {
    /// The target.
    pub target: String,
    /// The rule.
    pub rule: String,
    /// cancel, log, …
    pub action: String,
    /// The jobs concerned.
    pub job_ids: Vec<String>,
    /// What became of it (printed as SPEC §5 says: `Outcome::printed`).
    #[serde(serialize_with = "printed")]
    pub outcome: Outcome,
    /// Details for people.
    pub detail: String,
    /// Planned by a `mode: shadow` rule: never executed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
}

fn printed<S: serde::Serializer>(outcome: &Outcome, serializer: S) -> Result<S::Ok, S::Error> {
    outcome.printed().serialize(serializer)
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub at: LocalMs,
    /// What happened.
    pub report: ActionReport,
}
