//! The `alertmanager` action: POSTs the firing's jobs to an Alertmanager's `/api/v2/alerts`, one
//! alert per job (or task) in one request per batch. Labels: `alertname` (the rule), `target`,
//! `job_id` or `task`, `owner`, `severity`, and the rule's own; annotations: `summary`,
//! `description` and the links. A poll rule with this action sends it again every `resend` while
//! the job matches (`endsAt` four resends ahead, so that Alertmanager keeps it firing, and resolves
//! it by itself if nbwarden stops), and once more with `endsAt` now when the job stops matching
//! or leaves the list. Routing, silencing, inhibition and paging are then Alertmanager's.

use super::notice::{post_json, url_problems, Facts};
use super::{ActionContext, ActionError, Done};
use crate::clock::LocalMs;
use crate::config::ConfigDuration;
use crate::diff::EventKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `type: alertmanager`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// The Alertmanager, e.g. `http://127.0.0.1:9093` (credentials in it are a secret).
    pub url: String,
    /// The `severity` label (default `warning`).
    #[serde(default = "default_severity")]
    pub severity: String,
    /// How often a poll rule's alert is sent again while the job matches (default 1m).
    #[serde(default = "default_resend")]
    pub resend: ConfigDuration,
    /// More labels, the same on every alert of the rule (names as Prometheus allows them).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_severity() -> String {
    "warning".into()
}

fn default_resend() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(60))
}

/// An alert of Alertmanager's API v2 (`postableAlert`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Its identity.
    pub labels: BTreeMap<String, String>,
    /// For people.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339, this machine's clock (Alertmanager's).
    pub starts_at: String,
    /// RFC 3339: ahead while it fires, now when it is resolved.
    pub ends_at: String,
    /// Where it came from: nbwarden's `/status`, when known.
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
}

impl super::Plugin for AlertmanagerConfig {
    fn kind(&self) -> &'static str {
        "alertmanager"
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = url_problems(&self.url);
        let valid = |name: &str| {
            let mut chars = name.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        for name in self.labels.keys().filter(|n| !valid(n)) {
            out.push(("labels", format!("`{name}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")));
        }
        if self.resend.0 < Duration::from_secs(10) {
            out.push(("resend", "`resend` must be at least 10s".to_string()));
        }
        out
    }

    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::Alertmanager(AlertmanagerConfig { url: super::redact_url(&self.url), ..self.clone() })
    }

    fn build(&self) -> Box<dyn super::Action> {
        Box::new(Alertmanager(self.clone()))
    }

    fn is_batched(&self) -> bool {
        true
    }

    fn resend(&self) -> Option<Duration> {
        Some(self.resend.0)
    }
}

/// Posts alerts.
#[derive(Debug)]
pub struct Alertmanager(pub AlertmanagerConfig);

#[async_trait::async_trait]
impl super::Action for Alertmanager {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        let url = format!("{}/api/v2/alerts", self.0.url.trim_end_matches('/'));
        let shown = super::redact_url(&url);
        let alerts = self.alerts(cx);
        let done = post_json(cx, (&url, shown), &alerts).await?;
        let verb = if resolves(cx) { "resolved" } else { "firing" };
        Ok(match done {
            Done::Done(detail) => Done::Done(format!("{} alert(s) {verb}; {detail}", alerts.len())),
            other => other,
        })
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        let alerts = self.alerts(cx);
        let verb = if resolves(cx) { "resolve" } else { "fire" };
        let body = serde_json::to_string(&alerts).unwrap_or_default();
        format!("would {verb} {} alert(s) at {}: {body}", alerts.len(), super::redact_url(&self.0.url))
    }
}

/// Whether this firing resolves its alerts (the job stopped matching, or left the list).
fn resolves(cx: &ActionContext<'_>) -> bool {
    cx.occasion.event.kind == EventKind::Resolved
}

impl Alertmanager {
    /// One alert per job (or the task).
    pub fn alerts(&self, cx: &ActionContext<'_>) -> Vec<Alert> {
        let now = cx.now;
        let ends = match resolves(cx) {
            true => now,
            false => now.plus(4 * self.0.resend.0.as_millis() as i64),
        };
        let time = |at: LocalMs| crate::arcgis::model::rfc3339(at).unwrap_or_default();
        let occasion = cx.occasion;
        occasion
            .jobs
            .iter()
            .map(|job| {
                let facts = Facts::of(cx, job);
                let mut labels = self.0.labels.clone();
                labels.insert("alertname".into(), occasion.rule.into());
                labels.insert("target".into(), cx.target.into());
                labels.insert("severity".into(), self.0.severity.clone());
                match occasion.task {
                    Some(task) => labels.insert("task".into(), task.task.id.clone()),
                    None => labels.insert("job_id".into(), job.id.clone()),
                };
                if let Some(owner) = &job.username {
                    labels.insert("owner".into(), owner.clone());
                }
                let mut annotations = BTreeMap::from([
                    ("summary".to_string(), facts.line()),
                    ("description".to_string(), description(cx, &facts)),
                ]);
                annotations.extend(facts.item_url.clone().map(|u| ("item_url".to_string(), u)));
                annotations.insert("admin_url".into(), facts.admin_url.clone());
                Alert {
                    labels,
                    annotations,
                    starts_at: time(now),
                    ends_at: time(ends),
                    generator_url: cx.services.status_url.clone(),
                }
            })
            .collect()
    }
}

/// What fired, for people.
fn description(cx: &ActionContext<'_>, facts: &Facts) -> String {
    let occasion = cx.occasion;
    let task = facts.task.as_deref().map(|t| format!(", started by the scheduled task {t}")).unwrap_or_default();
    format!(
        "nbwarden rule {} ({}) on target {}: {} {}{task}",
        occasion.rule, occasion.event.kind, cx.target, facts.name, facts.status
    )
}
