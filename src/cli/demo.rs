//! `nbwarden demo`: the simulator with its built-in scenario, the example rules of `rules/` and
//! the daemon together, e-mail written to `./demo-outbox/`; prints what happens as it happens and
//! stops by itself with a summary. Needs no network and no setup.

use super::run::{daemon, Options};
use crate::config::Flavor;
use crate::engine::Line;
use crate::simulator::{Scenario, Simulator};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The example rules, embedded so that the demo runs from anywhere.
const RULES: [(&str, &str); 10] = [
    ("cancel-runaway.yaml", include_str!("../../rules/cancel-runaway.yaml")),
    ("failure-log.yaml", include_str!("../../rules/failure-log.yaml")),
    ("failure-email-owner.yaml", include_str!("../../rules/failure-email-owner.yaml")),
    ("warn-then-cancel.yaml", include_str!("../../rules/warn-then-cancel.yaml")),
    ("stuck-submitted.yaml", include_str!("../../rules/stuck-submitted.yaml")),
    ("daily-digest.yaml", include_str!("../../rules/daily-digest.yaml")),
    ("task-failing.yaml", include_str!("../../rules/task-failing.yaml")),
    ("task-stopped.yaml", include_str!("../../rules/task-stopped.yaml")),
    ("task-missed.yaml", include_str!("../../rules/task-missed.yaml")),
    ("idle-notebooks.yaml", include_str!("../../rules/idle-notebooks.yaml")),
];

/// Where the demo's e-mails go, relative to the working directory.
const OUTBOX: &str = "demo-outbox";
/// The report of what the demo saw, written in the working directory at the end.
const REPORT: &str = "demo-report.html";

/// The configuration that points at `nbwarden simulate`, in the repository.
const EXAMPLE: &str = "examples/simulator.yaml";

/// Runs the demo for `seconds`, polling every `every` seconds.
pub async fn run(seconds: u64, every: u64) -> anyhow::Result<bool> {
    let sim = Simulator::start(&Scenario::builtin(), Flavor::Enterprise, "127.0.0.1:0".parse()?).await?;
    // Its own folder: a random name, created 0700 (never one that exists already, which another
    // local user could have planted with rules), removed at the end.
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let place = builder.prefix("nbwarden-demo-").tempdir()?;
    let dir = place.path();
    let outbox = std::env::current_dir()?.join(OUTBOX);
    crate::files::create_private_dir(&dir.join("rules"))?;
    crate::files::create_private_dir(&outbox)?;
    for (name, text) in RULES {
        crate::files::write_private(&dir.join("rules").join(name), text)?;
    }
    let config = dir.join("nbwarden.yaml");
    let console = free_loopback_address()?;
    crate::files::write_private(&config, configuration(&sim.admin_url(), &sim.portal_url(), every, &outbox, &console))?;
    let before = eml_files(&outbox);
    println!(
        "nbwarden demo: a simulated ArcGIS site on {} with {} jobs, {} scheduled notebook tasks and {} open notebooks, the example rules of rules/, a poll every {every} s (the tasks and notebooks every 2 s) for {seconds} s.\nE-mails are written to ./{OUTBOX}/. The console, while the demo runs: http://{console}/status\nWatch:\n",
        sim.admin_url(),
        Scenario::builtin().jobs.len(),
        Scenario::builtin().tasks.len(),
        Scenario::builtin().notebooks.len()
    );
    let started = Instant::now();
    let seen: Arc<Mutex<Vec<Line>>> = Arc::default();
    let sink = {
        let seen = seen.clone();
        Arc::new(move |line: &Line| {
            if let Some(text) = readable(line) {
                println!("[{:>3}s] {text}", started.elapsed().as_secs());
            }
            seen.lock().expect("demo lines").push(line.clone());
        })
    };
    let options =
        Options { config: Some(&config), dry_run: false, sink, stop_after: Some(Duration::from_secs(seconds)) };
    daemon(options).await?;
    let lines = seen.lock().expect("demo lines").clone();
    let report = write_report(&config).await;
    summary(&lines, &sim.stats(), eml_files(&outbox).saturating_sub(before), report.as_deref());
    place.close()?;
    Ok(true)
}

/// The report of the demo's runs, written beside the outbox before the demo's folder goes.
async fn write_report(config: &Path) -> Option<String> {
    let options = super::report::Options {
        since: Duration::from_secs(86_400),
        by: crate::report::By::Owner,
        format: super::report::Format::Html,
        out: None,
    };
    let written = async {
        let text = super::report::text(&crate::config::load(config)?, &options).await?;
        crate::files::write_private(Path::new(REPORT), &text)?;
        anyhow::Ok(())
    };
    match written.await {
        Ok(()) => Some(REPORT.to_string()),
        Err(e) => {
            eprintln!("the demo's report could not be written: {e:#}");
            None
        }
    }
}

/// A loopback address with a free port, for the demo's console.
fn free_loopback_address() -> std::io::Result<std::net::SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn configuration(
    admin_url: &str,
    portal_url: &str,
    every: u64,
    outbox: &Path,
    console: &std::net::SocketAddr,
) -> String {
    format!(
        "targets:
  - name: demo
    flavor: enterprise
    admin_url: '{admin_url}'
    auth: {{ portal_url: '{portal_url}', username: admin, password: simulator }}
    poll: {{ every: {every}s, timeout: 5s }}
    tasks: {{ every: 2s }}
    notebooks: {{ every: 2s }}
email: {{ transport: file, dir: '{}', from: 'nbwarden demo <nbwarden@example.com>' }}
owners: {{ fallback: gis-admins@example.com, contact: gis-admins@example.com }}
rules: [rules]
state: {{ path: state.db }}
http: {{ listen: '{console}' }}
",
        outbox.display()
    )
}

/// A line for people, or nothing for routine polls.
fn readable(line: &Line) -> Option<String> {
    match line {
        Line::Poll { ok: true, baseline: Some(true), jobs, .. } => Some(format!(
            "first poll: {} jobs listed (the baseline: no events for what was already there)",
            jobs.unwrap_or(0)
        )),
        Line::Poll { ok: true, .. } => None,
        other => Some(super::once::human(other)),
    }
}

fn eml_files(dir: &Path) -> usize {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count()
}

fn summary(lines: &[Line], stats: &crate::simulator::site::Stats, emails: usize, report: Option<&str>) {
    let count = |wanted: &dyn Fn(&crate::plan::ActionReport) -> bool| {
        lines.iter().filter(|l| matches!(l, Line::Action(r) if wanted(r))).count()
    };
    let cancels = count(&|r| r.action == "cancel" && r.outcome == crate::plan::Outcome::Done);
    let ignored = count(&|r| r.outcome == crate::plan::Outcome::CancelIgnored);
    let polls = lines.iter().filter(|l| matches!(l, Line::Poll { ok: true, .. })).count();
    let events = lines.iter().filter(|l| matches!(l, Line::Event { .. })).count();
    let calls: u32 = stats.cancels.values().sum();
    println!("\nSummary: {polls} polls, {events} events, {cancels} cancel(s) done ({calls} cancel call(s) reached the site), {ignored} ignored cancel(s) reported.");
    println!("{emails} e-mail(s) written to ./{OUTBOX}/ (open the .eml files in any mail reader).");
    if let Some(report) = report {
        println!("A report of the runs it saw, with charts: ./{report} (open it in a browser).");
    }
    println!("{}", closing_hint());
}

/// How to go on once the demo has stopped: a simulated site of its own, and the commands against
/// it, with the program as it was started (`cargo run` puts none on the PATH).
fn closing_hint() -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let exe = std::env::current_exe().unwrap_or_else(|_| "nbwarden".into());
    let program = exe.strip_prefix(&cwd).map(Path::to_path_buf).unwrap_or(exe);
    let program = program.display();
    let config = Path::new(EXAMPLE);
    let where_ = match config.exists() {
        true => String::new(),
        false => " (from a clone of the repository, which has it)".into(),
    };
    format!(
        "To try each command yourself, the demo having stopped: in one terminal\n  {program} simulate\nand in another{where_}\n  {program} --config {EXAMPLE} once --dry-run\n  {program} --config {EXAMPLE} jobs\n(README's \"Try it\" has the rest)."
    )
}
