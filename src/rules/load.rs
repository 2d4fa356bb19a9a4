//! Reading rule files: every `*.yaml`/`*.yml` under the configured paths, each rule with its line,
//! and the key check that reports every unknown key (with the nearest valid one) before serde runs.

use super::RuleError;
use crate::config::yaml::{to_json, At, Node, Value as YamlValue};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One rule as written, with where it was written.
#[derive(Debug, Clone)]
pub struct Located {
    /// The file.
    pub file: PathBuf,
    /// The line of the rule's first key.
    pub line: u64,
    /// The rule's YAML as JSON (what the compiler reads).
    pub value: Value,
    /// The rule's YAML as written, with where each key is.
    node: Node,
}

impl Located {
    /// The rule's name, if it has a string one.
    pub fn name(&self) -> Option<&str> {
        self.value.get("name").and_then(Value::as_str)
    }

    /// An error about this rule, located on the line of `key` when given and found.
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> RuleError {
        let at = key.and_then(|k| self.key_at(&|name, _| name == k));
        self.error_here(at, message)
    }

    /// An error located on the line where `key:` is followed by `value` (e.g. an action's type).
    pub fn error_at_value(&self, key: &str, value: &str, message: impl Into<String>) -> RuleError {
        let at = self.key_at(&|name, node| name == key && node.text() == Some(value));
        self.error_here(at, message)
    }

    /// An error at `at`, or at the rule's first line.
    fn error_here(&self, at: Option<At>, message: impl Into<String>) -> RuleError {
        let at = at.unwrap_or(At { line: self.line, column: 0 });
        let rule = self.name().map(str::to_string);
        RuleError { file: self.file.clone(), line: at.line, column: at.column, rule, message: message.into() }
    }

    /// Where the first key within this rule (depth first) that `wanted` accepts is written.
    fn key_at(&self, wanted: &dyn Fn(&str, &Node) -> bool) -> Option<At> {
        fn find(node: &Node, wanted: &dyn Fn(&str, &Node) -> bool) -> Option<At> {
            match &node.value {
                YamlValue::Map(entries) => entries.iter().find_map(|(key, value)| {
                    let here = key.text().is_some_and(|k| wanted(k, value)).then_some(key.at);
                    here.or_else(|| find(value, wanted))
                }),
                YamlValue::Seq(items) => items.iter().find_map(|item| find(item, wanted)),
                _ => None,
            }
        }
        find(&self.node, wanted)
    }
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

/// The rules of one file's text, each with where it was written (`path` names it in errors).
pub fn read_text(path: &Path, text: &str, errors: &mut Vec<RuleError>) -> Vec<Located> {
    let mut problem = |at: At, message: String| {
        errors.push(RuleError { file: path.into(), line: at.line, column: at.column, rule: None, message })
    };
    let doc = match crate::config::yaml::read(text) {
        Ok((doc, problems)) => {
            problems.into_iter().for_each(|p| problem(p.at, p.message));
            doc
        }
        Err(problems) => {
            problems.into_iter().for_each(|p| problem(p.at, p.message));
            return Vec::new();
        }
    };
    let items = match &doc.value {
        YamlValue::Null => return Vec::new(),
        YamlValue::Map(entries) => {
            for (key, _) in entries.iter().filter(|(k, _)| k.text() != Some("rules")) {
                let name = key.text().unwrap_or_default();
                problem(key.at, format!("unknown key `{name}` in the rule file; it holds `rules:`, a list of rules"));
            }
            match doc.get("rules").map(|r| &r.value) {
                Some(YamlValue::Seq(items)) => items.clone(),
                None | Some(YamlValue::Null) => Vec::new(),
                Some(_) => {
                    problem(doc.at, "`rules:` takes a list of rules (`- name: …`)".into());
                    return Vec::new();
                }
            }
        }
        _ => {
            problem(doc.at, "a rule file is a mapping with `rules:`, a list of rules".into());
            return Vec::new();
        }
    };
    items
        .into_iter()
        .map(|node| Located { file: path.into(), line: node.at.line, value: to_json(&node), node })
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

/// A match key's value, and whether it is negated: `{ not: value }`.
pub(super) fn negation(value: &Value) -> (bool, &Value) {
    match value {
        Value::Object(wrapper) if wrapper.len() == 1 && wrapper.contains_key("not") => (true, &wrapper["not"]),
        plain => (false, plain),
    }
}

pub(super) fn strings(r: &Located, key: &str, value: &Value, errors: &mut Vec<RuleError>) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let list: Option<Vec<String>> = match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    };
    if list.is_none() {
        errors.push(r.error(Some(key), format!("`{key}` takes a non-empty text value or a list of them")));
    }
    list
}

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
    fn keys_are_found_where_they_are_written_in_block_and_flow_style() {
        let text = "rules:\n  - name: a\n    match: { type: x, runtime_ovr: 9m }\n    actions:\n      - type: log\n      - type: cancel\n";
        let rule = read_text(Path::new("r.yaml"), text, &mut Vec::new()).remove(0);
        assert_eq!((rule.error(Some("runtime_ovr"), "").line, rule.error(Some("runtime_ovr"), "").column), (3, 23));
        assert_eq!(rule.error_at_value("type", "cancel", "").line, 6);
        assert_eq!(rule.error(Some("absent"), "").line, 2, "the rule's own line");
    }
}
