//! What the chat and alerting receivers share (`slack`, `teams`, `alertmanager`): the facts of one
//! job or task as people read them, and one JSON POST whose body serde built, answered the way a
//! webhook's is (2xx done; 429, 5xx and no answer transient; the rest permanent).

use super::{ActionContext, ActionError, Done};
use crate::arcgis::NamedJob;
use crate::config::format_duration;
use crate::text::sanitize;

/// One job (or a task, job-shaped) as a notice shows it; every text escaped and cut for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The notebook's title, or `job <id>` when it is not known.
    pub name: String,
    /// The job's id, or the task's.
    pub id: String,
    /// The owner, when known.
    pub owner: Option<String>,
    /// The status as the site gives it.
    pub status: String,
    /// The runtime, in words, when the start is known.
    pub runtime: Option<String>,
    /// The notebook item's page in Portal.
    pub item_url: Option<String>,
    /// The job's admin URL (administrators only).
    pub admin_url: String,
    /// The title of the scheduled task that started it.
    pub task: Option<String>,
}

/// The most jobs a message lists one by one (the rest are counted).
pub const LISTED: usize = 10;

impl Facts {
    /// The facts of `job` in `cx`.
    pub fn of(cx: &ActionContext<'_>, job: &NamedJob) -> Facts {
        let links = cx.links(job);
        let clean = |text: &str| sanitize(text).chars().take(300).collect::<String>();
        Facts {
            name: job.title().map(clean).unwrap_or_else(|| format!("job {}", clean(&job.id))),
            id: clean(&job.id),
            owner: job.username.as_deref().map(clean),
            status: clean(job.status.as_str()),
            runtime: job.runtime(cx.occasion.planned_ms).map(format_duration),
            item_url: links.item,
            admin_url: links.admin,
            task: job.task_title().map(clean),
        }
    }

    /// "'Parcels import' of joe: FAILED after 5m".
    pub fn line(&self) -> String {
        let owner = self.owner.as_deref().map(|o| format!(" of {o}")).unwrap_or_default();
        let runtime = self.runtime.as_deref().map(|r| format!(" after {r}")).unwrap_or_default();
        format!("{}{owner}: {}{runtime}", self.name, self.status)
    }
}

/// The headline of a notice: what fired, where, about what.
pub fn headline(cx: &ActionContext<'_>) -> String {
    let planned = cx.occasion;
    let what = match (planned.task, planned.jobs) {
        (Some(task), _) => format!("task '{}' ({})", sanitize(&task.task.title), planned.event.kind),
        (None, [job]) => Facts::of(cx, job).line(),
        (None, jobs) => format!("{} notebook jobs", jobs.len()),
    };
    format!("nbwarden {} on {}: {what}", planned.rule, cx.target)
}

/// A chat webhook's URL as it may be shown: its path is the credential, so only the host stays.
pub fn host_only(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => format!("{}://{}/***", parsed.scheme(), parsed.host_str().unwrap_or("?")),
        Err(_) => "(invalid URL)".into(),
    }
}

/// What is wrong with a receiver's `url`.
pub fn url_problems(url: &str) -> Vec<(&'static str, String)> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Vec::new(),
        _ => vec![("url", "`url` must be an http(s) URL".to_string())],
    }
}

/// POSTs `body` as JSON to `url`; `shown` is how the URL appears in every detail.
pub async fn post_json(
    cx: &ActionContext<'_>,
    (url, shown): (&str, String),
    body: &impl serde::Serialize,
) -> Result<Done, ActionError> {
    let shown = format!("POST {shown}");
    let http = cx.services.http().map_err(ActionError::permanent)?;
    let request = http.post(url).timeout(TIMEOUT).json(body);
    super::webhook::answered(request.send().await, shown).await
}

/// Bound on one call.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
