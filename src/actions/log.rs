//! The `log` action: one log line, rendered from the `message` template.

use super::template;
use super::{Action, ActionContext, ActionError, Done};
use serde::{Deserialize, Serialize};

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

impl super::Plugin for LogConfig {
    fn kind(&self) -> &'static str {
        "log"
    }

    fn templates(&self) -> Vec<(&'static str, &str)> {
        self.message.as_deref().map(|m| ("message", m)).into_iter().collect()
    }

    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::Log(self.clone())
    }

    fn build(&self) -> Box<dyn Action> {
        Box::new(Log(self.clone()))
    }
}

/// Writes the rendered message at the configured level.
#[derive(Debug)]
pub struct Log(pub LogConfig);

impl Log {
    fn render(&self, cx: &ActionContext<'_>) -> Result<String, template::TemplateError> {
        let context = cx.template_context(cx.occasion.jobs);
        match &self.0.message {
            Some(source) => template::render(source, &context),
            None => Ok(template::summary(&cx.occasion)),
        }
    }
}

#[async_trait::async_trait]
impl Action for Log {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        // One log record per line: server-provided text cannot forge lines or move the cursor.
        let message = crate::text::sanitize(&self.render(cx).map_err(ActionError::permanent)?).into_owned();
        let rule = cx.occasion.rule;
        match self.0.level {
            LogLevel::Debug => tracing::debug!(target_name = cx.target, rule, "{message}"),
            LogLevel::Info => tracing::info!(target_name = cx.target, rule, "{message}"),
            LogLevel::Warn => tracing::warn!(target_name = cx.target, rule, "{message}"),
            LogLevel::Error => tracing::error!(target_name = cx.target, rule, "{message}"),
        }
        Ok(Done::Done(message))
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        match self.render(cx) {
            Ok(message) => format!("would log: {message}"),
            Err(e) => format!("would fail to render the message: {e}"),
        }
    }
}
