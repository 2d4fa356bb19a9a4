//! The writes of one poll's transaction: job history, the snapshot, streaks, cancel checks and queued actions.

use super::super::{packed, PollCommit, Result};
use crate::arcgis::Job;
use crate::diff::Snapshot;
use crate::plan::{AuditEntry, CancelCheck, Planned};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

/// Rows per multi-row INSERT.
pub(super) const CHUNK: usize = 200;

/// `($1, …, $columns), (…)`: `rows` rows of numbered placeholders, as both backends read them
/// (sqlx's query builder writes `?` for the `Any` driver, which PostgreSQL does not take).
pub(super) fn placeholders(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let numbers: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
        format!("({})", numbers.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// Inserts the commit's ledger rows; returns the (rule, job id) pairs inserted here, those already
/// recorded (by another process) left out.
pub(super) async fn insert_ledger(
    tx: &mut Transaction<'_, Any>,
    c: &PollCommit<'_>,
) -> Result<std::collections::HashSet<(String, String)>> {
    let mut recorded = std::collections::HashSet::new();
    for chunk in c.ledger.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO ledger (scope, target, rule, job_id, trig, fired_ms) VALUES {}
             ON CONFLICT (scope, target, rule, job_id, trig) DO NOTHING RETURNING rule, job_id",
            placeholders(chunk.len(), 6)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for record in chunk {
            query = query
                .bind(c.scope.as_str())
                .bind(c.target)
                .bind(record.key().into_owned())
                .bind(record.job_id.as_str())
                .bind(record.trigger.to_string())
                .bind(c.now_ms.0);
        }
        for row in query.fetch_all(&mut **tx).await? {
            recorded.insert((row.try_get(0)?, row.try_get(1)?));
        }
    }
    Ok(recorded)
}

/// Appends one history row per job new, changed or gone; returns how many.
pub(super) async fn append_history(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>) -> Result<i64> {
    let rows: Vec<(&Job, bool)> =
        c.upserts.iter().map(|&j| (j, true)).chain(c.gone.iter().map(|j| (j, false))).collect();
    for chunk in rows.chunks(CHUNK) {
        let encoded: Vec<String> = chunk.iter().map(|(j, _)| serde_json::to_string(j)).collect::<Result<_, _>>()?;
        let sql = format!(
            "INSERT INTO job_history (scope, target, at_ms, job_id, job, listed) VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for ((job, listed), json) in chunk.iter().zip(&encoded) {
            query = query
                .bind(c.scope.as_str())
                .bind(c.target)
                .bind(c.now_ms.0)
                .bind(job.id.as_str())
                .bind(json.as_str())
                .bind(i64::from(*listed));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(rows.len() as i64)
}

/// Keeps the target's snapshot row true after `appended` history rows: the first poll packs it,
/// and a poll repacks it once the rows after the packed form outgrow `fold_min` and a quarter of it.
pub(super) async fn write_snapshot(
    tx: &mut Transaction<'_, Any>,
    c: &PollCommit<'_>,
    appended: i64,
    fold_min: i64,
) -> Result<()> {
    let (scope, target) = (c.scope.as_str(), c.target);
    let pending: Option<i64> = sqlx::query("SELECT pending FROM snapshots WHERE scope = $1 AND target = $2")
        .bind(scope)
        .bind(target)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?
        .map(|p: i64| p + appended);
    match (c.snapshot, pending) {
        (Some(snapshot), pending) if pending.is_none_or(|p| p > fold_min.max(snapshot.len() as i64 / 4)) => {
            pack(tx, scope, target, snapshot).await
        }
        (_, Some(pending)) if appended > 0 => {
            sqlx::query("UPDATE snapshots SET pending = $1 WHERE scope = $2 AND target = $3")
                .bind(pending)
                .bind(scope)
                .bind(target)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Jobs in one part of a packed snapshot. Each part is packed, bound and read back on its own
/// (about 100 kB), so that no copy of the whole snapshot is ever made: sqlx copies a bound value
/// twice, and SQLite builds a record of it; reading, SQLite and sqlx each copy a value again.
pub(super) const PART_JOBS: usize = 1024;

/// Stores `snapshot` packed, in parts, as of the last history row: no row after it is pending.
async fn pack(tx: &mut Transaction<'_, Any>, scope: &str, target: &str, snapshot: &Snapshot) -> Result<()> {
    let (jobs, raw) = (snapshot.jobs(), snapshot.raw_hashes());
    let parts = jobs.len().div_ceil(PART_JOBS);
    for part in 0..parts {
        let range = part * PART_JOBS..jobs.len().min((part + 1) * PART_JOBS);
        sqlx::query(
            "INSERT INTO packed_parts (scope, target, part, jobs) VALUES ($1, $2, $3, $4)
             ON CONFLICT (scope, target, part) DO UPDATE SET jobs = excluded.jobs",
        )
        .bind(scope)
        .bind(target)
        .bind(part as i64)
        .bind(packed::pack(&jobs[range.clone()], raw.get(range).unwrap_or_default())?)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("DELETE FROM packed_parts WHERE scope = $1 AND target = $2 AND part >= $3")
        .bind(scope)
        .bind(target)
        .bind(parts as i64)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO snapshots (scope, target, packed_through, pending)
         VALUES ($1, $2, (SELECT COALESCE(MAX(id), 0) FROM job_history), 0)
         ON CONFLICT (scope, target) DO UPDATE SET packed_through = excluded.packed_through, pending = 0",
    )
    .bind(scope)
    .bind(target)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn delete_row(
    tx: &mut Transaction<'_, Any>,
    sql: &'static str,
    scope: &str,
    target: &str,
    key: &str,
) -> Result<()> {
    sqlx::query(sql).bind(scope.to_string()).bind(target.to_string()).bind(key.to_string()).execute(&mut **tx).await?;
    Ok(())
}

pub(super) async fn write_streaks(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>) -> Result<()> {
    let scope = c.scope.as_str();
    for (rule, job, count) in &c.streaks_set {
        sqlx::query(
            "INSERT INTO streaks (scope, target, rule, job_id, count) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope, target, rule, job_id) DO UPDATE SET count = excluded.count",
        )
        .bind(scope)
        .bind(c.target)
        .bind(rule)
        .bind(job)
        .bind(*count as i64)
        .execute(&mut **tx)
        .await?;
    }
    for (rule, job) in &c.streaks_dropped {
        sqlx::query("DELETE FROM streaks WHERE scope = $1 AND target = $2 AND rule = $3 AND job_id = $4")
            .bind(scope)
            .bind(c.target)
            .bind(rule)
            .bind(job)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub(super) async fn write_checks(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>) -> Result<()> {
    let scope = c.scope.as_str();
    for check in &c.checks_set {
        put_check(&mut **tx, scope, c.target, check).await?;
    }
    for job in &c.checks_dropped {
        delete_row(
            tx,
            "DELETE FROM cancel_checks WHERE scope = $1 AND target = $2 AND job_id = $3",
            scope,
            c.target,
            job,
        )
        .await?;
    }
    Ok(())
}

/// Sets the cancel check of a job (replacing any).
pub(super) async fn put_check<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    scope: &str,
    target: &str,
    check: &CancelCheck,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO cancel_checks (scope, target, job_id, rule, polls_left) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, target, job_id) DO UPDATE SET rule = excluded.rule, polls_left = excluded.polls_left",
    )
    .bind(scope)
    .bind(target)
    .bind(&check.job_id)
    .bind(&check.rule)
    .bind(check.polls_left as i64)
    .execute(executor)
    .await?;
    Ok(())
}

/// Writes one audit line.
pub(super) async fn put_audit<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    scope: &str,
    entry: &AuditEntry,
) -> Result<()> {
    let e = &entry.report;
    sqlx::query(
        "INSERT INTO audit (at_ms, scope, target, rule, action, job_ids, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.at.0)
    .bind(scope)
    .bind(&e.target)
    .bind(&e.rule)
    .bind(&e.action)
    .bind(serde_json::to_string(&e.job_ids)?)
    .bind(e.outcome.as_str())
    .bind(&e.detail)
    .execute(executor)
    .await?;
    Ok(())
}

pub(super) async fn insert_action(tx: &mut Transaction<'_, Any>, c: &PollCommit<'_>, planned: &Planned) -> Result<i64> {
    let job_ids: Vec<&str> = planned.jobs.iter().map(|j| j.id.as_str()).collect();
    let (scope, target, now) = (c.scope.as_str(), c.target, c.local_ms.0);
    let row = sqlx::query(
        "INSERT INTO actions (scope, target, rule, kind, job_ids, payload, status, attempts, next_attempt_ms,
                              created_ms, updated_ms, detail)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7, '') RETURNING id",
    )
    .bind(scope)
    .bind(target)
    .bind(&planned.rule)
    .bind(planned.action.kind())
    .bind(serde_json::to_string(&job_ids)?)
    .bind(serde_json::to_string(&planned.stored())?)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}
