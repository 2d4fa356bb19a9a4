//! A target's snapshot as stored: read back from its packed parts and the history rows after them, and
//! the ledger pruning that needs to know which jobs it still lists.

use super::{decode_job, packed, Result, Scope, SqlStore};
use crate::diff::Snapshot;
use futures_util::TryStreamExt;
use sqlx::Row;
use std::collections::HashSet;

impl SqlStore {
    /// The last snapshot: its packed parts, completed by the history rows after them. One
    /// statement, so that the parts and the rows they were packed through are of one moment; its
    /// rows (one per part) are unpacked as they come.
    pub(super) async fn load_snapshot(&self, scope: Scope, target: &str) -> Result<Option<Snapshot>> {
        let mut rows = sqlx::query(
            "SELECT s.packed_through, t.listed_body, p.jobs FROM snapshots s
             LEFT JOIN targets t ON t.scope = s.scope AND t.target = s.target
             LEFT JOIN packed_parts p ON p.scope = s.scope AND p.target = s.target
             WHERE s.scope = $1 AND s.target = $2 ORDER BY p.part",
        )
        .bind(scope.as_str())
        .bind(target)
        .fetch(&self.pool);
        let (mut jobs, mut raw, mut head) = (Vec::new(), Vec::new(), None);
        while let Some(row) = rows.try_next().await? {
            if head.is_none() {
                // Unreadable (written by a later version?): the body is scanned, as if not known.
                let body = row.try_get::<Option<String>, _>(1)?.and_then(|text| serde_json::from_str(&text).ok());
                head = Some((row.try_get::<i64, _>(0)?, body));
            }
            if let Some(part) = row.try_get::<Option<&[u8]>, _>(2)? {
                let (more, hashes) = packed::unpack(part)?;
                jobs.extend(more);
                raw.extend(hashes);
            }
        }
        drop(rows);
        let Some((through, body)) = head else { return Ok(None) };
        let rows =
            sqlx::query("SELECT job, listed FROM job_history WHERE id > $1 AND scope = $2 AND target = $3 ORDER BY id")
                .bind(through)
                .bind(scope.as_str())
                .bind(target)
                .fetch_all(&self.pool)
                .await?;
        let changes = rows.iter().map(|r| Ok((decode_job(r)?, r.try_get::<i64, _>(1)? == 1))).collect::<Result<_>>()?;
        let (jobs, raw) = packed::replay((jobs, raw), changes);
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
