//! `nbwarden report`: runs, compute minutes, failures and cancels per owner, notebook, type,
//! runtime or task, from the recorded history, as one HTML page with charts, CSV or JSON.

use super::setup;
use crate::config::Config;
use crate::report::{self, render, By};
use std::path::PathBuf;

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One self-contained page with charts.
    Html,
    /// One row per figure: section, key, field, value.
    Csv,
    /// One JSON object.
    Json,
}

/// What `report` was asked.
pub struct Options {
    /// From this long ago.
    pub since: std::time::Duration,
    /// The grouping.
    pub by: By,
    /// The format.
    pub format: Format,
    /// The file to write; standard output when `None`.
    pub out: Option<PathBuf>,
}

/// Writes the report.
pub async fn run(config: &Config, options: Options) -> anyhow::Result<bool> {
    let text = text(config, &options).await?;
    match &options.out {
        Some(path) => {
            crate::files::write_private(path, &text)
                .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", path.display()))?;
            eprintln!("report written to {}", path.display());
        }
        None => super::write_stdout(&text)?,
    }
    Ok(true)
}

/// The report as it is written.
pub async fn text(config: &Config, options: &Options) -> anyhow::Result<String> {
    let (store, _) = setup::open(config).await?;
    let until = crate::clock::Clock::now(&crate::clock::SystemClock);
    let since = until - options.since.as_millis() as i64;
    let targets: Vec<String> = config.targets.iter().map(|t| t.name.clone()).collect();
    let report = report::source::from_store(&store, &targets, options.by, (since, until)).await?;
    Ok(match options.format {
        Format::Html => render::html(&report)?,
        Format::Csv => render::csv(&report)?,
        Format::Json => render::json(&report)?,
    })
}
