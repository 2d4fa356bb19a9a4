//! The report written out: one self-contained HTML page (tables, and the charts as inline SVG),
//! CSV (one row per figure: section, key, field, value) or JSON (one object).

use super::{charts, Report};
use serde::Serialize;

const PAGE: &str = include_str!("report.html");

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A chart failed.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// The page template failed.
    #[error("cannot render the report page: {0}")]
    Page(String),
    /// CSV or JSON encoding failed.
    #[error("cannot encode the report: {0}")]
    Encode(String),
}

#[derive(Serialize)]
struct Page<'a> {
    report: &'a Report,
    version: &'static str,
    compute_chart: String,
    days_chart: String,
    colours: Vec<(&'static str, String)>,
    totals: Totals,
}

#[derive(Serialize)]
struct Totals {
    runs: u64,
    compute_hours: f64,
    failures: u64,
    cancels: u64,
}

/// The HTML page: one file, no scripts, no external assets; every value escaped, the charts
/// are plotters' SVG.
pub fn html(report: &Report) -> Result<String, RenderError> {
    let colours = super::Ending::ALL
        .into_iter()
        .map(|o| {
            let c = charts::colour(o);
            (o.as_str(), format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2))
        })
        .collect();
    let groups = &report.groups;
    let totals = Totals {
        runs: groups.iter().map(|g| g.runs).sum(),
        compute_hours: super::round(groups.iter().map(|g| g.compute_minutes).sum::<f64>() / 60.0, 1),
        failures: groups.iter().map(|g| g.failures).sum(),
        cancels: groups.iter().map(|g| g.cancels).sum(),
    };
    let page = Page {
        report,
        version: env!("CARGO_PKG_VERSION"),
        compute_chart: charts::compute_hours(groups, report.by)?,
        days_chart: charts::runs_per_day(&report.days)?,
        colours,
        totals,
    };
    crate::page::render(PAGE, &page).map_err(|e| RenderError::Page(e.to_string()))
}

/// The groups as one HTML table with inline styles, for a message's body (mail clients show
/// no SVG and drop style sheets).
pub fn summary_html(report: &Report) -> Result<String, RenderError> {
    crate::page::render(SUMMARY, report).map_err(|e| RenderError::Page(e.to_string()))
}

/// The most groups an e-mail's summary lists (those with the most compute); the attached page
/// has them all, so that a message stays short whatever the number of owners or notebooks.
pub const SUMMARY_GROUPS: usize = 40;

const SUMMARY: &str = r#"<p>Notebook runs by {{ by }} from {{ since }} to {{ until }}:</p>
<table style="border-collapse: collapse" cellpadding="4">
<tr style="background: #f4f4f4"><th align="left">{{ by }}</th><th align="right">Runs</th><th align="right">Compute minutes</th><th align="right">Failures</th><th align="right">Failure rate</th><th align="right">Cancelled by nbwarden</th></tr>
{% for g in groups[:40] %}<tr><td>{{ g.name }}</td><td align="right">{{ g.runs }}</td><td align="right">{{ g.compute_minutes }}</td><td align="right">{{ g.failures }}</td><td align="right">{{ (g.failure_rate * 100) | round(1) }} %</td><td align="right">{{ g.cancels }}</td></tr>
{% endfor %}</table>
{% if groups | length > 40 %}<p>… and {{ groups | length - 40 }} more, with less compute, in the attached page.</p>{% endif %}
<p>The attached page has the charts, the longest runs and the runs of each day.</p>"#;

/// One JSON object.
pub fn json(report: &Report) -> Result<String, RenderError> {
    serde_json::to_string_pretty(report).map(|s| s + "\n").map_err(|e| RenderError::Encode(e.to_string()))
}

/// CSV, one row per figure, so that one file carries every table: `section,key,field,value`
/// (`group,<name>,runs,12`, `longest,1,job_id,j7`, `day,2026-11-30,failed,2`).
pub fn csv(report: &Report) -> Result<String, RenderError> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    for row in rows(report) {
        // Owners, ids and group names come from sites: none may start a spreadsheet formula.
        let row = row.map(|cell| match cell.parse::<f64>() {
            Ok(_) => cell,
            Err(_) => crate::text::spreadsheet_cell(&cell).into_owned(),
        });
        writer.write_record(&row).map_err(|e| RenderError::Encode(e.to_string()))?;
    }
    let bytes = writer.into_inner().map_err(|e| RenderError::Encode(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| RenderError::Encode(e.to_string()))
}

/// Every figure of the report as `[section, key, field, value]`, the header first.
fn rows(report: &Report) -> Vec<[String; 4]> {
    let row = |section: &str, key: &str, field: &str, value: String| [section.into(), key.into(), field.into(), value];
    let mut rows = vec![
        row("section", "key", "field", "value".into()),
        row("report", "window", "since", report.since.clone()),
        row("report", "window", "until", report.until.clone()),
        row("report", "window", "by", report.by.into()),
    ];
    for g in &report.groups {
        rows.extend(
            [
                ("runs", g.runs.to_string()),
                ("compute_minutes", g.compute_minutes.to_string()),
                ("failures", g.failures.to_string()),
                ("failure_rate", g.failure_rate.to_string()),
                ("cancels", g.cancels.to_string()),
                ("median_minutes", g.median_minutes.to_string()),
                ("p95_minutes", g.p95_minutes.to_string()),
            ]
            .map(|(field, value)| row("group", &g.name, field, value)),
        );
    }
    for (rank, l) in report.longest.iter().enumerate() {
        let key = (rank + 1).to_string();
        rows.extend(
            [
                ("target", l.target.clone()),
                ("job_id", l.job_id.clone()),
                ("owner", l.owner.clone()),
                ("group", l.group.clone()),
                ("runtime_minutes", l.runtime_minutes.to_string()),
                ("outcome", l.outcome.as_str().into()),
                ("ended", l.ended.clone()),
            ]
            .map(|(field, value)| row("longest", &key, field, value)),
        );
    }
    for day in &report.days {
        rows.extend(day.runs.iter().map(|(outcome, n)| row("day", &day.date, outcome, n.to_string())));
    }
    rows
}
