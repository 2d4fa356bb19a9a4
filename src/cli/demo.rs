//! `nbwarden demo`: the simulator, the example rules and the engine together, printing what
//! happens as it happens; stops by itself. Needs no network, no files and no setup.

use super::once::render;
use super::setup::{self, Setup};
use crate::config::{self, Flavor};
use crate::dispatch::{self, RetryPolicy};
use crate::engine::{self, Line, Mode};
use crate::rules::RuleSet;
use crate::simulator::{Scenario, Simulator};
use std::time::{Duration, Instant};

/// The example rules, embedded so that the demo runs from anywhere.
const RULES: [(&str, &str); 2] = [
    ("cancel-runaway.yaml", include_str!("../../rules/cancel-runaway.yaml")),
    ("failure-log.yaml", include_str!("../../rules/failure-log.yaml")),
];

/// Runs the demo for `seconds`, polling every `every` seconds.
pub async fn run(seconds: u64, every: u64) -> anyhow::Result<bool> {
    let sim = Simulator::start(&Scenario::builtin(), Flavor::Enterprise, "127.0.0.1:0".parse()?).await?;
    let dir = tempfile_dir()?;
    std::fs::create_dir_all(dir.join("rules"))?;
    for (name, text) in RULES {
        std::fs::write(dir.join("rules").join(name), text)?;
    }
    let yaml = format!(
        "targets:\n  - name: demo\n    flavor: enterprise\n    admin_url: {}\n    auth: {{ portal_url: '{}', username: admin, password: simulator }}\n    poll: {{ every: {every}s, timeout: 5s }}\nrules: [rules]\nstate: {{ path: state.db }}\nhttp: {{ listen: '' }}\n",
        sim.admin_url(),
        sim.portal_url()
    );
    std::fs::write(dir.join("nbwarden.yaml"), yaml)?;
    let config = config::load(&dir.join("nbwarden.yaml"))?;
    let rules = RuleSet::load(&config.rules, &["demo"]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!("nbwarden demo: a simulated ArcGIS site on {} with {} jobs, {} rules from rules/, a poll every {every} s for {seconds} s\n", sim.admin_url(), Scenario::builtin().jobs.len(), rules.rules.len());
    let setup = Setup { config, rules };
    let (store, shared, mut targets) = setup::engine(&setup, Mode::Act).await?;
    let (started, mut all) = (Instant::now(), Vec::new());
    while started.elapsed() < Duration::from_secs(seconds) {
        let (next, mut lines) = engine::tick_all(targets, &shared).await;
        targets = next;
        let reports = dispatch::execute_due(
            store.clone(),
            Mode::Act.scope(),
            &engine::sources(&targets),
            &shared.services,
            RetryPolicy::RUN,
        )
        .await?;
        lines.extend(reports.into_iter().map(Line::Action));
        let stamp = format!("[{:>3}s] ", started.elapsed().as_secs());
        for line in render(&lines, false)?.lines().filter(|l| !l.starts_with("poll ") || all.is_empty()) {
            println!("{stamp}{line}");
        }
        all.extend(lines);
        tokio::time::sleep(Duration::from_secs(every)).await;
    }
    summary(&all, &sim.stats(), &dir);
    Ok(true)
}

fn summary(lines: &[Line], stats: &crate::simulator::site::Stats, dir: &std::path::Path) {
    let count = |wanted: fn(&crate::dispatch::ActionReport) -> bool| {
        lines.iter().filter(|l| matches!(l, Line::Action(r) if wanted(r))).count()
    };
    let cancels = count(|r| r.action == "cancel" && r.outcome == "done");
    let ignored = count(|r| r.detail.starts_with("cancel_ignored"));
    let notices = count(|r| r.action == "log" && r.outcome == "done");
    let polls = lines.iter().filter(|l| matches!(l, Line::Poll { ok: true, .. })).count();
    let events = lines.iter().filter(|l| matches!(l, Line::Event { .. })).count();
    let calls: u32 = stats.cancels.values().sum();
    println!("\nsummary: {polls} polls, {events} events, {cancels} cancels done ({calls} cancel calls reached the site), {ignored} ignored cancels reported, {notices} notices logged");
    println!("state and configuration: {} (`nbwarden --config {}/nbwarden.yaml explain <job>` works while the folder exists)", dir.display(), dir.display());
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("nbwarden-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
