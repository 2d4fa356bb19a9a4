//! The completed runs of each notebook item (`runtime_over_usual`): written with the poll that saw
//! them complete, read back when a target is loaded, the newest `MAX_WINDOW` per item kept.

use super::commit::{placeholders, CHUNK};
use super::SqlStore;
use crate::store::{PollCommit, Result, Scope};
use crate::usual::{Run, MAX_WINDOW};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

/// Appends the runs of one poll (a run already stored is kept as it is).
pub(super) async fn insert(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>) -> Result<()> {
    for chunk in c.runs.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO runs (scope, target, job_id, item_id, ended_ms, runtime_ms) VALUES {}
             ON CONFLICT (scope, target, job_id) DO NOTHING",
            placeholders(chunk.len(), 6)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for run in chunk {
            query = query
                .bind(c.scope.as_str())
                .bind(c.target)
                .bind(run.job_id.as_str())
                .bind(run.item_id.as_str())
                .bind(run.ended_ms.0)
                .bind(run.runtime_ms);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

impl SqlStore {
    /// The stored runs of a target's items that ended before `before`, oldest first.
    pub async fn runs(&self, scope: Scope, target: &str, before: crate::clock::ServerMs) -> Result<Vec<Run>> {
        let rows = sqlx::query(
            "SELECT item_id, job_id, ended_ms, runtime_ms FROM runs
             WHERE scope = $1 AND target = $2 AND ended_ms < $3 ORDER BY ended_ms, job_id",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(before.0)
        .fetch_all(&self.pool)
        .await?;
        let run = |row: &sqlx::any::AnyRow| -> Result<Run> {
            Ok(Run {
                item_id: row.try_get(0)?,
                job_id: row.try_get(1)?,
                ended_ms: crate::clock::ServerMs(row.try_get(2)?),
                runtime_ms: row.try_get(3)?,
            })
        };
        rows.iter().map(run).collect()
    }
}

/// Drops the runs of each item beyond its newest `MAX_WINDOW`; returns how many.
pub(super) async fn prune(store: &SqlStore) -> Result<u64> {
    let sql = "DELETE FROM runs WHERE (SELECT COUNT(*) FROM runs n WHERE n.scope = runs.scope
        AND n.target = runs.target AND n.item_id = runs.item_id AND n.ended_ms > runs.ended_ms) >= $1";
    Ok(sqlx::query(sql).bind(i64::from(MAX_WINDOW)).execute(&store.pool).await?.rows_affected())
}
