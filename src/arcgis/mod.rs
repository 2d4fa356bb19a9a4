//! The ArcGIS REST client (poll stage): jobs, tokens, both error envelopes, behind `JobSource`.

pub mod auth;
pub mod client;
pub mod endpoints;
pub mod error;
pub mod model;
pub mod wire;

pub use client::Client;
pub use error::{Error, Result};
pub use model::{Job, Phase, Status};

/// Where jobs come from: the ArcGIS client in production, scripted sources in tests.
#[async_trait::async_trait]
pub trait JobSource: Send + Sync {
    /// The target's configured name.
    fn name(&self) -> &str;
    /// One poll: every job the target lists now. An error is never an empty list.
    async fn list_jobs(&self) -> Result<Vec<Job>>;
    /// One job's resource (for a disappeared job's final status, and before a cancel).
    async fn job(&self, id: &str) -> Result<Job>;
    /// Asks the server to cancel a job.
    async fn cancel(&self, id: &str) -> Result<()>;
    /// The Portal e-mail address of a user; `None` when the user has none visible.
    async fn user_email(&self, username: &str) -> Result<Option<String>>;
    /// False when the last list was cut short (Notebook Server holds more jobs than `page_size`):
    /// jobs missing from it may still exist and must not be taken for gone.
    fn last_list_complete(&self) -> bool {
        true
    }
    /// Now, on the server's clock (epoch ms).
    fn server_now_ms(&self) -> i64;
    /// The admin URL of one job, for messages.
    fn job_url(&self, id: &str) -> String;
}
