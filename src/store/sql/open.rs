//! Opening the store: an SQLite file (created private, WAL), a throw-away memory store, or a
//! PostgreSQL server; each migrated with the migrations of its own backend.

use super::file::{create_private_file, restrict, url_path};
use super::{Backend, SqlStore};
use crate::secret::Secret;
use crate::store::lease::Leases;
use crate::store::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::{Any, AssertSqlSafe, Connection, Executor, Pool, SqlSafeStr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Set on every connection to the SQLite file.
const SQLITE_PRAGMAS: [&str; 3] = ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=10000"];
/// Rows of change a snapshot takes before it is packed again, at least.
const FOLD_MIN: i64 = 1_000;
/// Connections to a PostgreSQL server: polls, the action runner and the leases at once.
const PG_CONNECTIONS: u32 = 6;
/// How long to wait for a PostgreSQL connection (a server restarting, a full pool).
const PG_ACQUIRE: Duration = Duration::from_secs(10);

impl SqlStore {
    fn new(pool: Pool<Any>, backend: Backend) -> SqlStore {
        SqlStore { pool, fold_min: FOLD_MIN, backend, fence: None }
    }

    /// Opens (creating when missing) the SQLite state file at `path` and migrates it.
    pub async fn open_sqlite(path: &Path) -> Result<SqlStore> {
        let shown = path.display().to_string();
        let hint = "check state.path and its folder's permissions";
        let open_failed = |detail: String| Error::open_failed(&shown, detail, hint);
        create_private_file(path).map_err(|e| open_failed(e.to_string()))?;
        super::fault::disk().map_err(|e| open_failed(e.to_string()))?;
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", url_path(path));
        let failed = |e: sqlx::Error| corrupted(&e, &shown).unwrap_or_else(|| open_failed(e.to_string()));
        // One connection first: a file that is no database fails here at once, and says so (the
        // pool would retry it for half a minute, then report a timeout).
        let mut probe = sqlx::AnyConnection::connect(&url).await.map_err(failed)?;
        probe.execute(SQLITE_PRAGMAS[0]).await.map_err(failed)?;
        let _ = probe.close().await;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in SQLITE_PRAGMAS {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(failed)?;
        if let Err(e) = migrator(Backend::Sqlite).run(&pool).await {
            let corrupt = match &e {
                MigrateError::Execute(cause) | MigrateError::ExecuteMigration(cause, _) => corrupted(cause, &shown),
                _ => None,
            };
            return Err(corrupt.unwrap_or_else(|| Error::MigrateFailed { path: shown, detail: e.to_string() }));
        }
        for suffix in ["-wal", "-shm"] {
            let side = format!("{}{suffix}", path.display());
            let _ = restrict(Path::new(&side));
        }
        Ok(SqlStore::new(pool, Backend::Sqlite))
    }

    /// A throwaway in-memory store (a preview with no state file yet writes nothing to disk).
    pub async fn open_memory() -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .map_err(|e| Error::open_failed(":memory:", e.to_string(), "out of memory?"))?;
        migrate(&pool, Backend::Sqlite, ":memory:").await?;
        Ok(SqlStore::new(pool, Backend::Sqlite))
    }

    /// Connects to the PostgreSQL server at `url` (with its password; `shown` is the URL without
    /// it) and migrates its schema.
    pub async fn open_postgres(url: &Secret, shown: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let hint = "check state.url, the password and that the server accepts this host (pg_hba.conf)";
        let pool = AnyPoolOptions::new()
            .max_connections(PG_CONNECTIONS)
            .acquire_timeout(PG_ACQUIRE)
            .connect(url.expose())
            .await
            .map_err(|e| Error::open_failed(shown, scrub(&reason(&e), url), hint))?;
        migrate(&pool, Backend::Postgres, shown).await?;
        Ok(SqlStore::new(pool, Backend::Postgres))
    }

    /// This store, its writes about each target fenced by `leases` (replicas share the store).
    pub fn fenced(mut self, leases: Arc<Leases>) -> SqlStore {
        self.fence = Some(leases);
        self
    }

    /// The database server's name and version (`check --targets`).
    pub async fn server_version(&self) -> Result<String> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
            Backend::Postgres => "SELECT version()",
        };
        Ok(sqlx::Row::try_get(&sqlx::query(sql).fetch_one(&self.pool).await?, 0)?)
    }

    /// The connection pool (the leases share it).
    pub fn pool(&self) -> &Pool<Any> {
        &self.pool
    }
}

/// The error of a state file that is not an SQLite database, or a damaged one: say so, and what
/// to do (an error code of SQLite's own, not a guess from the words).
fn corrupted(e: &sqlx::Error, shown: &str) -> Option<Error> {
    const CORRUPT: u32 = 11;
    const NOT_A_DATABASE: u32 = 26;
    let database = e.as_database_error()?;
    let code = database.code()?.parse::<u32>().ok()?;
    matches!(code & 0xff, CORRUPT | NOT_A_DATABASE).then(|| Error::OpenFailed {
        path: shown.to_string(),
        detail: format!("the state file is corrupted (SQLite: {}); nbwarden cannot read it. Move it aside (mv {shown} {shown}.corrupt) to start from a fresh state: the next poll is a baseline, and the firings recorded in the old file are forgotten, so `poll` rules may fire again for jobs that still match. Or restore the file from a backup", database.message()),
    })
}

/// Why a connection failed: the server's own message when it answered (sqlx adds the line of
/// the server's source that raised it, which helps nobody here).
fn reason(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => format!("the server says: {}", db.message()),
        None => e.to_string(),
    }
}

/// An error message without the password of `url` in it, whatever the driver put there.
fn scrub(message: &str, url: &Secret) -> String {
    let password = reqwest::Url::parse(url.expose()).ok().and_then(|u| u.password().map(str::to_string));
    match password.filter(|p| !p.is_empty()) {
        Some(p) => message.replace(&p, "[redacted]"),
        None => message.to_string(),
    }
}

async fn migrate(pool: &Pool<Any>, backend: Backend, shown: &str) -> Result<()> {
    migrator(backend).run(pool).await.map_err(|e| Error::MigrateFailed { path: shown.into(), detail: e.to_string() })
}

/// The schema migrations of `backend`, embedded.
pub(super) fn migrator(backend: Backend) -> Migrator {
    migrator_until(backend, i64::MAX)
}

/// The schema migrations of `backend` up to version `last`.
pub(super) fn migrator_until(backend: Backend, last: i64) -> Migrator {
    let migration = |version, name: &str, sql: &'static str| {
        Migration::new(
            version,
            name.to_string().into(),
            MigrationType::Simple,
            AssertSqlSafe(sql).into_sql_str(),
            false,
        )
    };
    let all = match backend {
        Backend::Sqlite => vec![
            migration(1, "init", include_str!("../migrations/0001_init.sql")),
            migration(2, "sign_ins", include_str!("../migrations/0002_sign_ins.sql")),
            migration(3, "packed_snapshots", include_str!("../migrations/0003_packed_snapshots.sql")),
            migration(4, "runs", include_str!("../migrations/0004_runs.sql")),
            migration(5, "tasks", include_str!("../migrations/0005_tasks.sql")),
            migration(6, "items", include_str!("../migrations/0006_items.sql")),
            migration(7, "silences", include_str!("../migrations/0007_silences.sql")),
            migration(8, "activity", include_str!("../migrations/0008_activity.sql")),
            migration(9, "notebook_reads", include_str!("../migrations/0009_notebook_reads.sql")),
            migration(10, "listed_body", include_str!("../migrations/0010_listed_body.sql")),
            migration(11, "packed_parts", include_str!("../migrations/0011_packed_parts.sql")),
            migration(12, "notebooks_read", include_str!("../migrations/0012_notebooks_read.sql")),
        ],
        Backend::Postgres => vec![
            migration(1, "init", include_str!("../migrations/postgres/0001_init.sql")),
            migration(2, "runs", include_str!("../migrations/postgres/0002_runs.sql")),
            migration(3, "tasks", include_str!("../migrations/postgres/0003_tasks.sql")),
            migration(4, "items", include_str!("../migrations/postgres/0004_items.sql")),
            migration(5, "silences", include_str!("../migrations/postgres/0005_silences.sql")),
            migration(6, "activity", include_str!("../migrations/postgres/0006_activity.sql")),
            migration(7, "notebook_reads", include_str!("../migrations/postgres/0007_notebook_reads.sql")),
            migration(8, "listed_body", include_str!("../migrations/postgres/0008_listed_body.sql")),
            migration(9, "packed_parts", include_str!("../migrations/postgres/0009_packed_parts.sql")),
            migration(10, "notebooks_read", include_str!("../migrations/postgres/0010_notebooks_read.sql")),
        ],
    };
    Migrator::with_migrations(all.into_iter().filter(|m| m.version <= last).collect())
}
