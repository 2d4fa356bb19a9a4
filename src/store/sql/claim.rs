//! Claiming queued actions when replicas share the store: due actions of the targets whose
//! leases this replica holds, at the epoch it holds them, locked with `FOR UPDATE SKIP LOCKED`
//! and marked `running` in one transaction, so that no other replica runs them meanwhile.

use super::queued;
use crate::clock::LocalMs;
use crate::plan::Queued;
use crate::store::lease::Leases;
use crate::store::{Result, Scope};
use sqlx::{Any, AssertSqlSafe, Pool};

/// Up to `limit` due actions with ids above `after_id`, claimed for this replica, oldest first.
pub(super) async fn due(
    pool: &Pool<Any>,
    leases: &Leases,
    scope: Scope,
    now: LocalMs,
    after_id: i64,
    limit: u32,
) -> Result<Vec<Queued>> {
    let held = leases.held();
    if held.is_empty() {
        return Ok(Vec::new());
    }
    // $1 now, $2 after, $3 scope, $4 replica, $5 limit, then (target, epoch) pairs.
    let pairs: Vec<String> =
        (0..held.len()).map(|i| format!("(l.target = ${} AND l.epoch = ${})", 6 + 2 * i, 7 + 2 * i)).collect();
    let sql = format!(
        "UPDATE actions SET status = 'running', updated_ms = $1 WHERE id IN (
             SELECT a.id FROM actions a JOIN leases l ON l.target = a.target
             WHERE a.id > $2 AND a.scope = $3 AND a.status = 'pending' AND a.next_attempt_ms <= $1
               AND l.holder = $4 AND ({})
             ORDER BY a.id LIMIT $5 FOR UPDATE OF a SKIP LOCKED)
         RETURNING id, target, payload, attempts, created_ms",
        pairs.join(" OR ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(now.0)
        .bind(after_id)
        .bind(scope.as_str())
        .bind(leases.replica())
        .bind(i64::from(limit));
    for (target, epoch) in &held {
        query = query.bind(target.as_str()).bind(*epoch);
    }
    let mut tx = pool.begin().await?;
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let mut claimed = rows.iter().map(queued).collect::<Result<Vec<_>>>()?;
    claimed.sort_by_key(|q| q.id);
    Ok(claimed)
}
