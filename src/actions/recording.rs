//! `type: record`, a plugin that exists in unit tests only, added as any plugin is (this file,
//! one variant, one arm): it records every attempt, fails as often as told, settles one part per
//! job, and holds a secret, so that dispatch is tested through the real trait.

use super::{Action, ActionConfig, ActionContext, ActionError, Done};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// `type: record`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// Names the calls of one test.
    pub tag: String,
    /// A secret: never stored.
    #[serde(default)]
    pub token: String,
    /// Attempts that fail transiently before one succeeds.
    #[serde(default)]
    pub fail: u32,
    /// Every attempt fails for good.
    #[serde(default)]
    pub permanent: bool,
}

/// One attempt, as the plugin saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The jobs it was given that were not yet settled.
    pub jobs: Vec<String>,
    /// The token it was given.
    pub token: String,
}

static CALLS: Mutex<Vec<(String, Call)>> = Mutex::new(Vec::new());

/// The attempts made for `tag`, in order.
pub fn calls(tag: &str) -> Vec<Call> {
    let calls = CALLS.lock().unwrap_or_else(|p| p.into_inner());
    calls.iter().filter(|(t, _)| t == tag).map(|(_, c)| c.clone()).collect()
}

impl super::Plugin for RecordConfig {
    fn kind(&self) -> &'static str {
        "record"
    }

    fn scrubbed(&self) -> ActionConfig {
        ActionConfig::Record(RecordConfig { token: "***".into(), ..self.clone() })
    }

    fn is_batched(&self) -> bool {
        true
    }

    fn build(&self) -> Box<dyn Action> {
        Box::new(Record(self.clone()))
    }
}

struct Record(RecordConfig);

#[async_trait::async_trait]
impl Action for Record {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        let jobs: Vec<String> =
            cx.occasion.jobs.iter().map(|j| j.id.clone()).filter(|id| !cx.progress.contains(id)).collect();
        let call = Call { jobs: jobs.clone(), token: self.0.token.clone() };
        let attempt = {
            let mut calls = CALLS.lock().unwrap_or_else(|p| p.into_inner());
            calls.push((self.0.tag.clone(), call));
            calls.iter().filter(|(t, _)| *t == self.0.tag).count() as u32
        };
        if self.0.permanent {
            return Err(ActionError::permanent("told to fail"));
        }
        if let Some(first) = jobs.first() {
            cx.progress.settle(first).await;
        }
        if attempt <= self.0.fail {
            return Err(ActionError::transient(format!("failure {attempt} of {}", self.0.fail)));
        }
        for id in &jobs {
            cx.progress.settle(id).await;
        }
        Ok(Done::Done(format!("recorded {}", jobs.join(","))))
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        format!("would record {} jobs", cx.occasion.jobs.len())
    }
}
