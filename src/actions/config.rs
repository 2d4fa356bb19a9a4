//! The closed set of action configurations a rule may list (SPEC §3 "Actions").

use serde::{Deserialize, Serialize};

/// One action of a rule, as written (`type:` selects the variant).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionConfig {
    /// Cancel the job (check first, then act; counted against the target's limits).
    Cancel(CancelConfig),
    /// Write a log line.
    Log(LogConfig),
}

/// `type: cancel` takes no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CancelConfig {}

/// Severity of a `log` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// debug.
    Debug,
    /// info (default).
    #[default]
    Info,
    /// warn.
    Warn,
    /// error.
    Error,
}

/// `type: log`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Severity (default info).
    #[serde(default)]
    pub level: LogLevel,
    /// A template; default: a one-line summary of the firing.
    pub message: Option<String>,
}

impl ActionConfig {
    /// The action types and the keys each one takes.
    pub const KEYS: &'static [(&'static str, &'static [&'static str])] =
        &[("cancel", &["type"]), ("log", &["type", "level", "message"])];

    /// `cancel`, `log`, …
    pub fn kind(&self) -> &'static str {
        match self {
            ActionConfig::Cancel(_) => "cancel",
            ActionConfig::Log(_) => "log",
        }
    }

    /// The templates this action renders, by key, for compile-time checking.
    pub fn templates(&self) -> Vec<(&'static str, &str)> {
        match self {
            ActionConfig::Log(LogConfig { message: Some(message), .. }) => vec![("message", message.as_str())],
            _ => Vec::new(),
        }
    }

    /// Destructive actions count against the target's limits.
    pub fn is_destructive(&self) -> bool {
        matches!(self, ActionConfig::Cancel(_))
    }
}
