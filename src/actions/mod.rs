//! Actions stage: the closed set of action configurations and one plugin per file. Plugins make
//! one attempt; retries, dry run and the ledger live in dispatch, never here.

mod alertmanager;
mod cancel;
mod close_notebook;
mod config;
mod email;
mod exec;
mod log;
mod mailer;
mod notice;
mod owners;
#[cfg(test)]
pub(crate) mod recording;
pub mod reports;
mod slack;
mod teams;
pub mod template;
mod webhook;

pub use alertmanager::{Alert, AlertmanagerConfig};
pub use cancel::CancelConfig;
pub use close_notebook::CloseNotebookConfig;
use config::hidden;
pub use config::{ActionConfig, Plugin};
pub use email::{EmailAction, DEFAULT_SUBJECT, OWNER};
pub use exec::ExecConfig;
pub use log::{LogConfig, LogLevel};
pub use mailer::{Mailer, MailerError};
pub use notice::host_only;
pub use owners::{Owner, Owners};
pub use slack::SlackConfig;
pub use teams::TeamsConfig;
pub use template::Occasion;
pub use webhook::{redact_url, WebhookConfig};

use crate::arcgis::JobSource;
use crate::config::{EmailConfig, OwnersConfig};
use crate::journal::ProgressLog;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// What plugins share for the life of the process: the mail transport, the owner cache, an HTTP client.
pub struct Services {
    /// The `email:` transport, when configured.
    pub mailer: Option<Mailer>,
    /// `owner` recipients.
    pub owners: Owners,
    /// For webhooks, made at the first one (reading the CA store costs every process otherwise).
    http: std::sync::OnceLock<reqwest::Client>,
    /// Where progress is recorded (none for a throwaway store).
    pub journal: Option<Arc<dyn ProgressLog>>,
    /// What makes the reports e-mails attach (`report:`), when there is a state store.
    pub reports: Option<Arc<dyn reports::ReportMaker>>,
    /// Where people open nbwarden's `/status` (`http.url`), for the links of chat messages and alerts.
    pub status_url: Option<String>,
}

impl Services {
    /// The services of `email:` and `owners:`, journaling progress in `journal` (none for a
    /// throwaway store).
    pub fn new(
        email: Option<&EmailConfig>,
        owners: &OwnersConfig,
        journal: Option<Arc<dyn ProgressLog>>,
    ) -> Result<Services, ServicesError> {
        let mailer = email.map(Mailer::new).transpose()?;
        let owners = Owners::new(owners.clone());
        Ok(Services { mailer, owners, http: Default::default(), journal, reports: None, status_url: None })
    }

    /// These services, linking to `/status` at `url`.
    pub fn with_status_url(self, url: Option<String>) -> Services {
        Services { status_url: url, ..self }
    }

    /// These services, with reports made by `maker`.
    pub fn with_reports(self, maker: Arc<dyn reports::ReportMaker>) -> Services {
        Services { reports: Some(maker), ..self }
    }

    /// The webhooks' HTTP client: no redirects, so that headers never travel to another host.
    pub fn http(&self) -> Result<&reqwest::Client, ServicesError> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nbwarden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServicesError::Http(e.to_string()))?;
        Ok(self.http.get_or_init(|| client))
    }
}

/// Why the plugins' services cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The `email:` section (in the message, so not also a `source`).
    #[error("email: {0}")]
    Mailer(MailerError),
    /// The TLS stack of the webhook client.
    #[error("cannot set up the webhook HTTP client: {0}")]
    Http(String),
}

impl From<MailerError> for ServicesError {
    fn from(e: MailerError) -> ServicesError {
        ServicesError::Mailer(e)
    }
}

/// Parts of an action already settled (recipients sent to, the action as a whole), kept across
/// attempts and restarts so that a retry does only what is missing. Each part settled is written
/// to the progress journal at once, so that even a killed process does not do it again.
#[derive(Debug, Default)]
pub struct Progress {
    settled: Mutex<BTreeSet<String>>,
    journal: Option<Journaled>,
}

/// Where one queued action's progress is recorded.
#[derive(Debug)]
pub struct Journaled {
    /// The journal.
    pub log: Arc<dyn ProgressLog>,
    /// The action's target.
    pub target: String,
    /// The queued action.
    pub id: i64,
}

impl Progress {
    /// Progress as stored with a queued action, journaled when a journal is given.
    pub fn new(settled: &[String], journal: Option<Journaled>) -> Progress {
        Progress { settled: Mutex::new(settled.iter().cloned().collect()), journal }
    }

    /// Whether this process may still act for the action's target: false once a replica lost
    /// the target's lease, so that it sends nothing more for it.
    pub fn may_act(&self) -> bool {
        self.journal.as_ref().is_none_or(|j| j.log.may_act(&j.target))
    }

    /// True when `key` is settled.
    pub fn contains(&self, key: &str) -> bool {
        self.settled.lock().expect("progress").contains(key)
    }

    /// Marks `key` settled, and journals it the first time.
    pub async fn settle(&self, key: &str) {
        let new = self.settled.lock().expect("progress").insert(key.to_string());
        if let (true, Some(j)) = (new, &self.journal) {
            j.log.append(&j.target, j.id, key).await;
        }
    }

    /// Everything settled, sorted.
    pub fn settled(&self) -> Vec<String> {
        self.settled.lock().expect("progress").iter().cloned().collect()
    }
}

/// What a plugin sees: the planned action, the target it belongs to and the shared services.
pub struct ActionContext<'a> {
    /// The target's name.
    pub target: &'a str,
    /// The target's job source (cancel, re-read, user look-up).
    pub source: &'a dyn JobSource,
    /// What to act on.
    pub occasion: Occasion<'a>,
    /// Mail, owners, HTTP.
    pub services: &'a Services,
    /// What earlier attempts settled.
    pub progress: &'a Progress,
    /// Now on this machine's clock (the owner cache's age, a report's window).
    pub now: crate::clock::LocalMs,
}

impl ActionContext<'_> {
    /// The template context of SPEC §3 for `jobs` (a subset of the planned jobs).
    pub fn template_context(&self, jobs: &[crate::arcgis::NamedJob]) -> serde_json::Value {
        template::context(&self.occasion, jobs, self.target, |job| self.links(job))
    }

    /// The admin URL of a job and its notebook item's page.
    pub fn links(&self, job: &crate::arcgis::Job) -> template::Links {
        template::Links::of(self.source, job)
    }
}

/// A finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// It happened; details for people.
    Done(String),
    /// Nothing to do any more (the job left the matching state); why.
    Skipped(String),
}

/// Any error a plugin reports, with its causes.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failed attempt.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Timeouts, connection errors, HTTP 429/5xx, SMTP 4xx: dispatch retries with backoff.
    #[error("{0}")]
    Transient(BoxError),
    /// Everything else (HTTP 4xx, a rejected recipient, a non-zero exit): recorded, not retried.
    #[error("{0}")]
    Permanent(BoxError),
}

impl ActionError {
    /// A failure worth another try.
    pub fn transient(e: impl Into<BoxError>) -> ActionError {
        ActionError::Transient(e.into())
    }

    /// A failure that another try would repeat.
    pub fn permanent(e: impl Into<BoxError>) -> ActionError {
        ActionError::Permanent(e.into())
    }
}

impl From<crate::arcgis::Error> for ActionError {
    /// A refused or paused sign-in is transient for an action: it is tried again after the pause.
    fn from(e: crate::arcgis::Error) -> Self {
        if e.is_transient() || e.sign_in_wait().is_some() {
            ActionError::transient(e)
        } else {
            ActionError::permanent(e)
        }
    }
}

/// One action plugin.
#[async_trait::async_trait]
pub trait Action: Send + Sync {
    /// One attempt.
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError>;
    /// What the action would do, in full, for dry runs (rendered text, URLs, recipients).
    fn preview(&self, cx: &ActionContext<'_>) -> String;
    /// The preview as doing it would split it (one e-mail per recipient, owners looked up).
    async fn preview_each(&self, cx: &ActionContext<'_>) -> Vec<String> {
        vec![self.preview(cx)]
    }
}
