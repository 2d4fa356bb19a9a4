//! The `cancel` action: re-read the job, skip it if it has finished, then cancel (check, then act).

use super::{Action, ActionContext, ActionError, Done};
use crate::arcgis::{Error, Phase};
use serde::{Deserialize, Serialize};

/// `type: cancel` takes no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CancelConfig {}

impl super::Plugin for CancelConfig {
    fn kind(&self) -> &'static str {
        "cancel"
    }

    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::Cancel(self.clone())
    }

    fn is_destructive(&self) -> bool {
        true
    }

    fn build(&self) -> Box<dyn Action> {
        Box::new(Cancel)
    }
}

/// Cancels the planned job.
#[derive(Debug)]
pub struct Cancel;

#[async_trait::async_trait]
impl Action for Cancel {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        let Some(planned) = cx.occasion.jobs.first() else {
            return Err(ActionError::permanent("no job to cancel"));
        };
        let current = match cx.source.job(&planned.id).await {
            Ok(job) => job,
            Err(Error::Api { code: Some(404), .. }) => return Ok(Done::Skipped("the job no longer exists".into())),
            Err(e) => return Err(e.into()),
        };
        if !matches!(current.phase(), Phase::Running | Phase::Submitted) {
            return Ok(Done::Skipped(format!("the job is {} ({}) now", current.status, current.phase())));
        }
        cx.source.cancel(&planned.id).await?;
        Ok(Done::Done(format!("cancelled {}", cx.source.job_url(&planned.id))))
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        let id = cx.occasion.jobs.first().map(|j| j.id.as_str()).unwrap_or("?");
        format!("would cancel {}/cancel", cx.source.job_url(id))
    }
}
