//! The `teams` action: one Microsoft Teams Workflows webhook message per batch, carrying an
//! Adaptive Card (version 1.5) as its attachment: a headline, a fact set per job, and buttons to
//! the notebook and to `/status`. The body is built by serde, so a job's text can never change the
//! card's structure.

use super::notice::{headline, host_only, post_json, url_problems, Facts, LISTED};
use super::{ActionContext, ActionError, Done};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `type: teams`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The Workflows webhook's URL: a secret (its query signs it).
    pub url: String,
}

impl super::Plugin for TeamsConfig {
    fn kind(&self) -> &'static str {
        "teams"
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        url_problems(&self.url)
    }

    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::Teams(TeamsConfig { url: host_only(&self.url) })
    }

    fn build(&self) -> Box<dyn super::Action> {
        Box::new(Teams(self.clone()))
    }

    fn is_batched(&self) -> bool {
        true
    }
}

/// Posts to Teams.
#[derive(Debug)]
pub struct Teams(pub TeamsConfig);

#[async_trait::async_trait]
impl super::Action for Teams {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        post_json(cx, (&self.0.url, host_only(&self.0.url)), &message(cx)).await
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        format!("would post to Teams at {}: {}", host_only(&self.0.url), message(cx))
    }
}

/// The Workflows message: one attachment, the card.
pub fn message(cx: &ActionContext<'_>) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card(cx),
        }],
    })
}

/// The Adaptive Card 1.5.
pub fn card(cx: &ActionContext<'_>) -> Value {
    let mut body =
        vec![json!({ "type": "TextBlock", "text": headline(cx), "weight": "Bolder", "size": "Medium", "wrap": true })];
    let jobs = cx.occasion.jobs;
    let mut actions = Vec::new();
    for job in jobs.iter().take(LISTED) {
        let facts = Facts::of(cx, job);
        body.push(fact_set(&facts, cx.target));
        if let Some(url) = &facts.item_url {
            actions.push(json!({ "type": "Action.OpenUrl", "title": format!("Open {}", facts.name), "url": url }));
        }
    }
    if jobs.len() > LISTED {
        body.push(json!({ "type": "TextBlock", "text": format!("… and {} more", jobs.len() - LISTED), "wrap": true }));
    }
    if let Some(status) = &cx.services.status_url {
        actions.push(json!({ "type": "Action.OpenUrl", "title": "nbwarden status", "url": status }));
    }
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": body,
        "actions": actions,
    })
}

/// One job's facts.
fn fact_set(facts: &Facts, target: &str) -> Value {
    let mut rows = vec![("Notebook", facts.name.clone()), ("Status", facts.status.clone()), ("Target", target.into())];
    rows.extend(facts.owner.clone().map(|o| ("Owner", o)));
    rows.extend(facts.runtime.clone().map(|r| ("Runtime", r)));
    rows.extend(facts.task.clone().map(|t| ("Scheduled task", t)));
    rows.push(("Job", facts.id.clone()));
    let facts: Vec<Value> = rows.into_iter().map(|(title, value)| json!({ "title": title, "value": value })).collect();
    json!({ "type": "FactSet", "facts": facts, "separator": true })
}
