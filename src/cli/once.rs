//! `nbwarden once`: poll every target once, evaluate, dispatch, wait for the actions, report.

use super::setup::{self, Setup};
use crate::dispatch::{Mode, RetryPolicy};
use crate::engine::{self, Line};
use crate::text::sanitize;
use std::time::Duration;

/// Runs one cycle; `Ok(false)` when a poll or an action failed.
pub async fn run(setup: Setup, preview: bool, json: bool) -> anyhow::Result<bool> {
    let mode = match (preview, setup.config.dry_run) {
        (true, _) => Mode::Preview,
        (false, true) => Mode::DryRun,
        (false, false) => Mode::Act,
    };
    let _held = setup::lock_state(&setup.config, mode)?;
    let (store, shared, mut targets) = setup::engine(&setup, mode).await?;
    if let Some(leases) = &shared.leases {
        let names: Vec<String> = targets.iter().map(|t| t.config.name.clone()).collect();
        let free = leases.take_free(&names).await?;
        for name in names.iter().filter(|n| !free.contains(n)) {
            tracing::info!(target_name = %name, "skipped: a running replica holds this target's lease and polls it");
        }
        targets.retain(|t| free.contains(&t.config.name));
        // As the last holder left them: it may have committed after they were first loaded.
        for target in &mut targets {
            *target = engine::Target::load(target.config.clone(), target.source.clone(), &shared).await?;
        }
    }
    let (targets, mut lines) = engine::tick_all(targets, &shared).await;
    let sources = engine::sources(&targets);
    let reports = shared.dispatch.execute_due(&sources, RetryPolicy::ONCE).await?;
    lines.extend(reports.into_iter().map(Line::Action));
    if mode.writes() {
        let retention: Duration = setup.config.state.retention.0;
        store.prune(&engine::prune_cutoff(retention, shared.dispatch.now(), &sources)).await?;
    }
    if let Some(leases) = &shared.leases {
        leases.release_all().await;
    }
    // `once` from cron tells the dead-man service of each round, as the daemon does (not a preview).
    if let (Some(heartbeat), true) = (&setup.config.heartbeat, mode.writes()) {
        let polls: Vec<bool> =
            lines.iter().filter_map(|l| if let Line::Poll { ok, .. } = l { Some(*ok) } else { None }).collect();
        if !polls.is_empty() {
            let alive = polls.iter().any(|ok| *ok);
            crate::scheduler::heartbeat::ping(&shared.dispatch.services, &heartbeat.url, alive).await;
        }
    }
    super::write_stdout(&render(&lines, json)?)?;
    // The process ends with this: its snapshots are left to the exit, not taken apart job by job.
    std::mem::forget(targets);
    Ok(!lines.iter().any(Line::is_failure))
}

/// The lines as JSON objects or as text for people.
pub fn render(lines: &[Line], json: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    for line in lines {
        if json {
            out.push_str(&crate::text::json_safe(serde_json::to_string(line)?));
        } else {
            out.push_str(&human(line));
        }
        out.push('\n');
    }
    Ok(out)
}

/// One line for people.
pub fn human(line: &Line) -> String {
    match line {
        Line::Poll { target, ok: true, jobs, baseline, .. } => {
            let first = if *baseline == Some(true) { " (first poll: baseline, no events)" } else { "" };
            format!("poll    {target}: {} jobs{first}", jobs.unwrap_or(0))
        }
        Line::Poll { target, error, .. } => {
            format!("poll    {target}: FAILED: {}", sanitize(error.as_deref().unwrap_or("?")))
        }
        Line::Event { target, job_id, event, from, to } => {
            let change = match (from, to) {
                (Some(from), Some(to)) => format!(" {} -> {}", sanitize(from), sanitize(to)),
                (None, Some(to)) => format!(" ({})", sanitize(to)),
                _ => String::new(),
            };
            format!("event   {target}: {} {event}{change}", sanitize(job_id))
        }
        Line::Action(r) => format!(
            "action  {}: rule {} {} [{}] {}{}: {}",
            r.target,
            r.rule,
            r.action,
            r.job_ids.iter().map(|j| sanitize(j)).collect::<Vec<_>>().join(", "),
            r.outcome.printed(),
            if r.shadow { " (shadow)" } else { "" },
            sanitize(&r.detail)
        ),
    }
}
