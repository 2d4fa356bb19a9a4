//! One target's task: poll on the cadence, sooner when a `runtime_over` threshold will be crossed
//! before the next poll (capped), retry failed polls with backoff, fire digest slots.

use super::digests::Digests;
use super::timing::{jitter, Cadence};
use super::{sleep_until, stopped_and_grace_over, Context};
use crate::engine::{Line, Target};
use crate::telemetry::{JOBS, LAST_SUCCESS, POLLS, POLL_ERRORS, POLL_SECONDS, SIGN_IN_PAUSED_UNTIL};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use crate::clock::{LocalMs, Offset};
use crate::cycle::MAX_EXTRA_POLLS;
/// How often the in-memory ledger is pruned like the store.
const PRUNE_EVERY_MS: i64 = 3_600_000;
/// First retry of a failed poll; doubles up to the interval.
const FIRST_RETRY_MS: i64 = 2_000;

/// The schedule state of one target.
struct Schedule {
    cadence: Cadence,
    regular: LocalMs,
    next: LocalMs,
    extra_left: u32,
    failures: u32,
    sign_in_wait: Option<LocalMs>,
}

/// Runs until the stop; the target's state lives in `target`.
pub async fn work(mut target: Target, cx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let name = target.config.name.clone();
    let cadence = match Cadence::of(&target.config.poll) {
        Ok(cadence) => cadence,
        Err(e) => return tracing::error!(target_name = %name, "{e}; this target is not polled"),
    };
    // Present from the start, at zero, so that dashboards and alerts see them before the first error.
    metrics::counter!(POLL_ERRORS, "target" => name.clone()).increment(0);
    metrics::counter!(POLLS, "target" => name.clone()).increment(0);
    let now = cx.now();
    let first = now.plus((jitter() * 1000.0) as i64);
    let mut plan =
        Schedule { cadence, regular: first, next: first, extra_left: MAX_EXTRA_POLLS, failures: 0, sign_in_wait: None };
    let mut digests = Digests::new(&cx.shared.dispatch.rules, &target, now);
    let mut tasks = TaskReads::of(&target, first);
    let mut notebooks = super::notebooks::NotebookReads::of(&target, first);
    let mut next_prune = now.plus(PRUNE_EVERY_MS);
    let mut held_epoch = None;
    let mut activity = super::activity::Kept::restore(&cx, &name).await;
    loop {
        let mut wake = digests.next_due().map_or(plan.next, |d| d.min(plan.next));
        wake = tasks.due(&target, &cx).map_or(wake, |t| t.min(wake));
        wake = notebooks.due().map_or(wake, |n| n.min(wake));
        if cx.shared.leases.as_ref().is_some_and(|l| l.holds(&name).is_none()) {
            wake = cx.now().plus(STANDBY_CHECK_MS);
        }
        if !sleep_until(&cx, wake, &mut stop).await {
            break;
        }
        match lease_gate(&cx, &mut target, &mut held_epoch).await {
            Gate::Standby => continue,
            Gate::Gained => plan.poll_now(cx.now()),
            Gate::Held => {}
        }
        let now = cx.now();
        if target.core().snapshot.as_ref().is_some() {
            for (index, slot) in digests.take_due(&cx.shared.dispatch.rules, now) {
                match target.digest(&cx.shared, index, slot).await {
                    Ok(lines) => lines.iter().for_each(|l| cx.report(l)),
                    Err(e) => tracing::error!(target_name = %name, error = %e, "could not record the digest"),
                }
                cx.wake.notify_one();
            }
        }
        tasks.read_if_due(&mut target, &cx, now).await;
        notebooks.read_if_due(&mut target, &cx, now).await;
        if now < plan.next {
            continue;
        }
        let started = Instant::now();
        let lines = tokio::select! {
            lines = target.tick(&cx.shared) => lines,
            _ = stopped_and_grace_over(stop.clone(), cx.grace) => {
                tracing::warn!(target_name = %name, "poll abandoned at shutdown; nothing of it was committed");
                break;
            }
        };
        cx.wake.notify_one();
        let ok = observe(&target, &cx, &lines, started.elapsed());
        activity.save(&cx, &name).await;
        show_silences(&cx).await;
        plan.after_poll(&target, &cx, ok, now);
        plan.note_sign_in_wait(&name, &lines);
        if now >= next_prune {
            next_prune = now.plus(PRUNE_EVERY_MS);
            let before = target.source.server_now().plus(-(cx.retention.as_millis() as i64));
            let removed = target.prune_memory(before);
            tracing::debug!(target_name = %name, removed, "pruned the in-memory ledger");
        }
    }
}

/// The cadence of a target's scheduled-task reads (`tasks: { every }`).
struct TaskReads {
    every_ms: i64,
    next: Option<LocalMs>,
    /// When the tasks were last read.
    last: LocalMs,
}

impl TaskReads {
    /// The first read comes with the first poll; none without `tasks:`.
    fn of(target: &Target, first: LocalMs) -> TaskReads {
        let every_ms = target.config.tasks.as_ref().map_or(0, |t| t.every.0.as_millis() as i64);
        TaskReads { every_ms, next: target.config.tasks.as_ref().map(|_| first), last: LocalMs(i64::MIN) }
    }

    /// When the next read is due: `every` after the last, or sooner when the core says that a
    /// task's due run passes the grace of a `task_missed` rule since the last read.
    fn due(&self, target: &Target, cx: &Context) -> Option<LocalMs> {
        let next = self.next?;
        let zone = target.config.tasks.as_ref()?.zone();
        let offset = Offset::between(target.source.server_now(), cx.now());
        let rules = &cx.shared.dispatch.rules;
        let grace = target.core().task_wake(rules, &target.config.name, zone).map(|at| at.on_local(offset));
        Some(grace.filter(|at| *at > self.last).map_or(next, |at| at.min(next)))
    }

    /// Reads the tasks when a read is due; the next one comes `every` later, whatever the outcome.
    async fn read_if_due(&mut self, target: &mut Target, cx: &Context, now: LocalMs) {
        if self.due(target, cx).is_none_or(|due| now < due) {
            return;
        }
        self.next = Some(now.plus(self.every_ms));
        self.last = now;
        match target.watch_tasks(&cx.shared).await {
            Ok(lines) => {
                lines.iter().for_each(|l| cx.report(l));
                task_metrics(target);
                cx.board.tasks(&target.config.name, task_views(target));
            }
            Err(e) => {
                tracing::error!(target_name = %target.config.name, error = %e, "could not record the scheduled tasks");
                cx.board.tasks_failed(&target.config.name, &e.to_string());
            }
        }
        cx.wake.notify_one();
    }
}

/// The tasks as last read, in the metrics operators alert on: each task's failures in a row, and
/// the tasks by state (`active`, `paused`, … as Portal says; `inactive` when it gives none).
fn task_metrics(target: &Target) {
    use crate::telemetry::{TASKS, TASK_FAILURES};
    let Some(tasks) = target.core().tasks.as_ref() else { return };
    let name = target.config.name.clone();
    let mut states: std::collections::BTreeMap<String, usize> = Default::default();
    for seen in tasks.values() {
        let failures = f64::from(seen.consecutive_failures);
        metrics::gauge!(TASK_FAILURES, "target" => name.clone(), "task" => seen.task.id.clone()).set(failures);
        let state =
            seen.task.state.clone().unwrap_or_else(|| if seen.task.active { "active" } else { "inactive" }.into());
        *states.entry(state.to_ascii_lowercase()).or_default() += 1;
    }
    for (state, count) in states {
        metrics::gauge!(TASKS, "target" => name.clone(), "state" => state).set(count as f64);
    }
}

/// The tasks as last read, for `/status`.
fn task_views(target: &Target) -> Vec<crate::status::TaskView> {
    let Some(tasks) = target.core().tasks.as_ref() else { return Vec::new() };
    let zone = target.config.tasks.as_ref().map_or(chrono_tz::UTC, |t| t.zone());
    let item_url =
        |seen: &crate::task_diff::Seen| seen.task.item_id.as_deref().and_then(|id| target.source.item_url(id));
    let view = |seen| crate::status::TaskView::of(&target.config.name, seen, zone, item_url(seen), None);
    tasks.values().map(view).collect()
}

/// How often a replica standing by for a target looks whether it holds its lease now.
const STANDBY_CHECK_MS: i64 = 250;

/// Whether this replica polls the target now.
enum Gate {
    /// Another replica holds it (or nobody does yet).
    Standby,
    /// Just taken: its state was loaded afresh from the store, and it is polled at once.
    Gained,
    /// Held, or there are no replicas.
    Held,
}

/// Looks at the target's lease: a lease taken (at a new epoch) reloads the target's state, as
/// the previous holder left it.
async fn lease_gate(cx: &Context, target: &mut Target, held_epoch: &mut Option<i64>) -> Gate {
    let Some(leases) = &cx.shared.leases else { return Gate::Held };
    match leases.holds(&target.config.name) {
        None => {
            *held_epoch = None;
            Gate::Standby
        }
        Some(epoch) if *held_epoch == Some(epoch) => Gate::Held,
        Some(epoch) => match Target::load(target.config.clone(), target.source.clone(), &cx.shared).await {
            Ok(fresh) => {
                *target = fresh;
                *held_epoch = Some(epoch);
                tracing::info!(target_name = %target.config.name, epoch, "polling the target: this replica holds its lease");
                Gate::Gained
            }
            Err(e) => {
                tracing::error!(target_name = %target.config.name, error = %e, "cannot load the target's state; trying again");
                Gate::Standby
            }
        },
    }
}

/// Puts the silences in force on the board and in the metrics.
async fn show_silences(cx: &Context) {
    let now = cx.now();
    let Ok(silences) = cx.shared.dispatch.store.silences(now.plus(-86_400_000)).await else { return };
    let (active, expired): (Vec<_>, Vec<_>) = silences.into_iter().partition(|s| s.active(now));
    cx.board.silences(&active);
    metrics::gauge!(crate::telemetry::SILENCES, "state" => "active").set(active.len() as f64);
    metrics::gauge!(crate::telemetry::SILENCES, "state" => "expired").set(expired.len() as f64);
}

/// Reports a poll's lines and records its metrics; true when the poll succeeded.
fn observe(target: &Target, cx: &Context, lines: &[Line], took: Duration) -> bool {
    let name = target.config.name.clone();
    metrics::counter!(POLLS, "target" => name.clone()).increment(1);
    metrics::histogram!(POLL_SECONDS, "target" => name.clone()).record(took.as_secs_f64());
    let ok = matches!(lines.first(), Some(Line::Poll { ok: true, .. }));
    let waiting = match lines.first() {
        Some(Line::Poll { sign_in_wait: Some(until), .. }) => Some(*until),
        _ => None,
    };
    cx.board.sign_in_wait(&name, waiting);
    metrics::gauge!(SIGN_IN_PAUSED_UNTIL, "target" => name.clone()).set(waiting.map_or(0.0, |w| w.0 as f64 / 1000.0));
    match (ok, target.core().snapshot.as_ref()) {
        (true, Some(snapshot)) => {
            let phases =
                cx.board.polled(&name, snapshot, target.site(), target.source.server_now(), target.source.as_ref());
            metrics::gauge!(LAST_SUCCESS, "target" => name.clone()).set(cx.now().0 as f64 / 1000.0);
            for phase in ["submitted", "running", "completed", "failed", "cancelled", "unknown"] {
                let count = phases.get(phase).copied().unwrap_or(0);
                metrics::gauge!(JOBS, "target" => name.clone(), "phase" => phase).set(count as f64);
            }
        }
        _ => {
            metrics::counter!(POLL_ERRORS, "target" => name.clone()).increment(1);
            if let Some(Line::Poll { error: Some(e), .. }) = lines.first() {
                cx.board.failed(&name, e);
            }
        }
    }
    lines.iter().for_each(|l| cx.report(l));
    ok
}

impl Schedule {
    /// The next poll is now (a lease just taken).
    fn poll_now(&mut self, now: LocalMs) {
        self.regular = now;
        self.next = now;
    }

    /// Polls go on while sign-in waits: they cost no request, and a rotated password file is
    /// tried at once. Each new pause is logged once.
    fn note_sign_in_wait(&mut self, name: &str, lines: &[Line]) {
        let waiting = match lines.first() {
            Some(Line::Poll { sign_in_wait: Some(until), .. }) => Some(*until),
            _ => None,
        };
        if waiting.is_some() && waiting != self.sign_in_wait {
            let until = waiting.and_then(|w| crate::arcgis::model::rfc3339(w.0)).unwrap_or_default();
            tracing::warn!(target_name = %name, until = %until, "sign-in waits until {until} to protect the account from lockout; fix auth and reload (SIGHUP) to try at once");
        }
        self.sign_in_wait = waiting;
    }

    /// Decides the next poll after one that started at `started`.
    fn after_poll(&mut self, target: &Target, cx: &Context, ok: bool, started: LocalMs) {
        let now = cx.now();
        if started >= self.regular {
            self.regular = self.cadence.next_poll(started, now, jitter());
            self.extra_left = MAX_EXTRA_POLLS;
        }
        self.next = self.regular;
        if !ok {
            self.failures += 1;
            let retry = FIRST_RETRY_MS.saturating_mul(1 << self.failures.saturating_sub(1).min(16));
            self.next = self.next.min(now.plus(retry));
            return;
        }
        self.failures = 0;
        if self.extra_left == 0 {
            return;
        }
        if let Some(at) = self.deadline(target, cx, (started, now)) {
            self.next = at;
            self.extra_left -= 1;
            tracing::debug!(target_name = %target.config.name, in_ms = at.since(now), "polling early for a runtime threshold");
        }
    }

    /// An extra poll before the regular one: at a threshold crossing, or soon for a pending streak.
    /// A crossing since the poll started (its evaluation may have come just before it) is due now.
    fn deadline(&self, target: &Target, cx: &Context, (started, now): (LocalMs, LocalMs)) -> Option<LocalMs> {
        target.core().snapshot.as_ref()?;
        let offset = Offset::between(target.source.server_now(), now);
        let window = (started.min(now).on_server(offset), self.regular.on_server(offset));
        let wake = target.core().wake(&cx.shared.dispatch.rules, &target.config.name, window);
        let at = wake.at(now.on_server(offset))?.on_local(offset);
        (at < self.regular).then_some(at)
    }
}
