//! The recorded reads of the open notebooks: a read that differs from the one before is written
//! whole in its commit's transaction (writes proportional to change: a quiet site writes nothing
//! more than the time of its last read, on the target's row), read back by `backtest`, and pruned
//! with the history.

use super::SqlStore;
use crate::arcgis::notebooks::OpenNotebook;
use crate::clock::ServerMs;
use crate::store::{NotebooksRecord, PollCommit, Result, Scope};
use sqlx::{Any, Row, Transaction};

/// Writes the read the commit carries, when it carries one.
pub(super) async fn write(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>) -> Result<()> {
    let Some(NotebooksRecord::Changed(notebooks)) = &c.notebooks else { return Ok(()) };
    sqlx::query(
        "INSERT INTO notebook_reads (scope, target, at_ms, notebooks) VALUES ($1, $2, $3, $4)
         ON CONFLICT (scope, target, at_ms) DO UPDATE SET notebooks = excluded.notebooks",
    )
    .bind(c.scope.as_str())
    .bind(c.target)
    .bind(c.now_ms.0)
    .bind(serde_json::to_string(notebooks)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// When the open notebooks of `target` were last read (a commit's time; `None`: never, or
    /// only before the store kept it).
    pub async fn notebooks_read(&self, scope: Scope, target: &str) -> Result<Option<ServerMs>> {
        let row = sqlx::query("SELECT notebooks_read_ms FROM targets WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()?.flatten().map(ServerMs))
    }

    /// The recorded reads of `target` within `(since, until]`, oldest first, with the last one
    /// before `since` (what stood at `since`).
    pub async fn notebook_reads(
        &self,
        scope: Scope,
        target: &str,
        (since, until): (ServerMs, ServerMs),
    ) -> Result<Vec<(ServerMs, Vec<OpenNotebook>)>> {
        let rows = sqlx::query(
            "SELECT at_ms, notebooks FROM notebook_reads WHERE scope = $1 AND target = $2 AND at_ms <= $4
             AND at_ms >= COALESCE((SELECT MAX(at_ms) FROM notebook_reads
                 WHERE scope = $1 AND target = $2 AND at_ms <= $3), $3)
             ORDER BY at_ms",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(since.0)
        .bind(until.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((ServerMs(row.try_get(0)?), serde_json::from_str(&row.try_get::<String, _>(1)?)?)))
            .collect()
    }
}

/// Drops the reads older than `before`, except the last one of each target (what stands now).
pub(super) async fn prune(store: &SqlStore, before: ServerMs) -> Result<u64> {
    let sql = "DELETE FROM notebook_reads WHERE at_ms < $1 AND at_ms < (SELECT MAX(n.at_ms) FROM notebook_reads n
        WHERE n.scope = notebook_reads.scope AND n.target = notebook_reads.target)";
    Ok(sqlx::query(sql).bind(before.0).execute(&store.pool).await?.rows_affected())
}
