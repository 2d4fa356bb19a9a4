//! Execution: queued actions run with retries, and every outcome is recorded. A plugin makes one
//! attempt; how often to try, when to give up and what to record are decided here.

use super::commit::planned_report;
use super::{Dispatcher, Mode, CANCEL_CHECK_POLLS};
use crate::actions::{ActionConfig, ActionContext, ActionError, Done, Journaled, Progress};
use crate::arcgis::JobSource;
use crate::clock::LocalMs;
use crate::journal::FINISHED;
use crate::plan::{ActionReport, Attempt, CancelCheck, Outcome, Planned, Queued};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts within one dispatch (`once`: a few quick ones; `run`: one, then backoff).
    pub quick_attempts: u32,
    /// Pause between quick attempts.
    pub quick_pause: Duration,
    /// After this long since queuing, a transient failure becomes final.
    pub give_up_after: Duration,
}

impl RetryPolicy {
    /// `once`: three quick attempts, the rest stays queued.
    pub const ONCE: RetryPolicy = RetryPolicy {
        quick_attempts: 3,
        quick_pause: Duration::from_millis(300),
        give_up_after: Duration::from_secs(3600),
    };
    /// `run`: one attempt per dispatch, backoff between them.
    pub const RUN: RetryPolicy =
        RetryPolicy { quick_attempts: 1, quick_pause: Duration::ZERO, give_up_after: Duration::from_secs(3600) };
}

/// Queued actions read from the store at a time.
pub const DUE_PAGE: u32 = 64;

/// A queued webhook or exec whose rule is gone: its stored copy lacks its secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule} no longer has this {kind} action, and its secrets are not kept in the state file")]
pub struct SecretsGone {
    rule: String,
    kind: &'static str,
}

/// Exponential backoff with ±20 % jitter (taken from `now`): 1 s, 2 s, 4 s, … up to 5 min.
pub fn backoff(attempts: u32, now: LocalMs) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.saturating_sub(1).min(9)).min(Duration::from_secs(300));
    let jitter = 0.8 + 0.4 * (now.0.rem_euclid(1000) as f64 / 1000.0);
    base.mul_f64(jitter)
}

impl Dispatcher {
    /// Runs every queued action that is due (none unless acting), each with the policy's
    /// attempts, at most 8 at once and one page of the queue in memory; records every outcome.
    pub async fn execute_due(
        self: &Arc<Self>,
        sources: &HashMap<String, Arc<dyn JobSource>>,
        policy: RetryPolicy,
    ) -> crate::store::Result<Vec<ActionReport>> {
        let mut reports = Vec::new();
        let mut after = 0;
        loop {
            let page = self.due_after(after, DUE_PAGE).await?;
            let Some(last) = page.last().map(|q| q.id) else { return Ok(reports) };
            reports.extend(self.execute_page(sources, page, policy).await?);
            after = last;
        }
    }

    /// Executes and records one page of the queue, at most 8 at once; the reports in its order.
    async fn execute_page(
        self: &Arc<Self>,
        sources: &HashMap<String, Arc<dyn JobSource>>,
        page: Vec<Queued>,
        policy: RetryPolicy,
    ) -> crate::store::Result<Vec<ActionReport>> {
        let mut tasks = tokio::task::JoinSet::new();
        let limit = Arc::new(tokio::sync::Semaphore::new(8));
        for (index, queued) in page.into_iter().enumerate() {
            let (this, source, limit) = (self.clone(), sources.get(&queued.target).cloned(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let attempt = this.execute(source, &queued, policy).await;
                (index, this.record(&queued, &attempt).await)
            });
        }
        let mut results = tasks.join_all().await;
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// Up to `limit` queued actions due now with ids above `after` (none unless acting).
    pub async fn due_after(&self, after: i64, limit: u32) -> crate::store::Result<Vec<Queued>> {
        if self.mode != Mode::Act {
            return Ok(Vec::new());
        }
        self.store.due_actions(self.scope(), self.now(), after, limit).await
    }

    /// Executes one queued action (the policy's attempts); nothing is recorded yet.
    pub async fn execute(&self, source: Option<Arc<dyn JobSource>>, queued: &Queued, policy: RetryPolicy) -> Attempt {
        match source {
            Some(source) => self.attempt(&*source, queued, policy).await,
            None => Attempt::Final { outcome: Outcome::Failed, detail: "the target is no longer configured".into() },
        }
    }

    /// Records an attempt (and, after a cancel, the checks of the next polls); the report to show.
    pub async fn record(&self, queued: &Queued, attempt: &Attempt) -> crate::store::Result<ActionReport> {
        let planned = &queued.planned;
        if matches!(attempt, Attempt::Final { outcome: Outcome::Done, .. }) && planned.action.is_destructive() {
            for job in &planned.jobs {
                let check =
                    CancelCheck { job_id: job.id.clone(), rule: planned.rule.clone(), polls_left: CANCEL_CHECK_POLLS };
                self.store.add_cancel_check(self.scope(), &queued.target, &check).await?;
            }
        }
        self.store.record_attempt(queued.id, attempt, self.now()).await?;
        Ok(match attempt {
            Attempt::Final { outcome, detail } => planned_report(&queued.target, planned, *outcome, detail.clone()),
            Attempt::Retry { detail, .. } => {
                let detail = format!("{detail}; queued for another try");
                planned_report(&queued.target, planned, Outcome::Failed, detail)
            }
        })
    }

    /// The action as the current rules give it (the stored copy lacks its secrets); the stored
    /// copy when nothing was scrubbed from it; an error for a webhook or exec whose secrets are
    /// gone with its rule.
    pub(super) fn current_action(&self, planned: &Planned) -> Result<Arc<ActionConfig>, SecretsGone> {
        let current = self.rules.get(&planned.rule).and_then(|r| r.actions.get(planned.action_index));
        match current {
            Some(action) if action.kind() == planned.action.kind() => Ok(action.clone()),
            _ if !planned.secrets_scrubbed => Ok(planned.action.clone()),
            _ => Err(SecretsGone { rule: planned.rule.clone(), kind: planned.action.kind() }),
        }
    }

    /// The policy's quick attempts of one queued action, and what the store should record.
    async fn attempt(&self, source: &dyn JobSource, queued: &Queued, policy: RetryPolicy) -> Attempt {
        let plugin = match self.current_action(&queued.planned) {
            Ok(action) => action.build(),
            Err(gone) => return Attempt::Final { outcome: Outcome::Failed, detail: gone.to_string() },
        };
        if queued.planned.settled.iter().any(|s| s == FINISHED) {
            let detail = "finished before nbwarden stopped (from the progress journal); not done again".to_string();
            return Attempt::Final { outcome: Outcome::Done, detail };
        }
        let journal =
            self.services.journal.clone().map(|log| Journaled { log, target: queued.target.clone(), id: queued.id });
        let progress = Progress::new(&queued.planned.settled, journal);
        if !progress.may_act() {
            // Recording this is fenced too: the target's new holder runs the action.
            let detail = "this replica lost the target's lease".to_string();
            return Attempt::Retry { next: self.now(), detail, progress: None };
        }
        let (target, services, occasion) = (&queued.target, &*self.services, queued.planned.occasion());
        let cx = ActionContext { target, source, occasion, services, progress: &progress, now: self.now() };
        let mut attempts = queued.attempts;
        let result = loop {
            attempts += 1;
            match plugin.execute(&cx).await {
                Err(ActionError::Transient(e)) if attempts < queued.attempts + policy.quick_attempts => {
                    tracing::info!(target_name = %queued.target, rule = %queued.planned.rule, error = %e, "transient failure, trying again");
                    tokio::time::sleep(policy.quick_pause * (attempts - queued.attempts)).await;
                }
                other => break other,
            }
        };
        if matches!(result, Ok(Done::Done(_))) {
            progress.settle(FINISHED).await;
        }
        self.settle(queued, policy, attempts, result, &progress)
    }

    /// What the store records after the last quick attempt.
    fn settle(
        &self,
        queued: &Queued,
        policy: RetryPolicy,
        attempts: u32,
        result: Result<Done, ActionError>,
        progress: &Progress,
    ) -> Attempt {
        let now = self.now();
        let expired = now.since(queued.created) >= policy.give_up_after.as_millis() as i64;
        match result {
            Ok(Done::Done(detail)) => Attempt::Final { outcome: Outcome::Done, detail },
            Ok(Done::Skipped(detail)) => Attempt::Final { outcome: Outcome::Skipped, detail },
            Err(ActionError::Permanent(e)) => Attempt::Final { outcome: Outcome::Failed, detail: e.to_string() },
            Err(ActionError::Transient(e)) if expired => Attempt::Final {
                outcome: Outcome::Failed,
                detail: format!("{e}; gave up after {}", crate::config::format_duration(policy.give_up_after)),
            },
            Err(ActionError::Transient(e)) => {
                let next = now.plus(backoff(attempts, now).as_millis() as i64);
                let settled = progress.settled();
                let progress = (settled != queued.planned.settled).then_some(settled);
                Attempt::Retry { next, detail: e.to_string(), progress }
            }
        }
    }
}
