//! Actions stage: the closed set of action configurations and one plugin per file. Plugins make
//! one attempt; retries, dry run and the ledger live in dispatch, never here.

mod cancel;
mod config;
mod log;

pub use config::{ActionConfig, CancelConfig, LogConfig, LogLevel};

use crate::arcgis::JobSource;
use crate::store::Planned;

/// What a plugin sees: the planned action and the target it belongs to.
pub struct ActionContext<'a> {
    /// The target's name.
    pub target: &'a str,
    /// The target's job source (cancel, re-read, user look-up).
    pub source: &'a dyn JobSource,
    /// What was planned.
    pub planned: &'a Planned,
}

/// A finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// It happened; details for people.
    Done(String),
    /// Nothing to do any more (the job left the matching state); why.
    Skipped(String),
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// Timeouts, connection errors, HTTP 429/5xx: dispatch retries with backoff.
    #[error("{0}")]
    Transient(String),
    /// Everything else: recorded, not retried.
    #[error("{0}")]
    Permanent(String),
}

impl From<crate::arcgis::Error> for ActionError {
    fn from(e: crate::arcgis::Error) -> Self {
        if e.is_transient() {
            ActionError::Transient(e.to_string())
        } else {
            ActionError::Permanent(e.to_string())
        }
    }
}

/// One action plugin.
#[async_trait::async_trait]
pub trait Action: Send + Sync {
    /// One attempt.
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError>;
    /// What the action would do, in full, for dry runs (rendered text, URLs, recipients).
    fn preview(&self, cx: &ActionContext<'_>) -> String;
}

impl ActionConfig {
    /// The plugin for this configuration.
    pub fn build(&self) -> Box<dyn Action> {
        match self {
            ActionConfig::Cancel(_) => Box::new(cancel::Cancel),
            ActionConfig::Log(config) => Box::new(log::Log(config.clone())),
        }
    }
}
