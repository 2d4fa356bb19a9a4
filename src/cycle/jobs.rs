//! A poll of the job list through the core: `observe` (diff against the last snapshot),
//! `count_runs` (the usual runtimes), `decide` (evaluate the rules, then plan within the limits)
//! and `adopt` (once committed).

use super::{plan, Budget, Core, Decision, Guards};
use crate::arcgis::model::SharedNames;
use crate::arcgis::{Item, Job, Listing, NamedJob, Names, Phase};
use crate::clock::ServerMs;
use crate::config::{LimitsConfig, ProtectConfig};
use crate::diff::{diff, listed, Delta, JobEvent, Snapshot};
use crate::ledger::Streaks;
use crate::plan::LedgerRecord;
use crate::rules::evaluate::Input;
use crate::rules::{Evaluation, Firing, RuleSet};
use std::collections::HashMap;

/// A listing and what changed since the last one. A driver may complete the events before
/// deciding (a failed job's messages, a job's item id): they are facts it read.
#[derive(Debug)]
pub struct Observed {
    /// When the list was read.
    pub at: ServerMs,
    /// The jobs as they now stand (a cut-short list keeps those it left out).
    pub next: Snapshot,
    /// The events and the rows to write.
    pub delta: Delta,
    /// The first listing: no events.
    pub baseline: bool,
}

impl Observed {
    /// The jobs no longer listed, as last seen.
    pub fn disappeared(&self) -> impl Iterator<Item = &Job> {
        self.delta.events.iter().filter_map(|event| match event {
            JobEvent::Disappeared { last_seen, .. } => Some(last_seen),
            _ => None,
        })
    }

    /// The jobs new or changed in this listing.
    pub fn changed(&self) -> impl Iterator<Item = &Job> {
        self.delta.upserts.iter().map(|&index| &*self.next.jobs()[index])
    }

    /// How many listed jobs are running.
    fn running(&self) -> usize {
        self.next.phase_bits().iter().filter(|&&bits| bits == 1 << Phase::Running as u8).count()
    }
}

/// The limits of one decision: the target's configuration and the cancels planned in the last
/// hour; `shadow`: those of shadow rules, when they count apart.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    /// `limits:` of the target.
    pub config: &'a LimitsConfig,
    /// Cancels in the last hour.
    pub recent: u32,
    /// Shadow rules' planned cancels in the last hour, when they have a budget of their own.
    pub shadow: Option<u32>,
    /// `protect:` of the target: what no destructive action touches.
    pub protect: &'a ProtectConfig,
    /// The silences in force now.
    pub silences: &'a [crate::silence::Silence],
}

impl Limits<'_> {
    fn budget(&self, running: usize) -> Budget {
        let budget = Budget::new(self.config, running, self.recent);
        match self.shadow {
            Some(shadow) => budget.with_shadow(Budget::new(self.config, running, shadow)),
            None => budget,
        }
    }
}

/// What one poll decided: the evaluation (streaks, waiting firings, unanswerable keys) and the plan.
#[derive(Debug)]
pub struct PollDecision {
    /// What the rules found, but the firings themselves: they are in the plan.
    pub evaluation: Evaluation,
    /// What it becomes within the limits.
    pub decision: Decision,
}

impl Core {
    /// Diffs a listing read at `at` against the last snapshot. An incomplete
    /// list proves nothing about the jobs it left out: they stay as last seen, not gone.
    pub fn observe(&mut self, at: ServerMs, listing: Listing) -> Observed {
        let mut next = listed(listing.listed, self.snapshot.as_ref());
        self.usual.fill_items(&mut next);
        let complete = listing.complete;
        // A list that carries every task id (`inputs`) needs no memory of them.
        if !self.job_tasks.is_empty() && !next.set_tasks(&self.job_tasks) {
            self.job_tasks = HashMap::new();
        }
        let mut delta = diff(self.snapshot.as_ref(), &next);
        let next = if complete { next } else { keep_unlisted(next, &mut delta) };
        let observed = Observed { at, next, delta, baseline: self.snapshot.is_none() };
        for job in observed.disappeared() {
            self.job_tasks.remove(&job.id);
        }
        observed
    }

    /// Takes in the task ids that job resources read for this poll's events gave (`inputs.taskId`,
    /// which an Enterprise list leaves out): into the listing, and remembered while listed.
    pub fn learn_tasks(&mut self, observed: &mut Observed) {
        let read: HashMap<String, String> = observed
            .delta
            .events
            .iter()
            .filter(|e| !matches!(e, JobEvent::Disappeared { .. }))
            .filter_map(|e| Some((e.job().id.clone(), e.job().task_id.clone().filter(|t| !t.is_empty())?)))
            .collect();
        if read.is_empty() {
            return;
        }
        observed.next.set_tasks(&read);
        self.job_tasks.extend(read);
    }

    /// Counts the runs this listing completes into the usual runtimes, when a rule of `target`
    /// uses them, and returns them (to be stored). At the baseline, the completed jobs listed
    /// count, unless runs are known already (they were counted when they were seen).
    pub fn count_runs(&mut self, rules: &RuleSet, target: &str, observed: &Observed) -> Vec<crate::usual::Run> {
        if !rules.wants_item(target, None) {
            return Vec::new();
        }
        match observed.baseline {
            true if self.usual.is_empty() => self.usual.observe_baseline(observed.next.values()),
            true => Vec::new(),
            false => self.usual.observe(&observed.delta.events, observed.at),
        }
    }

    /// Evaluates the rules of `target` against the listing, and plans the firings within `limits`.
    pub fn decide(&self, rules: &RuleSet, target: &str, observed: &Observed, limits: Limits) -> PollDecision {
        let input = Input {
            target,
            now: observed.at,
            snapshot: &observed.next,
            events: &observed.delta.events,
            ledger: &self.ledger,
            streaks: &self.streaks,
            usual: &self.usual,
        };
        let mut evaluation = rules.evaluate(&input);
        self.name_jobs(&mut evaluation.firings);
        let mut budget = limits.budget(observed.running());
        let guards = Guards { protect: limits.protect, silences: limits.silences, told: &self.silenced_told };
        // The plan takes the firings: a first poll may fire tens of thousands.
        let firings = std::mem::take(&mut evaluation.firings);
        let decision = plan(rules, target, firings, (&mut budget, &guards), observed.at);
        PollDecision { evaluation, decision }
    }

    /// Takes the committed poll in: its snapshot, the streaks after it and its ledger rows.
    pub fn adopt(&mut self, observed: Observed, streaks: Streaks, ledger: &[LedgerRecord]) {
        self.record(ledger, observed.at);
        self.streaks = streaks;
        self.snapshot = Some(observed.next);
    }

    /// Gives each firing's job its notebook item (title, owner, or why not known) and the title
    /// of its scheduled task, as last read.
    fn name_jobs(&self, firings: &mut [Firing]) {
        self.name_all(firings.iter_mut().map(|firing| &mut firing.job));
    }

    /// Gives jobs that go to the actions their notebook item and their task's title, as last
    /// read; jobs given the same names share them.
    pub fn name_all<'a>(&self, jobs: impl Iterator<Item = &'a mut NamedJob>) {
        let mut shared = SharedNames::default();
        for job in jobs {
            job.name(shared.share(self.names_of(job)));
        }
    }

    /// Gives one job that goes to the actions its notebook item and its task's title.
    pub fn name_job(&self, job: &mut NamedJob) {
        self.name_all(std::iter::once(job));
    }

    /// The names of a job: those it carries of its own (`nbwarden test`'s `title:`), else its
    /// item as Portal described it, or why that is not known.
    fn names_of(&self, job: &Job) -> Names {
        let known = job.own_notebook().cloned().or_else(|| self.usual.notebook_of(job).cloned());
        let notebook = known.unwrap_or_else(|| match self.usual.item_of(job) {
            None => Item::unknown("this site's job list gives no item id; turn on `poll.details`"),
            Some(_) => Item::unknown("the item has not been read from Portal yet"),
        });
        let task = job.task_id.as_ref().and_then(|id| self.tasks.as_ref()?.get(id));
        Names { notebook: Some(notebook), task_title: task.map(|seen| seen.task.title.clone()) }
    }
}

/// Puts the jobs a cut-short list left out back, as last seen, and drops their `Disappeared`.
fn keep_unlisted(next: Snapshot, delta: &mut Delta) -> Snapshot {
    let mut kept = Vec::new();
    delta.events.retain(|event| match event {
        JobEvent::Disappeared { last_seen, .. } => {
            kept.push(last_seen.clone());
            false
        }
        _ => true,
    });
    if kept.is_empty() {
        next
    } else {
        next.extended(kept)
    }
}
