//! The back-test agrees with the daemon (property test): random job timelines go through the
//! daemon's path (`engine::tick` on a real SQLite store, dispatch in dry-run mode, polled at the
//! cadence and at the wake-ups the scheduler takes from the core) and then through the back-test
//! over the history that run recorded (`timeline` and `replay`). The firings must be equal.
//! `PROPTEST_CASES=10000` runs the 10,000 cases.

use super::timeline;
use crate::arcgis::{Job, JobSource, Listing, Status};
use crate::clock::{ManualClock, ServerMs};
use crate::cycle::MAX_EXTRA_POLLS;
use crate::dispatch::{Dispatcher, Mode};
use crate::engine::{Shared, Target};
use crate::replay::replay;
use crate::rules::RuleSet;
use crate::store::{Scope, SqlStore};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

const T0: i64 = 1_800_000_000_000;
const INTERVAL: i64 = 60_000;
const MINUTE: i64 = 60_000;

const RULES: &str = "rules:
  - { name: runaway, match: { status: running, runtime_over: 30m }, actions: [{ type: cancel }] }
  - { name: failed, on: status_changed, match: { to: failed }, actions: [{ type: log }] }
  - { name: new, on: appeared, match: { status: running }, actions: [{ type: log }] }
  - { name: gone, on: disappeared, actions: [{ type: log }] }
  - { name: steady, for_polls: 3, match: { status: running, runtime_over: 10m }, actions: [{ type: log }] }
";

/// One job's life: listed from poll `first`, submitted for `queued` polls, then running (started
/// `started_ago` minutes before it began to run) for `runs` polls, then ended (`end`) and listed
/// for `lingers` polls.
#[derive(Debug, Clone)]
struct Life {
    first: usize,
    queued: usize,
    started_ago: i64,
    runs: usize,
    end: Status,
    lingers: usize,
}

impl Life {
    /// The job as listed at poll `poll`, if listed.
    fn at(&self, id: usize, poll: usize) -> Option<Job> {
        let step = poll.checked_sub(self.first)?;
        let run_from = self.first + self.queued;
        let started = T0 + run_from as i64 * INTERVAL - self.started_ago * MINUTE;
        let ended = T0 + (run_from + self.runs) as i64 * INTERVAL;
        let mut job = Job::new(format!("j{id}"), Status::Submitted);
        job.job_type = Some("executeNotebook".into());
        match step {
            s if s < self.queued => {}
            s if s < self.queued + self.runs => {
                (job.status, job.started_at) = (Status::Executing, Some(ServerMs(started)))
            }
            s if s < self.queued + self.runs + self.lingers => {
                (job.status, job.started_at, job.ended_at) =
                    (self.end.clone(), Some(ServerMs(started)), Some(ServerMs(ended)))
            }
            _ => return None,
        }
        Some(job)
    }
}

fn life() -> impl Strategy<Value = Life> {
    let end = prop_oneof![Just(Status::Completed), Just(Status::Failed), Just(Status::parse("CANCELLED"))];
    (0usize..12, 0usize..3, 0i64..45, 0usize..40, end, 0usize..4).prop_map(
        |(first, queued, started_ago, runs, end, lingers)| Life { first, queued, started_ago, runs, end, lingers },
    )
}

/// A site whose list is the timeline's, with the server's clock at the poll's time.
struct Timeline {
    listing: Mutex<Vec<Job>>,
    now: AtomicI64,
}

#[async_trait::async_trait]
impl JobSource for Timeline {
    fn name(&self) -> &str {
        "timeline"
    }

    async fn poll(&self, _: crate::arcgis::Known<'_>) -> crate::arcgis::Result<Listing> {
        let jobs = self.listing.lock().expect("listing").clone();
        Ok(Listing::of(jobs, true))
    }

    async fn job(&self, id: &str) -> crate::arcgis::Result<Job> {
        Err(crate::arcgis::Error::Connect { url: id.into(), detail: "not read in this test".into() })
    }

    async fn cancel(&self, _: &str) -> crate::arcgis::Result<()> {
        unreachable!("a dry run never cancels")
    }

    async fn user_email(&self, _: &str) -> crate::arcgis::Result<Option<String>> {
        Ok(None)
    }

    fn server_now(&self) -> crate::clock::ServerMs {
        ServerMs(self.now.load(Ordering::SeqCst))
    }

    fn job_url(&self, id: &str) -> String {
        format!("http://timeline/{id}")
    }
}

type Key = (String, String, crate::ledger::Cause);

/// The daemon's path over `lives` polled `polls` times; the firings its ledger recorded.
async fn daemon(store: Arc<SqlStore>, name: &str, lives: &[Life], polls: usize, limits: &str) -> BTreeSet<Key> {
    let rules = Arc::new(RuleSet::parse(std::path::Path::new("r.yaml"), RULES, &[name]).expect("rules"));
    let services = Arc::new(crate::actions::Services::new(None, &Default::default(), None).expect("services"));
    let clock = ManualClock::at(T0);
    let dispatch =
        Dispatcher { rules, store: store.clone(), mode: Mode::DryRun, services, clock: Arc::new(clock.clone()) };
    let shared = Shared::new(dispatch);
    let yaml = format!(
        "{{ name: {name}, flavor: enterprise, admin_url: 'http://t/admin', auth: {{ token: t }}, limits: {limits} }}"
    );
    let config = crate::config::yaml::from_str(&yaml).expect("target");
    let site = Arc::new(Timeline { listing: Mutex::new(Vec::new()), now: AtomicI64::new(T0) });
    let mut target = Target::load(config, site.clone(), &shared).await.expect("load");
    let at = |ms: i64| {
        site.now.store(ms, Ordering::SeqCst);
        clock.advance(ms - crate::clock::Clock::now(&clock).0);
    };
    for poll in 0..polls {
        let regular = T0 + poll as i64 * INTERVAL;
        *site.listing.lock().expect("listing") = (0..lives.len()).filter_map(|i| lives[i].at(i, poll)).collect();
        at(regular);
        target.tick(&shared).await;
        // The scheduler's extra polls before the next regular one, as the core asks for them.
        let (mut now, next) = (ServerMs(regular), ServerMs(regular + INTERVAL));
        for _ in 0..MAX_EXTRA_POLLS {
            let wake = target.core().wake(&shared.dispatch.rules, name, (now, next));
            let Some(extra) = wake.at(now).filter(|extra| *extra < next) else { break };
            at(extra.0);
            target.tick(&shared).await;
            now = extra;
        }
    }
    let fired = store.fired_between(Scope::Dry, name, (ServerMs(i64::MIN), ServerMs(i64::MAX))).await.expect("ledger");
    fired.into_iter().map(|f| (f.rule, f.job_id, f.trigger)).collect()
}

/// The back-test over what the daemon recorded; its firings.
async fn backtest(store: &SqlStore, name: &str, limits: &str) -> BTreeSet<Key> {
    let rules = RuleSet::parse(std::path::Path::new("r.yaml"), RULES, &[name]).expect("rules");
    let limits: crate::config::LimitsConfig = crate::config::yaml::from_str(limits).expect("limits");
    let polled = store.polled(Scope::Dry, name).await.expect("polled");
    let polls = timeline(
        store.changes(Scope::Dry, name, ServerMs(i64::MAX)).await.expect("history"),
        ServerMs(i64::MIN),
        polled,
    );
    let steps = replay((&rules, name, (&limits, &Default::default())), polls, None, None, Some(INTERVAL));
    let records = steps.iter().flat_map(|s| &s.plan.ledger);
    records.map(|r| (r.rule.clone(), r.job_id.clone(), r.trigger.clone())).collect()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

/// One SQLite file for every case (each case is a target of its own).
async fn store() -> Arc<SqlStore> {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, Arc<SqlStore>)> = std::sync::OnceLock::new();
    if STORE.get().is_none() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqlStore::open_sqlite(&dir.path().join("state.db")).await.expect("store");
        let _ = STORE.set((dir, Arc::new(store)));
    }
    STORE.get().expect("the store").1.clone()
}

static CASE: AtomicI64 = AtomicI64::new(0);

proptest! {
    #[test]
    fn a_backtest_of_the_recorded_history_fires_as_the_daemon_did(
        lives in proptest::collection::vec(life(), 1..7),
        polls in 3usize..24,
        (per_poll, per_hour) in (1u32..4, 1u32..8),
    ) {
        let name = format!("t{}", CASE.fetch_add(1, Ordering::SeqCst));
        let limits = format!("{{ max_cancels_per_poll: {per_poll}, max_cancels_per_hour: {per_hour}, max_cancel_fraction: 1.0 }}");
        let (live, tested) = runtime().block_on(async {
            let store = store().await;
            let live = daemon(store.clone(), &name, &lives, polls, &limits).await;
            (live, backtest(&store, &name, &limits).await)
        });
        prop_assert_eq!(live, tested, "{} polls of {:?}", polls, lives);
    }
}
