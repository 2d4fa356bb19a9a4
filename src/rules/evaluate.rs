//! Evaluation (pure; no I/O): one poll's snapshot and events, the ledger and the streaks in;
//! firings out. The clock is an argument.

use super::matcher::{StatusValue, Subject, Test, Verdict};
use super::{Rule, RuleSet, Trigger};
use crate::arcgis::{Job, NamedJob, Status};
use crate::clock::ServerMs;
use crate::diff::{EventInfo, JobEvent, Snapshot};
use crate::ledger::{Cause, Entry, LedgerIndex, Streaks};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// One rule matching one job once.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// Index of the rule in the rule set.
    pub rule: usize,
    /// The job as matched (shared with the snapshot), with the names it is given for the actions.
    pub job: NamedJob,
    /// What started it.
    pub event: EventInfo,
    /// The trigger part of the firing key: `poll`, `poll#1`, `appeared`, `EXECUTING->FAILED`, …
    pub trigger: Cause,
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
    /// Firings that wait for more matching polls (`for_polls`).
    pub pending: Vec<Pending>,
}

/// A poll rule that matches a job but waits for more matching polls in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Index of the rule in the rule set.
    pub rule: usize,
    /// Index of the job in the snapshot.
    pub job: usize,
    /// Matching polls in a row so far (this one included).
    pub seen: u32,
}

/// Everything one evaluation reads.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The target's name.
    pub target: &'a str,
    /// Now on the server's clock.
    pub now: ServerMs,
    /// The jobs listed by this poll.
    pub snapshot: &'a Snapshot,
    /// The events of this poll (none at a baseline).
    pub events: &'a [JobEvent],
    /// What has fired before.
    pub ledger: &'a LedgerIndex,
    /// Streaks after the previous poll.
    pub streaks: &'a Streaks,
    /// The target's usual runtimes (`runtime_over_usual`).
    pub usual: &'a crate::usual::Usual,
}

impl RuleSet {
    /// Evaluates every rule that applies to the target (schedule rules run elsewhere).
    /// Poll rules go job by job, each job read once for all of them: memory, not rules, is the
    /// cost at 100k jobs.
    pub fn evaluate(&self, input: &Input) -> Evaluation {
        let mut out = Evaluation::default();
        let applicable: Vec<(usize, &Rule)> =
            self.rules.iter().enumerate().filter(|(_, r)| r.applies_to(input.target)).collect();
        let poll: Vec<(usize, &Rule)> =
            applicable.iter().copied().filter(|(_, r)| matches!(r.trigger, Trigger::Poll)).collect();
        let mut poll_firings = poll_rules(&poll, input, &mut out).into_iter();
        let mut by_rule = Vec::with_capacity(applicable.len());
        for (index, rule) in applicable {
            let mut firings = match rule.trigger {
                Trigger::Poll => {
                    let mut firings = poll_firings.next().unwrap_or_default();
                    firings.extend(resolutions(index, rule, input));
                    firings
                }
                Trigger::Appeared | Trigger::StatusChanged | Trigger::Disappeared => {
                    event_rule(index, rule, input, &mut out)
                }
                // Digests, task and notebook rules are planned elsewhere (engine/digest.rs, the
                // task and notebook watchers).
                Trigger::Schedule(_)
                | Trigger::TaskFailed
                | Trigger::TaskStopped
                | Trigger::TaskMissed { .. }
                | Trigger::Notebook => Vec::new(),
            };
            firings.sort_by(|a, b| a.job.id.cmp(&b.job.id));
            by_rule.push(firings);
        }
        // Sized once: a first poll may fire tens of thousands, and a growing vector of them would
        // hold up to three times their size while it moves them.
        out.firings.reserve_exact(by_rule.iter().map(Vec::len).sum());
        for mut firings in by_rule {
            out.firings.append(&mut firings);
        }
        out
    }
}

/// The phases a poll rule can match, as a bit mask: those its `status` condition names, or all.
/// Most poll rules name a phase (`status: running`), so they visit a small share of the jobs.
pub(super) fn phase_mask(rule: &Rule) -> u8 {
    let named = rule.conditions.iter().find_map(|c| match (&c.test, c.negated) {
        (Test::Status(values), false) => values.iter().try_fold(0u8, |mask, v| match v {
            StatusValue::Phase(p) => Some(mask | 1 << *p as u8),
            StatusValue::Raw(_) | StatusValue::None => None,
        }),
        _ => None,
    });
    named.unwrap_or(u8::MAX)
}

/// Evaluates the poll rules job by job: rules that visit the same phases are applied together,
/// so that each job is read from memory once, whatever the number of rules.
fn poll_rules(poll: &[(usize, &Rule)], input: &Input, out: &mut Evaluation) -> Vec<Vec<Firing>> {
    let ids = input.snapshot.id_hashes();
    let (phases, starts) = (input.snapshot.phase_bits(), input.snapshot.open_starts());
    let fired: Vec<_> = poll.iter().map(|(_, rule)| input.ledger.rule(&rule.ledger_name())).collect();
    let floors: Vec<Option<Duration>> = poll.iter().map(|(_, rule)| start_floor(rule)).collect();
    let mut groups: Vec<(u8, Vec<usize>)> = Vec::new();
    for (slot, (_, rule)) in poll.iter().enumerate() {
        let mask = phase_mask(rule);
        match groups.iter_mut().find(|(m, _)| *m == mask) {
            Some((_, slots)) => slots.push(slot),
            None => groups.push((mask, vec![slot])),
        }
    }
    let mut firings: Vec<Vec<Firing>> = vec![Vec::new(); poll.len()];
    for (mask, slots) in &groups {
        for position in (0..ids.len()).filter(|&p| phases[p] & mask != 0) {
            for &slot in slots {
                if floors[slot].is_some_and(|limit| young(starts[position], input.now, limit)) {
                    continue;
                }
                let (index, rule) = poll[slot];
                if let Some(firing) = poll_firing(
                    index,
                    rule,
                    (position, input.snapshot.job(position), ids[position]),
                    fired[slot],
                    input,
                    out,
                ) {
                    firings[slot].push(firing);
                }
            }
        }
    }
    firings
}

/// The runtime limit that a job's start alone can rule out: a rule's first `runtime_over`, when
/// every condition before it is a `status` test (always answerable). A job that has run no
/// longer fails that condition, and no condition that cannot be answered comes before it, so
/// the rule is not even tried on it, and its `Job` is not read.
pub(super) fn start_floor(rule: &Rule) -> Option<Duration> {
    for condition in &rule.conditions {
        match (&condition.test, condition.negated) {
            (Test::RuntimeOver(limit), false) => return Some(*limit),
            (Test::Status(_), _) => {}
            _ => return None,
        }
    }
    None
}

/// True when a job without an end time, started at `start` (`i64::MIN`: not such a job), has run
/// no longer than `limit` at `now`: exactly when `Job::runtime` would not exceed it.
pub(super) fn young(start: i64, now: ServerMs, limit: Duration) -> bool {
    crate::diff::open_runtime(start, now).is_some_and(|runtime| runtime <= limit)
}

/// The firings that resolve what a poll rule following the state (`resend`) fired for and has
/// not resolved: a listed job that no longer matches, or one that left the list at this poll.
/// Few: one per open alert, found in one pass over the ids only when there is one.
fn resolutions(index: usize, rule: &Rule, input: &Input) -> Vec<Firing> {
    let Some(fired) = rule.resend.and_then(|_| input.ledger.rule(&rule.ledger_name())) else { return Vec::new() };
    let open: HashSet<u64> = fired
        .iter()
        .filter(|(_, entry)| entry.poll_firings > 0 && !entry.triggers.contains(&Cause::Resolved))
        .map(|(hash, _)| *hash)
        .collect();
    if open.is_empty() {
        return Vec::new();
    }
    let resolved = |job: NamedJob| {
        let event = EventInfo { kind: crate::diff::EventKind::Resolved, from: None, to: Some(job.status.to_string()) };
        Firing { rule: index, job, event, trigger: Cause::Resolved }
    };
    let holds = |job: &Job| {
        let subject = Subject::at(job, input.now, input.usual);
        rule.conditions.iter().all(|c| c.check(&subject) == Verdict::Holds)
    };
    let (jobs, ids) = (input.snapshot.jobs(), input.snapshot.id_hashes());
    let listed = ids.iter().zip(jobs).filter(|(hash, job)| open.contains(hash) && !holds(job));
    let mut firings: Vec<Firing> = listed.map(|(_, job)| resolved(NamedJob::new(Arc::clone(job)))).collect();
    for event in input.events {
        if let JobEvent::Disappeared { last_seen, final_status } = event {
            if open.contains(&crate::ledger::id_hash(&last_seen.id)) {
                let status = final_status.clone().unwrap_or(Status::Unknown(String::new()));
                firings.push(resolved(last_seen.clone().with_status(status).into()));
            }
        }
    }
    firings
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
    (position, job, id_hash): (usize, &Arc<Job>, u64),
    fired: Option<&HashMap<u64, Entry>>,
    input: &Input,
    out: &mut Evaluation,
) -> Option<Firing> {
    let subject = Subject::at(job, input.now, input.usual);
    if !matches(index, rule, &subject, out) {
        return None;
    }
    let repeat_ms = rule.repeat_ms();
    let entry = fired.and_then(|entries| entries.get(&id_hash));
    let trigger = crate::ledger::poll_trigger(entry, repeat_ms, input.now);
    if rule.for_polls > 1 {
        let key = (rule.name.clone(), job.id.clone());
        let count = input.streaks.get(&key).copied().unwrap_or(0).saturating_add(1);
        out.streaks.insert(key, count);
        if count < rule.for_polls {
            if trigger.is_some() {
                out.pending.push(Pending { rule: index, job: position, seen: count });
            }
            return None;
        }
    }
    let trigger = trigger?;
    Some(Firing {
        rule: index,
        job: NamedJob::new(Arc::clone(job)),
        event: EventInfo { kind: crate::diff::EventKind::Poll, from: None, to: None },
        trigger,
    })
}

fn event_rule(index: usize, rule: &Rule, input: &Input, out: &mut Evaluation) -> Vec<Firing> {
    let wanted = rule.trigger.kind();
    // A job first seen (after the baseline) already in a status changed from `none` (SPEC §4.10).
    let first_seen_counts = matches!(rule.trigger, Trigger::StatusChanged);
    let mut firings = Vec::new();
    let relevant = |e: &&JobEvent| e.kind() == wanted || first_seen_counts && matches!(e, JobEvent::Appeared(_));
    for event in input.events.iter().filter(relevant) {
        let final_job;
        let (job, before) = match event {
            JobEvent::Appeared(job) => (job, None),
            JobEvent::StatusChanged { before, after } => (after, Some(before)),
            JobEvent::Disappeared { last_seen, final_status } => {
                final_job =
                    last_seen.clone().with_status(final_status.clone().unwrap_or(Status::Unknown(String::new())));
                (&final_job, None)
            }
        };
        let subject = Subject { job, before, now: input.now, usual: input.usual };
        if !matches(index, rule, &subject, out) {
            continue;
        }
        let (info, trigger) = match event {
            JobEvent::Appeared(job) if first_seen_counts => first_seen(job),
            _ => describe(event),
        };
        if !input.ledger.fired(&rule.ledger_name(), &job.id, &trigger) {
            firings.push(Firing { rule: index, job: job.clone().into(), event: info, trigger });
        }
    }
    firings
}

/// A job first seen in its status: a change from `none`, trigger `none->FAILED`.
fn first_seen(job: &Job) -> (EventInfo, Cause) {
    let to = job.status.as_str();
    let info =
        EventInfo { kind: crate::diff::EventKind::StatusChanged, from: Some("none".into()), to: Some(to.into()) };
    (info, Cause::Changed { from: "none".into(), to: to.into() })
}

/// The event info and the trigger part of the firing key of one event.
fn describe(event: &JobEvent) -> (EventInfo, Cause) {
    match event {
        JobEvent::Appeared(_) => {
            (EventInfo { kind: crate::diff::EventKind::Appeared, from: None, to: None }, Cause::Appeared)
        }
        JobEvent::StatusChanged { before, after } => {
            let (from, to) = (before.status.as_str(), after.status.as_str());
            let trigger = match from == to {
                true => Cause::Changed { from: before.phase().to_string(), to: after.phase().to_string() },
                false => Cause::Changed { from: from.into(), to: to.into() },
            };
            (
                EventInfo { kind: crate::diff::EventKind::StatusChanged, from: Some(from.into()), to: Some(to.into()) },
                trigger,
            )
        }
        JobEvent::Disappeared { last_seen, final_status } => {
            let to = Some(final_status.as_ref().map_or("unknown".to_string(), |s| s.as_str().to_string()));
            let info = EventInfo {
                kind: crate::diff::EventKind::Disappeared,
                from: Some(last_seen.status.as_str().into()),
                to,
            };
            (info, Cause::Disappeared)
        }
    }
}
