//! The values a rule may match (pure): `status`, `from` and `to` take a phase, or a status that
//! ArcGIS documents for the flavor of the rule's targets; `type` a documented job type. Anything
//! else could never match, so it is an error with the nearest word, unless written `{ raw: … }`.

use super::load::{nearest, Located};
use super::matcher::StatusValue;
use super::RuleError;
use crate::arcgis::Phase;
use crate::config::Flavor;
use serde_json::Value;

/// The statuses the admin API documents for a flavor (arcgis-api.md §2; CANCELLED is what
/// Enterprise shows after a cancel, Notebook Server shows FAILED with `isCancelled`).
pub fn documented_statuses(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::Enterprise => &["SUBMITTED", "EXECUTING", "COMPLETED", "FAILED", "CANCELLED"],
        Flavor::NotebookServer => &["SUBMITTED", "PROCESSING", "COMPLETED", "FAILED"],
    }
}

/// The job types the admin APIs document.
pub const JOB_TYPES: [&str; 3] = ["executeNotebook", "openNotebook", "executeNotebookAsWebTool"];

/// One value as written: a word to check, or `{ raw: "…" }`, taken as it is.
enum Word {
    Checked(String),
    Raw(String),
}

/// The words of a value: one, or a list; each text, a number, or `{ raw: "…" }`.
fn words(r: &Located, key: &str, value: &Value, errors: &mut Vec<RuleError>) -> Option<Vec<Word>> {
    let one = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(Word::Checked(s.clone())),
        Value::Number(n) => Some(Word::Checked(n.to_string())),
        Value::Object(raw) if raw.len() == 1 => match raw.get("raw") {
            Some(Value::String(s)) if !s.is_empty() => Some(Word::Raw(s.clone())),
            _ => None,
        },
        _ => None,
    };
    let list: Option<Vec<Word>> = match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        other => one(other).map(|w| vec![w]),
    };
    if list.is_none() {
        let message =
            format!("`{key}` takes a value, a list of them, {{ raw: \"…\" }}, or {{ not: … }} around any of those");
        errors.push(r.error(Some(key), message));
    }
    list
}

/// The status values of `key` (`status`, `from`, `to`) for a rule meeting `flavors`.
pub fn statuses(
    r: &Located,
    key: &str,
    value: &Value,
    flavors: &[Flavor],
    errors: &mut Vec<RuleError>,
) -> Option<Vec<StatusValue>> {
    let documented: Vec<&str> = flavors.iter().flat_map(|f| documented_statuses(*f).iter().copied()).collect();
    let mut out = Vec::new();
    for word in words(r, key, value, errors)? {
        let text = match word {
            Word::Raw(raw) => {
                out.push(StatusValue::Raw(raw));
                continue;
            }
            Word::Checked(text) => text,
        };
        let parsed = StatusValue::parse(&text);
        match &parsed {
            StatusValue::Raw(raw) if !documented.iter().any(|d| d.eq_ignore_ascii_case(raw)) => {
                errors.push(r.error(Some(key), unknown_status(key, raw, flavors, &documented)));
                return None;
            }
            _ => out.push(parsed),
        }
    }
    Some(out)
}

fn unknown_status(key: &str, raw: &str, flavors: &[Flavor], documented: &[&str]) -> String {
    let phases: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
    let candidates: Vec<&str> = phases.iter().chain(documented).copied().collect();
    let folded = candidates.iter().find(|c| c.eq_ignore_ascii_case(raw)).copied();
    let hint =
        folded.or_else(|| nearest(raw, &candidates)).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
    let flavors: Vec<&str> = flavors.iter().map(|f| f.as_str()).collect();
    format!(
        "`{key}: {raw}` could never match: it is neither a phase ({}) nor a status ArcGIS documents for {} ({}){hint}; write {{ raw: \"{raw}\" }} to match that status as it is",
        phases.join(", "),
        flavors.join(" or "),
        documented.join(", ")
    )
}

/// The job types of `type`: documented ones (case-insensitive) or raw.
pub fn job_types(r: &Located, value: &Value, errors: &mut Vec<RuleError>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for word in words(r, "type", value, errors)? {
        match word {
            Word::Raw(raw) => out.push(raw),
            Word::Checked(text) if JOB_TYPES.iter().any(|t| t.eq_ignore_ascii_case(&text)) => out.push(text),
            Word::Checked(text) => {
                let hint = nearest(&text, &JOB_TYPES).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
                let message = format!("`type: {text}` is not a job type ArcGIS documents ({}){hint}; write {{ raw: \"{text}\" }} to match it as it is", JOB_TYPES.join(", "));
                errors.push(r.error(Some("type"), message));
                return None;
            }
        }
    }
    Some(out)
}

/// Whether every value names a finished job (completed, failed, cancelled).
pub fn only_ended(values: &[StatusValue]) -> bool {
    let ended = |v: &StatusValue| match v {
        StatusValue::Phase(p) => matches!(p, Phase::Completed | Phase::Failed | Phase::Cancelled),
        StatusValue::Raw(raw) => {
            matches!(crate::arcgis::Status::parse(raw).phase(), Phase::Completed | Phase::Failed | Phase::Cancelled)
        }
        StatusValue::None => false,
    };
    !values.is_empty() && values.iter().all(ended)
}
