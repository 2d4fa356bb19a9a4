//! `nbwarden explain ID [--target T]`: for a job, every job rule: would it fire now, and if not,
//! the first condition that fails or the ledger entry that stops it; for a scheduled task (by id
//! or title), every task rule (`tasks.rs`). A target that cannot be reached is named, with why.

use super::setup::{self, Setup};
use crate::arcgis::{Job, NamedJob};
use crate::clock::ServerMs;
use crate::config::format_duration;
use crate::dispatch::Mode;
use crate::engine::Target;
use crate::rules::{Rule, Subject, Test, Trigger, Verdict};
use crate::store::Scope;
use crate::text::sanitize;
use anyhow::bail;
use std::fmt::Write;

mod notebooks;
mod tasks;

/// Prints the explanation; an id that is neither a job nor a task is an error, which names the
/// targets that could not be asked.
pub async fn run(setup: Setup, id: &str, only: Option<&str>) -> anyhow::Result<bool> {
    let (store, _shared, targets) = setup::engine(&setup, Mode::Preview).await?;
    let targets: Vec<&Target> = targets.iter().filter(|t| only.is_none_or(|o| t.config.name == o)).collect();
    let mut out = String::new();
    let mut unreachable = Vec::new();
    for target in &targets {
        match find(target, id).await {
            Ok(Some(job)) => explain_job(&setup, &*store, target, job, &mut out).await?,
            Ok(None) => {}
            Err(e) => unreachable.push(format!("target \"{}\" could not be asked: {e}", target.config.name)),
        }
    }
    if out.is_empty() {
        for target in &targets {
            match tasks::explain(&setup.rules, target, id).await {
                Ok(text) => out.push_str(&text),
                Err(e) => unreachable
                    .push(format!("target \"{}\": its scheduled tasks could not be read: {e}", target.config.name)),
            }
        }
    }
    if out.is_empty() {
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let silences: Vec<_> = store.silences(now).await?.into_iter().filter(|s| s.active(now)).collect();
        for target in &targets {
            match notebooks::explain(&setup.rules, target, id, &silences).await {
                Ok(text) => out.push_str(&text),
                Err(e) => unreachable
                    .push(format!("target \"{}\": its open notebooks could not be read: {e}", target.config.name)),
            }
        }
    }
    if out.is_empty() {
        let place = only.map_or("any target".to_string(), |t| format!("target \"{t}\""));
        let mut message = format!(
            "{} was found neither as a job, a scheduled task nor an open notebook on {place}",
            crate::text::sanitize(id)
        );
        for why in &unreachable {
            message.push_str(&format!("; {why}"));
        }
        bail!(message);
    }
    for why in &unreachable {
        let _ = writeln!(out, "note: {why}");
    }
    super::write_stdout(&out)?;
    Ok(true)
}

/// Every job rule of `target` for `job`, and the job's recorded history.
async fn explain_job(
    setup: &Setup,
    store: &dyn crate::store::Store,
    target: &Target,
    mut job: Job,
    out: &mut String,
) -> anyhow::Result<()> {
    let job_id = job.id.clone();
    {
        let rules = &setup.rules;
        if target.core().usual.item_of(&job).is_none() && rules.wants_item(&target.config.name, job.job_type.as_deref())
        {
            job.item_id = target.source.job(&job_id).await.ok().and_then(|detail| detail.item_id);
        }
        // Named as a firing's job is: protection and silences by title see its notebook's.
        let mut job = NamedJob::from(job);
        target.core().name_job(&mut job);
        let now = target.source.server_now();
        let _ = writeln!(
            out,
            "job {} on {}: {} ({}), {} by {}, runtime {}",
            sanitize(&job.id),
            target.config.name,
            sanitize(job.status.as_str()),
            job.phase(),
            sanitize(job.job_type.as_deref().unwrap_or("?")),
            sanitize(job.username.as_deref().unwrap_or("?")),
            job.runtime(now).map(format_duration).unwrap_or_else(|| "unknown".into())
        );
        let protection = crate::cycle::protected_by(&target.config.protect, &job);
        if let Some(entry) = &protection {
            let _ = writeln!(out, "  protected by {entry}: no rule cancels this job; its notices still go out");
        }
        let local = crate::clock::Clock::now(&crate::clock::SystemClock);
        for silence in store.silences(local).await?.iter().filter(|s| s.active(local)) {
            let rules: Vec<&str> = setup
                .rules
                .rules
                .iter()
                .filter(|r| silence.covers(&target.config.name, &r.name, &job))
                .map(|r| r.name.as_str())
                .collect();
            if !rules.is_empty() {
                let until = crate::arcgis::model::rfc3339(silence.ends).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  silenced by {} until {until} for rule(s) {} ({}: {})",
                    silence.id,
                    rules.join(", "),
                    sanitize(&silence.author),
                    sanitize(&silence.comment)
                );
            }
        }
        for rule in setup.rules.rules.iter().filter(|r| !r.trigger.is_task()) {
            let _ = writeln!(
                out,
                "  rule {} (on {}): {}",
                rule.name,
                rule.trigger.as_str(),
                verdict(rule, target, &job, now)
            );
            usual_lines(rule, target, &job, now, out);
        }
        for entry in store.audit_for_job(Scope::Real, &target.config.name, &job_id).await? {
            let r = &entry.report;
            let _ = writeln!(out, "  history: {} {} {}: {}", r.rule, r.action, r.outcome, sanitize(&r.detail));
        }
    }
    Ok(())
}

/// The job from the current list, else from its own resource (it may have left the list); an
/// error when the target cannot be asked at all.
async fn find(target: &Target, job_id: &str) -> Result<Option<Job>, crate::arcgis::Error> {
    let jobs = target.source.list_jobs().await?;
    Ok(match jobs.into_iter().find(|j| j.id == job_id) {
        Some(job) => Some(job),
        None => target.source.job(job_id).await.ok(),
    })
}

fn verdict(rule: &Rule, target: &Target, job: &NamedJob, now: ServerMs) -> String {
    if !rule.applies_to(&target.config.name) {
        return format!(
            "does not apply to this target (targets: {})",
            rule.targets.as_deref().unwrap_or_default().join(", ")
        );
    }
    let subject = Subject::at(job, now, &target.core().usual);
    for condition in &rule.conditions {
        match condition.check(&subject) {
            Verdict::Holds => {}
            Verdict::Fails | Verdict::Unanswerable if condition.key == "from" => {}
            Verdict::Fails => return format!("no: {}", condition.explain(&subject)),
            Verdict::Unanswerable => {
                return format!("no: cannot tell `{}` for this job ({})", condition.key, condition.explain(&subject))
            }
        }
    }
    let entry = target.core().ledger.get(&rule.name, &job.id);
    let fired = entry
        .map(|e| e.triggers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        .filter(|t| !t.is_empty());
    match &rule.trigger {
        Trigger::Poll => {
            let repeat_ms = rule.repeat_ms();
            if target.core().ledger.poll_trigger(&rule.name, &job.id, repeat_ms, now).is_none() {
                return format!("no: already fired ({})", fired.unwrap_or_default());
            }
            let streak = target.core().streaks.get(&(rule.name.clone(), job.id.clone())).copied().unwrap_or(0);
            if rule.for_polls > streak + 1 {
                return format!(
                    "not yet: needs {} more matching poll(s) (for_polls: {})",
                    rule.for_polls - streak - 1,
                    rule.for_polls
                );
            }
            let protection = crate::cycle::protected_by(&target.config.protect, job);
            let (acts, left_out): (Vec<_>, Vec<_>) =
                rule.actions.iter().partition(|a| !a.is_destructive() || protection.is_none());
            let acts: Vec<&str> = acts.iter().map(|a| a.kind()).collect();
            let mut verdict = format!("YES: would fire at the next poll ({})", acts.join(", "));
            if let (Some(entry), Some(action)) = (protection, left_out.first()) {
                let _ = write!(verdict, "; its {} is left out: {entry} protects the job", action.kind());
            }
            verdict
        }
        Trigger::Schedule(_) => "its conditions hold; it reports on its schedule".into(),
        other => match fired {
            Some(t) => format!("its conditions hold; already fired for this job ({t})"),
            None => format!("its conditions hold; it fires only on `{}` events", other.as_str()),
        },
    }
}

/// What `runtime_over_usual` compares the job with, whether it holds or not: median, runs, factor.
fn usual_lines(rule: &Rule, target: &Target, job: &Job, now: ServerMs, out: &mut String) {
    if !rule.applies_to(&target.config.name) {
        return;
    }
    let subject = Subject::at(job, now, &target.core().usual);
    for condition in rule.conditions.iter().filter(|c| matches!(c.test, Test::RuntimeOverUsual(_))) {
        let _ = writeln!(out, "    {}", condition.explain(&subject));
    }
}
