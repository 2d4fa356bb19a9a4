//! Cron patterns, as `poll.cron` and `on: schedule` rules write them.

use croner::Cron;

/// Parses a crontab line: 5 fields, or 6 with seconds first.
pub fn parse_cron(pattern: &str) -> Result<Cron, CronError> {
    let parser = croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Optional).build();
    parser.parse(pattern).map_err(|e| CronError { pattern: pattern.into(), detail: e.to_string() })
}

/// A pattern croner does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron `{pattern}`: {detail}")]
pub struct CronError {
    /// As written.
    pub pattern: String,
    /// croner's reason.
    pub detail: String,
}
