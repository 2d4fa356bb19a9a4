//! The `close_notebook` action: read the notebook again; if it is gone, or its activity moved
//! since the read that fired, send nothing (`skipped`, with why); else POST `closeNotebook`.

use super::{Action, ActionContext, ActionError, Done};
use crate::arcgis::notebooks::OpenNotebook;
use serde::{Deserialize, Serialize};

/// `type: close_notebook` takes no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CloseNotebookConfig {}

impl super::Plugin for CloseNotebookConfig {
    fn kind(&self) -> &'static str {
        "close_notebook"
    }

    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::CloseNotebook(self.clone())
    }

    fn is_destructive(&self) -> bool {
        true
    }

    fn build(&self) -> Box<dyn Action> {
        Box::new(CloseNotebook)
    }
}

/// Closes the planned notebook.
#[derive(Debug)]
pub struct CloseNotebook;

/// The notebook a firing carries.
fn fired<'a>(cx: &'a ActionContext<'a>) -> Result<&'a OpenNotebook, ActionError> {
    let session = cx.occasion.jobs.first().and_then(|j| j.session());
    session.ok_or_else(|| ActionError::permanent("close_notebook acts on open notebooks (`on: notebook` rules)"))
}

#[async_trait::async_trait]
impl Action for CloseNotebook {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        let notebook = fired(cx)?;
        let Some(now) = cx.source.reread_notebook(notebook).await? else {
            return Ok(Done::Skipped("the notebook is no longer open".into()));
        };
        if now.last_activity != notebook.last_activity {
            let when = |at: Option<crate::clock::ServerMs>| {
                at.and_then(|t| crate::arcgis::model::rfc3339(t.0)).unwrap_or_else(|| "unknown".into())
            };
            let detail = format!(
                "its activity moved since the read that fired (last activity {} then, {} now): left open",
                when(notebook.last_activity),
                when(now.last_activity)
            );
            return Ok(Done::Skipped(detail));
        }
        cx.source.close_notebook(notebook).await?;
        Ok(Done::Done(format!("closed notebook {} of {}", describe(notebook), notebook.username)))
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        match fired(cx) {
            Ok(notebook) => format!("would close notebook {} of {}", describe(notebook), notebook.username),
            Err(e) => e.to_string(),
        }
    }
}

/// "'Parcel cleanup' (nb-idle)", or the id alone.
fn describe(notebook: &OpenNotebook) -> String {
    let id = crate::text::sanitize(&notebook.id);
    match &notebook.title {
        Some(title) => format!("'{}' ({id})", crate::text::sanitize(title)),
        None => id.into_owned(),
    }
}
