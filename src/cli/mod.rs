//! The command line (edge): clap definitions, logging set-up, and one function per command.
//! anyhow lives here and in `main.rs` only.

pub mod backtest;
mod check;
mod demo;
mod explain;
mod healthcheck;
mod jobs;
mod logging;
mod once;
pub mod report;
mod run;
pub mod setup;
mod silence;
mod simulate;
mod test;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// nbwarden: a watchdog for ArcGIS Enterprise notebook jobs.
#[derive(Debug, Parser)]
#[command(name = "nbwarden", version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("NBWARDEN_COMMIT"), ")"), about)]
pub struct Cli {
    /// Configuration file (default: $NBWARDEN_CONFIG, then ./nbwarden.yaml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: poll every target on its schedule until SIGTERM/SIGINT; SIGHUP reloads.
    Run {
        /// Plan and record actions in the dry-run state; execute none.
        #[arg(long)]
        dry_run: bool,
    },
    /// Poll every target once, evaluate, dispatch, wait for the actions, and exit.
    Once {
        /// Plan and report; act on nothing and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration and rules without network (exit 1 with every error).
    Check {
        /// Also sign in to each target and report what its job list provides.
        #[arg(long)]
        targets: bool,
    },
    /// For every rule: would it fire for this job (or scheduled task) now, and which condition fails.
    Explain {
        /// A job id, or a scheduled task's id or title.
        #[arg(value_name = "ID")]
        job_id: String,
        /// Only this target.
        #[arg(long, value_name = "T")]
        target: Option<String>,
    },
    /// Replay the recorded history through the rules; print what each would have done, against what was done.
    Backtest {
        /// From this long ago.
        #[arg(long, default_value = "7d", value_name = "DURATION")]
        since: crate::config::ConfigDuration,
        /// Up to this instant (RFC 3339, e.g. 2026-11-30T08:00:00Z; default: now).
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// Rule files or folders to replay instead of the configured ones.
        #[arg(long, value_name = "PATH", num_args = 1..)]
        rules: Vec<PathBuf>,
        /// Only this target.
        #[arg(long, value_name = "T")]
        target: Option<String>,
        /// One JSON object per firing, then one per rule.
        #[arg(long)]
        json: bool,
    },
    /// Silences: hold back the firings they cover for a while, read by the daemon at each poll.
    Silence {
        #[command(subcommand)]
        command: silence::SilenceCommand,
    },
    /// Rule unit tests: a timeline of polls in, expected firings out; a diff and exit 1 on a mismatch.
    Test {
        /// Test files (YAML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Runs, compute minutes, failures and cancels per group, from the recorded history (html with charts, csv, json).
    Report {
        /// From this long ago.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        since: crate::config::ConfigDuration,
        /// The groups.
        #[arg(long, default_value = "owner", value_parser = ["owner", "notebook", "type", "runtime", "task"])]
        by: String,
        /// How it is written.
        #[arg(long, value_enum, default_value_t = report::Format::Html)]
        format: report::Format,
        /// Write it to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the current jobs of each target.
    Jobs {
        /// Only this target.
        #[arg(long, value_name = "T")]
        target: Option<String>,
        /// One JSON object per job per line.
        #[arg(long)]
        json: bool,
    },
    /// Shell completion for bash, zsh, fish, elvish or powershell, on standard output.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The manual page (roff), on standard output: `nbwarden man > nbwarden.1`.
    Man,
    /// Exit 0 when the daemon's /healthz answers 200, 1 otherwise (a container's HEALTHCHECK).
    Healthcheck {
        /// The /healthz to ask (default: http://<http.listen>/healthz of the configuration).
        #[arg(long)]
        url: Option<String>,
    },
    /// Run the simulator, the example rules and the engine together for a minute, printing what happens.
    Demo {
        /// How long to run.
        #[arg(long, default_value_t = 45, value_name = "SECONDS")]
        seconds: u64,
        /// Seconds between polls.
        #[arg(long, default_value_t = 3, value_name = "SECONDS")]
        every: u64,
    },
    /// Serve a simulated ArcGIS site (both flavors) for trials, demos and tests.
    Simulate {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8921")]
        listen: std::net::SocketAddr,
        /// Which admin API to serve (default: the scenario's, else enterprise).
        #[arg(long, value_name = "F", value_parser = ["enterprise", "notebook-server"])]
        flavor: Option<String>,
        /// Scenario file (default: the built-in one).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
    },
}

/// Runs the parsed command line; `Ok(false)` means "finished, but something failed" (exit 1).
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Jobs { target, json } => {
            let config = load_config(cli.config.as_deref())?;
            jobs::run(&config, target.as_deref(), json).await
        }
        Command::Run { dry_run } => run::run(cli.config.as_deref(), dry_run).await,
        Command::Once { dry_run, json } => once::run(setup::load(cli.config.as_deref())?, dry_run, json).await,
        Command::Check { targets } => check::run(cli.config.as_deref(), targets).await,
        Command::Explain { job_id, target } => {
            explain::run(setup::load(cli.config.as_deref())?, &job_id, target.as_deref()).await
        }
        Command::Test { files } => test::run(&files),
        Command::Silence { command } => silence::run(&load_config(cli.config.as_deref())?, command).await,
        Command::Backtest { since, until, rules, target, json } => {
            let until_ms = match until.as_deref() {
                Some(t) => Some(crate::clock::ServerMs(
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map_err(|e| anyhow::anyhow!("--until {t}: {e}; write e.g. 2026-11-30T08:00:00Z"))?
                        .timestamp_millis(),
                )),
                None => None,
            };
            let options = backtest::Options { since: since.0, until_ms, rules, target, json };
            backtest::run(setup::load(cli.config.as_deref())?, options).await
        }
        Command::Report { since, by, format, out } => {
            let by = crate::report::By::parse(&by).unwrap_or(crate::report::By::Owner);
            let options = report::Options { since: since.0, by, format, out };
            report::run(&load_config(cli.config.as_deref())?, options).await
        }
        Command::Demo { seconds, every } => demo::run(seconds, every.max(1)).await,
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "nbwarden", &mut out);
            write_stdout(&String::from_utf8_lossy(&out))?;
            Ok(true)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
            write_stdout(&String::from_utf8_lossy(&out))?;
            Ok(true)
        }
        Command::Healthcheck { url } => {
            let config = if url.is_none() { Some(load_config(cli.config.as_deref())?) } else { None };
            healthcheck::run(config.as_ref(), url).await
        }
        Command::Simulate { listen, flavor, scenario } => {
            simulate::run(listen, flavor.as_deref(), scenario.as_deref()).await.map(|()| true)
        }
    }
}

fn load_config(explicit: Option<&std::path::Path>) -> anyhow::Result<crate::config::Config> {
    let path = crate::config::locate(explicit)?;
    Ok(crate::config::load(&path)?)
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Starts logging on standard error, every field sanitized, for `cli`'s command.
pub fn init_logging(cli: &Cli) {
    logging::init(cli.log_format, cli.verbose, cli.quiet, matches!(cli.command, Command::Demo { .. }));
}
