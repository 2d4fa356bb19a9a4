//! Dispatch: the one place that decides whether to act. Planning (pure) turns firings into
//! ledger records and queued actions within the blast-radius budget; execution runs queued
//! actions with retries and records every outcome. Dry run is decided here and nowhere else.

use crate::actions::{ActionConfig, ActionContext, ActionError, Done, Progress, Services};
use crate::arcgis::auth::local_now_ms;
use crate::arcgis::JobSource;
use crate::config::LimitsConfig;
use crate::rules::{Firing, RuleSet};
pub use crate::store::ActionReport;
use crate::store::{Attempt, CancelCheck, LedgerRecord, Planned, Queued, Scope, Store, FINISHED};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Polls a cancelled job may stay running before `cancel_ignored` is reported.
pub const CANCEL_CHECK_POLLS: u32 = 3;

/// How many destructive firings one poll of one target may still plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    left: u32,
    reason: String,
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
        Budget { left, reason }
    }

    fn take(&mut self) -> bool {
        let ok = self.left > 0;
        self.left = self.left.saturating_sub(1);
        ok
    }
}

/// What one poll's firings become.
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
    for firing in firings {
        let rule = &rules.rules[firing.rule];
        if rule.actions.iter().any(|a| a.is_destructive()) && !budget.take() {
            for action in &rule.actions {
                plan.suppressed.push(ActionReport {
                    target: target.into(),
                    rule: rule.name.clone(),
                    action: action.kind().into(),
                    job_ids: vec![firing.job.id.clone()],
                    outcome: "suppressed".into(),
                    detail: format!("limit reached: {}; fires again when the budget allows", budget.reason),
                });
            }
            continue;
        }
        plan.ledger.push(LedgerRecord {
            rule: rule.name.clone(),
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
            plan.actions.push(Planned {
                rule: rule.name.clone(),
                action: action.clone(),
                action_index: index,
                jobs: vec![firing.job.clone()],
                event: firing.event.clone(),
                planned_ms: now_ms,
                settled: Vec::new(),
                secrets_scrubbed: false,
            });
        }
    }
    plan
}

/// The report of a planned action in a dry run: plugins are never called, only previewed.
pub fn preview(target: &str, source: &dyn JobSource, services: &Services, planned: &Planned) -> ActionReport {
    let progress = Progress::default();
    let cx = ActionContext { target, source, planned, services, progress: &progress };
    report(target, planned, "planned", planned.action.build().preview(&cx))
}

fn report(target: &str, planned: &Planned, outcome: &str, detail: String) -> ActionReport {
    ActionReport {
        target: target.into(),
        rule: planned.rule.clone(),
        action: planned.action.kind().into(),
        job_ids: planned.jobs.iter().map(|j| j.id.clone()).collect(),
        outcome: outcome.into(),
        detail,
    }
}

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

/// The action as the current rules give it (the stored copy lacks its secrets); the stored copy
/// when nothing was scrubbed from it; an error for a webhook or exec whose secrets are gone with
/// its rule.
fn current_action(services: &Services, planned: &Planned) -> Result<ActionConfig, String> {
    let current = services.rules.get(&planned.rule).and_then(|r| r.actions.get(planned.action_index));
    match current {
        Some(action) if action.kind() == planned.action.kind() => Ok(action.clone()),
        _ if !planned.secrets_scrubbed => Ok(planned.action.clone()),
        _ => Err(format!(
            "rule {} no longer has this {} action, and its secrets are not kept in the state file",
            planned.rule,
            planned.action.kind()
        )),
    }
}

/// Exponential backoff with ±20 % jitter: 1 s, 2 s, 4 s, … up to 5 min.
pub fn backoff(attempts: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.saturating_sub(1).min(9)).min(Duration::from_secs(300));
    let jitter = 0.8 + 0.4 * (local_now_ms().rem_euclid(1000) as f64 / 1000.0);
    base.mul_f64(jitter)
}

/// Runs every queued action that is due, each with the policy's attempts; records every outcome.
pub async fn execute_due(
    store: Arc<dyn Store>,
    scope: Scope,
    sources: &HashMap<String, Arc<dyn JobSource>>,
    services: &Arc<Services>,
    policy: RetryPolicy,
) -> crate::store::Result<Vec<ActionReport>> {
    let due = store.due_actions(scope, local_now_ms()).await?;
    let mut tasks = tokio::task::JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    for (index, queued) in due.into_iter().enumerate() {
        let (store, source, limit) = (store.clone(), sources.get(&queued.target).cloned(), limit.clone());
        let services = services.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, run_one(store, scope, source, &services, queued, policy).await)
        });
    }
    let mut results = tasks.join_all().await;
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Runs one queued action with the policy's attempts and records the outcome.
pub async fn run_one(
    store: Arc<dyn Store>,
    scope: Scope,
    source: Option<Arc<dyn JobSource>>,
    services: &Services,
    queued: Queued,
    policy: RetryPolicy,
) -> crate::store::Result<ActionReport> {
    let attempt = execute(source, services, &queued, policy).await;
    record(&*store, scope, &queued, &attempt).await
}

/// Executes one queued action (the policy's attempts); nothing is recorded yet.
pub async fn execute(
    source: Option<Arc<dyn JobSource>>,
    services: &Services,
    queued: &Queued,
    policy: RetryPolicy,
) -> Attempt {
    match source {
        Some(source) => attempt(&*source, services, queued, policy).await,
        None => Attempt::Final { outcome: "failed".into(), detail: "the target is no longer configured".into() },
    }
}

/// Records an attempt (and, after a cancel, the checks of the next polls); the report to show.
pub async fn record(
    store: &dyn Store,
    scope: Scope,
    queued: &Queued,
    attempt: &Attempt,
) -> crate::store::Result<ActionReport> {
    if matches!(attempt, Attempt::Final { outcome, .. } if outcome == "done") && queued.planned.action.is_destructive()
    {
        for job in &queued.planned.jobs {
            let check = CancelCheck {
                job_id: job.id.clone(),
                rule: queued.planned.rule.clone(),
                polls_left: CANCEL_CHECK_POLLS,
            };
            store.add_cancel_check(scope, &queued.target, &check).await?;
        }
    }
    store.record_attempt(queued.id, attempt, local_now_ms()).await?;
    Ok(match attempt {
        Attempt::Final { outcome, detail } => report(&queued.target, &queued.planned, outcome, detail.clone()),
        Attempt::Retry { detail, .. } => {
            report(&queued.target, &queued.planned, "failed", format!("{detail}; queued for another try"))
        }
    })
}

/// The policy's quick attempts of one queued action, and what the store should record.
async fn attempt(source: &dyn JobSource, services: &Services, queued: &Queued, policy: RetryPolicy) -> Attempt {
    let plugin = match current_action(services, &queued.planned) {
        Ok(action) => action.build(),
        Err(detail) => return Attempt::Final { outcome: "failed".into(), detail },
    };
    if queued.planned.settled.iter().any(|s| s == FINISHED) {
        let detail = "finished before nbwarden stopped (from the progress journal); not done again".to_string();
        return Attempt::Final { outcome: "done".into(), detail };
    }
    let journal = services.journal.clone().map(|j| (j, queued.id));
    let progress = Progress::new(&queued.planned.settled, journal);
    let cx = ActionContext { target: &queued.target, source, planned: &queued.planned, services, progress: &progress };
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
        progress.settle(FINISHED);
    }
    let expired = local_now_ms() - queued.created_ms >= policy.give_up_after.as_millis() as i64;
    match result {
        Ok(Done::Done(detail)) => Attempt::Final { outcome: "done".into(), detail },
        Ok(Done::Skipped(detail)) => Attempt::Final { outcome: "skipped".into(), detail },
        Err(ActionError::Permanent(e)) => Attempt::Final { outcome: "failed".into(), detail: e },
        Err(ActionError::Transient(e)) if expired => Attempt::Final {
            outcome: "failed".into(),
            detail: format!("{e}; gave up after {}", crate::config::format_duration(policy.give_up_after)),
        },
        Err(ActionError::Transient(e)) => {
            let next = local_now_ms() + backoff(attempts).as_millis() as i64;
            let settled = progress.settled();
            let progress = (settled != queued.planned.settled).then_some(settled);
            Attempt::Retry { next_ms: next, detail: e, progress }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_poll: u32, per_hour: u32, fraction: f64) -> LimitsConfig {
        LimitsConfig { max_cancels_per_poll: per_poll, max_cancels_per_hour: per_hour, max_cancel_fraction: fraction }
    }

    #[test]
    fn the_tightest_limit_wins_and_one_job_is_always_allowed() {
        assert_eq!(Budget::new(&limits(10, 60, 0.5), 100, 0).left, 10);
        assert_eq!(Budget::new(&limits(10, 60, 0.5), 6, 0).left, 3);
        assert_eq!(Budget::new(&limits(10, 60, 0.5), 1, 0).left, 1, "a single job is always allowed");
        let hourly = Budget::new(&limits(10, 60, 1.0), 100, 58);
        assert_eq!(hourly.left, 2);
        assert!(hourly.reason.contains("max_cancels_per_hour"));
        assert_eq!(Budget::new(&limits(10, 5, 1.0), 100, 9).left, 0);
    }

    /// A site whose cancels fail with `error`, counting the calls.
    struct Failing {
        error: crate::arcgis::Error,
        calls: std::sync::atomic::AtomicU32,
    }

    #[async_trait::async_trait]
    impl JobSource for Failing {
        fn name(&self) -> &str {
            "t"
        }
        async fn poll(&self) -> crate::arcgis::Result<crate::arcgis::Listing> {
            Ok(Default::default())
        }
        async fn job(&self, id: &str) -> crate::arcgis::Result<crate::arcgis::Job> {
            Ok(crate::arcgis::Job::new(id, crate::arcgis::Status::Executing))
        }
        async fn cancel(&self, _: &str) -> crate::arcgis::Result<()> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(self.error.clone())
        }
        async fn user_email(&self, _: &str) -> crate::arcgis::Result<Option<String>> {
            Ok(None)
        }
        fn server_now_ms(&self) -> i64 {
            0
        }
        fn job_url(&self, id: &str) -> String {
            format!("t/{id}")
        }
    }

    fn queued(rules: &RuleSet, rule: &str, age_ms: i64) -> Queued {
        let rule = rules.get(rule).expect("rule");
        Queued {
            id: 1,
            target: "t".into(),
            planned: Planned {
                rule: rule.name.clone(),
                secrets_scrubbed: rule.actions[0].scrubbed() != rule.actions[0],
                action: rule.actions[0].scrubbed(),
                action_index: 0,
                jobs: vec![crate::arcgis::Job::new("j1", crate::arcgis::Status::Executing)],
                event: crate::rules::EventInfo { kind: "poll".into(), from: None, to: None },
                planned_ms: 0,
                settled: Vec::new(),
            },
            attempts: 0,
            created_ms: local_now_ms() - age_ms,
        }
    }

    fn services(rules: RuleSet) -> Services {
        let mut services = Services::new(None, &Default::default()).unwrap();
        services.rules = Arc::new(rules);
        services
    }

    fn rules(text: &str) -> RuleSet {
        RuleSet::parse(std::path::Path::new("r.yaml"), text, &["t"]).unwrap()
    }

    const ONE_TRY: RetryPolicy =
        RetryPolicy { quick_attempts: 1, quick_pause: Duration::ZERO, give_up_after: Duration::from_secs(3600) };

    fn failing(error: crate::arcgis::Error) -> Arc<dyn JobSource> {
        Arc::new(Failing { error, calls: Default::default() })
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_an_hour_has_passed() {
        let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n");
        let down = || crate::arcgis::Error::Connect { url: "t".into(), detail: "refused".into() };
        let young = execute(Some(failing(down())), &services(set.clone()), &queued(&set, "stop", 1_000), ONE_TRY).await;
        assert!(matches!(young, Attempt::Retry { .. }), "{young:?}");
        let old =
            execute(Some(failing(down())), &services(set.clone()), &queued(&set, "stop", 3_601_000), ONE_TRY).await;
        let Attempt::Final { outcome, detail } = old else { panic!("{old:?}") };
        assert_eq!(outcome, "failed");
        assert!(detail.contains("gave up after 1h"), "{detail}");
    }

    #[tokio::test]
    async fn a_paused_sign_in_during_a_cancel_is_retried_after_the_pause() {
        let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n");
        let paused = crate::arcgis::Error::SignInPaused {
            account: "a".into(),
            reason: "refused once".into(),
            until: "later".into(),
            until_ms: 0,
        };
        let attempt = execute(Some(failing(paused)), &services(set.clone()), &queued(&set, "stop", 0), ONE_TRY).await;
        assert!(matches!(attempt, Attempt::Retry { .. }), "transient, not permanent: {attempt:?}");
    }

    #[tokio::test]
    async fn a_target_or_rule_gone_while_its_action_waits() {
        let set = rules("rules:\n  - { name: stop, actions: [{ type: cancel }] }\n  - { name: hook, actions: [{ type: webhook, url: 'https://u:pw@h/x' }] }\n");
        let gone = execute(None, &services(set.clone()), &queued(&set, "stop", 0), ONE_TRY).await;
        assert_eq!(
            gone,
            Attempt::Final { outcome: "failed".into(), detail: "the target is no longer configured".into() }
        );
        // The rule was removed: a cancel holds no secret and runs from its stored copy; a webhook
        // whose URL was scrubbed of credentials cannot, and says why.
        let site = Arc::new(Failing { error: crate::arcgis::Error::NoPortal { what: "x" }, calls: Default::default() });
        let cancel =
            execute(Some(site.clone()), &services(RuleSet::default()), &queued(&set, "stop", 0), ONE_TRY).await;
        assert_eq!(site.calls.load(std::sync::atomic::Ordering::SeqCst), 1, "{cancel:?}");
        let hook = execute(Some(site), &services(RuleSet::default()), &queued(&set, "hook", 0), ONE_TRY).await;
        let Attempt::Final { outcome, detail } = hook else { panic!("{hook:?}") };
        assert_eq!(outcome, "failed");
        assert!(detail.contains("rule hook no longer has this webhook action"), "{detail}");
    }

    #[test]
    fn a_rule_changed_while_its_action_waits_gives_its_current_settings() {
        let before = rules("rules:\n  - { name: hook, actions: [{ type: webhook, url: 'https://u:pw@old/x' }] }\n");
        let after = rules("rules:\n  - { name: hook, actions: [{ type: webhook, url: 'https://u:pw@new/x' }] }\n");
        let waiting = queued(&before, "hook", 0);
        let current = current_action(&services(after), &waiting.planned).unwrap();
        let ActionConfig::Webhook(hook) = current else { panic!("{current:?}") };
        assert_eq!(hook.url, "https://u:pw@new/x", "the current rule's action, secrets included");
        let changed_kind = rules("rules:\n  - { name: hook, actions: [{ type: log }] }\n");
        let error = current_action(&services(changed_kind), &waiting.planned).unwrap_err();
        assert!(error.contains("no longer has this webhook action"), "{error}");
    }

    #[test]
    fn backoff_grows_to_five_minutes_with_jitter() {
        for (attempts, secs) in [(1, 1.0), (2, 2.0), (3, 4.0), (20, 300.0)] {
            let d = backoff(attempts).as_secs_f64();
            assert!(d >= secs * 0.8 && d <= secs * 1.2, "{attempts}: {d}");
        }
    }
}
