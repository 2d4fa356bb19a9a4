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
const RULES: [(&str, &str); 9] = [
    ("cancel-runaway.yaml", include_str!("../../rules/cancel-runaway.yaml")),
    ("failure-log.yaml", include_str!("../../rules/failure-log.yaml")),
    ("failure-email-owner.yaml", include_str!("../../rules/failure-email-owner.yaml")),
    ("warn-then-cancel.yaml", include_str!("../../rules/warn-then-cancel.yaml")),
    ("stuck-submitted.yaml", include_str!("../../rules/stuck-submitted.yaml")),
    ("daily-digest.yaml", include_str!("../../rules/daily-digest.yaml")),
    ("task-failing.yaml", include_str!("../../rules/task-failing.yaml")),
    ("task-stopped.yaml", include_str!("../../rules/task-stopped.yaml")),
    ("task-missed.yaml", include_str!("../../rules/task-missed.yaml")),
];

/// Where the demo's e-mails go, relative to the working directory.
const OUTBOX: &str = "demo-outbox";

/// Runs the demo for `seconds`, polling every `every` seconds.
pub async fn run(seconds: u64, every: u64) -> anyhow::Result<bool> {
    let sim = Simulator::start(&Scenario::builtin(), Flavor::Enterprise, "127.0.0.1:0".parse()?).await?;
    let dir = std::env::temp_dir().join(format!("nbwarden-demo-{}", std::process::id()));
    let outbox = std::env::current_dir()?.join(OUTBOX);
    // A process id is reused (in a container, soon): the folder of an earlier demo starts afresh.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rules"))?;
    std::fs::create_dir_all(&outbox)?;
    for (name, text) in RULES {
        std::fs::write(dir.join("rules").join(name), text)?;
    }
    let config = dir.join("nbwarden.yaml");
    std::fs::write(&config, configuration(&sim.admin_url(), &sim.portal_url(), every, &outbox))?;
    let before = eml_files(&outbox);
    println!(
        "nbwarden demo: a simulated ArcGIS site on {} with {} jobs and {} scheduled notebook tasks, the example rules of rules/, a poll every {every} s (the tasks every 2 s) for {seconds} s.\nE-mails are written to ./{OUTBOX}/. Watch:\n",
        sim.admin_url(),
        Scenario::builtin().jobs.len(),
        Scenario::builtin().tasks.len()
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
    summary(&lines, &sim.stats(), eml_files(&outbox).saturating_sub(before), &dir);
    Ok(true)
}

fn configuration(admin_url: &str, portal_url: &str, every: u64, outbox: &Path) -> String {
    format!(
        "targets:
  - name: demo
    flavor: enterprise
    admin_url: '{admin_url}'
    auth: {{ portal_url: '{portal_url}', username: admin, password: simulator }}
    poll: {{ every: {every}s, timeout: 5s }}
    tasks: {{ every: 2s }}
email: {{ transport: file, dir: '{}', from: 'nbwarden demo <nbwarden@example.com>' }}
owners: {{ fallback: gis-admins@example.com }}
rules: [rules]
state: {{ path: state.db }}
http: {{ listen: '' }}
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

fn summary(lines: &[Line], stats: &crate::simulator::site::Stats, emails: usize, dir: &Path) {
    let count = |wanted: &dyn Fn(&crate::plan::ActionReport) -> bool| {
        lines.iter().filter(|l| matches!(l, Line::Action(r) if wanted(r))).count()
    };
    let cancels = count(&|r| r.action == "cancel" && r.outcome == crate::plan::Outcome::Done);
    let ignored = count(&|r| r.detail.starts_with("cancel_ignored"));
    let polls = lines.iter().filter(|l| matches!(l, Line::Poll { ok: true, .. })).count();
    let events = lines.iter().filter(|l| matches!(l, Line::Event { .. })).count();
    let calls: u32 = stats.cancels.values().sum();
    println!("\nSummary: {polls} polls, {events} events, {cancels} cancel(s) done ({calls} cancel call(s) reached the site), {ignored} ignored cancel(s) reported.");
    println!("{emails} e-mail(s) written to ./{OUTBOX}/ (open the .eml files in any mail reader).");
    println!(
        "Configuration, rules and state: {} (try `nbwarden --config {}/nbwarden.yaml explain jrunaway0joe` while a simulator runs).",
        dir.display(),
        dir.display()
    );
    println!(
        "A report of the runs it saw, with charts: `nbwarden --config {}/nbwarden.yaml report --since 1d --out report.html`.",
        dir.display()
    );
}
