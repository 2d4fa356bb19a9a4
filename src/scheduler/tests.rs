//! The scheduler on paused tokio time: the cadence, the backoff of failed polls, and polling
//! while sign-in waits. The clock is a `TokioClock`, so every "now" moves with the timers; the
//! store keeps nothing (a SQLite pool's own timers would race a paused clock).

use super::*;
use crate::arcgis::fake::{executing, FakeSource};
use crate::clock::TokioClock;
use crate::cycle::Core;
use crate::dispatch::{Dispatcher, Mode};
use crate::plan::{Attempt, AuditEntry, CancelCheck, Queued};
use crate::rules::RuleSet;
use crate::store::{Cutoff, PollCommit, Scope, Store};
use std::collections::HashMap;
use std::sync::Mutex;

/// A store that keeps nothing: every poll is a baseline, and nothing is ever queued.
struct NullStore;

#[async_trait::async_trait]
impl Store for NullStore {
    async fn load_target(&self, _: Scope, _: &str) -> crate::store::Result<Core> {
        Ok(Core::default())
    }
    async fn commit_poll(&self, c: &PollCommit<'_>) -> crate::store::Result<Vec<i64>> {
        Ok((0..c.actions.len() as i64).collect())
    }
    async fn due_actions(
        &self,
        _: Scope,
        _: crate::clock::LocalMs,
        _: i64,
        _: u32,
    ) -> crate::store::Result<Vec<Queued>> {
        Ok(Vec::new())
    }
    async fn add_settled(&self, _: &[(i64, String)]) -> crate::store::Result<()> {
        Ok(())
    }
    async fn record_attempt(&self, _: i64, _: &Attempt, _: crate::clock::LocalMs) -> crate::store::Result<()> {
        Ok(())
    }
    async fn cancel_checks(&self, _: Scope, _: &str) -> crate::store::Result<Vec<CancelCheck>> {
        Ok(Vec::new())
    }
    async fn add_cancel_check(&self, _: Scope, _: &str, _: &CancelCheck) -> crate::store::Result<()> {
        Ok(())
    }
    async fn audit_for_job(&self, _: Scope, _: &str, _: &str) -> crate::store::Result<Vec<AuditEntry>> {
        Ok(Vec::new())
    }
    async fn cancels_since(&self, _: Scope, _: &str, _: crate::clock::LocalMs, _: bool) -> crate::store::Result<u32> {
        Ok(0)
    }
    async fn history_since(
        &self,
        _: Scope,
        _: &str,
        _: crate::clock::ServerMs,
    ) -> crate::store::Result<Vec<crate::arcgis::Job>> {
        Ok(Vec::new())
    }
    async fn prune(&self, _: &Cutoff) -> crate::store::Result<u64> {
        Ok(0)
    }
    async fn sign_in_refusals(&self) -> crate::store::Result<HashMap<String, crate::arcgis::signin::History>> {
        Ok(HashMap::new())
    }
    async fn record_sign_in(&self, _: &str, _: Option<&crate::arcgis::signin::Refusal>) -> crate::store::Result<()> {
        Ok(())
    }
    async fn save_items(&self, _: Scope, _: &str, _: &[(String, crate::arcgis::Item)]) -> crate::store::Result<()> {
        Ok(())
    }
    async fn closes_since(&self, _: Scope, _: &str, _: crate::clock::LocalMs, _: bool) -> crate::store::Result<u32> {
        Ok(0)
    }
    async fn silences(&self, _: crate::clock::LocalMs) -> crate::store::Result<Vec<crate::silence::Silence>> {
        Ok(Vec::new())
    }
    async fn activity(
        &self,
        _: Scope,
        _: &str,
        _: crate::clock::LocalMs,
    ) -> crate::store::Result<Vec<crate::activity::Slot>> {
        Ok(Vec::new())
    }
    async fn save_activity(
        &self,
        _: Scope,
        _: &str,
        _: &crate::activity::Slot,
        _: crate::clock::LocalMs,
    ) -> crate::store::Result<()> {
        Ok(())
    }
}

/// Runs one target polled `every` for `run` of paused time; the gaps between its polls.
async fn gaps(source: Arc<FakeSource>, every: &str, run: Duration) -> Vec<Duration> {
    let services = Arc::new(crate::actions::Services::new(None, &Default::default(), None).unwrap());
    let clock = Arc::new(TokioClock::starting_at(1_700_000_000_000));
    let (rules, store) = (Arc::new(RuleSet::default()), Arc::new(NullStore));
    let shared = Shared::new(Dispatcher { rules, store, mode: Mode::Act, services, clock });
    let yaml = format!("{{ name: fake, flavor: enterprise, admin_url: 'http://fake/admin', auth: {{ token: t }}, poll: {{ every: {every} }} }}");
    let config: crate::config::TargetConfig = crate::config::yaml::from_str(&yaml).unwrap();
    let target = Target::load(config, source.clone(), &shared).await.unwrap();
    let lines: Arc<Mutex<Vec<Line>>> = Arc::default();
    let seen = lines.clone();
    let cx = Arc::new(Context {
        shared,
        sources: HashMap::from([("fake".to_string(), source.clone() as Arc<dyn crate::arcgis::JobSource>)]),
        board: Arc::default(),
        sink: Arc::new(move |line: &Line| seen.lock().unwrap().push(line.clone())),
        wake: Notify::new(),
        grace: Duration::from_secs(1),
        retention: Duration::from_secs(86_400),
        heartbeat: None,
    });
    let running = Running::start(vec![target], cx);
    tokio::time::sleep(run).await;
    running.stop(true).await;
    let at = source.polled_at.lock().unwrap().clone();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn polls_come_at_the_cadence_with_at_most_two_seconds_of_jitter() {
    let source = FakeSource::scripted(vec![executing(&["a"]); 10]).shared();
    let gaps = gaps(source.clone(), "30s", Duration::from_secs(100)).await;
    assert_eq!(gaps.len(), 3, "polls at about 0, 30, 60 and 90 s: {gaps:?}");
    for gap in gaps {
        assert!(gap >= Duration::from_secs(30) && gap < Duration::from_secs(32), "{gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn failed_polls_are_retried_after_2_4_and_8_seconds_then_the_cadence_resumes() {
    let down = || Err(crate::arcgis::Error::Connect { url: "fake".into(), detail: "refused".into() });
    let source = FakeSource::scripted(vec![down(), down(), down(), executing(&["a"]), executing(&["a"])]).shared();
    let gaps = gaps(source, "60s", Duration::from_secs(100)).await;
    let secs: Vec<u64> = gaps.iter().map(|g| g.as_secs()).collect();
    assert_eq!(&secs[..3], [2, 4, 8], "{gaps:?}");
    assert!((45..=48).contains(&secs[3]), "back on the 60 s cadence counted from the first poll: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn polls_go_on_while_sign_in_waits_and_back_off_like_failures() {
    let paused = || {
        Err(crate::arcgis::Error::SignInPaused {
            account: "a".into(),
            reason: "refused once".into(),
            until: "later".into(),
            until_at: crate::clock::LocalMs(1_700_000_060_000),
        })
    };
    let source = FakeSource::scripted(vec![paused(), paused(), executing(&["a"])]).shared();
    let gaps = gaps(source, "60s", Duration::from_secs(30)).await;
    let secs: Vec<u64> = gaps.iter().map(|g| g.as_secs()).collect();
    assert_eq!(secs, [2, 4], "each paused poll costs no request, and the next comes with the backoff");
}
