//! `nbwarden jobs`: sign in to each target and print its current jobs, as a table or JSON lines.

use crate::arcgis::model::rfc3339;
use crate::arcgis::signin::SignIns;
use crate::arcgis::{Client, Job, JobSource};
use crate::clock::ServerMs;
use crate::config::{format_duration, Config, TargetConfig};
use crate::text::{aligned, cell};
use anyhow::bail;
use serde::Serialize;

/// One printed job.
#[derive(Debug, Serialize)]
struct Row<'a> {
    target: &'a str,
    id: &'a str,
    #[serde(rename = "type")]
    job_type: Option<&'a str>,
    status: &'a str,
    phase: &'static str,
    username: Option<&'a str>,
    started_at: Option<String>,
    ended_at: Option<String>,
    runtime_seconds: Option<u64>,
    item_id: Option<&'a str>,
    runtime_name: Option<&'a str>,
    task_id: Option<&'a str>,
    #[serde(skip)]
    started_ms: Option<ServerMs>,
}

/// One target's jobs and the server's "now", or why they could not be read.
type Fetched = anyhow::Result<(Vec<Job>, ServerMs)>;

/// Prints the jobs; `Ok(false)` when some target could not be read.
pub async fn run(config: &Config, only: Option<&str>, json: bool) -> anyhow::Result<bool> {
    let targets: Vec<&TargetConfig> = config.targets.iter().filter(|t| only.is_none_or(|o| t.name == o)).collect();
    if targets.is_empty() {
        let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
        bail!("no target named \"{}\" (configured: {})", only.unwrap_or_default(), names.join(", "));
    }
    let sign_ins = super::setup::sign_ins_of(config).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        let (target, sign_ins) = ((*target).clone(), sign_ins.clone());
        tasks.spawn(async move { (index, fetch(&target, &sign_ins).await) });
    }
    let mut results: Vec<(usize, Fetched)> = tasks.join_all().await;
    results.sort_by_key(|(index, _)| *index);
    let mut ok = true;
    let mut rows = Vec::new();
    for ((_, result), target) in results.iter().zip(&targets) {
        match result {
            Ok((jobs, now)) => rows.extend(jobs.iter().map(|j| row(&target.name, j, *now))),
            Err(e) => {
                eprintln!("error: target \"{}\": {e}", target.name);
                ok = false;
            }
        }
    }
    let mut out = String::new();
    if json {
        for row in &rows {
            out.push_str(&crate::text::json_safe(serde_json::to_string(row)?));
            out.push('\n');
        }
    } else if ok || !rows.is_empty() {
        out = table(&rows);
    }
    super::write_stdout(&out)?;
    Ok(ok)
}

async fn fetch(target: &TargetConfig, sign_ins: &std::sync::Arc<SignIns>) -> Fetched {
    let client = Client::new(target, sign_ins)?;
    let jobs = client.list_jobs().await?;
    Ok((jobs, client.server_now()))
}

fn row<'a>(target: &'a str, job: &'a Job, now: ServerMs) -> Row<'a> {
    Row {
        target,
        id: &job.id,
        job_type: job.job_type.as_deref(),
        status: job.status.as_str(),
        phase: job.phase().as_str(),
        username: job.username.as_deref(),
        started_at: job.started_at.and_then(rfc3339),
        ended_at: job.ended_at.and_then(rfc3339),
        runtime_seconds: job.runtime(now).map(|d| d.as_secs()),
        item_id: job.item_id.as_deref(),
        runtime_name: job.runtime_name.as_deref(),
        task_id: job.task_id.as_deref(),
        started_ms: job.started_at,
    }
}

fn local_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

/// An aligned table; control characters in server-provided values are replaced.
fn table(rows: &[Row]) -> String {
    let header = ["TARGET", "JOB ID", "TYPE", "STATUS", "PHASE", "USER", "STARTED", "RUNTIME"];
    let mut lines: Vec<[String; 8]> = vec![header.map(String::from)];
    for r in rows {
        lines.push([
            cell(r.target, 120),
            cell(r.id, 120),
            cell(r.job_type.unwrap_or("-"), 120),
            cell(if r.status.is_empty() { "-" } else { r.status }, 120),
            r.phase.to_string(),
            cell(r.username.unwrap_or("-"), 120),
            r.started_ms.map(|at| local_time(at.0)).unwrap_or("-".into()),
            r.runtime_seconds.map(|s| format_duration(std::time::Duration::from_secs(s))).unwrap_or("-".into()),
        ]);
    }
    let mut out = aligned(&lines);
    if rows.is_empty() {
        out.push_str("(no jobs)\n");
    }
    out
}
