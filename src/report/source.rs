//! Reports made from the state store: what `nbwarden report` prints, and what an `email` action
//! with `report:` attaches.

use super::{render, By, Report};
use crate::actions::reports::{MadeReport, ReportError, ReportMaker, ReportSpec};
use crate::clock::{LocalMs, Offset, ServerMs};
use crate::store::{Scope, SqlStore};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The report of `targets` over `(since, until]` on this machine's clock. The runs are on their
/// servers' clocks, which a report over days reads as this machine's (`Offset` zero): a run a few
/// seconds from the window's edge may fall on the other side of it.
pub async fn from_store(
    store: &SqlStore,
    targets: &[String],
    by: By,
    (since, until): (LocalMs, LocalMs),
) -> crate::store::Result<Report> {
    let on_servers = (since.on_server(Offset::default()), until.on_server(Offset::default()));
    let mut runs = Vec::new();
    for target in targets {
        let titles = store.tasks(Scope::Real, target).await?.unwrap_or_default();
        let mut recorded = super::runs(target, store.changes(Scope::Real, target, ServerMs(i64::MAX)).await?);
        let mut starts = Vec::new();
        for (id, seen) in &titles {
            for run in store.task_runs(Scope::Real, target, id).await? {
                starts.extend(run.created_ms.map(|at| super::TaskStart {
                    task: id,
                    owner: &seen.task.owner,
                    at_ms: at,
                }));
            }
        }
        super::attribute_tasks(&mut recorded, &starts);
        for run in &mut recorded {
            let seen = run.job.task_id.as_ref().and_then(|id| titles.get(id));
            run.job.edit(|more| more.task_title = seen.map(|s| s.task.title.clone()));
        }
        runs.extend(recorded);
    }
    let cancelled: BTreeSet<(String, String)> =
        store.cancelled_between(Scope::Real, (since, until)).await?.into_iter().collect();
    let closed = store.closed_between(Scope::Real, (since, until)).await?;
    let closes = super::closes_by_owner_and_runtime(&closed);
    Ok(super::Report { closes, ..super::report(&runs, &cancelled, by, on_servers) })
}

/// Reports over a state store, for e-mails: each of one target.
pub struct StoreReports(pub SqlStore);

#[async_trait::async_trait]
impl ReportMaker for StoreReports {
    async fn make(&self, spec: &ReportSpec, target: &str, now: LocalMs) -> Result<MadeReport, ReportError> {
        let by = By::parse(&spec.by).ok_or_else(|| ReportError::UnknownGrouping(spec.by.clone()))?;
        let window = (now - spec.since.0.as_millis() as i64, now);
        let targets = [target.to_string()];
        let making = |e: Box<dyn std::error::Error + Send + Sync>| ReportError::Making(e);
        let report = from_store(&self.0, &targets, by, window).await.map_err(|e| making(e.into()))?;
        let html = render::html(&report).map_err(|e| making(e.into()))?;
        let summary_html = render::summary_html(&report).map_err(|e| making(e.into()))?;
        let file_name = format!("nbwarden-report-{}.html", &report.until[..10]);
        Ok(MadeReport { file_name, html, text: summary_text(&report), summary_html })
    }
}

/// The groups as an aligned plain-text table.
pub fn summary_text(report: &Report) -> String {
    let mut rows = vec![[
        report.by.to_string(),
        "runs".into(),
        "compute min".into(),
        "failures".into(),
        "failure rate".into(),
        "cancelled".into(),
    ]];
    for g in report.groups.iter().take(render::SUMMARY_GROUPS) {
        rows.push([
            crate::text::cell(&g.name, 60),
            g.runs.to_string(),
            g.compute_minutes.to_string(),
            g.failures.to_string(),
            format!("{:.1} %", g.failure_rate * 100.0),
            g.cancels.to_string(),
        ]);
    }
    let mut out = format!("Notebook runs by {} from {} to {}:\n\n", report.by, report.since, report.until);
    out += &crate::text::aligned(&rows);
    if let Some(more) = report.groups.len().checked_sub(render::SUMMARY_GROUPS).filter(|n| *n > 0) {
        let _ = writeln!(out, "… and {more} more, with less compute, in the attached page.");
    }
    if !report.closes.is_empty() {
        let _ = writeln!(out, "\nOpen notebooks nbwarden closed:");
        for c in &report.closes {
            let _ = writeln!(
                out,
                "  {} on {}: {}",
                crate::text::cell(&c.owner, 60),
                crate::text::cell(&c.runtime, 60),
                c.closes
            );
        }
    }
    let _ = write!(out, "\nThe attached page has the charts, the longest runs and the runs of each day.\n");
    out
}
