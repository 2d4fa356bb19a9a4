//! `nbwarden run`: the daemon. Starts the scheduler and the HTTP endpoint for the configuration,
//! reloads on SIGHUP (an invalid new configuration is logged and the old one keeps running), and
//! stops on SIGTERM/SIGINT after running polls and actions finish (10 s at most).

use super::setup::{self, Setup};
use crate::engine::{self, Line, Mode};
use crate::scheduler::{Context, Running, Sink};
use crate::status::Board;
use anyhow::Context as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long running polls and actions may finish after a stop.
pub const GRACE: Duration = Duration::from_secs(10);

/// What a daemon is asked to do.
pub struct Options<'a> {
    /// `--config`.
    pub config: Option<&'a Path>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// Where lines go.
    pub sink: Sink,
    /// Stop by itself after this long (`demo`).
    pub stop_after: Option<Duration>,
}

/// One configuration, running: the scheduler and the endpoint.
struct Generation {
    running: Running,
    http_stop: watch::Sender<bool>,
}

/// `nbwarden run [--dry-run]`: runs until SIGTERM or SIGINT.
pub async fn run(config: Option<&Path>, dry_run: bool) -> anyhow::Result<bool> {
    daemon(Options { config, dry_run, sink: Arc::new(log_line), stop_after: None }).await?;
    Ok(true)
}

/// Runs the daemon until a stop signal (or `stop_after`).
pub async fn daemon(options: Options<'_>) -> anyhow::Result<()> {
    let board = Arc::new(Board::default());
    let mut signals = Signals::new()?;
    let mut current = setup::load(options.config)?;
    let mut generation = start(&current, &options, &board).await?;
    let deadline = options.stop_after.map(|d| tokio::time::Instant::now() + d);
    loop {
        let stop_at = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let reloading = tokio::select! {
            signal = signals.next() => signal == Signal::Reload,
            _ = stop_at => false,
        };
        if !reloading {
            break;
        }
        let Some(next) = reload(options.config) else { continue };
        generation.stop().await;
        generation = match start(&next, &options, &board).await {
            Ok(started) => {
                current = next;
                tracing::info!("configuration reloaded");
                started
            }
            Err(e) => {
                tracing::error!("the new configuration could not start ({e:#}); going on with the old one");
                start(&current, &options, &board).await?
            }
        };
    }
    tracing::info!("stopping: running polls and actions get up to {}s", GRACE.as_secs());
    generation.stop().await;
    tracing::info!("stopped; state committed");
    Ok(())
}

/// Loads the configuration again; `None` (with every problem logged) when it is invalid.
fn reload(config: Option<&Path>) -> Option<Setup> {
    tracing::info!("SIGHUP: reloading the configuration and rules");
    match setup::load(config) {
        Ok(next) => Some(next),
        Err(e) => {
            for line in format!("{e:#}").lines() {
                tracing::error!("reload refused: {line}");
            }
            tracing::error!("the configuration was not reloaded; the previous one keeps running");
            None
        }
    }
}

async fn start(setup: &Setup, options: &Options<'_>, board: &Arc<Board>) -> anyhow::Result<Generation> {
    let mode = if options.dry_run || setup.config.dry_run { Mode::DryRun } else { Mode::Act };
    let (_, shared, targets) = setup::engine(setup, mode).await?;
    let (http_stop, http_watch) = watch::channel(false);
    let listen = setup.config.http.listen.trim();
    if !listen.is_empty() {
        let address =
            crate::status::server::start(listen, board.clone(), http_watch).await.map_err(anyhow::Error::msg)?;
        tracing::info!("serving /metrics, /healthz and /status on http://{address}");
    }
    let cx = Context {
        sources: engine::sources(&targets),
        shared,
        board: board.clone(),
        sink: options.sink.clone(),
        wake: Default::default(),
        grace: GRACE,
        retention: setup.config.state.retention.0,
    };
    let names: Vec<&str> = targets.iter().map(|t| t.config.name.as_str()).collect();
    tracing::info!(targets = %names.join(", "), rules = setup.rules.rules.len(), dry_run = mode == Mode::DryRun, "watching");
    Ok(Generation { running: Running::start(targets, Arc::new(cx)), http_stop })
}

impl Generation {
    async fn stop(self) {
        self.running.stop().await;
        let _ = self.http_stop.send(true);
    }
}

/// The daemon's default sink: events and actions as log lines.
pub fn log_line(line: &Line) {
    use crate::text::printable;
    match line {
        Line::Poll { .. } => {}
        Line::Event { target, job_id, event, from, to } => {
            let change = match (from, to) {
                (Some(f), Some(t)) => format!(" {f} -> {t}"),
                _ => String::new(),
            };
            tracing::info!(target_name = %target, job = %printable(job_id), "{event}{change}");
        }
        Line::Action(r) => {
            let jobs = r.job_ids.iter().map(|j| printable(j)).collect::<Vec<_>>().join(", ");
            let detail = printable(&r.detail);
            if r.outcome == "failed" {
                tracing::warn!(target_name = %r.target, rule = %r.rule, jobs, "{} {}: {detail}", r.action, r.outcome);
            } else {
                tracing::info!(target_name = %r.target, rule = %r.rule, jobs, "{} {}: {detail}", r.action, r.outcome);
            }
        }
    }
}

/// SIGTERM/SIGINT stop, SIGHUP reloads.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind| signal(kind).context("cannot listen for signals");
        Ok(Signals {
            term: listen(SignalKind::terminate())?,
            int: listen(SignalKind::interrupt())?,
            hup: listen(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => { tracing::info!("SIGTERM"); Signal::Stop }
            _ = self.int.recv() => { tracing::info!("SIGINT"); Signal::Stop }
            _ = self.hup.recv() => Signal::Reload,
        }
    }
}

/// What a signal asks for.
#[derive(Debug, PartialEq, Eq)]
enum Signal {
    Stop,
    Reload,
}
