//! The ArcGIS REST client (poll stage): jobs, tokens, both error envelopes, behind `JobSource`.

pub mod auth;
pub mod client;
pub mod endpoints;
pub mod error;
#[cfg(test)]
pub mod fake;
pub mod model;
pub mod notebooks;
pub mod signin;
pub mod tasks;
pub mod wire;

pub use client::Client;
pub use error::{Error, Result};
pub use model::{
    Item, Job, Known, ListKey, Listed, ListedBody, Listing, NamedJob, Names, Phase, Scope, SiteInfo, Status,
};

/// Where jobs come from: the ArcGIS client in production, scripted sources in tests.
#[async_trait::async_trait]
pub trait JobSource: Send + Sync {
    /// The target's configured name.
    fn name(&self) -> &str;
    /// One poll: every job the target lists now, and what the site says about itself; a job
    /// listed in the same bytes as one of `known` is that job, shared. An error is never an empty
    /// list.
    async fn poll(&self, known: Known<'_>) -> Result<Listing>;
    /// The jobs of one poll.
    async fn list_jobs(&self) -> Result<Vec<Job>> {
        let listing = self.poll(Known::default()).await?;
        Ok(listing.listed.jobs().iter().map(|job| Job::clone(job)).collect())
    }
    /// One job's resource (for a disappeared job's final status, and before a cancel).
    async fn job(&self, id: &str) -> Result<Job>;
    /// Asks the server to cancel a job.
    async fn cancel(&self, id: &str) -> Result<()>;
    /// The Portal e-mail address of a user; `None` when the user has none visible.
    async fn user_email(&self, username: &str) -> Result<Option<String>>;
    /// A notebook item's title and owner from Portal; an `Item` saying why, when Portal cannot
    /// give them (the item is gone or not shared with the account, or there is no Portal); an
    /// error only when the call failed and may succeed later.
    async fn item(&self, _item_id: &str) -> Result<Item> {
        Ok(Item::unknown("this target does not read item titles"))
    }
    /// Now, on the server's clock.
    fn server_now(&self) -> crate::clock::ServerMs;
    /// The admin URL of one job, for messages.
    fn job_url(&self, id: &str) -> String;
    /// The Portal page of a notebook item, which its owner can open.
    fn item_url(&self, _item_id: &str) -> Option<String> {
        None
    }
    /// The org's scheduled notebook tasks (a target with `tasks:`).
    async fn scheduled_tasks(&self) -> Result<Vec<tasks::Task>> {
        Err(Error::NoPortal { what: "reading scheduled tasks" })
    }
    /// The open interactive notebooks (a target with `notebooks:`).
    async fn open_notebooks(&self) -> Result<Vec<notebooks::OpenNotebook>> {
        Err(Error::NoNotebooks)
    }
    /// `notebook` read again before it is closed; `None` when it is no longer open.
    async fn reread_notebook(&self, _notebook: &notebooks::OpenNotebook) -> Result<Option<notebooks::OpenNotebook>> {
        Err(Error::NoNotebooks)
    }
    /// Asks the server to close an open notebook.
    async fn close_notebook(&self, _notebook: &notebooks::OpenNotebook) -> Result<()> {
        Err(Error::NoNotebooks)
    }
    /// The runs of `owner`'s task `task_id`, oldest first.
    async fn task_runs(&self, _owner: &str, _task_id: &str) -> Result<Vec<tasks::TaskRun>> {
        Err(Error::NoPortal { what: "reading a task's runs" })
    }
}
