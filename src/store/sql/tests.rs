//! The SQL store on a real SQLite file and on a real PostgreSQL server (`scripts/test` starts
//! one; each test gets a database of its own): every test of the store runs on both.

use super::file::{create_private_file, url_path};
use super::open::migrator_until;
use super::*;
use crate::actions::ActionConfig;
use crate::arcgis::Status;
use crate::diff::snapshot;
use crate::plan::LedgerRecord;
use sqlx::any::AnyPoolOptions;
use sqlx::AssertSqlSafe;

fn job(id: &str, status: Status) -> Job {
    Job::new(id, status)
}

fn commit<'a>(target: &'a str, upserts: &'a [Job], gone: &[&str]) -> PollCommit<'a> {
    let gone = gone.iter().map(|id| job(id, Status::Completed)).collect();
    let local_ms = crate::clock::local_now_ms();
    PollCommit {
        upserts: upserts.iter().collect(),
        gone,
        local_ms: crate::clock::LocalMs(local_ms),
        ..PollCommit::new(Scope::Real, target, crate::clock::ServerMs(1_000))
    }
}

/// A commit that fires and queues `actions`.
fn queuing<'a>(target: &'a str, actions: Vec<Planned>) -> PollCommit<'a> {
    let ledger = actions.iter().flat_map(|a| a.fired(&crate::ledger::Cause::Poll)).collect();
    PollCommit { ledger, actions, ..commit(target, &[], &[]) }
}

fn planned(id: &str) -> Planned {
    Planned::cancel_for_tests(id)
}

/// What a test's store lives in: a temporary folder, or a database of its own.
struct Place(#[allow(dead_code)] Option<tempfile::TempDir>);

/// Runs the test `$body` once on each backend, as `$name::sqlite` and `$name::postgres`.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                if super::postgres::url(concat!("store::sql::tests::", stringify!($name))).is_some() {
                    super::$name(super::Backend::Postgres).await
                }
            }
        }
    };
}

async fn open(backend: Backend) -> (Place, SqlStore) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = SqlStore::open_sqlite(&dir.path().join("sub/state.db")).await.unwrap();
            (Place(Some(dir)), store)
        }
        Backend::Postgres => {
            let url = postgres::fresh_database(&postgres::url("store").expect("a PostgreSQL server")).await;
            let store = SqlStore::open_postgres(&crate::secret::Secret::new(url), "test").await.unwrap();
            postgres::count_writes(&store).await;
            (Place(None), store)
        }
    }
}

/// Rows written so far (SQLite counts them itself; on PostgreSQL a trigger counts them).
async fn changes(store: &SqlStore) -> i64 {
    let sql = match store.backend {
        Backend::Sqlite => "SELECT total_changes()",
        Backend::Postgres => "SELECT n FROM test_writes",
    };
    sqlx::query(sql).fetch_one(&store.pool).await.unwrap().try_get(0).unwrap()
}

mod activity;
mod listed_body;
mod prune;
mod replicas;
mod runs;
mod tasks;

pub(crate) mod postgres {
    //! The test server (`crate::test_support::postgres`), and a count of the rows written.

    pub use crate::test_support::postgres::{fresh_database, url};
    use sqlx::Executor;

    /// Counts every row written to the store's tables in `test_writes.n`, as SQLite's
    /// `total_changes()` does.
    pub async fn count_writes(store: &super::SqlStore) {
        let setup = "CREATE TABLE test_writes (n BIGINT NOT NULL); INSERT INTO test_writes VALUES (0);
            CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN UPDATE test_writes SET n = n + 1; RETURN NULL; END $$;";
        store.pool.execute(setup).await.unwrap();
        for table in [
            "targets",
            "ledger",
            "streaks",
            "actions",
            "audit",
            "cancel_checks",
            "job_history",
            "snapshots",
            "packed_parts",
        ] {
            let sql = format!("CREATE TRIGGER count_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION count_write()");
            store.pool.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_file_is_private_and_reopens() {
    let (Place(Some(dir)), store) = open(Backend::Sqlite).await else { unreachable!() };
    drop(store);
    let path = dir.path().join("sub/state.db");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    SqlStore::open_sqlite(&path).await.expect("migrations are idempotent");
}

async fn a_poll_round_trips_and_an_unchanged_poll_writes_one_row(backend: Backend) {
    let (_dir, store) = open(backend).await;
    assert!(store.load_target(Scope::Real, "prod").await.unwrap().snapshot.is_none(), "never polled");
    let jobs = [job("a", Status::Executing), job("b", Status::Failed)];
    let listed = snapshot(jobs.to_vec());
    let mut first = PollCommit { snapshot: Some(&listed), ..commit("prod", &jobs, &[]) };
    first.ledger.push(LedgerRecord {
        rule: "r".into(),
        shadow: false,
        job_id: "a".into(),
        trigger: crate::ledger::Cause::Poll,
    });
    first.streaks_set.push(("s".into(), "a".into(), 2));
    store.commit_poll(&first).await.unwrap();

    let state = store.load_target(Scope::Real, "prod").await.unwrap();
    assert_eq!(state.snapshot.as_ref().unwrap().values().cloned().collect::<Vec<_>>(), jobs);
    assert!(state.ledger.fired("r", "a", &crate::ledger::Cause::Poll));
    assert_eq!(state.streaks[&("s".to_string(), "a".to_string())], 2);
    assert!(store.load_target(Scope::Dry, "prod").await.unwrap().snapshot.is_none(), "dry state is apart");

    let before = changes(&store).await;
    store.commit_poll(&PollCommit { snapshot: Some(&listed), ..commit("prod", &[], &[]) }).await.unwrap();
    assert_eq!(changes(&store).await - before, 1, "only the target's last-poll time");

    let after = snapshot(vec![job("a", Status::Executing)]);
    store.commit_poll(&PollCommit { snapshot: Some(&after), ..commit("prod", &[], &["b"]) }).await.unwrap();
    let state = store.load_target(Scope::Real, "prod").await.unwrap();
    assert_eq!(state.snapshot.unwrap().values().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(packed_row(&store).await, (1, 2), "not packed again yet: one history row after the packed form");
}

/// `(pending, packed_through)` of the `prod` snapshot row.
async fn packed_row(store: &SqlStore) -> (i64, i64) {
    let row = sqlx::query("SELECT pending, packed_through FROM snapshots WHERE target = 'prod'")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    (row.try_get(0).unwrap(), row.try_get(1).unwrap())
}
on_both!(a_poll_round_trips_and_an_unchanged_poll_writes_one_row);

async fn a_snapshot_is_packed_again_once_its_changes_outgrow_it_and_reads_the_same(backend: Backend) {
    let (_dir, mut store) = open(backend).await;
    store.fold_min = 2;
    let mut jobs: Vec<Job> = (0..8).map(|i| job(&format!("j{i}"), Status::Executing)).collect();
    let first = snapshot(jobs.clone());
    store.commit_poll(&PollCommit { snapshot: Some(&first), ..commit("prod", &jobs, &[]) }).await.unwrap();
    assert_eq!(packed_row(&store).await, (0, 8), "the first poll packs every job");
    for round in 0..3 {
        jobs[round] = job(&format!("j{round}"), Status::Failed);
        let next = snapshot(jobs.clone());
        store
            .commit_poll(&PollCommit { snapshot: Some(&next), ..commit("prod", &jobs[round..=round], &[]) })
            .await
            .unwrap();
        let loaded = store.load_target(Scope::Real, "prod").await.unwrap().snapshot.unwrap();
        assert_eq!(
            loaded.values().cloned().collect::<Vec<_>>(),
            jobs,
            "round {round}: packed form and history rows make the snapshot"
        );
    }
    assert_eq!(packed_row(&store).await, (0, 11), "the third change outgrew max(2, 8 / 4): packed again");
}
on_both!(a_snapshot_is_packed_again_once_its_changes_outgrow_it_and_reads_the_same);

async fn a_snapshot_is_packed_in_parts_read_back_in_order(backend: Backend) {
    let (_dir, mut store) = open(backend).await;
    store.fold_min = 0;
    let all: Vec<Job> = (0..2 * commit::PART_JOBS + 5).map(|i| job(&format!("j{i:05}"), Status::Executing)).collect();
    let ids: Vec<String> = all.iter().map(|j| j.id.clone()).collect();
    let mut upserts = &all[..];
    for (n, parts) in [(all.len(), 3), (commit::PART_JOBS + 1, 2), (0, 0)] {
        let gone: Vec<&str> = ids[n..].iter().map(String::as_str).collect();
        let next = snapshot(all[..n].to_vec());
        store.commit_poll(&PollCommit { snapshot: Some(&next), ..commit("prod", upserts, &gone) }).await.unwrap();
        upserts = &[];
        let loaded = store.load_target(Scope::Real, "prod").await.unwrap().snapshot.expect("polled");
        assert!(loaded.values().eq(&all[..n]), "{n} jobs, in their order");
        let row = sqlx::query("SELECT COUNT(*) FROM packed_parts").fetch_one(&store.pool).await.unwrap();
        assert_eq!(row.try_get::<i64, _>(0).unwrap(), parts, "{n} jobs: no part left from a larger snapshot");
    }
}
on_both!(a_snapshot_is_packed_in_parts_read_back_in_order);

async fn a_digest_before_the_first_poll_leaves_that_poll_a_baseline(backend: Backend) {
    let (_dir, store) = open(backend).await;
    store.commit_poll(&commit("prod", &[], &[])).await.unwrap();
    assert!(store.load_target(Scope::Real, "prod").await.unwrap().snapshot.is_none());
}
on_both!(a_digest_before_the_first_poll_leaves_that_poll_a_baseline);

async fn queued_actions_retry_then_finish_in_the_audit_trail(backend: Backend) {
    let (_dir, store) = open(backend).await;
    let ids = store.commit_poll(&queuing("prod", vec![planned("a"), planned("b")])).await.unwrap();
    assert_eq!(ids.len(), 2);
    let now = crate::clock::LocalMs(crate::arcgis::auth::local_now_ms());
    let due = store.due_actions(Scope::Real, now, 0, 64).await.unwrap();
    assert_eq!(due.iter().map(|q| q.planned.jobs[0].id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let pages = [
        store.due_actions(Scope::Real, now, 0, 1).await.unwrap(),
        store.due_actions(Scope::Real, now, ids[0], 1).await.unwrap(),
    ];
    assert_eq!(
        pages.map(|p| p.iter().map(|q| q.id).collect::<Vec<_>>()),
        [vec![ids[0]], vec![ids[1]]],
        "a page at a time"
    );
    assert_eq!(store.cancels_since(Scope::Real, "prod", now - 60_000, false).await.unwrap(), 2);
    assert_eq!(store.cancels_since(Scope::Real, "prod", now - 60_000, true).await.unwrap(), 0, "none planned");

    store
        .record_attempt(ids[0], &Attempt::Retry { next: now + 60_000, detail: "503".into(), progress: None }, now)
        .await
        .unwrap();
    store
        .record_attempt(ids[1], &Attempt::Final { outcome: Outcome::Done, detail: "cancelled".into() }, now)
        .await
        .unwrap();
    let due = store.due_actions(Scope::Real, now, 0, 64).await.unwrap();
    assert!(due.is_empty(), "the retry is not due yet, the other is finished");
    let later = store.due_actions(Scope::Real, now + 60_000, 0, 64).await.unwrap();
    assert_eq!((later.len(), later[0].attempts), (1, 1));
    let audit = store.audit_for_job(Scope::Real, "prod", "b").await.unwrap();
    assert_eq!((audit[0].report.outcome.as_str(), audit[0].report.action.as_str()), ("done", "cancel"));
}
on_both!(queued_actions_retry_then_finish_in_the_audit_trail);

/// `max_cancels_per_hour` counts the cancels queued within the hour that wait, run or are done:
/// a finished cancel still counts; one that failed or found its job ended does not, nor does any
/// other action, nor a cancel queued before the hour.
async fn the_hourly_cancel_count_includes_finished_cancels(backend: Backend) {
    let (_dir, store) = open(backend).await;
    let mut log = planned("log");
    log.action = ActionConfig::Log(Default::default()).into();
    let planned = ["done", "failed", "skipped", "waiting", "running"].map(planned).to_vec();
    let ids = store.commit_poll(&queuing("prod", [planned, vec![log]].concat())).await.unwrap();
    let now = crate::clock::LocalMs(crate::arcgis::auth::local_now_ms());
    let outcomes = [Outcome::Done, Outcome::Failed, Outcome::Skipped];
    for (id, outcome) in ids.iter().zip(outcomes) {
        store.record_attempt(*id, &Attempt::Final { outcome, detail: String::new() }, now).await.unwrap();
    }
    sqlx::query("UPDATE actions SET status = 'running' WHERE id = $1").bind(ids[4]).execute(&store.pool).await.unwrap();
    let hour_ago = now - 3_600_000;
    assert_eq!(store.cancels_since(Scope::Real, "prod", hour_ago, false).await.unwrap(), 3, "done, waiting, running");
    assert_eq!(store.cancels_since(Scope::Real, "prod", now + 60_000, false).await.unwrap(), 0, "queued before");
    assert_eq!(store.cancels_since(Scope::Real, "other", hour_ago, false).await.unwrap(), 0, "per target");
}
on_both!(the_hourly_cancel_count_includes_finished_cancels);

/// Two processes that fire the same firing (two daemons on one file, or a stale replica): the
/// second commit finds its ledger row there and queues nothing; a batch keeps only its new jobs.
async fn an_action_is_queued_only_by_the_commit_that_recorded_its_firing(backend: Backend) {
    let (_dir, store) = open(backend).await;
    let first = store.commit_poll(&queuing("prod", vec![planned("a")])).await.unwrap();
    assert_eq!(first.len(), 1);
    let again = store.commit_poll(&queuing("prod", vec![planned("a")])).await.unwrap();
    assert!(again.is_empty(), "the firing was recorded already: nothing queued twice");
    let mut batch = planned("a");
    batch.jobs.push(job("b", Status::Executing).into());
    let ids = store.commit_poll(&queuing("prod", vec![batch])).await.unwrap();
    let queued = store.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), first[0], 64).await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(queued[0].planned.job_ids(), ["b"], "the batch went out with the one new job only");
}
on_both!(an_action_is_queued_only_by_the_commit_that_recorded_its_firing);

#[tokio::test]
async fn a_version_2_state_file_migrates_with_its_snapshot_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    create_private_file(&path).unwrap();
    let pool = AnyPoolOptions::new().connect(&format!("sqlite://{}?mode=rwc", url_path(&path))).await.unwrap();
    migrator_until(Backend::Sqlite, 2).run(&pool).await.unwrap();
    sqlx::query("INSERT INTO targets VALUES ('real', 'prod', 1, 2)").execute(&pool).await.unwrap();
    for (id, status, listed) in [("a", "EXECUTING", 1), ("gone", "FAILED", 0), ("b", "COMPLETED", 1)] {
        let json = serde_json::to_string(&job(id, Status::parse(status))).unwrap();
        sqlx::query("INSERT INTO jobs VALUES ('real', 'prod', $1, $2, $3, 1, 2)")
            .bind(id)
            .bind(json)
            .bind(listed)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    let loaded = store.load_target(Scope::Real, "prod").await.unwrap().snapshot.expect("still polled");
    let mut ids: Vec<&str> = loaded.values().map(|j| j.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    let history = store.history_since(Scope::Real, "prod", crate::clock::ServerMs(0)).await.unwrap();
    assert_eq!(history.len(), 3, "the gone job stays history");
}

#[test]
fn scopes_read_back_from_their_stored_spelling() {
    for scope in [Scope::Real, Scope::Dry] {
        assert_eq!(Scope::parse(scope.as_str()), Some(scope));
    }
    assert_eq!(Scope::parse("shadow"), None);
}
