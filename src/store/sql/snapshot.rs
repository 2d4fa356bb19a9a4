//! A target's snapshot as stored: read back from its packed row and the history rows after it, and
//! the ledger pruning that needs to know which jobs it still lists.

use super::{decode_job, packed, Result, Scope, SqlStore};
use crate::diff::Snapshot;
use sqlx::Row;
use std::collections::HashSet;

impl SqlStore {
    /// The last snapshot: the packed row, completed by the history rows after it.
    pub(super) async fn load_snapshot(&self, scope: Scope, target: &str) -> Result<Option<Snapshot>> {
        let row = sqlx::query(
            "SELECT p.jobs, s.packed_through, t.listed_body FROM snapshots s
             JOIN packed_jobs p ON p.scope = s.scope AND p.target = s.target
             LEFT JOIN targets t ON t.scope = s.scope AND t.target = s.target WHERE s.scope = $1 AND s.target = $2",
        )
        .bind(scope.as_str())
        .bind(target)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let base = packed::unpack(&row.try_get::<Vec<u8>, _>(0)?)?;
        let through: i64 = row.try_get(1)?;
        // Unreadable (written by a later version?): the body is scanned, as if not known.
        let body = row.try_get::<Option<String>, _>(2)?.and_then(|text| serde_json::from_str(&text).ok());
        drop(row);
        let rows =
            sqlx::query("SELECT job, listed FROM job_history WHERE id > $1 AND scope = $2 AND target = $3 ORDER BY id")
                .bind(through)
                .bind(scope.as_str())
                .bind(target)
                .fetch_all(&self.pool)
                .await?;
        let changes = rows.iter().map(|r| Ok((decode_job(r)?, r.try_get::<i64, _>(1)? == 1))).collect::<Result<_>>()?;
        let (jobs, raw) = packed::replay(base, changes);
        Ok(Some(crate::diff::stored(jobs, raw, body)))
    }

    /// Forgets ledger entries whose job is no longer listed and fired last before the cut.
    pub(super) async fn prune_ledger(&self, scope: Scope, target: &str, before: crate::clock::ServerMs) -> Result<u64> {
        let stale = sqlx::query(
            "SELECT job_id FROM ledger WHERE scope = $1 AND target = $2 GROUP BY job_id HAVING MAX(fired_ms) < $3",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(before.0)
        .fetch_all(&self.pool)
        .await?;
        if stale.is_empty() {
            return Ok(0);
        }
        let listed: HashSet<String> = match self.load_snapshot(scope, target).await? {
            Some(snapshot) => snapshot.values().map(|j| j.id.clone()).collect(),
            None => HashSet::new(),
        };
        let mut removed = 0;
        let mut tx = self.pool.begin().await?;
        for row in &stale {
            let job: String = row.try_get(0)?;
            if !listed.contains(&job) {
                removed += sqlx::query("DELETE FROM ledger WHERE scope = $1 AND target = $2 AND job_id = $3")
                    .bind(scope.as_str())
                    .bind(target)
                    .bind(job)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
        }
        tx.commit().await?;
        Ok(removed)
    }
}
