//! The cost of a poll's commit on each backend: an SQLite file, a PostgreSQL server, and the same
//! server with replicas (every commit fenced by the target's lease), at 10k and 100k jobs, with
//! 0.2 % and 2 % of the jobs changed since the previous poll, and with none.
//! Run: `cargo bench --bench store`; the PostgreSQL rows need `NBWARDEN_TEST_POSTGRES_URL`
//! (`eval "$(scripts/postgres)"` starts a throw-away server).

use nbwarden::arcgis::{Job, Status};
use nbwarden::diff::{snapshot, Snapshot};
use nbwarden::secret::Secret;
use nbwarden::store::lease::Leases;
use nbwarden::store::{PollCommit, Scope, SqlStore, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOW: i64 = 1_800_000_000_000;
const RUNS: usize = 11;

/// The allocator of the `nbwarden` binary (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `n` jobs; in round `round`, one job in `every` (shifted each round) has failed.
fn jobs(n: usize, every: usize, round: usize) -> Vec<Job> {
    (0..n)
        .map(|i| {
            let status = if every > 0 && i % every == round % every { Status::Failed } else { Status::Executing };
            let mut job = Job::new(format!("j{i:07}"), status);
            job.username = Some(format!("user{}", i % 50));
            job.job_type = Some("executeNotebook".into());
            job.started_at = Some(nbwarden::clock::ServerMs(NOW - (i as i64 % 7200) * 1000));
            job
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median commit time of `RUNS` polls of `n` jobs with one in `every` changed (0: none).
async fn commits(store: &SqlStore, target: &str, n: usize, every: usize) -> Duration {
    let first = snapshot(jobs(n, 0, 0));
    let all: Vec<&Job> = first.values().collect();
    let baseline = PollCommit {
        snapshot: Some(&first),
        upserts: all,
        ..PollCommit::new(Scope::Real, target, nbwarden::clock::ServerMs(NOW))
    };
    store.commit_poll(&baseline).await.unwrap();
    let mut previous: Snapshot = first;
    let mut samples = Vec::with_capacity(RUNS);
    for round in 1..=RUNS {
        let next = snapshot(jobs(n, every, round));
        let changed: Vec<&Job> = next
            .values()
            .zip(previous.values())
            .filter(|(new, old)| new.status != old.status)
            .map(|(n, _)| n)
            .collect();
        let commit = PollCommit {
            snapshot: Some(&next),
            upserts: changed,
            ..PollCommit::new(Scope::Real, target, nbwarden::clock::ServerMs(NOW))
        };
        let started = Instant::now();
        store.commit_poll(&commit).await.unwrap();
        samples.push(started.elapsed());
        previous = next;
    }
    median(samples)
}

/// A fresh database on the PostgreSQL test server, when there is one.
async fn postgres() -> Option<Secret> {
    use sqlx::{Connection, Executor};
    let url = std::env::var("NBWARDEN_TEST_POSTGRES_URL").ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("bench_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let mut parsed = reqwest::Url::parse(&url).unwrap();
    parsed.set_path(&name);
    Some(Secret::new(parsed.to_string()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![("SQLite file", SqlStore::open_sqlite(&dir.path().join("bench.db")).await.unwrap())];
    match postgres().await {
        Some(url) => {
            stores.push(("PostgreSQL", SqlStore::open_postgres(&url, "bench").await.unwrap()));
            let fenced = SqlStore::open_postgres(&url, "bench").await.unwrap();
            let leases = Arc::new(Leases::new(fenced.pool().clone(), "bench".into(), Duration::from_secs(600)));
            let targets: Vec<String> = ["f10000", "f100000"].iter().map(|t| t.to_string()).collect();
            leases.take_free(&targets).await.unwrap();
            stores.push(("PostgreSQL, fenced", fenced.fenced(leases)));
        }
        None => eprintln!("NBWARDEN_TEST_POSTGRES_URL is unset: the PostgreSQL rows are left out"),
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("backend             jobs     0.2% changed  2% changed  unchanged");
    for (name, store) in &stores {
        for n in [10_000, 100_000] {
            let prefix = if name.ends_with("fenced") { "f" } else { "t" };
            let (a, b, c) = (
                commits(store, &format!("{prefix}{n}"), n, 500).await,
                commits(store, &format!("{prefix}{n}"), n, 50).await,
                commits(store, &format!("{prefix}{n}"), n, 0).await,
            );
            println!("{name:<19} {n:>7}  {:>9.2} ms  {:>7.2} ms  {:>6.2} ms", ms(a), ms(b), ms(c));
        }
    }
}
