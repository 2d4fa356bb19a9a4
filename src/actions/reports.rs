//! The report an `email` action attaches (`report: { since: 7d, by: owner }`): the target's
//! `nbwarden report`, made when the message is written by the maker the program provides (over
//! the state store), with a summary table for the message's body.

use crate::config::ConfigDuration;
use serde::{Deserialize, Serialize};

/// The groupings `by` may name (those of `nbwarden report --by`).
pub const GROUPINGS: [&str; 5] = ["owner", "notebook", "type", "runtime", "task"];

/// `report:` of an email action.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// From this long before the message (default 7d).
    #[serde(default = "a_week")]
    pub since: ConfigDuration,
    /// The groups (default owner).
    #[serde(default = "owner")]
    pub by: String,
}

fn a_week() -> ConfigDuration {
    ConfigDuration(std::time::Duration::from_secs(7 * 86_400))
}

fn owner() -> String {
    GROUPINGS[0].into()
}

/// A report, ready for a message.
#[derive(Debug, Clone, PartialEq)]
pub struct MadeReport {
    /// The attachment's file name.
    pub file_name: String,
    /// The whole page (charts included).
    pub html: String,
    /// The summary as plain text (a table of the groups).
    pub text: String,
    /// The summary as an HTML table that mail clients render (no SVG, no styles sheet).
    pub summary_html: String,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `by:` names no grouping.
    #[error("`{0}` is not a grouping")]
    UnknownGrouping(String),
    /// The state store could not be read, or the page not written.
    #[error(transparent)]
    Making(#[from] Box<dyn std::error::Error + Send + Sync>),
}

/// Makes reports (the program provides one over its state store).
#[async_trait::async_trait]
pub trait ReportMaker: Send + Sync {
    /// The report of `spec` on `target` up to `now`; why not, when it cannot.
    async fn make(
        &self,
        spec: &ReportSpec,
        target: &str,
        now: crate::clock::LocalMs,
    ) -> Result<MadeReport, ReportError>;
}
