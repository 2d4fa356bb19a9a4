//! One tick of one target, the core's driver for polls: poll → the core observes → read the job
//! resources the events need → the core decides → commit → the core adopts; and the lines it
//! reports. A failed poll keeps the previous snapshot; nothing is executed here.

use super::{Line, Resourced, Shared, Target};
use crate::arcgis::client::CANCEL_SINCE;
use crate::arcgis::{Job, JobSource, Phase, Scope, SiteInfo, Status};

use crate::config::Flavor;
use crate::cycle::{Limits, Observed, PollDecision};
use crate::diff::{Delta, JobEvent, Snapshot};
use crate::dispatch::{self, Committed};
use crate::ledger::Streaks;
use crate::plan::{ActionReport, CancelCheck, Outcome};
use crate::rules::Evaluation;
use crate::store::PollCommit;
use std::sync::Arc;

impl Target {
    /// Polls once and commits what it found; returns the lines to report.
    pub async fn tick(&mut self, shared: &Shared) -> Vec<Line> {
        let name = self.config.name.clone();
        let listing = match self.source.poll(self.core.known()).await {
            Ok(listing) => listing,
            Err(e) => {
                if matches!(e, crate::arcgis::Error::SignInPaused { .. }) {
                    tracing::debug!(target_name = %name, error = %e, "poll skipped: sign-in waits");
                } else {
                    tracing::warn!(target_name = %name, error = %e, "poll failed; keeping the previous snapshot");
                }
                return vec![Line::poll_failed(&name, e.to_string(), e.sign_in_wait())];
            }
        };
        let now = self.source.server_now();
        self.announce(shared, &listing.site);
        let scope = listing.site.scope;
        let mut observed = self.core.observe(now, listing);
        let resourced = read_job_resources(&self.source, &mut observed.delta.events).await;
        self.core.learn_tasks(&mut observed);
        let runs = self.learn_items(shared, &mut observed).await;
        self.learn_titles(shared, &observed).await;
        let mut lines = vec![Line::Poll {
            target: name.clone(),
            ok: true,
            jobs: Some(observed.next.len()),
            baseline: Some(observed.baseline),
            scope,
            error: None,
            sign_in_wait: None,
        }];
        lines.extend(observed.delta.events.iter().map(|e| event_line(&name, e)));
        match self.decide_and_commit(shared, observed, runs, &resourced).await {
            Ok(mut more) => lines.append(&mut more),
            Err(e) => {
                tracing::error!(target_name = %name, error = %e, "could not commit the poll; nothing was done");
                lines.truncate(1);
                lines[0] = Line::poll_failed(&name, e.to_string(), None);
            }
        }
        lines
    }

    /// Logs what the site's facts mean for the rules, whenever they change (so at every start):
    /// an account that sees only its own jobs, and cancel rules on a version without cancel.
    fn announce(&mut self, shared: &Shared, site: &SiteInfo) {
        if self.site.as_ref() == Some(site) {
            return;
        }
        let name = &self.config.name;
        if site.scope == Some(Scope::Own) {
            let (user, role) = (site.user.as_deref().unwrap_or("?"), site.role.as_deref().unwrap_or("?"));
            tracing::warn!(target_name = %name, user, role, "the account {user} (role {role}) is no administrator and sees only its own jobs: rules see a partial list; sign in with an administrator");
        }
        if self.config.flavor == Flavor::Enterprise && site.below(CANCEL_SINCE) {
            let version = site.version.as_deref().unwrap_or("?");
            for rule in shared.dispatch.rules.rules.iter().filter(|r| r.applies_to(name) && r.cancels()) {
                tracing::error!(target_name = %name, rule = %rule.name, "rule {} cancels, but cancel needs ArcGIS Enterprise 11.5 and the site runs {version}: its cancels are reported failed, never sent", rule.name);
            }
        }
        self.site = Some(site.clone());
    }

    /// The core decides the poll within the target's limits; the decision, the snapshot's changes
    /// and the cancel checks commit together; only then does the core adopt the poll.
    async fn decide_and_commit(
        &mut self,
        shared: &Shared,
        observed: Observed,
        runs: Vec<crate::usual::Run>,
        resourced: &Resourced,
    ) -> crate::store::Result<Vec<Line>> {
        let name = self.config.name.clone();
        let dispatch = &shared.dispatch;
        let checks = dispatch.store.cancel_checks(dispatch.scope(), &name).await?;
        let (checks_set, checks_dropped, mut ignored) = self.verify_cancels(&checks, &observed.next);
        let hour_ago = dispatch.now().plus(-3_600_000);
        let acting = dispatch.mode == dispatch::Mode::Act;
        // Acting, real cancels are the queued ones; a dry run's and shadow rules' are planned ones.
        let recent = dispatch.store.cancels_since(dispatch.scope(), &name, hour_ago, !acting).await?;
        let shadow = match acting {
            true => Some(dispatch.store.cancels_since(dispatch.scope(), &name, hour_ago, true).await?),
            false => None,
        };
        let now = dispatch.now();
        let silences: Vec<_> = dispatch.store.silences(now).await?.into_iter().filter(|s| s.active(now)).collect();
        let limits =
            Limits { config: &self.config.limits, recent, shadow, protect: &self.config.protect, silences: &silences };
        let PollDecision { evaluation, mut decision } = self.core.decide(&dispatch.rules, &name, &observed, limits);
        self.name_planned(shared, &mut decision, resourced).await;
        log_unanswerable(shared, &evaluation);
        if dispatch.mode == dispatch::Mode::Preview {
            let until = observed.at.plus(self.config.poll.nominal_interval(dispatch.now()).as_millis() as i64);
            let waiting = self.core.waiting(&dispatch.rules, &name, (&observed, &evaluation), until);
            ignored.extend(dispatch.pending(&name, &*self.source, &waiting, observed.at));
        }
        let told = std::mem::take(&mut decision.silenced_keys);
        let (streaks_set, streaks_dropped) = streak_changes(&self.core.streaks, &evaluation.streaks);
        let commit = PollCommit {
            snapshot: Some(&observed.next),
            upserts: observed.changed().collect(),
            gone: gone(&observed.delta),
            runs,
            streaks_set,
            streaks_dropped,
            checks_set,
            checks_dropped,
            ..PollCommit::new(dispatch.scope(), &name, observed.at)
        };
        let Committed { reports, ledger: fired } = dispatch.commit(commit, decision, &*self.source, ignored).await?;
        super::count_firings(&name, &fired);
        self.core.adopt(observed, evaluation.streaks, &fired);
        let active: Vec<&str> = silences.iter().map(|s| s.id.as_str()).collect();
        self.core.adopt_silenced(&told, &active);
        Ok(reports.into_iter().map(Line::Action).collect())
    }

    /// Jobs cancelled earlier must leave the running phase within a few polls.
    fn verify_cancels(
        &self,
        checks: &[CancelCheck],
        next: &Snapshot,
    ) -> (Vec<CancelCheck>, Vec<String>, Vec<ActionReport>) {
        let (mut set, mut dropped, mut ignored) = (Vec::new(), Vec::new(), Vec::new());
        let running = still_running(next, checks);
        for check in checks {
            let still_running = running.contains(check.job_id.as_str());
            match (still_running, check.polls_left) {
                (false, _) => dropped.push(check.job_id.clone()),
                (true, left) if left <= 1 => {
                    dropped.push(check.job_id.clone());
                    tracing::warn!(target_name = %self.config.name, job_id = %crate::text::sanitize(&check.job_id), rule = %check.rule, "cancel_ignored: the job is still running after the cancel");
                    ignored.push(ActionReport {
                        target: self.config.name.clone(),
                        rule: check.rule.clone(),
                        action: "cancel".into(),
                        job_ids: vec![check.job_id.clone()],
                        outcome: Outcome::CancelIgnored,
                        detail: format!(
                            "cancel_ignored: still running {} polls after the cancel",
                            dispatch::CANCEL_CHECK_POLLS
                        ),
                        shadow: false,
                    });
                }
                (true, left) => set.push(CancelCheck { polls_left: left - 1, ..check.clone() }),
            }
        }
        (set, dropped, ignored)
    }
}

/// The ids among `checks` that are still listed as submitted or running (one pass, none if no checks).
fn still_running<'a>(next: &'a Snapshot, checks: &[CancelCheck]) -> std::collections::HashSet<&'a str> {
    if checks.is_empty() {
        return Default::default();
    }
    let watched: std::collections::HashSet<&str> = checks.iter().map(|c| c.job_id.as_str()).collect();
    next.values()
        .filter(|j| watched.contains(j.id.as_str()) && matches!(j.phase(), Phase::Running | Phase::Submitted))
        .map(|j| j.id.as_str())
        .collect()
}

/// Reads, once each, the resources of the jobs whose events need them: a disappeared job for its
/// final status, a job that entered `failed` (status change or first seen failed) for its messages
/// and notebook item. Proportional to change; a few reads at once. Returns the item each resource
/// read named, so that naming the planned jobs reads none of them again.
async fn read_job_resources(source: &Arc<dyn JobSource>, events: &mut [JobEvent]) -> Resourced {
    let reads = events.iter().enumerate().filter(|(_, e)| needs_resource(e)).map(|(index, event)| {
        let (source, id) = (source.clone(), event.job().id.clone());
        async move { (index, source.job(&id).await) }
    });
    let reads: Vec<_> = reads.collect();
    let mut resourced = Resourced::new();
    for (index, read) in super::bounded(reads).await {
        if let Ok(detail) = &read {
            resourced.insert(events[index].job().id.clone(), detail.item_id.clone());
        }
        match (&mut events[index], read) {
            (JobEvent::Disappeared { last_seen, final_status }, Ok(detail)) => {
                *final_status = Some(self::final_status(&detail));
                last_seen.ended_at = last_seen.ended_at.or(detail.ended_at);
                if detail.phase() == Phase::Failed {
                    last_seen.enrich(detail);
                }
            }
            (JobEvent::Appeared(job) | JobEvent::StatusChanged { after: job, .. }, Ok(detail)) => job.enrich(detail),
            // A disappeared job whose resource cannot be read ends `unknown`.
            (event, Err(e)) => {
                let id = crate::text::sanitize(&event.job().id);
                tracing::info!(job = %id, error = %e, "cannot read the job's resource");
            }
        }
    }
    resourced
}

/// Whether an event needs the job's own resource.
fn needs_resource(event: &JobEvent) -> bool {
    match event {
        JobEvent::Disappeared { .. } => true,
        JobEvent::Appeared(job) => job.phase() == Phase::Failed,
        JobEvent::StatusChanged { before, after } => after.phase() == Phase::Failed && before.phase() != Phase::Failed,
    }
}

/// The status a finished job ends with; Notebook Server's `isCancelled` makes it a cancellation.
fn final_status(job: &Job) -> Status {
    match job.phase() {
        Phase::Cancelled => Status::Cancelled(job.status.as_str().to_string()),
        _ => job.status.clone(),
    }
}

fn event_line(target: &str, event: &JobEvent) -> Line {
    let (from, to) = match event {
        JobEvent::Appeared(job) => (None, Some(job.status.as_str().to_string())),
        JobEvent::StatusChanged { before, after } => (Some(before.status.to_string()), Some(after.status.to_string())),
        JobEvent::Disappeared { last_seen, final_status } => (
            Some(last_seen.status.to_string()),
            Some(final_status.as_ref().map_or("unknown".to_string(), |s| s.to_string())),
        ),
    };
    Line::Event { target: target.into(), job_id: event.job().id.clone(), event: event.kind().to_string(), from, to }
}

/// Disappeared jobs with their final status (or `unknown`), kept as history.
fn gone(delta: &Delta) -> Vec<Job> {
    let gone = delta.events.iter().filter_map(|event| match event {
        JobEvent::Disappeared { last_seen, final_status } => {
            Some(last_seen.clone().with_status(final_status.clone().unwrap_or(Status::Unknown("unknown".into()))))
        }
        _ => None,
    });
    gone.collect()
}

type StreakChanges = (Vec<(String, String, u32)>, Vec<(String, String)>);

fn streak_changes(old: &Streaks, new: &Streaks) -> StreakChanges {
    let set =
        new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|((r, j), v)| (r.clone(), j.clone(), *v)).collect();
    let dropped = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    (set, dropped)
}

fn log_unanswerable(shared: &Shared, evaluation: &Evaluation) {
    let mut reported = shared.reported.lock().unwrap_or_else(|p| p.into_inner());
    for (index, key) in &evaluation.unanswerable {
        let rule = &shared.dispatch.rules.rules[*index].name;
        if reported.insert((rule.clone(), key)) {
            tracing::warn!(rule = %rule, key = %key, "this job list cannot answer `{key}`, so the rule does not match those jobs; see `nbwarden check --targets`");
        }
    }
}
