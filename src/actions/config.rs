//! The closed set of action configurations a rule may list (SPEC §3 "Actions").

use crate::config::ConfigDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One action of a rule, as written (`type:` selects the variant).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionConfig {
    /// Cancel the job (check first, then act; counted against the target's limits).
    Cancel(CancelConfig),
    /// Send e-mail, batched per recipient within one poll.
    Email(EmailAction),
    /// Call an HTTP endpoint.
    Webhook(WebhookConfig),
    /// Run a program (no shell).
    Exec(ExecConfig),
    /// Write a log line.
    Log(LogConfig),
}

/// `type: cancel` takes no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CancelConfig {}

/// `type: email`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAction {
    /// Addresses, or `owner` for the job's owner.
    #[serde(default)]
    pub to: Vec<String>,
    /// Addresses, or `owner`.
    #[serde(default)]
    pub cc: Vec<String>,
    /// A template; default: rule, job count and target.
    pub subject: Option<String>,
    /// A template; default: a plain-text table of the jobs with their links.
    pub body: Option<String>,
    /// A template for an HTML alternative (values are HTML-escaped).
    pub html: Option<String>,
}

/// The recipient word that stands for each job's owner.
pub const OWNER: &str = "owner";

/// `type: webhook`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to send it.
    pub url: String,
    /// HTTP method (default POST).
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra headers; values are templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A template; default: a JSON document with the rule, the event and the jobs.
    pub body: Option<String>,
    /// Bound on the whole call (default 10s).
    pub timeout: Option<ConfigDuration>,
}

fn default_method() -> String {
    "POST".into()
}

/// `type: exec`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The program and its arguments; each element is a template; never run through a shell.
    pub command: Vec<String>,
    /// The process is killed after this long (default 60s).
    pub timeout: Option<ConfigDuration>,
    /// Extra environment variables; values are templates.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

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
    pub const KEYS: &'static [(&'static str, &'static [&'static str])] = &[
        ("cancel", &["type"]),
        ("email", &["type", "to", "cc", "subject", "body", "html"]),
        ("webhook", &["type", "url", "method", "headers", "body", "timeout"]),
        ("exec", &["type", "command", "timeout", "env"]),
        ("log", &["type", "level", "message"]),
    ];

    /// `cancel`, `email`, …
    pub fn kind(&self) -> &'static str {
        match self {
            ActionConfig::Cancel(_) => "cancel",
            ActionConfig::Email(_) => "email",
            ActionConfig::Webhook(_) => "webhook",
            ActionConfig::Exec(_) => "exec",
            ActionConfig::Log(_) => "log",
        }
    }

    /// The templates this action renders, by key, for compile-time checking.
    pub fn templates(&self) -> Vec<(&'static str, &str)> {
        fn some<'a>(key: &'static str, source: &'a Option<String>) -> Option<(&'static str, &'a str)> {
            source.as_deref().map(|s| (key, s))
        }
        match self {
            ActionConfig::Cancel(_) => Vec::new(),
            ActionConfig::Email(e) => [some("subject", &e.subject), some("body", &e.body), some("html", &e.html)]
                .into_iter()
                .flatten()
                .collect(),
            ActionConfig::Webhook(w) => {
                some("body", &w.body).into_iter().chain(w.headers.values().map(|v| ("headers", v.as_str()))).collect()
            }
            ActionConfig::Exec(x) => {
                let command = x.command.iter().map(|c| ("command", c.as_str()));
                command.chain(x.env.values().map(|v| ("env", v.as_str()))).collect()
            }
            ActionConfig::Log(l) => some("message", &l.message).into_iter().collect(),
        }
    }

    /// What is wrong with the values (beyond their types), by key.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match self {
            ActionConfig::Email(e) => {
                if e.to.is_empty() && e.cc.is_empty() {
                    out.push(("to", "an email action needs `to` (addresses or `owner`)".to_string()));
                }
                for address in e.to.iter().chain(&e.cc).filter(|a| *a != OWNER) {
                    if let Err(err) = address.parse::<lettre::message::Mailbox>() {
                        out.push(("to", format!("`{address}` is not an e-mail address ({err}); or write `owner`")));
                    }
                }
            }
            ActionConfig::Webhook(w) => {
                let url = reqwest::Url::parse(&w.url);
                if !url.is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                    out.push(("url", "`url` must be an http(s) URL".to_string()));
                }
                if reqwest::Method::from_bytes(w.method.to_ascii_uppercase().as_bytes()).is_err() {
                    out.push(("method", format!("`{}` is not an HTTP method", w.method)));
                }
            }
            ActionConfig::Exec(x) if x.command.is_empty() => {
                out.push((
                    "command",
                    "`command` needs at least the program, e.g. [/usr/local/bin/notify, \"{{ job.id }}\"]".into(),
                ));
            }
            _ => {}
        }
        out
    }

    /// The configuration as it may be stored: a webhook's URL credentials and query, its header
    /// values and an exec's environment values are replaced (they may hold secrets). Executing
    /// takes them from the current rules.
    pub fn scrubbed(&self) -> ActionConfig {
        let hide = |map: &BTreeMap<String, String>| map.keys().map(|k| (k.clone(), "***".to_string())).collect();
        match self {
            ActionConfig::Webhook(w) => ActionConfig::Webhook(WebhookConfig {
                url: super::redact_url(&w.url),
                headers: hide(&w.headers),
                ..w.clone()
            }),
            ActionConfig::Exec(x) => ActionConfig::Exec(ExecConfig { env: hide(&x.env), ..x.clone() }),
            other => other.clone(),
        }
    }

    /// Destructive actions count against the target's limits.
    pub fn is_destructive(&self) -> bool {
        matches!(self, ActionConfig::Cancel(_))
    }

    /// Actions whose firings of one poll go out together, one batch per rule and action.
    pub fn is_batched(&self) -> bool {
        matches!(self, ActionConfig::Email(_))
    }
}
