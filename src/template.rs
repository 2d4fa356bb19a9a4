//! MiniJinja templates of rule actions: checked when rules compile, rendered with the job context
//! of SPEC §3. Undefined variables are errors, so a typo is caught by `check`, not at 3 a.m.

use crate::arcgis::model::rfc3339;
use crate::arcgis::Job;
use crate::config::format_duration;
use crate::store::Planned;
use crate::text::{aligned, cell};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};
use std::sync::OnceLock;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env
    })
}

/// Renders an HTML template: every value is HTML-escaped.
pub fn render_html(source: &str, context: &impl serde::Serialize) -> Result<String, String> {
    let template = environment().template_from_named_str("body.html", source).map_err(|e| describe(&e))?;
    template.render(minijinja::value::Serde(context)).map_err(|e| describe(&e))
}

/// Checks a template's syntax.
pub fn check(source: &str) -> Result<(), String> {
    environment().template_from_str(source).map(drop).map_err(|e| describe(&e))
}

/// Renders a template with `context` (any serializable value).
pub fn render(source: &str, context: &impl serde::Serialize) -> Result<String, String> {
    let template = environment().template_from_str(source).map_err(|e| describe(&e))?;
    template.render(minijinja::value::Serde(context)).map_err(|e| describe(&e))
}

/// A value meant for a header: rendered, with CR and LF replaced by spaces.
pub fn render_header(source: &str, context: &impl serde::Serialize) -> Result<String, String> {
    render(source, context).map(|text| text.replace(['\r', '\n'], " "))
}

/// The context of SPEC §3 (`job`, `jobs`, `rule`, `event`, `target`, `now`) for `jobs`, all or
/// part of the planned ones.
pub fn context(planned: &Planned, jobs: &[Job], target: &str, url: impl Fn(&str) -> String) -> Value {
    let jobs: Vec<Value> = jobs.iter().map(|j| job_context(j, planned.planned_ms, &url(&j.id))).collect();
    json!({
        "job": jobs.first().cloned().unwrap_or(Value::Null),
        "jobs": jobs,
        "rule": planned.rule,
        "event": planned.event,
        "target": target,
        "now": rfc3339(planned.planned_ms).unwrap_or_default(),
    })
}

/// One job's template fields; absent text fields are empty strings.
pub fn job_context(job: &Job, now_ms: i64, url: &str) -> Value {
    let runtime = job.runtime(now_ms);
    json!({
        "id": job.id,
        "type": job.job_type.clone().unwrap_or_default(),
        "status": job.status.as_str(),
        "phase": job.phase().as_str(),
        "username": job.username.clone().unwrap_or_default(),
        "started_at": job.started_at.and_then(rfc3339).unwrap_or_default(),
        "ended_at": job.ended_at.and_then(rfc3339).unwrap_or_default(),
        "runtime": runtime.map(format_duration).unwrap_or_default(),
        "runtime_seconds": runtime.map(|r| r.as_secs()),
        "item_id": job.item_id.clone().unwrap_or_default(),
        "runtime_name": job.runtime_name.clone().unwrap_or_default(),
        "task_id": job.task_id.clone().unwrap_or_default(),
        "timeout_minutes": job.timeout_minutes,
        "url": url,
    })
}

/// A plain-text table of jobs for message bodies: id, type, status, owner, runtime.
pub fn job_table(jobs: &[Job], now_ms: i64) -> String {
    let mut lines = vec![["JOB", "TYPE", "STATUS", "OWNER", "RUNTIME"].map(String::from)];
    for job in jobs {
        lines.push([
            cell(&job.id, 64),
            cell(job.job_type.as_deref().unwrap_or("-"), 40),
            cell(job.status.as_str(), 20),
            cell(job.username.as_deref().unwrap_or("-"), 40),
            job.runtime(now_ms).map(format_duration).unwrap_or_else(|| "-".into()),
        ]);
    }
    aligned(&lines)
}

/// A one-line default message: rule, event and jobs.
pub fn summary(planned: &Planned) -> String {
    let jobs: Vec<String> = planned
        .jobs
        .iter()
        .map(|j| {
            format!(
                "{} ({}, {}, {})",
                j.id,
                j.status,
                j.username.as_deref().unwrap_or("?"),
                j.job_type.as_deref().unwrap_or("?")
            )
        })
        .collect();
    format!("rule {} on {}: {}", planned.rule, planned.event.kind, jobs.join(", "))
}

fn describe(error: &minijinja::Error) -> String {
    let mut text = error.detail().map(|d| d.to_string()).unwrap_or_else(|| error.kind().to_string());
    if let Some(line) = error.line() {
        text.push_str(&format!(" (template line {line})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_rejects() {
        let context = json!({ "job": { "id": "j1", "runtime": "1h32m" } });
        assert_eq!(render("{{ job.id }} ran {{ job.runtime }}", &context).unwrap(), "j1 ran 1h32m");
        assert!(check("{{ job.id }").is_err());
        assert!(render("{{ jbo.id }}", &context).unwrap_err().contains("undefined"));
    }

    #[test]
    fn header_values_stay_on_one_line() {
        let context = json!({ "job": { "username": "eve\r\nBcc: victim@example.com" } });
        let header = render_header("Job of {{ job.username }}", &context).unwrap();
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
    }
}
