//! `tick` with a scripted job source: a failed poll is never diffed, disappearance reads once.

use super::*;
use crate::arcgis::{Error, Job, Status};
use crate::store::SqlStore;
use std::collections::VecDeque;

/// Answers each poll from a script; one-job reads fail (so final statuses are `unknown`).
struct FakeSource {
    polls: std::sync::Mutex<VecDeque<crate::arcgis::Result<Vec<Job>>>>,
}

#[async_trait::async_trait]
impl JobSource for FakeSource {
    fn name(&self) -> &str {
        "fake"
    }
    async fn list_jobs(&self) -> crate::arcgis::Result<Vec<Job>> {
        self.polls.lock().unwrap().pop_front().expect("scripted poll")
    }
    async fn job(&self, _: &str) -> crate::arcgis::Result<Job> {
        Err(Error::Connect { url: "fake".into(), detail: "down".into() })
    }
    async fn cancel(&self, _: &str) -> crate::arcgis::Result<()> {
        Ok(())
    }
    async fn user_email(&self, _: &str) -> crate::arcgis::Result<Option<String>> {
        Ok(None)
    }
    fn server_now_ms(&self) -> i64 {
        1_000
    }
    fn job_url(&self, id: &str) -> String {
        format!("fake/{id}")
    }
}

fn jobs(ids: &[&str]) -> crate::arcgis::Result<Vec<Job>> {
    Ok(ids.iter().map(|id| Job::new(*id, Status::Executing)).collect())
}

fn summary(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l {
            Line::Poll { ok, baseline, .. } => format!("poll ok={ok} baseline={baseline:?}"),
            Line::Event { job_id, event, to, .. } => format!("{event} {job_id} {}", to.as_deref().unwrap_or("")),
            Line::Action(r) => format!("action {} {}", r.action, r.outcome),
        })
        .collect()
}

#[tokio::test]
async fn a_failed_poll_keeps_the_snapshot_and_is_never_diffed() {
    let script = vec![
        jobs(&["a", "b"]),
        Err(Error::Timeout { url: "fake".into(), after: "1s".into() }),
        jobs(&["a", "b"]),
        jobs(&["a"]),
    ];
    let source: Arc<dyn JobSource> = Arc::new(FakeSource { polls: std::sync::Mutex::new(script.into()) });
    let store: Arc<dyn Store> = Arc::new(SqlStore::open_memory().await.unwrap());
    let shared = Shared::new(Arc::new(RuleSet::default()), store, Mode::Act);
    let config: crate::config::TargetConfig = serde_saphyr::from_str(
        "{ name: fake, flavor: enterprise, admin_url: 'http://fake/admin', auth: { token: t } }",
    )
    .unwrap();
    let mut target = Target::load(config, source, &shared).await.unwrap();
    let table: [&[&str]; 4] = [
        &["poll ok=true baseline=Some(true)"],
        &["poll ok=false baseline=None"],
        &["poll ok=true baseline=Some(false)"],
        &["poll ok=true baseline=Some(false)", "disappeared b unknown"],
    ];
    for (round, expected) in table.into_iter().enumerate() {
        let lines = target.tick(&shared).await;
        assert_eq!(summary(&lines), expected, "poll {round}");
        assert!(target.state.snapshot.is_some(), "poll {round}: the snapshot survives a failure");
    }
}
