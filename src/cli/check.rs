//! `nbwarden check [--targets]`: validate the configuration and rules (every error, located);
//! with `--targets`, sign in to each target and report what its job list provides.

use crate::arcgis::{Client, Job, JobSource};
use crate::config::{Flavor, TargetConfig};
use crate::rules::{RuleSet, Test};
use std::fmt::Write;
use std::path::Path;

/// `Ok(false)` when something is wrong (exit 1).
pub async fn run(explicit: Option<&Path>, probe_targets: bool) -> anyhow::Result<bool> {
    let config = match super::load_config(explicit) {
        Ok(config) => config,
        Err(e) => {
            super::write_stdout(&format!("{e:#}\n"))?;
            return Ok(false);
        }
    };
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let rules = match RuleSet::load(&config.rules, &names) {
        Ok(rules) => rules,
        Err(errors) => {
            let mut out: String = errors.iter().map(|e| format!("{e}\n")).collect();
            let _ = writeln!(out, "{} problem(s) found; nothing was changed", errors.len());
            super::write_stdout(&out)?;
            return Ok(false);
        }
    };
    if let Some(problem) = super::setup::unmet_needs(&config, &rules) {
        super::write_stdout(&format!("{problem}\n"))?;
        return Ok(false);
    }
    let mut out =
        format!("{}: OK, {} target(s), {} rule(s)\n", config.source.display(), config.targets.len(), rules.rules.len());
    if rules.rules.is_empty() {
        out.push_str("warning: no rules found under `rules:`; nbwarden will only watch\n");
    }
    let mut ok = true;
    if probe_targets {
        for target in &config.targets {
            ok &= probe(target, &rules, &mut out).await;
        }
    }
    super::write_stdout(&out)?;
    Ok(ok)
}

async fn probe(target: &TargetConfig, rules: &RuleSet, out: &mut String) -> bool {
    let client = match Client::new(target) {
        Ok(client) => client,
        Err(e) => {
            let _ = writeln!(out, "target {}: {e}", target.name);
            return false;
        }
    };
    let jobs = match client.list_jobs().await {
        Ok(jobs) => jobs,
        Err(e) => {
            let _ = writeln!(out, "target {}: cannot list jobs: {e}", target.name);
            return false;
        }
    };
    let version = client.version().await.unwrap_or_else(|e| format!("unknown ({e})"));
    let _ = writeln!(out, "target {}: signed in; version {version}; {} job(s) listed", target.name, jobs.len());
    let fields = provided_fields(target, &jobs);
    let listing: Vec<String> =
        fields.iter().map(|(name, has)| format!("{name} {}", if *has { "yes" } else { "no" })).collect();
    let _ = writeln!(out, "  the job list provides: {}", listing.join(", "));
    for rule in rules.rules.iter().filter(|r| r.applies_to(&target.name)) {
        for condition in &rule.conditions {
            let needed = field_of(&condition.test);
            if fields.iter().any(|(name, has)| Some(*name) == needed && !has) {
                let _ = writeln!(
                    out,
                    "  rule \"{}\": `{}` needs {}, which this job list does not provide: the rule never matches here{}",
                    rule.name,
                    condition.key,
                    needed.unwrap_or("?"),
                    if target.flavor == Flavor::Enterprise && !target.poll.details {
                        " (poll.details: true asks Enterprise 12.1+ for it)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    true
}

/// Which optional job fields this target's list carries, judged from the jobs (or the flavor).
fn provided_fields(target: &TargetConfig, jobs: &[Job]) -> Vec<(&'static str, bool)> {
    let detailed = target.flavor == Flavor::NotebookServer || target.poll.details;
    let has = |f: fn(&Job) -> bool| if jobs.is_empty() { None } else { Some(jobs.iter().any(f)) };
    vec![
        ("type", has(|j| j.job_type.is_some()).unwrap_or(true)),
        ("username", has(|j| j.username.is_some()).unwrap_or(true)),
        ("start time", has(|j| j.started_at.is_some()).unwrap_or(true)),
        ("item_id", has(|j| j.item_id.is_some()).unwrap_or(detailed)),
        ("runtime_name", has(|j| j.runtime_name.is_some()).unwrap_or(detailed && target.flavor == Flavor::Enterprise)),
        ("task (scheduled)", has(|j| j.task_id.is_some()).unwrap_or(detailed)),
        ("timeout", has(|j| j.timeout_minutes.is_some()).unwrap_or(detailed)),
    ]
}

fn field_of(test: &Test) -> Option<&'static str> {
    Some(match test {
        Test::Type(_) => "type",
        Test::Username(_) => "username",
        Test::RuntimeOver(_) | Test::RuntimeUnder(_) => "start time",
        Test::ItemId(_) => "item_id",
        Test::RuntimeName(_) => "runtime_name",
        Test::Scheduled(_) => "task (scheduled)",
        Test::ExceedsOwnTimeout(_) => "timeout",
        Test::Status(_) | Test::From(_) | Test::To(_) => return None,
    })
}
