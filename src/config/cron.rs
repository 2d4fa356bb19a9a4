//! Cron patterns, as `poll.cron` and `on: schedule` rules write them.

use croner::Cron;

/// Parses a crontab line: 5 fields, or 6 with seconds first.
pub fn parse_cron(pattern: &str) -> Result<Cron, String> {
    let parser = croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Optional).build();
    parser.parse(pattern).map_err(|e| format!("invalid cron `{pattern}`: {e}"))
}
