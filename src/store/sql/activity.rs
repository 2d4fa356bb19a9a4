//! The status page's activity in the state store, on both backends: one row per target and
//! 10-minute slot, written when a poll changes the slot, so that a restart keeps the chart.

use crate::activity::Slot;
use crate::clock::LocalMs;
use crate::store::{Result, Scope};
use sqlx::{Any, Pool, Row};

/// The slots of `target` that started at `since` or later, oldest first.
pub(super) async fn read(pool: &Pool<Any>, scope: Scope, target: &str, since: LocalMs) -> Result<Vec<Slot>> {
    let rows = sqlx::query(
        "SELECT start_ms, running, failures FROM activity WHERE scope = $1 AND target = $2 AND start_ms >= $3 ORDER BY start_ms",
    )
    .bind(scope.as_str())
    .bind(target)
    .bind(since.0)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Slot {
                start_ms: LocalMs(row.try_get(0)?),
                running: usize::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
                failures: u32::try_from(row.try_get::<i64, _>(2)?).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// Keeps `slot` (replacing the row of its start) and drops the slots before `drop_before`.
pub(super) async fn save(
    pool: &Pool<Any>,
    scope: Scope,
    target: &str,
    slot: &Slot,
    drop_before: LocalMs,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO activity (scope, target, start_ms, running, failures) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, target, start_ms) DO UPDATE SET running = excluded.running, failures = excluded.failures",
    )
    .bind(scope.as_str())
    .bind(target)
    .bind(slot.start_ms.0)
    .bind(i64::try_from(slot.running).unwrap_or(i64::MAX))
    .bind(i64::from(slot.failures))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM activity WHERE scope = $1 AND target = $2 AND start_ms < $3")
        .bind(scope.as_str())
        .bind(target)
        .bind(drop_before.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
