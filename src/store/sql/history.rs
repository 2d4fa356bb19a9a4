//! Reading the recorded history back for `backtest`: every change a poll saw, in order, and the
//! firings the live rules recorded in a window.

use super::{decode_job, Result, Scope, SqlStore};
use crate::arcgis::Job;
use crate::clock::{LocalMs, ServerMs};
use sqlx::Row;

/// One recorded change: when the poll saw it (the server's clock), the job as then listed, and
/// whether it was still listed (`false`: gone, with its final status).
#[derive(Debug, Clone)]
pub struct Change {
    /// When.
    pub at_ms: ServerMs,
    /// The job.
    pub job: Job,
    /// Listed by that poll.
    pub listed: bool,
}

/// One firing the live rules recorded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fired {
    /// The rule.
    pub rule: String,
    /// Of a `mode: shadow` rule.
    pub shadow: bool,
    /// The job (`*` for a digest slot).
    pub job_id: String,
    /// The trigger.
    pub trigger: crate::ledger::Cause,
}

impl SqlStore {
    /// The changes recorded for `target` up to `until`, in the order they were seen.
    pub async fn changes(&self, scope: Scope, target: &str, until: ServerMs) -> Result<Vec<Change>> {
        let rows = sqlx::query(
            "SELECT job, listed, at_ms FROM job_history WHERE scope = $1 AND target = $2 AND at_ms <= $3 ORDER BY id",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(until.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let (listed, at_ms) = (row.try_get::<i64, _>(1)? == 1, ServerMs(row.try_get(2)?));
                Ok(Change { job: decode_job(row)?, listed, at_ms })
            })
            .collect()
    }

    /// The firings recorded for `target` in `[since, until]`.
    pub async fn fired_between(
        &self,
        scope: Scope,
        target: &str,
        (since, until): (ServerMs, ServerMs),
    ) -> Result<Vec<Fired>> {
        let rows = sqlx::query(
            "SELECT rule, job_id, trig FROM ledger WHERE scope = $1 AND target = $2 AND fired_ms >= $3 AND fired_ms <= $4",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(since.0)
        .bind(until.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get(0)?;
                let (rule, shadow) = crate::ledger::parse_key(&key);
                let Ok(trigger) = row.try_get::<String, _>(2)?.parse();
                Ok(Fired { rule: rule.into(), shadow, job_id: row.try_get(1)?, trigger })
            })
            .collect()
    }

    /// When the target was first polled (its baseline) and last polled, if ever.
    pub async fn polled(&self, scope: Scope, target: &str) -> Result<Option<(ServerMs, ServerMs)>> {
        let row = sqlx::query("SELECT baseline_ms, last_poll_ms FROM targets WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Ok::<_, sqlx::Error>((ServerMs(r.try_get(0)?), ServerMs(r.try_get(1)?)))).transpose()?)
    }

    /// The (target, job id) pairs nbwarden cancelled (a cancel action done) in `[since, until]`.
    /// The open notebooks nbwarden closed within `(since, until]`: (target, owner, runtime), from
    /// the done `close_notebook` actions and the notebook each carried.
    pub async fn closed_between(
        &self,
        scope: Scope,
        (since, until): (LocalMs, LocalMs),
    ) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT target, payload FROM actions WHERE scope = $1 AND kind = 'close_notebook' AND status = 'done'
             AND updated_ms > $2 AND updated_ms <= $3",
        )
        .bind(scope.as_str())
        .bind(since.0)
        .bind(until.0)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let target: String = row.try_get(0)?;
            let planned: crate::plan::Planned = serde_json::from_str(&row.try_get::<String, _>(1)?)?;
            for notebook in planned.jobs.iter().filter_map(|j| j.session()) {
                let runtime = notebook.runtime.clone().unwrap_or_else(|| "(unknown)".into());
                out.push((target.clone(), notebook.username.clone(), runtime));
            }
        }
        Ok(out)
    }

    pub async fn cancelled_between(
        &self,
        scope: Scope,
        (since, until): (LocalMs, LocalMs),
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT target, job_ids FROM audit WHERE scope = $1 AND action = 'cancel' AND outcome = 'done'
             AND at_ms >= $2 AND at_ms <= $3",
        )
        .bind(scope.as_str())
        .bind(since.0)
        .bind(until.0)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let target: String = row.try_get(0)?;
            let jobs: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(1)?)?;
            out.extend(jobs.into_iter().map(|job| (target.clone(), job)));
        }
        Ok(out)
    }
}
