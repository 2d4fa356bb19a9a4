//! The `log` action: one log line, rendered from the `message` template.

use super::{Action, ActionContext, ActionError, Done, LogConfig, LogLevel};
use crate::template;

/// Writes the rendered message at the configured level.
#[derive(Debug)]
pub struct Log(pub LogConfig);

impl Log {
    fn render(&self, cx: &ActionContext<'_>) -> Result<String, String> {
        let context = cx.template_context(&cx.planned.jobs);
        match &self.0.message {
            Some(source) => template::render(source, &context),
            None => Ok(template::summary(cx.planned)),
        }
    }
}

#[async_trait::async_trait]
impl Action for Log {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        // One log record per line: server-provided text cannot forge lines or move the cursor.
        let message = crate::text::printable(&self.render(cx).map_err(ActionError::Permanent)?);
        let rule = cx.planned.rule.as_str();
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
