//! The store on sqlx's `Any` driver: SQLite now (file mode 0600, WAL), the same SQL for
//! PostgreSQL later. One transaction per poll; writes proportional to what changed.

use super::{packed, Cutoff, Error, PollCommit, Result, Scope, Store, TargetState};
use crate::arcgis::signin::{History, Refusal};
use crate::arcgis::Job;
use crate::diff::Snapshot;
use crate::plan::{ActionReport, Attempt, AuditEntry, CancelCheck, Outcome, Planned, Queued};
use file::{create_private_file, restrict, url_path};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AssertSqlSafe, Executor, Pool, QueryBuilder, Row, SqlSafeStr};
use std::collections::HashMap;
use std::path::Path;

/// The SQL store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: Pool<Any>,
    /// History rows after the packed snapshot before it is packed again (and a quarter of it).
    fold_min: i64,
}

/// Rows of change a snapshot takes before it is packed again, at least.
const FOLD_MIN: i64 = 1_000;

impl SqlStore {
    /// Opens (creating when missing) the SQLite state file at `path` and migrates it.
    pub async fn open_sqlite(path: &Path) -> Result<SqlStore> {
        let shown = path.display().to_string();
        let open_failed = |detail: String| Error::OpenFailed { path: shown.clone(), detail };
        create_private_file(path).map_err(|e| open_failed(e.to_string()))?;
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", url_path(path));
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=10000"] {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| open_failed(e.to_string()))?;
        migrator().run(&pool).await.map_err(|e| Error::MigrateFailed { path: shown.clone(), detail: e.to_string() })?;
        for suffix in ["-wal", "-shm"] {
            let side = format!("{}{suffix}", path.display());
            let _ = restrict(Path::new(&side));
        }
        Ok(SqlStore { pool, fold_min: FOLD_MIN })
    }

    /// A throwaway in-memory store (a preview with no state file yet writes nothing to disk).
    pub async fn open_memory() -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let failed = |e: &dyn std::fmt::Display| Error::OpenFailed { path: ":memory:".into(), detail: e.to_string() };
        let pool = AnyPoolOptions::new().max_connections(1).connect("sqlite::memory:").await.map_err(|e| failed(&e))?;
        migrator().run(&pool).await.map_err(|e| failed(&e))?;
        Ok(SqlStore { pool, fold_min: FOLD_MIN })
    }
}

/// The schema migrations, embedded.
fn migrator() -> Migrator {
    migrator_until(i64::MAX)
}

/// The schema migrations up to version `last`.
fn migrator_until(last: i64) -> Migrator {
    let migration = |version, name: &str, sql: &'static str| {
        Migration::new(
            version,
            name.to_string().into(),
            MigrationType::Simple,
            AssertSqlSafe(sql).into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(
        vec![
            migration(1, "init", include_str!("migrations/0001_init.sql")),
            migration(2, "sign_ins", include_str!("migrations/0002_sign_ins.sql")),
            migration(3, "packed_snapshots", include_str!("migrations/0003_packed_snapshots.sql")),
        ]
        .into_iter()
        .filter(|m| m.version <= last)
        .collect(),
    )
}

fn decode_job(row: &AnyRow) -> Result<Job> {
    Ok(serde_json::from_str(&row.try_get::<String, _>(0)?)?)
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn load_target(&self, scope: Scope, target: &str) -> Result<TargetState> {
        let mut state = TargetState { snapshot: self.load_snapshot(scope, target).await?, ..Default::default() };
        let ledger = sqlx::query(
            "SELECT rule, job_id, trig, fired_ms FROM ledger WHERE scope = $1 AND target = $2 ORDER BY fired_ms",
        )
        .bind(scope.as_str())
        .bind(target)
        .fetch_all(&self.pool)
        .await?;
        for row in &ledger {
            let (rule, job, trigger): (String, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            state.ledger.record(&rule, &job, &trigger, row.try_get(3)?);
        }
        let streaks = sqlx::query("SELECT rule, job_id, count FROM streaks WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        for row in &streaks {
            state.streaks.insert((row.try_get(0)?, row.try_get(1)?), row.try_get::<i64, _>(2)? as u32);
        }
        Ok(state)
    }

    async fn commit_poll(&self, c: &PollCommit<'_>) -> Result<Vec<i64>> {
        let mut tx = self.pool.begin().await?;
        let (scope, target) = (c.scope.as_str(), c.target);
        sqlx::query(
            "INSERT INTO targets (scope, target, baseline_ms, last_poll_ms) VALUES ($1, $2, $3, $3)
             ON CONFLICT (scope, target) DO UPDATE SET last_poll_ms = excluded.last_poll_ms",
        )
        .bind(scope)
        .bind(target)
        .bind(c.now_ms)
        .execute(&mut *tx)
        .await?;
        let appended = commit::append_history(&mut tx, c).await?;
        commit::write_snapshot(&mut tx, c, appended, self.fold_min).await?;
        for chunk in c.ledger.chunks(commit::CHUNK) {
            let mut query: QueryBuilder<Any> =
                QueryBuilder::new("INSERT INTO ledger (scope, target, rule, job_id, trig, fired_ms) ");
            query.push_values(chunk, |mut row, record| {
                row.push_bind(scope)
                    .push_bind(target.to_string())
                    .push_bind(record.rule.clone())
                    .push_bind(record.job_id.clone())
                    .push_bind(record.trigger.clone())
                    .push_bind(c.now_ms);
            });
            query.push(" ON CONFLICT (scope, target, rule, job_id, trig) DO NOTHING");
            query.build().execute(&mut *tx).await?;
        }
        commit::write_streaks(&mut tx, c).await?;
        commit::write_checks(&mut tx, c).await?;
        let mut ids = Vec::with_capacity(c.actions.len());
        for planned in &c.actions {
            ids.push(commit::insert_action(&mut tx, c, planned).await?);
        }
        for entry in &c.audit {
            commit::put_audit(&mut *tx, scope, entry).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn due_actions(&self, scope: Scope, now_ms: i64, after_id: i64, limit: u32) -> Result<Vec<Queued>> {
        let rows = sqlx::query(
            "SELECT id, target, payload, attempts, created_ms FROM actions
             WHERE id > $3 AND scope = $1 AND status = 'pending' AND next_attempt_ms <= $2 ORDER BY id LIMIT $4",
        )
        .bind(scope.as_str())
        .bind(now_ms)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Queued {
                    id: row.try_get(0)?,
                    target: row.try_get(1)?,
                    planned: serde_json::from_str::<Planned>(&row.try_get::<String, _>(2)?)?,
                    attempts: row.try_get::<i64, _>(3)? as u32,
                    created_ms: row.try_get(4)?,
                })
            })
            .collect()
    }

    async fn add_settled(&self, entries: &[(i64, String)]) -> Result<()> {
        let mut by_action: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        for (id, key) in entries {
            by_action.entry(*id).or_default().push(key.clone());
        }
        let mut tx = self.pool.begin().await?;
        for (id, keys) in by_action {
            settle_in(&mut tx, id, &keys).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_attempt(&self, id: i64, attempt: &Attempt, now_ms: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (status, next_ms, detail) = match attempt {
            Attempt::Final { outcome, detail } => (outcome.as_str(), now_ms, detail.as_str()),
            Attempt::Retry { next_ms, detail, .. } => ("pending", *next_ms, detail.as_str()),
        };
        sqlx::query(
            "UPDATE actions SET status = $1, next_attempt_ms = $2, detail = $3, updated_ms = $4, attempts = attempts + 1
             WHERE id = $5",
        )
        .bind(status)
        .bind(next_ms)
        .bind(detail)
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Attempt::Retry { progress: Some(settled), .. } = attempt {
            settle_in(&mut tx, id, settled).await?;
        }
        if let Attempt::Final { outcome, detail } = attempt {
            sqlx::query(
                "INSERT INTO audit (at_ms, scope, target, rule, action, job_ids, outcome, detail)
                 SELECT $1, scope, target, rule, kind, job_ids, $2, $3 FROM actions WHERE id = $4",
            )
            .bind(now_ms)
            .bind(outcome.as_str())
            .bind(detail.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn cancel_checks(&self, scope: Scope, target: &str) -> Result<Vec<CancelCheck>> {
        let rows = sqlx::query("SELECT job_id, rule, polls_left FROM cancel_checks WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let polls_left = row.try_get::<i64, _>(2)? as u32;
                Ok(CancelCheck { job_id: row.try_get(0)?, rule: row.try_get(1)?, polls_left })
            })
            .collect()
    }

    async fn add_cancel_check(&self, scope: Scope, target: &str, check: &CancelCheck) -> Result<()> {
        commit::put_check(&self.pool, scope.as_str(), target, check).await
    }

    async fn audit_for_job(&self, scope: Scope, target: &str, job_id: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at_ms, target, rule, action, job_ids, outcome, detail FROM audit
             WHERE scope = $1 AND target = $2 ORDER BY id DESC LIMIT 5000",
        )
        .bind(scope.as_str())
        .bind(target)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let job_ids: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(4)?)?;
            if job_ids.iter().any(|j| j == job_id) {
                let report = ActionReport {
                    target: row.try_get(1)?,
                    rule: row.try_get(2)?,
                    action: row.try_get(3)?,
                    job_ids,
                    outcome: outcome(&row.try_get::<String, _>(5)?)?,
                    detail: row.try_get(6)?,
                };
                out.push(AuditEntry { at_ms: row.try_get(0)?, report });
            }
        }
        Ok(out)
    }

    async fn cancels_since(&self, scope: Scope, target: &str, since_ms: i64) -> Result<u32> {
        // A dry run queues nothing: its cancels are the `planned` lines of its audit trail, so
        // that it meets the hourly limit as the real run would.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM actions WHERE scope = $1 AND target = $2 AND kind = 'cancel'
                     AND created_ms >= $3 AND status IN ('pending', 'done'))
                  + (SELECT COUNT(*) FROM audit WHERE scope = $1 AND target = $2 AND action = 'cancel'
                     AND outcome = 'planned' AND at_ms >= $3)",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? as u32)
    }

    async fn history_since(&self, scope: Scope, target: &str, since_ms: i64) -> Result<Vec<Job>> {
        let mut jobs = self.load_snapshot(scope, target).await?.map(Snapshot::into_jobs).unwrap_or_default();
        let rows = sqlx::query(
            "SELECT job FROM job_history WHERE scope = $1 AND target = $2 AND at_ms >= $3 AND listed = 0 ORDER BY id",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut gone: HashMap<String, Job> = HashMap::new();
        for row in &rows {
            let job = decode_job(row)?;
            gone.insert(job.id.clone(), job);
        }
        for job in &jobs {
            gone.remove(&job.id);
        }
        let mut gone: Vec<Job> = gone.into_values().collect();
        gone.sort_by(|a, b| a.id.cmp(&b.id));
        jobs.extend(gone);
        Ok(jobs)
    }

    async fn sign_in_refusals(&self) -> Result<HashMap<String, History>> {
        sign_ins::load(&self.pool).await
    }

    async fn record_sign_in(&self, account: &str, refusal: Option<&Refusal>) -> Result<()> {
        sign_ins::record(&self.pool, account, refusal).await
    }

    async fn prune(&self, cutoff: &Cutoff) -> Result<u64> {
        prune::run(self, cutoff).await
    }
}

mod commit;
mod file;
mod prune;
mod sign_ins;
mod snapshot;

/// A stored outcome, read back.
fn outcome(text: &str) -> Result<Outcome> {
    Outcome::parse(text).ok_or_else(|| Error::DecodeFailed(format!("unknown outcome `{text}` in the audit trail")))
}

/// Adds `keys` to the parts a pending action has settled (its stored `Planned`).
async fn settle_in(tx: &mut sqlx::Transaction<'_, Any>, id: i64, keys: &[String]) -> Result<()> {
    let row = sqlx::query("SELECT payload FROM actions WHERE id = $1 AND status = 'pending'")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(()) };
    let mut planned: Planned = serde_json::from_str(&row.try_get::<String, _>(0)?)?;
    for key in keys.iter().filter(|k| !planned.settled.contains(k)).collect::<Vec<_>>() {
        planned.settled.push(key.clone());
    }
    sqlx::query("UPDATE actions SET payload = $1 WHERE id = $2")
        .bind(serde_json::to_string(&planned)?)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
