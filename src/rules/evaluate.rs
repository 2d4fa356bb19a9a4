//! Evaluation (pure; no I/O): one poll's snapshot and events, the ledger and the streaks in;
//! firings out. The clock is an argument.

use super::matcher::{StatusValue, Subject, Test, Verdict};
use super::{Rule, RuleSet, Trigger};
use crate::arcgis::{Job, Phase, Status};
use crate::diff::{JobEvent, Snapshot};
use crate::ledger::{Entry, LedgerIndex};
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
    /// Poll rules go job by job, each job read once for all of them: memory, not rules, is the
    /// cost at 100k jobs.
    pub fn evaluate(&self, input: &Input) -> Evaluation {
        let mut out = Evaluation::default();
        let applicable: Vec<(usize, &Rule)> =
            self.rules.iter().enumerate().filter(|(_, r)| r.applies_to(input.target)).collect();
        let jobs: Vec<(&Job, u64)> = input.snapshot.with_id_hashes().collect();
        let buckets = PhaseBuckets::new(&jobs);
        for (index, rule) in applicable {
            let mut firings = match rule.trigger {
                Trigger::Poll => poll_rule(index, rule, &jobs, &buckets, input, &mut out),
                Trigger::Schedule(_) => Vec::new(),
                _ => event_rule(index, rule, input, &mut out),
            };
            firings.sort_by(|a, b| a.job.id.cmp(&b.job.id));
            out.firings.append(&mut firings);
        }
        out
    }
}

/// Positions of the jobs of each phase, in listing order: most poll rules start with a phase
/// (`status: running`), and visiting only those jobs is what keeps 100k-job polls cheap.
struct PhaseBuckets {
    by_phase: [Vec<usize>; 6],
}

impl PhaseBuckets {
    fn new(jobs: &[(&Job, u64)]) -> PhaseBuckets {
        let mut by_phase: [Vec<usize>; 6] = Default::default();
        for (position, (job, _)) in jobs.iter().enumerate() {
            by_phase[job.phase() as usize].push(position);
        }
        PhaseBuckets { by_phase }
    }

    /// The positions a rule must visit: the buckets of the phases its status condition names,
    /// or every job when it names none (or only raw statuses, or wraps them in `not`).
    fn for_rule(&self, rule: &Rule, total: usize) -> Vec<usize> {
        let phases: Option<Vec<Phase>> = rule.conditions.iter().find_map(|c| match (&c.test, c.negated) {
            (Test::Status(values), false) => values
                .iter()
                .map(|v| match v {
                    StatusValue::Phase(p) => Some(*p),
                    StatusValue::Raw(_) => None,
                })
                .collect(),
            _ => None,
        });
        match phases {
            Some(phases) => {
                let mut positions: Vec<usize> =
                    phases.iter().flat_map(|p| self.by_phase[*p as usize].iter().copied()).collect();
                positions.sort_unstable();
                positions.dedup();
                positions
            }
            None => (0..total).collect(),
        }
    }
}

fn poll_rule(
    index: usize,
    rule: &Rule,
    jobs: &[(&Job, u64)],
    buckets: &PhaseBuckets,
    input: &Input,
    out: &mut Evaluation,
) -> Vec<Firing> {
    let fired = input.ledger.rule(&rule.name);
    buckets
        .for_rule(rule, jobs.len())
        .into_iter()
        .filter_map(|position| poll_firing(index, rule, jobs[position], fired, input, out))
        .collect()
}

/// Checks every condition; notes the keys a job cannot answer.
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

/// The firing of one poll rule for one job, if it matches and the ledger allows it.
fn poll_firing(
    index: usize,
    rule: &Rule,
    (job, id_hash): (&Job, u64),
    fired: Option<&HashMap<u64, Entry>>,
    input: &Input,
    out: &mut Evaluation,
) -> Option<Firing> {
    let subject = Subject { job, before: None, now_ms: input.now_ms };
    if !matches(index, rule, &subject, out) {
        return None;
    }
    if rule.for_polls > 1 {
        let key = (rule.name.clone(), job.id.clone());
        let count = input.streaks.get(&key).copied().unwrap_or(0).saturating_add(1);
        out.streaks.insert(key, count);
        if count < rule.for_polls {
            return None;
        }
    }
    let repeat_ms = rule.repeat.map(|d| d.as_millis() as i64);
    let entry = fired.and_then(|entries| entries.get(&id_hash));
    let trigger = crate::ledger::poll_trigger(entry, repeat_ms, input.now_ms)?;
    Some(Firing {
        rule: index,
        job: job.clone(),
        event: EventInfo { kind: "poll".into(), from: None, to: None },
        trigger,
    })
}

fn event_rule(index: usize, rule: &Rule, input: &Input, out: &mut Evaluation) -> Vec<Firing> {
    let wanted = rule.trigger.as_str();
    let mut firings = Vec::new();
    for event in input.events.iter().filter(|e| e.kind() == wanted) {
        let (job, before, info, trigger) = describe(event);
        let subject = Subject { job: &job, before, now_ms: input.now_ms };
        if matches(index, rule, &subject, out) && !input.ledger.fired(&rule.name, &job.id, &trigger) {
            firings.push(Firing { rule: index, job, event: info, trigger });
        }
    }
    firings
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
