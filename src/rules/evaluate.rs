//! Evaluation (pure; no I/O): one poll's snapshot and events, the ledger and the streaks in;
//! firings out. The clock is an argument.

use super::matcher::{Subject, Verdict};
use super::{Rule, RuleSet, Trigger};
use crate::arcgis::{Job, Status};
use crate::diff::{JobEvent, Snapshot};
use crate::ledger::LedgerIndex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Consecutive matching polls per (rule, job), for rules with `for_polls` > 1.
pub type Streaks = HashMap<(String, String), u32>;

/// What started a firing, for templates and output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    /// `poll`, `appeared`, `status_changed`, `disappeared`, `schedule`.
    pub kind: String,
    /// The status before (status changes).
    pub from: Option<String>,
    /// The status after (status changes, final status of a disappearance).
    pub to: Option<String>,
}

/// One rule matching one job once.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// Index of the rule in the rule set.
    pub rule: usize,
    /// The job as matched.
    pub job: Job,
    /// What started it.
    pub event: EventInfo,
    /// The trigger part of the firing key: `poll`, `poll#1`, `appeared`, `EXECUTING->FAILED`, …
    pub trigger: String,
}

/// The result of evaluating one poll of one target.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// New firings, by rule then job id.
    pub firings: Vec<Firing>,
    /// The streaks after this poll (replaces the previous ones).
    pub streaks: Streaks,
    /// (rule index, match key) pairs some job could not answer.
    pub unanswerable: BTreeSet<(usize, &'static str)>,
}

/// Everything one evaluation reads.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The target's name.
    pub target: &'a str,
    /// Now on the server's clock, epoch ms.
    pub now_ms: i64,
    /// The jobs listed by this poll.
    pub snapshot: &'a Snapshot,
    /// The events of this poll (none at a baseline).
    pub events: &'a [JobEvent],
    /// What has fired before.
    pub ledger: &'a LedgerIndex,
    /// Streaks after the previous poll.
    pub streaks: &'a Streaks,
}

impl RuleSet {
    /// Evaluates every rule that applies to the target (schedule rules run elsewhere).
    pub fn evaluate(&self, input: &Input) -> Evaluation {
        let mut out = Evaluation::default();
        for (index, rule) in self.rules.iter().enumerate().filter(|(_, r)| r.applies_to(input.target)) {
            let before = out.firings.len();
            match rule.trigger {
                Trigger::Poll => poll_rule(index, rule, input, &mut out),
                Trigger::Schedule(_) => {}
                _ => event_rule(index, rule, input, &mut out),
            }
            out.firings[before..].sort_by(|a, b| a.job.id.cmp(&b.job.id));
        }
        out
    }
}

/// Checks every condition; `None` when one cannot be answered (noted in `out`).
fn matches(index: usize, rule: &Rule, subject: &Subject, out: &mut Evaluation) -> bool {
    for condition in &rule.conditions {
        match condition.check(subject) {
            Verdict::Holds => {}
            Verdict::Fails => return false,
            Verdict::Unanswerable => {
                out.unanswerable.insert((index, condition.key));
                return false;
            }
        }
    }
    true
}

fn poll_rule(index: usize, rule: &Rule, input: &Input, out: &mut Evaluation) {
    let repeat_ms = rule.repeat.map(|d| d.as_millis() as i64);
    for job in input.snapshot.values() {
        let subject = Subject { job, before: None, now_ms: input.now_ms };
        if !matches(index, rule, &subject, out) {
            continue;
        }
        if rule.for_polls > 1 {
            let key = (rule.name.clone(), job.id.clone());
            let count = input.streaks.get(&key).copied().unwrap_or(0).saturating_add(1);
            out.streaks.insert(key, count);
            if count < rule.for_polls {
                continue;
            }
        }
        if let Some(trigger) = input.ledger.poll_trigger(&rule.name, &job.id, repeat_ms, input.now_ms) {
            let event = EventInfo { kind: "poll".into(), from: None, to: None };
            out.firings.push(Firing { rule: index, job: job.clone(), event, trigger });
        }
    }
}

fn event_rule(index: usize, rule: &Rule, input: &Input, out: &mut Evaluation) {
    let wanted = rule.trigger.as_str();
    for event in input.events.iter().filter(|e| e.kind() == wanted) {
        let (job, before, info, trigger) = describe(event);
        let subject = Subject { job: &job, before, now_ms: input.now_ms };
        if matches(index, rule, &subject, out) && !input.ledger.fired(&rule.name, &job.id, &trigger) {
            out.firings.push(Firing { rule: index, job, event: info, trigger });
        }
    }
}

/// The job to match, the job before, the event info and the trigger key of one event.
fn describe(event: &JobEvent) -> (Job, Option<&Job>, EventInfo, String) {
    match event {
        JobEvent::Appeared(job) => {
            (job.clone(), None, EventInfo { kind: "appeared".into(), from: None, to: None }, "appeared".into())
        }
        JobEvent::StatusChanged { before, after } => {
            let (from, to) = (before.status.as_str(), after.status.as_str());
            let trigger =
                if from == to { format!("{}->{}", before.phase(), after.phase()) } else { format!("{from}->{to}") };
            let info = EventInfo { kind: "status_changed".into(), from: Some(from.into()), to: Some(to.into()) };
            (after.clone(), Some(before), info, trigger)
        }
        JobEvent::Disappeared { last_seen, final_status } => {
            let mut job = last_seen.clone();
            job.status = final_status.clone().unwrap_or(Status::Unknown(String::new()));
            let to = Some(final_status.as_ref().map_or("unknown".to_string(), |s| s.as_str().to_string()));
            let info = EventInfo { kind: "disappeared".into(), from: Some(last_seen.status.as_str().into()), to };
            (job, None, info, "disappeared".into())
        }
    }
}
