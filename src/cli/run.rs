//! `nbwarden run`: the daemon. Starts the scheduler and the HTTP endpoint for the configuration,
//! reloads on SIGHUP (an invalid new configuration is logged and the old one keeps running), and
//! stops on SIGTERM/SIGINT after running polls and actions finish (10 s at most).

use super::setup::{self, Setup};
use crate::config::HttpConfig;
use crate::dispatch::Mode;
use crate::engine::{self, Line};
use crate::scheduler::{Context, Running, Sink};
use crate::status::server::Access;
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

/// The HTTP endpoint; it outlives reloads unless `http.listen` changes.
struct Endpoint {
    http: HttpConfig,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
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
    let mut held = setup::lock_state(&current.config, Mode::Act)?;
    let mut endpoint = Endpoint::start(&current.config.http, &board).await?;
    let mut running = start(&current, &options, &board).await?;
    reloaded(true);
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
        let Some(next) = reload(options.config) else {
            reloaded(false);
            continue;
        };
        let moved =
            next.config.state.path != current.config.state.path || next.config.state.url != current.config.state.url;
        let next_hold = match moved.then(|| setup::lock_state(&next.config, Mode::Act)).transpose() {
            Ok(hold) => hold,
            Err(e) => {
                tracing::error!("reload refused: {e:#}; the previous configuration keeps running");
                reloaded(false);
                continue;
            }
        };
        running.stop(false).await;
        running = match start(&next, &options, &board).await {
            Ok(started) => {
                current = next;
                if let Some(hold) = next_hold {
                    held = hold;
                }
                tracing::info!("configuration reloaded");
                reloaded(true);
                started
            }
            Err(e) => {
                tracing::error!("the new configuration could not start ({e:#}); going on with the old one");
                reloaded(false);
                start(&current, &options, &board).await?
            }
        };
        endpoint = Endpoint::follow(endpoint, &current.config.http, &board).await;
    }
    tracing::info!("stopping: running polls and actions get up to {}s", GRACE.as_secs());
    running.stop(true).await;
    if let Some(endpoint) = endpoint {
        endpoint.stop().await;
    }
    tracing::info!("stopped; state committed");
    drop(held);
    Ok(())
}

/// Records a reload's outcome as Prometheus and Alertmanager name theirs: whether the last one
/// succeeded, and when one last did (the start counts as one).
fn reloaded(ok: bool) {
    use crate::telemetry::{RELOAD_OK, RELOAD_OK_AT};
    metrics::gauge!(RELOAD_OK).set(if ok { 1.0 } else { 0.0 });
    if ok {
        metrics::gauge!(RELOAD_OK_AT).set(crate::clock::local_now_ms() as f64 / 1000.0);
    }
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

/// Starts the scheduler for `setup`.
async fn start(setup: &Setup, options: &Options<'_>, board: &Arc<Board>) -> anyhow::Result<Running> {
    let mode = if options.dry_run || setup.config.dry_run { Mode::DryRun } else { Mode::Act };
    let (_, shared, targets) = setup::engine(setup, mode).await?;
    let cx = Context {
        sources: engine::sources(&targets),
        shared,
        board: board.clone(),
        sink: options.sink.clone(),
        wake: Default::default(),
        grace: GRACE,
        retention: setup.config.state.retention.0,
        heartbeat: setup.config.heartbeat.clone(),
    };
    let names: Vec<&str> = targets.iter().map(|t| t.config.name.as_str()).collect();
    tracing::info!(targets = %names.join(", "), rules = setup.rules.rules.len(), dry_run = mode == Mode::DryRun, "watching");
    Ok(Running::start(targets, Arc::new(cx)))
}

impl Endpoint {
    /// Serves `http.listen`; `None` when it is empty (the endpoint is off).
    async fn start(http: &HttpConfig, board: &Arc<Board>) -> anyhow::Result<Option<Endpoint>> {
        board.show_details(http.show_details);
        let listen = http.listen.trim();
        if listen.is_empty() {
            return Ok(None);
        }
        let (stop, watching) = watch::channel(false);
        let access = Access { hosts: http.hosts.clone() };
        let (address, task) = crate::status::server::start(listen, board.clone(), access, watching).await?;
        tracing::info!("serving /metrics, /healthz and /status on http://{address}");
        if !crate::status::server::is_loopback(listen) {
            tracing::warn!("http.listen {listen} serves /metrics, /healthz and /status beyond this machine: anyone who can reach the port reads the targets, rules and recent actions (read-only; e-mail recipients and program output only with http.show_details); prefer 127.0.0.1 behind a proxy, or a firewall or NetworkPolicy");
        }
        Ok(Some(Endpoint { http: http.clone(), stop, task }))
    }

    /// After a reload: the same endpoint, or one on the new address (the old one if that fails).
    async fn follow(current: Option<Endpoint>, http: &HttpConfig, board: &Arc<Board>) -> Option<Endpoint> {
        let old = current.as_ref().map_or(HttpConfig { listen: String::new(), ..http.clone() }, |e| e.http.clone());
        if old.listen.trim() == http.listen.trim() && old.hosts == http.hosts {
            board.show_details(http.show_details);
            return current;
        }
        if let Some(endpoint) = current {
            endpoint.stop().await;
        }
        match Endpoint::start(http, board).await {
            Ok(endpoint) => endpoint,
            Err(e) => {
                tracing::error!("{e:#}; serving on the previous address");
                Endpoint::start(&old, board).await.ok().flatten()
            }
        }
    }

    /// Stops serving; open connections get a few seconds.
    async fn stop(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(3), &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

/// The daemon's default sink: events and actions as log lines.
pub fn log_line(line: &Line) {
    use crate::text::sanitize;
    match line {
        Line::Poll { .. } => {}
        Line::Event { target, job_id, event, from, to } => {
            let change = match (from, to) {
                (Some(f), Some(t)) => format!(" {} -> {}", sanitize(f), sanitize(t)),
                _ => String::new(),
            };
            tracing::info!(target_name = %target, job = %sanitize(job_id), "{event}{change}");
        }
        Line::Action(r) => {
            let jobs = r.job_ids.iter().map(|j| sanitize(j)).collect::<Vec<_>>().join(", ");
            let detail = sanitize(&r.detail);
            if r.outcome.is_failure() {
                tracing::warn!(target_name = %r.target, rule = %r.rule, jobs, "{} {}: {detail}", r.action, r.outcome.printed());
            } else {
                let mode = if r.shadow { " (shadow)" } else { "" };
                tracing::info!(target_name = %r.target, rule = %r.rule, jobs, "{} {}{mode}: {detail}", r.action, r.outcome);
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
