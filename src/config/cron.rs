//! Cron patterns, as `poll.cron` and `on: schedule` rules write them: croner parses them; a value
//! out of its field's range is named with the field and the range.

use croner::Cron;

/// Parses a crontab line: 5 fields, or 6 with seconds first.
pub fn parse_cron(pattern: &str) -> Result<Cron, CronError> {
    let parser = croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Optional).build();
    parser.parse(pattern).map_err(|e| {
        let detail = out_of_range(pattern).unwrap_or_else(|| e.to_string());
        CronError { pattern: pattern.into(), detail }
    })
}

/// The gap between the next two slots of `cron` after `now` (in the machine's time zone): a
/// cron cadence's nominal interval; a day when it has no two more slots.
pub fn gap(cron: &Cron, now: crate::clock::LocalMs) -> std::time::Duration {
    use chrono::TimeZone;
    let next = |after_ms: i64| {
        let from = chrono::Local.timestamp_millis_opt(after_ms).single()?;
        cron.find_next_occurrence(&from, false).ok().map(|t| t.timestamp_millis())
    };
    match next(now.0).and_then(|first| Some((first, next(first)?))) {
        Some((first, second)) => std::time::Duration::from_millis((second - first).max(1000) as u64),
        None => std::time::Duration::from_secs(86_400),
    }
}

/// The fields of a 5-field line, each with the range of its numbers.
const FIELDS: [(&str, u32, u32); 5] =
    [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7)];

/// "hour 25 is out of 0–23", for the first number out of its field's range.
fn out_of_range(pattern: &str) -> Option<String> {
    let parts: Vec<&str> = pattern.split_whitespace().collect();
    let fields: Vec<(&str, u32, u32)> = match parts.len() {
        5 => FIELDS.to_vec(),
        6 => std::iter::once(("second", 0, 59)).chain(FIELDS).collect(),
        _ => return None,
    };
    for (part, (field, low, high)) in parts.iter().zip(fields) {
        for item in part.split(',') {
            let (range, step) = item.split_once('/').map_or((item, None), |(r, s)| (r, Some(s)));
            if step.is_some_and(|s| s.parse::<u32>().is_ok_and(|n| n == 0)) {
                return Some(format!("{field} step 0 never advances; write a step from 1"));
            }
            for value in range.split('-').filter_map(|v| v.parse::<u32>().ok()) {
                if value < low || value > high {
                    return Some(format!("{field} {value} is out of {low}–{high}"));
                }
            }
        }
    }
    None
}

/// A pattern croner does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron `{pattern}`: {detail}")]
pub struct CronError {
    /// As written.
    pub pattern: String,
    /// What is wrong.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_out_of_range_names_its_field() {
        for (pattern, detail) in [
            ("0 25 * * *", "hour 25 is out of 0–23"),
            ("61 * * * *", "minute 61 is out of 0–59"),
            ("0 8 32 * *", "day of month 32 is out of 1–31"),
            ("0 8 * 1-13 *", "month 13 is out of 1–12"),
            ("0 8 * * 8", "day of week 8 is out of 0–7"),
            ("70 0 8 * * *", "second 70 is out of 0–59"),
            ("*/0 * * * *", "minute step 0 never advances; write a step from 1"),
        ] {
            assert_eq!(parse_cron(pattern).unwrap_err().detail, detail, "{pattern}");
        }
        assert!(parse_cron("0 8 * * MON-FRI").is_ok());
        assert!(parse_cron("* * *").unwrap_err().detail.contains("5 and 7 fields"));
    }
}
