//! Reading rule files: every `*.yaml`/`*.yml` under the configured paths, each rule with its line,
//! and the key check that reports every unknown key (with the nearest valid one) before serde runs.

use super::RuleError;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One rule as written, with where it was written.
#[derive(Debug, Clone)]
pub struct Located {
    /// The file.
    pub file: PathBuf,
    /// The line of the rule's first key.
    pub line: u64,
    /// The last line that still belongs to this rule.
    pub end_line: u64,
    /// The rule's YAML as a tree.
    pub value: Value,
    /// The file's lines, for finding a key's own line.
    pub source: std::sync::Arc<Vec<String>>,
}

impl Located {
    /// The rule's name, if it has a string one.
    pub fn name(&self) -> Option<&str> {
        self.value.get("name").and_then(Value::as_str)
    }

    /// An error about this rule, located on the line of `key` when given and found.
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> RuleError {
        let line = key.and_then(|k| self.key_line(k)).unwrap_or(self.line);
        RuleError { file: self.file.clone(), line, rule: self.name().map(str::to_string), message: message.into() }
    }

    /// An error located on the line where `key:` is followed by `value` (e.g. an action's type).
    pub fn error_at_value(&self, key: &str, value: &str, message: impl Into<String>) -> RuleError {
        let line = self.line_where(|text| writes_key(text, key) && text.contains(value)).unwrap_or(self.line);
        RuleError { file: self.file.clone(), line, rule: self.name().map(str::to_string), message: message.into() }
    }

    /// The first line within this rule where `key:` is written.
    fn key_line(&self, key: &str) -> Option<u64> {
        self.line_where(|text| writes_key(text, key))
    }

    fn line_where(&self, test: impl Fn(&str) -> bool) -> Option<u64> {
        let first = self.line.saturating_sub(1) as usize;
        let last = (self.end_line as usize).min(self.source.len());
        (first..last).find(|&i| test(&self.source[i])).map(|i| i as u64 + 1)
    }
}

fn writes_key(line: &str, key: &str) -> bool {
    let line = line.split(" #").next().unwrap_or("");
    line.match_indices(key).any(|(at, _)| {
        let before = line[..at].chars().last();
        let after = line[at + key.len()..].trim_start();
        before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-' | '"' | '\''))
            && (after.starts_with(':') || after.starts_with("\":") || after.starts_with("':"))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rules: Vec<serde_saphyr::Spanned<Value>>,
}

/// Every rule file under `paths` (files, or folders scanned for `*.yaml`/`*.yml`, sorted); a
/// folder or file that another user owns or can write to is an error, and is not read.
pub fn rule_files(paths: &[PathBuf], errors: &mut Vec<RuleError>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.exists() && refused(path, errors) {
            continue;
        }
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> =
                        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_yaml(p)).collect();
                    found.sort();
                    found.retain(|file| !refused(file, errors));
                    files.extend(found);
                }
                Err(e) => errors.push(RuleError::file(path, format!("cannot read the folder: {e}"))),
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            errors.push(RuleError::file(path, "no such file or folder (listed under `rules:`)"));
        }
    }
    files
}

/// Reports and refuses a rule path that another user could have written (`trust`).
fn refused(path: &Path, errors: &mut Vec<RuleError>) -> bool {
    let Some(why) = super::trust::distrust(path) else { return false };
    let message = format!("not read: {why}; rules can cancel jobs and run programs, so nbwarden reads only rule files and folders that no other user can change (chmod go-w, chown)");
    errors.push(RuleError::file(path, message));
    true
}

fn is_yaml(path: &Path) -> bool {
    path.is_file() && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// The rules of one file, each with its lines.
pub fn read_file(path: &Path, errors: &mut Vec<RuleError>) -> Vec<Located> {
    match std::fs::read_to_string(path) {
        Ok(text) => read_text(path, &text, errors),
        Err(e) => {
            errors.push(RuleError::file(path, format!("cannot read: {e}")));
            Vec::new()
        }
    }
}

/// The rules of one file's text, each with its lines (`path` names it in errors).
pub fn read_text(path: &Path, text: &str, errors: &mut Vec<RuleError>) -> Vec<Located> {
    let raw: RawFile = match crate::config::parse_yaml(path, text) {
        Ok(raw) => raw,
        Err(crate::config::Error::Parse { line, message, .. }) => {
            errors.push(RuleError { file: path.into(), line, rule: None, message });
            return Vec::new();
        }
        Err(e) => {
            errors.push(RuleError::file(path, e.to_string()));
            return Vec::new();
        }
    };
    let source: std::sync::Arc<Vec<String>> = std::sync::Arc::new(text.lines().map(str::to_string).collect());
    let lines: Vec<u64> = raw.rules.iter().map(|r| r.referenced.line()).collect();
    raw.rules
        .into_iter()
        .enumerate()
        .map(|(i, spanned)| Located {
            file: path.into(),
            line: lines[i],
            end_line: lines.get(i + 1).map_or(source.len() as u64, |next| next.saturating_sub(1)),
            value: spanned.value,
            source: source.clone(),
        })
        .collect()
}

/// Reports each key of `map` not in `allowed`, suggesting the nearest allowed one.
pub fn check_keys(
    rule: &Located,
    map: &Map<String, Value>,
    allowed: &[&str],
    context: &str,
    errors: &mut Vec<RuleError>,
) {
    for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
        let hint = nearest(key, allowed).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        let valid = allowed.join(", ");
        errors.push(rule.error(Some(key), format!("unknown key `{key}` in {context}{hint}; valid keys: {valid}")));
    }
}

pub use crate::text::nearest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let keys = ["runtime_over", "runtime_under", "status", "type"];
        assert_eq!(nearest("runtime_ovr", &keys), Some("runtime_over"));
        assert_eq!(nearest("stauts", &keys), Some("status"));
        assert_eq!(nearest("banana", &keys), None);
    }

    #[test]
    fn keys_are_found_in_block_and_flow_style() {
        assert!(writes_key("      runtime_ovr: 90m", "runtime_ovr"));
        assert!(writes_key("    match: { type: x, runtime_ovr: 9m }", "runtime_ovr"));
        assert!(writes_key("  - name: a", "name"));
        assert!(!writes_key("    description: the runtime_ovr key", "runtime_ovr"));
        assert!(!writes_key("    username: x", "name"));
    }
}
