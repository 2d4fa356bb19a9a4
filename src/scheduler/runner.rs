//! The action runner: executes queued actions as soon as a commit queues them (and retries when
//! their backoff is over), at most a few at a time, each at most once at a time; prunes old state.

use super::{stopped_and_grace_over, Context};
use crate::dispatch::{RetryPolicy, DUE_PAGE};
use crate::engine::Line;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// Actions running at once.
const PARALLEL: usize = 8;
/// How often the queue is looked at without a wake-up (retries coming due).
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Pause between tries to record an outcome the store refused.
const RECORD_RETRY: Duration = Duration::from_secs(2);
/// How often old history and audit lines are pruned.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// Runs until the stop, then gives running actions the grace period.
pub async fn run(cx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let limit = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = JoinSet::new();
    let mut next_prune = cx.now();
    let mut cursor = 0;
    loop {
        tokio::select! {
            _ = cx.wake.notified() => {}
            _ = tokio::time::sleep(IDLE_CHECK) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        while tasks.try_join_next().is_some() {}
        start_due(&cx, &in_flight, &limit, &mut tasks, &mut cursor).await;
        if cx.now() >= next_prune {
            next_prune = cx.now().plus(PRUNE_EVERY_MS);
            prune(&cx).await;
        }
    }
    let finish = async { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        _ = finish => {}
        _ = stopped_and_grace_over(stop, cx.grace) => {
            tracing::warn!(left = tasks.len(), "actions still running at the end of the grace period were stopped; they run again at the next start");
            tasks.abort_all();
        }
    }
}

/// Starts the due actions not already running, one page of the queue at a time: `cursor` is the
/// last id read, and goes back to the start once a page comes back short. Each finished action
/// wakes the loop, so that a long queue drains without ever being held whole.
async fn start_due(
    cx: &Arc<Context>,
    in_flight: &Arc<Mutex<HashSet<i64>>>,
    limit: &Arc<Semaphore>,
    tasks: &mut JoinSet<()>,
    cursor: &mut i64,
) {
    let room = DUE_PAGE.saturating_sub(tasks.len() as u32);
    if room == 0 {
        return;
    }
    let due = match cx.shared.dispatch.due_after(*cursor, room).await {
        Ok(due) => due,
        Err(e) => return tracing::error!(error = %e, "cannot read the action queue"),
    };
    *cursor = match due.last() {
        Some(last) if due.len() as u32 == room => last.id,
        _ => 0,
    };
    for queued in due {
        if !in_flight.lock().expect("in flight").insert(queued.id) {
            continue;
        }
        let (cx, in_flight, limit) = (cx.clone(), in_flight.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            // With replicas, the target's lease stays here until the outcome is recorded.
            let _busy = cx.shared.leases.as_ref().map(|leases| leases.busy(&queued.target));
            let id = queued.id;
            let source = cx.sources.get(&queued.target).cloned();
            let started = std::time::Instant::now();
            let attempt = cx.shared.dispatch.execute(source, &queued, RetryPolicy::RUN).await;
            let executed = started.elapsed();
            record_until_stored(&cx, &queued, &attempt).await;
            tracing::debug!(
                id,
                executed_ms = executed.as_millis() as u64,
                recorded_ms = (started.elapsed() - executed).as_millis() as u64,
                "action finished"
            );
            in_flight.lock().expect("in flight").remove(&id);
            cx.wake.notify_one();
        });
    }
}

/// Records an attempt; while the store refuses (a full disk), tries again every few seconds and
/// keeps the action marked as running, so that it is never executed a second time meanwhile.
async fn record_until_stored(cx: &Context, queued: &crate::plan::Queued, attempt: &crate::plan::Attempt) {
    let mut logged = false;
    loop {
        match cx.shared.dispatch.record(queued, attempt).await {
            Ok(report) => return cx.report(&Line::Action(report)),
            Err(e @ crate::store::Error::Fenced(_)) => {
                return tracing::warn!(error = %e, rule = %queued.planned.rule, "abandoned an action: the target's new holder runs it");
            }
            Err(e) if !logged => {
                tracing::error!(error = %e, rule = %queued.planned.rule, "cannot record an action's outcome; it is kept in memory and recorded when the store accepts it");
                logged = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(RECORD_RETRY).await;
    }
}

async fn prune(cx: &Context) {
    match cx
        .shared
        .dispatch
        .store
        .prune(&crate::engine::prune_cutoff(cx.retention, cx.shared.dispatch.now(), &cx.sources))
        .await
    {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "pruned state older than state.retention"),
        Err(e) => tracing::error!(error = %e, "could not prune the state store"),
    }
}
