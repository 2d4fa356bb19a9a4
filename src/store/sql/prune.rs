//! Pruning by `state.retention`, each column on its own clock (see `Cutoff`). A job's ledger
//! entries go together, once its newest firing is older than the cut and it is no longer listed:
//! the rule the daemon's in-memory ledger follows too. History rows go once older than the cut and
//! folded into their target's packed snapshot (the rows after it are part of the snapshot).

use super::SqlStore;
use crate::store::{Cutoff, Error, Result, Scope};
use sqlx::{Any, Pool, Row};

const HISTORY: &str = "DELETE FROM job_history WHERE scope = $1 AND target = $2 AND at_ms < $3
    AND id <= COALESCE((SELECT packed_through FROM snapshots s WHERE s.scope = $1 AND s.target = $2), $4)";

/// Prunes ledger, history, audit and finished actions; returns the rows removed.
pub(super) async fn run(store: &SqlStore, cutoff: &Cutoff) -> Result<u64> {
    let pool = &store.pool;
    let mut removed = 0;
    for (scope, target) in targets(pool).await? {
        let before = cutoff.of(&target);
        removed += store.prune_ledger(scope, &target, before).await?;
        removed += sqlx::query(HISTORY)
            .bind(scope.as_str())
            .bind(&target)
            .bind(before.0)
            .bind(i64::MAX)
            .execute(pool)
            .await?
            .rows_affected();
    }
    for sql in
        ["DELETE FROM audit WHERE at_ms < $1", "DELETE FROM actions WHERE status <> 'pending' AND updated_ms < $1"]
    {
        removed += sqlx::query(sql).bind(cutoff.local.0).execute(pool).await?.rows_affected();
    }
    // Notebook reads are on the servers' clocks; a cut on this machine's is near enough for them.
    let notebooks = super::notebooks::prune(store, crate::clock::ServerMs(cutoff.local.0)).await?;
    Ok(removed + super::runs::prune(store).await? + super::tasks::prune(store).await? + notebooks)
}

/// Every `(scope, target)` with a ledger or a history (every commit writes its `targets` row).
async fn targets(pool: &Pool<Any>) -> Result<Vec<(Scope, String)>> {
    let rows =
        sqlx::query("SELECT scope, target FROM targets UNION SELECT scope, target FROM ledger").fetch_all(pool).await?;
    let mut targets = Vec::with_capacity(rows.len());
    for row in &rows {
        let scope: String = row.try_get(0)?;
        let scope = Scope::parse(&scope).ok_or_else(|| Error::DecodeFailed(format!("unknown scope `{scope}`")))?;
        targets.push((scope, row.try_get(1)?));
    }
    Ok(targets)
}
