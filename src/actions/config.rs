//! The closed set of action configurations a rule may list (SPEC §3 "Actions"). Each plugin's
//! configuration answers for itself through [`Plugin`]; `ActionConfig` only delegates, and the
//! action types and their keys are read from the serde types themselves.

use super::{
    Action, AlertmanagerConfig, CancelConfig, CloseNotebookConfig, EmailAction, ExecConfig, LogConfig, SlackConfig,
    TeamsConfig, WebhookConfig,
};
use serde::{Deserialize, Serialize};

/// One action of a rule, as written (`type:` selects the variant).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionConfig {
    /// Cancel the job (check first, then act; counted against the target's limits).
    Cancel(CancelConfig),
    /// Close an open notebook (read again first; counted against the target's close limits).
    CloseNotebook(CloseNotebookConfig),
    /// Send e-mail, batched per recipient within one poll.
    Email(EmailAction),
    /// Call an HTTP endpoint.
    Webhook(WebhookConfig),
    /// Run a program (no shell).
    Exec(ExecConfig),
    /// Write a log line.
    Log(LogConfig),
    /// Post alerts to an Alertmanager: resent while a poll rule matches, resolved when it stops.
    Alertmanager(AlertmanagerConfig),
    /// Post a Block Kit message to a Slack incoming webhook.
    Slack(SlackConfig),
    /// Post an Adaptive Card to a Microsoft Teams Workflows webhook.
    Teams(TeamsConfig),
    /// A plugin that exists in unit tests only: it records what it is asked to do.
    #[cfg(test)]
    Record(super::recording::RecordConfig),
}

/// What each plugin's configuration knows about itself. `scrubbed` has no default, so a new
/// plugin always answers for its secrets; the others default to "nothing" and "no".
pub trait Plugin {
    /// The `type:` name (what serde reads).
    fn kind(&self) -> &'static str;
    /// The copy that may be stored: every value that may hold a secret replaced. Executing takes
    /// them from the current rules.
    fn scrubbed(&self) -> ActionConfig;
    /// The plugin that executes it.
    fn build(&self) -> Box<dyn Action>;
    /// The templates it renders, by key, checked when the rules compile.
    fn templates(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }
    /// What is wrong with its values beyond their types, by key.
    fn problems(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// What is risky in its values though it runs, by key (`check` warns).
    fn warnings(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Counts against the target's cancel limits.
    fn is_destructive(&self) -> bool {
        false
    }
    /// Firings of one poll go out together, one batch per rule and action.
    fn is_batched(&self) -> bool {
        false
    }
    /// Follows the job's state: sent again this often while a poll rule matches, and resolved
    /// when it stops (`alertmanager`).
    fn resend(&self) -> Option<std::time::Duration> {
        None
    }
}

impl ActionConfig {
    /// The configuration as a plugin: the one place that names every variant.
    fn plugin(&self) -> &dyn Plugin {
        match self {
            ActionConfig::Cancel(config) => config,
            ActionConfig::CloseNotebook(config) => config,
            ActionConfig::Email(config) => config,
            ActionConfig::Webhook(config) => config,
            ActionConfig::Exec(config) => config,
            ActionConfig::Log(config) => config,
            ActionConfig::Alertmanager(config) => config,
            ActionConfig::Slack(config) => config,
            ActionConfig::Teams(config) => config,
            #[cfg(test)]
            ActionConfig::Record(config) => config,
        }
    }

    /// `cancel`, `email`, …
    pub fn kind(&self) -> &'static str {
        self.plugin().kind()
    }

    /// The templates this action renders, by key, for compile-time checking.
    pub fn templates(&self) -> Vec<(&'static str, &str)> {
        self.plugin().templates()
    }

    /// What is wrong with the values (beyond their types), by key.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        self.plugin().problems()
    }

    /// What is risky in the values, by key.
    pub fn warnings(&self) -> Vec<(&'static str, String)> {
        self.plugin().warnings()
    }

    /// The configuration as it may be stored, without anything that may be a secret.
    pub fn scrubbed(&self) -> ActionConfig {
        self.plugin().scrubbed()
    }

    /// Destructive actions count against the target's limits.
    pub fn is_destructive(&self) -> bool {
        self.plugin().is_destructive()
    }

    /// Actions whose firings of one poll go out together.
    pub fn is_batched(&self) -> bool {
        self.plugin().is_batched()
    }

    /// How often a firing is sent again while it matches, for actions that follow the state.
    pub fn resend(&self) -> Option<std::time::Duration> {
        self.plugin().resend()
    }

    /// The plugin for this configuration.
    pub fn build(&self) -> Box<dyn Action> {
        self.plugin().build()
    }

    /// Every action type, as serde knows them.
    pub fn kinds() -> &'static [&'static str] {
        match probe("\u{0}") {
            Probe::Variants(kinds) => kinds,
            _ => &[],
        }
    }

    /// The keys an action of type `kind` takes (`type` first); `None` for an unknown type.
    pub fn keys(kind: &str) -> Option<Vec<&'static str>> {
        match probe(kind) {
            Probe::Fields(fields) => Some(std::iter::once("type").chain(fields.iter().copied()).collect()),
            _ => None,
        }
    }
}

/// What serde says when it reads `{type: kind, "\0": ""}`: the fields of the variant (the key
/// is unknown to every one of them), or the variants (the type is unknown).
#[derive(Debug)]
enum Probe {
    Variants(&'static [&'static str]),
    Fields(&'static [&'static str]),
    Other,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Probe {}

impl serde::de::Error for Probe {
    fn custom<T: std::fmt::Display>(_: T) -> Probe {
        Probe::Other
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Probe {
        Probe::Variants(expected)
    }

    fn unknown_field(_: &str, expected: &'static [&'static str]) -> Probe {
        Probe::Fields(expected)
    }
}

fn probe(kind: &str) -> Probe {
    let entries = [("type", kind), ("\u{0}", "")];
    let reader = serde::de::value::MapDeserializer::<_, Probe>::new(entries.into_iter());
    ActionConfig::deserialize(reader).err().unwrap_or(Probe::Other)
}

/// A map with every value replaced (header and environment values may be secrets).
pub(super) fn hidden(map: &std::collections::BTreeMap<String, String>) -> std::collections::BTreeMap<String, String> {
    map.keys().map(|k| (k.clone(), "***".to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One example of every action type, the test plugin included.
    const EXAMPLES: &[&str] = &[
        r#"{"type": "cancel"}"#,
        r#"{"type": "email", "to": ["owner"]}"#,
        r#"{"type": "webhook", "url": "https://h/x"}"#,
        r#"{"type": "exec", "command": ["/bin/true"]}"#,
        r#"{"type": "log"}"#,
        r#"{"type": "close_notebook"}"#,
        r#"{"type": "alertmanager", "url": "http://am:9093"}"#,
        r#"{"type": "slack", "url": "https://hooks.slack.com/services/T/B/x"}"#,
        r#"{"type": "teams", "url": "https://prod.logic.azure.com/workflows/x?sig=y"}"#,
        r#"{"type": "record", "tag": "t"}"#,
    ];

    #[test]
    fn the_types_and_keys_are_read_from_the_serde_types() {
        assert_eq!(
            ActionConfig::kinds(),
            ["cancel", "close_notebook", "email", "webhook", "exec", "log", "alertmanager", "slack", "teams", "record"]
        );
        assert_eq!(ActionConfig::keys("webhook").unwrap(), ["type", "url", "method", "headers", "body", "timeout"]);
        assert_eq!(ActionConfig::keys("cancel").unwrap(), ["type"]);
        assert_eq!(ActionConfig::keys("nope"), None);
        for example in EXAMPLES {
            let config: ActionConfig = serde_json::from_str(example).unwrap();
            let written = serde_json::to_value(&config).unwrap();
            let keys = ActionConfig::keys(config.kind()).unwrap();
            assert_eq!(written["type"], config.kind(), "kind() is the serde tag");
            let fields: Vec<&str> = written.as_object().unwrap().keys().map(String::as_str).collect();
            assert!(fields.iter().all(|f| keys.contains(f)), "{fields:?} within {keys:?}");
            assert_eq!(fields.len(), keys.len(), "every key of {} is a field: {fields:?} {keys:?}", config.kind());
        }
    }

    #[test]
    fn every_plugin_scrubs_to_its_own_kind() {
        for example in EXAMPLES {
            let config: ActionConfig = serde_json::from_str(example).unwrap();
            assert_eq!(config.scrubbed().kind(), config.kind());
            assert_eq!(config.scrubbed().scrubbed(), config.scrubbed(), "scrubbing is idempotent");
        }
    }
}
