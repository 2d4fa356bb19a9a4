//! The scheduled tasks of targets with `tasks:`: each read's changes written in its transaction
//! (the read's time, the tasks changed or gone, the runs read), the tasks read back when a target
//! is loaded, and the newest `RUNS_KEPT` runs of each task kept.

use super::SqlStore;
use crate::arcgis::tasks::TaskRun;
use crate::clock::ServerMs;
use crate::store::{PollCommit, Result, Scope};
use crate::task_diff::Seen;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;

/// Runs kept per task.
pub const RUNS_KEPT: i64 = 100;

/// Writes a task read's changes, when the commit carries one.
pub(super) async fn write(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>) -> Result<()> {
    let Some(read) = &c.tasks else { return Ok(()) };
    let (scope, target) = (c.scope.as_str(), c.target);
    sqlx::query(
        "INSERT INTO task_reads (scope, target, read_ms) VALUES ($1, $2, $3)
         ON CONFLICT (scope, target) DO UPDATE SET read_ms = excluded.read_ms",
    )
    .bind(scope)
    .bind(target)
    .bind(c.now_ms.0)
    .execute(&mut **tx)
    .await?;
    for seen in &read.changed {
        sqlx::query(
            "INSERT INTO tasks (scope, target, task_id, seen) VALUES ($1, $2, $3, $4)
             ON CONFLICT (scope, target, task_id) DO UPDATE SET seen = excluded.seen",
        )
        .bind(scope)
        .bind(target)
        .bind(seen.task.id.as_str())
        .bind(serde_json::to_string(seen)?)
        .execute(&mut **tx)
        .await?;
    }
    for id in &read.removed {
        sqlx::query("DELETE FROM tasks WHERE scope = $1 AND target = $2 AND task_id = $3")
            .bind(scope)
            .bind(target)
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
    }
    for (task_id, run) in &read.runs {
        write_run(tx, c, task_id, run).await?;
    }
    Ok(())
}

async fn write_run(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>, task_id: &str, run: &TaskRun) -> Result<()> {
    sqlx::query(
        "INSERT INTO task_runs (scope, target, task_id, run_id, status, created_ms, modified_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (scope, target, task_id, run_id)
         DO UPDATE SET status = excluded.status, modified_ms = excluded.modified_ms",
    )
    .bind(c.scope.as_str())
    .bind(c.target)
    .bind(task_id)
    .bind(run.id.as_str())
    .bind(run.status.as_str())
    .bind(run.created_ms.map(|at| at.0))
    .bind(run.modified_ms.map(|at| at.0))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// The target's tasks as last read; `None` before its first read (the next is a baseline).
    pub async fn tasks(&self, scope: Scope, target: &str) -> Result<Option<BTreeMap<String, Seen>>> {
        if self.tasks_read_ms(scope, target).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT seen FROM tasks WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        let mut tasks = BTreeMap::new();
        for row in &rows {
            let seen: Seen = serde_json::from_str(&row.try_get::<String, _>(0)?)?;
            tasks.insert(seen.task.id.clone(), seen);
        }
        Ok(Some(tasks))
    }

    /// When the target's tasks were last read (the server's clock), if ever.
    pub async fn tasks_read_ms(&self, scope: Scope, target: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT read_ms FROM task_reads WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The stored runs of one task, oldest first.
    pub async fn task_runs(&self, scope: Scope, target: &str, task_id: &str) -> Result<Vec<TaskRun>> {
        let rows = sqlx::query(
            "SELECT run_id, status, created_ms, modified_ms FROM task_runs
             WHERE scope = $1 AND target = $2 AND task_id = $3 ORDER BY created_ms, run_id",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(task_id)
        .fetch_all(&self.pool)
        .await?;
        let run = |row: &sqlx::any::AnyRow| -> Result<TaskRun> {
            Ok(TaskRun {
                id: row.try_get(0)?,
                status: row.try_get(1)?,
                created_ms: row.try_get::<Option<i64>, _>(2)?.map(ServerMs),
                modified_ms: row.try_get::<Option<i64>, _>(3)?.map(ServerMs),
            })
        };
        rows.iter().map(run).collect()
    }
}

/// Drops the runs of each task beyond its newest `RUNS_KEPT`; returns how many.
pub(super) async fn prune(store: &SqlStore) -> Result<u64> {
    let sql = "DELETE FROM task_runs WHERE (SELECT COUNT(*) FROM task_runs n WHERE n.scope = task_runs.scope
        AND n.target = task_runs.target AND n.task_id = task_runs.task_id
        AND n.created_ms > task_runs.created_ms) >= $1";
    Ok(sqlx::query(sql).bind(RUNS_KEPT).execute(&store.pool).await?.rows_affected())
}
