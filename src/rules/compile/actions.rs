//! A rule's actions compiled: each one's type, keys and templates checked, and destructive
//! actions kept to their own kind of rule.

use super::super::load::{check_keys, nearest, Located};
use super::super::RuleError;
use crate::actions::template::Provides;
use crate::actions::ActionConfig;
use serde_json::{Map, Value};

/// `close_notebook` closes what a notebook rule matched, and `cancel` cancels jobs: each only in
/// its own kind of rule.
pub(super) fn destructive_fits(r: &Located, actions: &[ActionConfig], is_notebook: bool, errors: &mut Vec<RuleError>) {
    for action in actions.iter().filter(|a| a.is_destructive()) {
        let message = match (action.kind(), is_notebook) {
            ("close_notebook", false) => {
                "`close_notebook` only applies to `on: notebook` rules, which match open notebooks"
            }
            ("close_notebook", true) => continue,
            (_, true) => "a notebook rule cannot cancel (an open notebook is no job): use `close_notebook`",
            (_, false) => continue,
        };
        errors.push(r.error_at_value("type", action.kind(), message));
    }
}

/// The rule's `actions`, each checked: its type, its keys, its templates against what the
/// trigger provides, and its own problems.
pub(super) fn compile(
    r: &Located,
    map: &Map<String, Value>,
    provides: Provides,
    errors: &mut Vec<RuleError>,
) -> Vec<ActionConfig> {
    let items = match map.get("actions") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            errors.push(r.error(Some("actions"), "every rule needs `actions`: a non-empty list"));
            return Vec::new();
        }
    };
    items.iter().filter_map(|item| action(r, item, provides, errors)).collect()
}

/// The error for an action without a `type`, which may have been written `- email: {…}`.
fn untyped(r: &Located, map: &Map<String, Value>, kinds: &[&str]) -> RuleError {
    let named = map.keys().find(|k| kinds.contains(&k.as_str()));
    let message = match named {
        Some(kind) => {
            format!("an action names its kind with `type:`; write `- type: {kind}` with its keys beside it, not `- {kind}: {{…}}`")
        }
        None => format!("each action needs a `type`: one of {}", kinds.join(", ")),
    };
    r.error(named.or(map.keys().next()).map(String::as_str), message)
}

fn action(r: &Located, item: &Value, provides: Provides, errors: &mut Vec<RuleError>) -> Option<ActionConfig> {
    let kinds = ActionConfig::kinds();
    let Some(map) = item.as_object() else {
        errors.push(r.error(Some("actions"), "each action is a mapping with a `type`"));
        return None;
    };
    let Some(kind) = map.get("type").and_then(Value::as_str) else {
        errors.push(untyped(r, map, kinds));
        return None;
    };
    let Some(keys) = ActionConfig::keys(kind) else {
        let hint = nearest(kind, kinds).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        let message = format!("unknown action type `{kind}`{hint}; valid: {}", kinds.join(", "));
        errors.push(r.error_at_value("type", kind, message));
        return None;
    };
    let before = errors.len();
    check_keys(r, map, &keys, &format!("the {kind} action"), errors);
    if errors.len() > before {
        return None;
    }
    let config: ActionConfig = match serde_json::from_value(item.clone()) {
        Ok(config) => config,
        Err(e) => {
            errors.push(r.error_at_value("type", kind, format!("{kind} action: {e}")));
            return None;
        }
    };
    for (key, source) in config.templates() {
        for e in crate::actions::template::problems_for(source, provides) {
            errors.push(r.error(Some(key), format!("action {kind}: template error in {key}: {e}")));
        }
    }
    for (key, problem) in config.problems() {
        errors.push(r.error(Some(key), format!("action {kind}: {problem}")));
    }
    (errors.len() == before).then_some(config)
}
