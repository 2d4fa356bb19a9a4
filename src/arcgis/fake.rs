//! A scripted `JobSource` for unit tests (engine, dispatch, scheduler, setup): polls answered
//! from a script, one-job reads as told or by simple rules, cancels counted (or failed as told), and the
//! instant of every poll noted on tokio's clock.

use super::{Error, Job, JobSource, Listing, Result, Status};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// See the module.
#[derive(Debug, Default)]
pub struct FakeSource {
    /// What the next polls answer; once empty, every poll lists no job.
    pub polls: Mutex<VecDeque<Result<Vec<Job>>>>,
    /// The ids that read as running (of item `nb-<id>`); `None`: every id. Other ids fail to
    /// read (final status `unknown`), except `fail*` ids, which read as failed with messages and an item.
    pub running: Option<Vec<String>>,
    /// What every cancel answers; `None`: success.
    pub cancel_error: Option<Error>,
    /// Cancels sent.
    pub cancels: AtomicU32,
    /// Job resources read (`job`).
    pub job_reads: AtomicU32,
    /// When each poll came (tokio's clock, so paused time shows the schedule).
    pub polled_at: Mutex<Vec<tokio::time::Instant>>,
    /// `server_now()`.
    pub now: crate::clock::ServerMs,
    /// The status each of these ids reads as now (before `running`).
    pub reads: std::collections::HashMap<String, Status>,
    /// A list body every poll answers instead of `polls`, read as the client reads it (knowing
    /// the jobs of the poll before).
    pub body: Option<String>,
}

impl FakeSource {
    /// A source answering `polls` in turn, then empty lists.
    pub fn scripted(polls: Vec<Result<Vec<Job>>>) -> FakeSource {
        FakeSource { polls: Mutex::new(polls.into()), now: crate::clock::ServerMs(1_000), ..FakeSource::default() }
    }

    /// As a shared `JobSource`.
    pub fn shared(self) -> Arc<FakeSource> {
        Arc::new(self)
    }

    /// How many cancels were sent.
    pub fn cancelled(&self) -> u32 {
        self.cancels.load(Ordering::SeqCst)
    }
}

/// Jobs with these ids, executing.
pub fn executing(ids: &[&str]) -> Result<Vec<Job>> {
    Ok(ids.iter().map(|id| Job::new(*id, Status::Executing)).collect())
}

#[async_trait::async_trait]
impl JobSource for FakeSource {
    fn name(&self) -> &str {
        "fake"
    }

    async fn poll(&self, known: crate::arcgis::Known<'_>) -> Result<Listing> {
        self.polled_at.lock().expect("polls").push(tokio::time::Instant::now());
        if let Some(body) = &self.body {
            let list = crate::arcgis::wire::JobList::read(body.as_bytes(), known, &mut Default::default());
            return Ok(Listing {
                listed: list.expect("a list body").into_listed(),
                complete: true,
                site: Default::default(),
            });
        }
        let jobs = self.polls.lock().expect("script").pop_front().unwrap_or(Ok(Vec::new()))?;
        Ok(Listing::of(jobs, true))
    }

    async fn job(&self, id: &str) -> Result<Job> {
        self.job_reads.fetch_add(1, Ordering::SeqCst);
        if let Some(status) = self.reads.get(id) {
            return Ok(Job::new(id, status.clone()));
        }
        if id.starts_with("fail") {
            let mut job = Job::new(id, Status::Failed);
            job.item_id = Some("item1".into());
            job.edit(|more| more.messages = vec!["Traceback".into(), "KeyError: 'X'".into()]);
            return Ok(job);
        }
        match &self.running {
            Some(running) if !running.iter().any(|r| r == id) => {
                Err(Error::Connect { url: "fake".into(), detail: "down".into() })
            }
            _ => Ok(Job { item_id: Some(format!("nb-{id}")), ..Job::new(id, Status::Executing) }),
        }
    }

    async fn cancel(&self, _: &str) -> Result<()> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        self.cancel_error.clone().map_or(Ok(()), Err)
    }

    async fn user_email(&self, _: &str) -> Result<Option<String>> {
        Ok(None)
    }

    fn server_now(&self) -> crate::clock::ServerMs {
        self.now
    }

    fn job_url(&self, id: &str) -> String {
        format!("fake/{id}")
    }
}
