//! The scheduler beside the pipeline: one task per target polling on its own cadence (plus
//! deadline wake-ups and digest slots), one task running queued actions, until told to stop.

mod activity;
mod digests;
pub mod heartbeat;
mod leases;
mod notebooks;
mod runner;
pub mod timing;
mod worker;

use crate::clock::LocalMs;
use crate::engine::{Line, Shared, Target};
use crate::status::Board;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// A target is unhealthy after this many intervals (plus one poll timeout) without a successful poll.
const HEALTHY_INTERVALS: u32 = 3;

/// Where reported lines go (the log for `run`, the terminal for `demo`).
pub type Sink = Arc<dyn Fn(&Line) + Send + Sync>;

/// What the scheduler's tasks share.
pub struct Context {
    /// Rules, store, mode, services.
    pub shared: Arc<Shared>,
    /// The job source of each target, for actions.
    pub sources: std::collections::HashMap<String, Arc<dyn crate::arcgis::JobSource>>,
    /// `/status` and `/healthz`.
    pub board: Arc<Board>,
    /// Reported lines.
    pub sink: Sink,
    /// Wakes the action runner (after a commit queued something).
    pub wake: Notify,
    /// How long running polls and actions may go on after the stop.
    pub grace: Duration,
    /// Retention of history and audit.
    pub retention: Duration,
    /// The dead-man heartbeat, when configured.
    pub heartbeat: Option<crate::config::HeartbeatConfig>,
}

impl Context {
    /// Now on this machine's clock (the dispatcher's).
    pub fn now(&self) -> LocalMs {
        self.shared.dispatch.now()
    }

    /// Reports one line: metrics, the board, then the sink.
    pub fn report(&self, line: &Line) {
        use crate::telemetry::{ACTIONS, EVENTS};
        match line {
            Line::Event { target, event, .. } => {
                metrics::counter!(EVENTS, "target" => target.clone(), "event" => event.clone()).increment(1)
            }
            Line::Action(r) => {
                let mut labels = vec![
                    ("target", r.target.clone()),
                    ("rule", r.rule.clone()),
                    ("action", r.action.clone()),
                    ("outcome", r.outcome.printed().to_string()),
                ];
                if r.shadow {
                    labels.push(("mode", "shadow".into()));
                }
                metrics::counter!(ACTIONS, &labels).increment(1);
                if r.action == "close_notebook" && r.outcome == crate::plan::Outcome::Done {
                    metrics::counter!(crate::telemetry::NOTEBOOKS_CLOSED, "target" => r.target.clone()).increment(1);
                }
            }
            Line::Poll { .. } => {}
        }
        self.board.record(line);
        (self.sink)(line);
    }
}

/// The running tasks of one configuration.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The lease keeper: stopped last, so that leases stay renewed while actions finish.
    keeper: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

impl Running {
    /// Starts a task per target and the action runner.
    pub fn start(targets: Vec<Target>, cx: Arc<Context>) -> Running {
        let (stop, watching) = watch::channel(false);
        let intervals: Vec<_> = targets
            .iter()
            .map(|t| {
                let cadence =
                    timing::Cadence::of(&t.config.poll).unwrap_or(timing::Cadence::Every(Duration::from_secs(30)));
                let interval = cadence.interval(cx.now());
                (t.config.name.clone(), interval * HEALTHY_INTERVALS + t.config.poll.timeout.0)
            })
            .collect();
        cx.board.set_targets(&intervals);
        cx.board.set_rules(&cx.shared.dispatch.rules);
        let keeper = cx.shared.leases.clone().map(|leases| {
            let names = targets.iter().map(|t| t.config.name.clone()).collect();
            let (stop, watching) = watch::channel(false);
            (stop, tokio::spawn(leases::keep(cx.clone(), leases, names, watching)))
        });
        let mut tasks = JoinSet::new();
        for target in targets {
            tasks.spawn(worker::work(target, cx.clone(), watching.clone()));
        }
        if let Some(config) = cx.heartbeat.clone() {
            tasks.spawn(heartbeat::beat(cx.clone(), config, watching.clone()));
        }
        tasks.spawn(runner::run(cx.clone(), watching));
        Running { stop, tasks, keeper }
    }

    /// Stops polling, lets running polls and actions finish within the grace period, and waits.
    /// At shutdown the leases are given back, so that other replicas take over at once; at a
    /// reload they are kept, and the new configuration's keeper takes them again (epoch + 1).
    pub async fn stop(mut self, shutdown: bool) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        if let Some((stop, keeper)) = self.keeper.take() {
            match shutdown {
                true => {
                    let _ = stop.send(true);
                    let _ = keeper.await;
                }
                false => keeper.abort(),
            }
        }
    }
}

/// Sleeps until `at`; false when the stop came first.
async fn sleep_until(cx: &Context, at: LocalMs, stop: &mut watch::Receiver<bool>) -> bool {
    let wait = Duration::from_millis(at.since(cx.now()).max(0) as u64);
    let slept = tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = stop.wait_for(|s| *s) => false,
    };
    slept && !*stop.borrow()
}

/// Resolves `grace` after the stop: what runs when the stop comes gets that long to finish.
async fn stopped_and_grace_over(mut stop: watch::Receiver<bool>, grace: Duration) {
    let _ = stop.wait_for(|s| *s).await;
    tokio::time::sleep(grace).await;
}

#[cfg(test)]
mod tests;
