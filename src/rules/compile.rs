//! Rule compilation: the YAML tree of each rule checked key by key and turned into a `Rule`.
//! Every problem is collected, located on its key's line, with the nearest valid key suggested.

use super::load::{check_keys, nearest, strings, Located};
use super::matcher::{Condition, StatusValue, Test};
use super::{Rule, RuleError, Schedule, Trigger};
use crate::actions::template::Provides;
use crate::actions::ActionConfig;
use crate::config::{ConfigDuration, Flavor};
use crate::diff::EventKind;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use strum::VariantNames;

mod actions;

const RULE_KEYS: &[&str] = &[
    "name",
    "description",
    "targets",
    "on",
    "mode",
    "match",
    "for_polls",
    "repeat",
    "actions",
    "cron",
    "window",
    "timezone",
    "grace",
];
/// The match keys, in the order they are checked: cheap and selective first.
const MATCH_KEYS: &[&str] = &[
    "status",
    "to",
    "from",
    "type",
    "runtime_over",
    "runtime_under",
    "username",
    "item_id",
    "runtime_name",
    "title",
    "scheduled",
    "exceeds_own_timeout",
    "runtime_over_usual",
    "min_runs",
    "window",
];
/// Compiles every located rule; names must be unique across files. `targets` are the configured
/// targets with their flavors, when known.
pub fn compile_all(located: &[Located], targets: &[(&str, Option<Flavor>)], errors: &mut Vec<RuleError>) -> Vec<Rule> {
    let mut first_seen: HashMap<String, String> = HashMap::new();
    let mut rules = Vec::new();
    for rule in located {
        let Some(compiled) = compile_rule(rule, targets, errors) else { continue };
        let here = format!("{}:{}", rule.file.display(), rule.line);
        if let Some(there) = first_seen.insert(compiled.name.clone(), here) {
            errors.push(
                rule.error(
                    Some("name"),
                    format!("the name is already used by the rule at {there}; names must be unique"),
                ),
            );
        }
        rules.push(compiled);
    }
    rules
}

/// Collects errors for one rule; `None` when it cannot be used.
fn compile_rule(r: &Located, targets: &[(&str, Option<Flavor>)], errors: &mut Vec<RuleError>) -> Option<Rule> {
    let before = errors.len();
    let Value::Object(map) = &r.value else {
        errors.push(r.error(None, "a rule must be a mapping with at least `name` and `actions`"));
        return None;
    };
    check_keys(r, map, RULE_KEYS, "the rule", errors);
    let name = match map.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        _ => {
            errors.push(r.error(None, "every rule needs a `name` (a non-empty string)"));
            String::new()
        }
    };
    let trigger = trigger(r, map, errors);
    let is_task = trigger.as_ref().is_some_and(Trigger::is_task);
    let names: Vec<&str> = targets.iter().map(|(name, _)| *name).collect();
    let rule_targets = rule_targets(r, map, &names, errors);
    let flavors = flavors(targets, rule_targets.as_deref());
    let is_notebook = matches!(trigger, Some(Trigger::Notebook));
    let (conditions, task_conditions, notebook_conditions) = match (map.get("match"), &trigger) {
        (None | Some(Value::Null), _) => (Vec::new(), Vec::new(), Vec::new()),
        (Some(Value::Object(m)), Some(t)) if is_task => {
            (Vec::new(), super::tasks::conditions(r, m, t, errors), Vec::new())
        }
        (Some(Value::Object(m)), _) if is_notebook => {
            (Vec::new(), Vec::new(), super::notebooks::conditions(r, m, errors))
        }
        (Some(Value::Object(m)), _) => (conditions(r, m, &flavors, errors), Vec::new(), Vec::new()),
        (Some(_), _) => {
            errors.push(r.error(Some("match"), "`match` must be a mapping of match keys"));
            (Vec::new(), Vec::new(), Vec::new())
        }
    };
    let event_only = |key: &'static str| conditions.iter().any(|c| c.key == key);
    if !matches!(trigger, Some(Trigger::StatusChanged)) {
        for key in ["from", "to"].into_iter().filter(|k| event_only(k)) {
            errors.push(r.error(Some(key), format!("`{key}` only applies to `on: status_changed` rules")));
        }
    }
    let is_poll = matches!(trigger, Some(Trigger::Poll));
    let for_polls = for_polls(r, map, is_poll || is_notebook, errors);
    let repeat = repeat(r, map, is_poll, errors);
    let provides = match (is_task, is_notebook) {
        (true, _) => Provides::Tasks,
        (_, true) => Provides::Notebooks,
        _ => Provides::Jobs,
    };
    let actions = actions::compile(r, map, provides, errors);
    let resend = actions.iter().filter_map(ActionConfig::resend).min().filter(|_| is_poll);
    if let (Some(_), Some(_)) = (repeat, resend) {
        let message = "an alertmanager action is sent again on its own while the job matches (`resend`), and resolved when it stops; `repeat` would repeat the rule's other actions too: put the alert in a rule of its own";
        errors.push(r.error(Some("repeat"), message));
    }
    let shadow = shadow(r, map, errors);
    if actions.iter().any(ActionConfig::is_destructive) {
        if let Some(reason) = only_ended(trigger.as_ref(), &conditions) {
            let message = format!("this rule can only match jobs that have ended ({reason}), and an ended job cannot be cancelled; remove the cancel, or match running jobs");
            errors.push(r.error_at_value("type", "cancel", message));
        }
    }
    if matches!(trigger, Some(Trigger::Schedule(_))) && actions.iter().any(ActionConfig::is_destructive) {
        errors.push(r.error_at_value(
            "type",
            "cancel",
            "`on: schedule` rules report; they cannot cancel (use `on: poll`)",
        ));
    }
    actions::destructive_fits(r, &actions, is_notebook, errors);
    if is_task && actions.iter().any(ActionConfig::is_destructive) {
        let message = "task rules tell people about scheduled tasks; they cannot cancel (a task is no job)";
        errors.push(r.error_at_value("type", "cancel", message));
    }
    (errors.len() == before).then(|| Rule {
        name,
        description: map.get("description").and_then(Value::as_str).map(str::to_string),
        targets: rule_targets,
        trigger: trigger.unwrap_or(Trigger::Poll),
        conditions,
        task_conditions,
        notebook_conditions,
        for_polls,
        repeat,
        resend,
        actions: actions.into_iter().map(std::sync::Arc::new).collect(),
        shadow,
        file: r.file.clone(),
        line: r.line,
    })
}

/// The flavors a rule meets: those of its targets (of every target without `targets:`); both
/// when one is not known.
fn flavors(targets: &[(&str, Option<Flavor>)], only: Option<&[String]>) -> Vec<Flavor> {
    let met = targets.iter().filter(|(name, _)| only.is_none_or(|o| o.iter().any(|n| n == name)));
    let mut flavors: Vec<Flavor> = Vec::new();
    for (_, flavor) in met {
        match flavor {
            Some(f) if !flavors.contains(f) => flavors.push(*f),
            Some(_) => {}
            None => return vec![Flavor::Enterprise, Flavor::NotebookServer],
        }
    }
    if flavors.is_empty() {
        flavors = vec![Flavor::Enterprise, Flavor::NotebookServer];
    }
    flavors
}

/// Why a job rule can only ever match jobs that have ended: its trigger, or a `status`/`to` that
/// names only finished phases.
fn only_ended(trigger: Option<&Trigger>, conditions: &[Condition]) -> Option<String> {
    if matches!(trigger, Some(Trigger::Disappeared)) {
        return Some("on: disappeared".into());
    }
    conditions.iter().filter(|c| !c.negated).find_map(|c| match &c.test {
        Test::Status(values) | Test::To(values) if super::values::only_ended(values) => Some(c.to_string()),
        _ => None,
    })
}

/// `mode: shadow`, the one mode a rule may name (a rule without `mode` acts).
fn shadow(r: &Located, map: &Map<String, Value>, errors: &mut Vec<RuleError>) -> bool {
    match map.get("mode") {
        None => false,
        Some(Value::String(mode)) if mode == "shadow" => true,
        Some(other) => {
            let message = format!("`mode` may only be `shadow` (evaluate, record, never act), not {other}; remove `mode` for a rule that acts");
            errors.push(r.error(Some("mode"), message));
            false
        }
    }
}

fn trigger(r: &Located, map: &Map<String, Value>, errors: &mut Vec<RuleError>) -> Option<Trigger> {
    let on = match map.get("on") {
        None => "poll",
        Some(Value::String(on)) => on.as_str(),
        Some(other) => {
            errors.push(
                r.error(Some("on"), format!("`on` must be one of {}, not {other}", EventKind::VARIANTS.join(", "))),
            );
            return None;
        }
    };
    let schedule_keys = ["cron", "window", "timezone"];
    if on != "schedule" {
        for key in schedule_keys.into_iter().filter(|k| map.contains_key(*k)) {
            errors.push(r.error(Some(key), format!("`{key}` only applies to `on: schedule` rules")));
        }
    }
    if on != "task_missed" && map.contains_key("grace") {
        errors.push(r.error(Some("grace"), "`grace` only applies to `on: task_missed` rules"));
    }
    match on.parse::<EventKind>() {
        Ok(EventKind::Poll) => Some(Trigger::Poll),
        Ok(EventKind::TaskFailed) => Some(Trigger::TaskFailed),
        Ok(EventKind::TaskStopped) => Some(Trigger::TaskStopped),
        Ok(EventKind::TaskMissed) => match map.get("grace") {
            None => Some(Trigger::TaskMissed { grace: Duration::from_secs(15 * 60) }),
            Some(value) => duration(r, "grace", value, errors).map(|grace| Trigger::TaskMissed { grace }),
        },
        Ok(EventKind::Notebook) => Some(Trigger::Notebook),
        Ok(EventKind::Appeared) => Some(Trigger::Appeared),
        Ok(EventKind::StatusChanged) => Some(Trigger::StatusChanged),
        Ok(EventKind::Disappeared) => Some(Trigger::Disappeared),
        Ok(EventKind::Schedule) => schedule(r, map, errors).map(|s| Trigger::Schedule(Box::new(s))),
        // `resolved` is what a poll rule's alert becomes, not a trigger of its own.
        Ok(EventKind::Resolved) | Err(_) => {
            let other = on;
            let valid: Vec<&str> = EventKind::VARIANTS.iter().copied().filter(|v| *v != "resolved").collect();
            let hint = nearest(other, &valid).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            errors.push(r.error(Some("on"), format!("unknown trigger `{other}`{hint}; valid: {}", valid.join(", "))));
            None
        }
    }
}

fn schedule(r: &Located, map: &Map<String, Value>, errors: &mut Vec<RuleError>) -> Option<Schedule> {
    let cron = match map.get("cron").and_then(Value::as_str) {
        Some(pattern) => {
            crate::config::parse_cron(pattern).map_err(|e| errors.push(r.error(Some("cron"), e.to_string()))).ok()
        }
        None => {
            errors.push(r.error(None, "`on: schedule` needs `cron` (e.g. \"0 8 * * MON-FRI\")"));
            None
        }
    };
    let window = match map.get("window") {
        None => Some(Duration::from_secs(86_400)),
        Some(value) => duration(r, "window", value, errors),
    };
    let timezone = match map.get("timezone").and_then(Value::as_str) {
        None => Some(None),
        Some(name) => crate::config::parse_zone(name)
            .map(Some)
            .map_err(|e| errors.push(r.error(Some("timezone"), e.to_string())))
            .ok(),
    };
    Some(Schedule { cron: cron?, window: window?, timezone: timezone? })
}

fn conditions(
    r: &Located,
    map: &Map<String, Value>,
    flavors: &[Flavor],
    errors: &mut Vec<RuleError>,
) -> Vec<Condition> {
    check_keys(r, map, MATCH_KEYS, "`match`", errors);
    let mut out = Vec::new();
    for &key in MATCH_KEYS {
        let Some(value) = map.get(key) else { continue };
        if matches!(key, "min_runs" | "window") {
            if !map.contains_key("runtime_over_usual") {
                errors.push(r.error(Some(key), format!("`{key}` goes with `runtime_over_usual`, which is not given")));
            }
            continue;
        }
        let (negated, inner) = super::load::negation(value);
        let test = match key {
            "runtime_over_usual" => super::usual::limit(r, map, inner, errors).map(Test::RuntimeOverUsual),
            _ => test(r, key, inner, flavors, errors),
        };
        if let Some(test) = test {
            out.push(Condition { key, negated, test });
        }
    }
    out
}

fn test(
    r: &Located,
    key: &'static str,
    value: &Value,
    flavors: &[Flavor],
    errors: &mut Vec<RuleError>,
) -> Option<Test> {
    let text = |errors: &mut Vec<RuleError>| strings(r, key, value, errors);
    let statuses = |errors: &mut Vec<RuleError>| super::values::statuses(r, key, value, flavors, errors);
    let never_none = |values: Vec<StatusValue>, errors: &mut Vec<RuleError>| {
        let none = values.contains(&StatusValue::None);
        if none {
            errors.push(r.error(
                Some(key),
                format!("`{key}: none` never matches; `none` is for `from:` (a job first seen after the baseline)"),
            ));
        }
        (!none).then_some(values)
    };
    Some(match key {
        "type" => Test::Type(super::values::job_types(r, value, errors)?),
        "status" => Test::Status(never_none(statuses(errors)?, errors)?),
        "from" => Test::From(statuses(errors)?),
        "to" => Test::To(never_none(statuses(errors)?, errors)?),
        "username" => Test::Username(text(errors)?),
        "item_id" => Test::ItemId(text(errors)?),
        "runtime_name" => Test::RuntimeName(text(errors)?),
        "title" => Test::Title(text(errors)?),
        "runtime_over" => Test::RuntimeOver(duration(r, key, value, errors)?),
        "runtime_under" => Test::RuntimeUnder(duration(r, key, value, errors)?),
        "scheduled" => Test::Scheduled(boolean(r, key, value, errors)?),
        _ => Test::ExceedsOwnTimeout(boolean(r, key, value, errors)?),
    })
}

pub(super) fn duration(r: &Located, key: &str, value: &Value, errors: &mut Vec<RuleError>) -> Option<Duration> {
    let parsed = value
        .as_str()
        .ok_or_else(|| "write it as text such as 90m".to_string())
        .and_then(|s| s.parse::<ConfigDuration>());
    parsed.map(|d| d.0).map_err(|e| errors.push(r.error(Some(key), format!("`{key}`: {e}")))).ok()
}

fn boolean(r: &Located, key: &str, value: &Value, errors: &mut Vec<RuleError>) -> Option<bool> {
    let parsed = value.as_bool();
    if parsed.is_none() {
        errors.push(r.error(Some(key), format!("`{key}` takes true or false")));
    }
    parsed
}

fn for_polls(r: &Located, map: &Map<String, Value>, is_poll: bool, errors: &mut Vec<RuleError>) -> u32 {
    let Some(value) = map.get("for_polls") else { return 1 };
    match value.as_u64().filter(|n| (1..=10_000).contains(n)) {
        Some(n) if n > 1 && !is_poll => {
            errors.push(r.error(Some("for_polls"), "`for_polls` only applies to `on: poll` and `on: notebook` rules"));
            1
        }
        Some(n) => n as u32,
        None => {
            errors.push(r.error(Some("for_polls"), "`for_polls` takes a whole number from 1"));
            1
        }
    }
}

fn repeat(r: &Located, map: &Map<String, Value>, is_poll: bool, errors: &mut Vec<RuleError>) -> Option<Duration> {
    let value = map.get("repeat")?;
    if value.as_str() == Some("never") {
        return None;
    }
    if !is_poll {
        errors.push(r.error(Some("repeat"), "`repeat` only applies to `on: poll` rules; events fire once"));
        return None;
    }
    duration(r, "repeat", value, errors)
}

fn rule_targets(
    r: &Located,
    map: &Map<String, Value>,
    known: &[&str],
    errors: &mut Vec<RuleError>,
) -> Option<Vec<String>> {
    let names = strings(r, "targets", map.get("targets")?, errors)?;
    for name in names.iter().filter(|n| !known.contains(&n.as_str())) {
        let hint = nearest(name, known).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        errors.push(r.error(Some("targets"), format!("no target named `{name}` in the configuration{hint}")));
    }
    Some(names)
}
