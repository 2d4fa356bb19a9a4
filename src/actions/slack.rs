//! The `slack` action: one incoming-webhook message per batch, in Block Kit: a header, a section
//! per job with its facts as fields and a link to its notebook, and a link to `/status`. The body
//! is built by serde; a job's text is escaped for Slack's mrkdwn where it is markup.

use super::notice::{headline, host_only, post_json, url_problems, Facts, LISTED};
use super::{ActionContext, ActionError, Done};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `type: slack`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming webhook's URL: a secret (its path is the credential).
    pub url: String,
}

impl super::Plugin for SlackConfig {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        url_problems(&self.url)
    }

    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::Slack(SlackConfig { url: host_only(&self.url) })
    }

    fn build(&self) -> Box<dyn super::Action> {
        Box::new(Slack(self.clone()))
    }

    fn is_batched(&self) -> bool {
        true
    }
}

/// Posts to Slack.
#[derive(Debug)]
pub struct Slack(pub SlackConfig);

#[async_trait::async_trait]
impl super::Action for Slack {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        post_json(cx, (&self.0.url, host_only(&self.0.url)), &message(cx)).await
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        format!("would post to Slack at {}: {}", host_only(&self.0.url), message(cx))
    }
}

/// The message: `text` for notifications, and the blocks.
pub fn message(cx: &ActionContext<'_>) -> Value {
    let headline = headline(cx);
    let mut blocks = vec![json!({ "type": "header", "text": plain(&cut(&headline, 150)) })];
    let jobs = cx.occasion.jobs;
    for job in jobs.iter().take(LISTED) {
        blocks.push(section(&Facts::of(cx, job), cx.target));
    }
    if jobs.len() > LISTED {
        blocks.push(json!({ "type": "context", "elements": [plain(&format!("… and {} more", jobs.len() - LISTED))] }));
    }
    let mut context = vec![plain(&format!("rule {} ({})", cx.occasion.rule, cx.occasion.event.kind))];
    if let Some(status) = &cx.services.status_url {
        context.push(json!({ "type": "mrkdwn", "text": format!("<{}|nbwarden status>", escape(status)) }));
    }
    blocks.push(json!({ "type": "context", "elements": context }));
    json!({ "text": headline, "blocks": blocks })
}

/// One job: its name (linked to its notebook) and its facts as fields.
fn section(facts: &Facts, target: &str) -> Value {
    let name = match &facts.item_url {
        Some(url) => format!("*<{}|{}>*", escape(url), escape(&facts.name).replace('|', "¦")),
        None => format!("*{}*", escape(&facts.name)),
    };
    let mut fields = vec![plain(&format!("Status: {}", facts.status)), plain(&format!("Target: {target}"))];
    fields.extend(facts.owner.as_ref().map(|o| plain(&format!("Owner: {o}"))));
    fields.extend(facts.runtime.as_ref().map(|r| plain(&format!("Runtime: {r}"))));
    fields.extend(facts.task.as_ref().map(|t| plain(&format!("Scheduled task: {t}"))));
    fields.push(plain(&format!("Job: {}", facts.id)));
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": name }, "fields": fields })
}

/// A plain-text object: Slack shows it as it is.
fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": cut(text, 2000) })
}

/// Slack's mrkdwn control characters, escaped as its documentation says.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// At most `limit` characters (Slack's limits per field).
fn cut(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}
