//! `nbwarden backtest --since 30d` over 30 days of recorded history at 1,000 jobs a day (each job
//! appears running, ends ten minutes later — one in twenty failed — and leaves the list an hour
//! after that: 90,000 history rows), with the rules shipped in `rules/`. Prints the wall time of
//! the whole command (reading the history, replaying, comparing), median of 5 runs.
//! Run: `cargo bench --bench backtest`.

use nbwarden::arcgis::{Job, Status};
use nbwarden::store::SqlStore;
use std::time::{Duration, Instant};

/// The allocator of the `nbwarden` binary (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DAY_MS: i64 = 86_400_000;
const JOBS_PER_DAY: i64 = 1_000;
const DAYS: i64 = 30;

/// (at, job, listed) rows of one job started at `start`.
fn rows_of(i: i64, start: i64) -> [(i64, Job, bool); 3] {
    let mut job = Job::new(format!("j{i:06}"), Status::Executing);
    job.job_type = Some("executeNotebook".into());
    job.username = Some(format!("user{}", i % 40));
    job.started_at = Some(nbwarden::clock::ServerMs(start));
    let end = start + 600_000;
    let mut ended = job.clone();
    ended.status = if i % 20 == 0 { Status::Failed } else { Status::Completed };
    ended.ended_at = Some(nbwarden::clock::ServerMs(end));
    [(start, job, true), (end, ended.clone(), true), (end + 3_600_000, ended, false)]
}

async fn record(store: &SqlStore, target: &str, now: i64) -> usize {
    let first = now - DAYS * DAY_MS;
    let mut rows: Vec<(i64, Job, bool)> = (0..DAYS * JOBS_PER_DAY)
        .flat_map(|i| rows_of(i, first + i * DAY_MS / JOBS_PER_DAY))
        .filter(|(at, _, _)| *at <= now)
        .collect();
    rows.sort_by_key(|(at, _, _)| *at);
    let mut tx = store.pool().begin().await.unwrap();
    for chunk in rows.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("('real', '{target}', ${}, ${}, ${}, ${})", 4 * r + 1, 4 * r + 2, 4 * r + 3, 4 * r + 4))
            .collect();
        let sql =
            format!("INSERT INTO job_history (scope, target, at_ms, job_id, job, listed) VALUES {}", values.join(", "));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (at, job, listed) in chunk {
            query =
                query.bind(*at).bind(job.id.clone()).bind(serde_json::to_string(job).unwrap()).bind(i64::from(*listed));
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    rows.len()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let config = dir.path().join("nbwarden.yaml");
    std::fs::write(
        &config,
        format!(
            "targets:\n  - {{ name: prod, flavor: enterprise, admin_url: 'https://gis.example.com/portal/admin', auth: {{ token: x }} }}\nemail: {{ transport: file, dir: outbox, from: n@example.org }}\nowners: {{ lookup: none, fallback: gis@example.org }}\nstate: {{ path: state.db }}\nrules: ['{}']\nhttp: {{ listen: '' }}\n",
            rules.display()
        ),
    )
    .unwrap();
    let now = nbwarden::clock::local_now_ms();
    let store = SqlStore::open_sqlite(&dir.path().join("state.db")).await.unwrap();
    let rows = record(&store, "prod", now).await;
    drop(store);
    let mut samples = Vec::new();
    let mut firings = 0;
    for _ in 0..5 {
        let setup = nbwarden::cli::setup::load(Some(&config)).unwrap();
        let options = nbwarden::cli::backtest::Options {
            since: Duration::from_millis((DAYS * DAY_MS) as u64),
            until_ms: Some(nbwarden::clock::ServerMs(now)),
            rules: Vec::new(),
            target: None,
            json: true,
        };
        let started = Instant::now();
        let out = nbwarden::cli::backtest::report(setup, options).await.unwrap();
        samples.push(started.elapsed());
        firings = out.lines().filter(|l| l.contains("\"kind\":\"firing\"")).count();
    }
    samples.sort();
    println!(
        "backtest --since 30d: {} days x {} jobs/day, {rows} history rows, {firings} firings: median {:.0} ms (runs: {})",
        DAYS,
        JOBS_PER_DAY,
        samples[2].as_secs_f64() * 1e3,
        samples.iter().map(|s| format!("{:.0}", s.as_secs_f64() * 1e3)).collect::<Vec<_>>().join(", ")
    );
}
