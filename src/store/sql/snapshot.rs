//! A target's snapshot as stored: read back from its packed parts and the history rows after them, and
//! the ledger pruning that needs to know which jobs it still lists.

use super::{decode_job, packed, Result, Scope, SqlStore};
use crate::arcgis::{Job, Listed, ListedBody, Status};
use crate::diff::Snapshot;
use futures_util::TryStreamExt;
use sqlx::Row;
use std::collections::HashSet;
use std::sync::Arc;

/// A snapshot read back, with the (job id, task id) of each of its jobs a scheduled task started.
pub(super) type Loaded = (Snapshot, Vec<(String, String)>);

impl SqlStore {
    /// The last snapshot: its packed parts, completed by the history rows after them. One
    /// statement, so that the parts and the rows they were packed through are of one moment.
    /// When no row follows them, the parts are read in place and their jobs decoded only when one
    /// is first read (`Listed::later`): a fresh process that lists the same body again decodes none.
    pub(super) async fn load_snapshot(&self, scope: Scope, target: &str) -> Result<Option<Loaded>> {
        let mut rows = sqlx::query(
            "SELECT s.packed_through, t.listed_body, p.jobs FROM snapshots s
             LEFT JOIN targets t ON t.scope = s.scope AND t.target = s.target
             LEFT JOIN packed_parts p ON p.scope = s.scope AND p.target = s.target
             WHERE s.scope = $1 AND s.target = $2 ORDER BY p.part",
        )
        .bind(scope.as_str())
        .bind(target)
        .fetch(&self.pool);
        let (mut parts, mut head) = (Vec::new(), None);
        while let Some(row) = rows.try_next().await? {
            if head.is_none() {
                // Unreadable (written by a later version?): the body is scanned, as if not known.
                let body = row.try_get::<Option<String>, _>(1)?.and_then(|text| serde_json::from_str(&text).ok());
                head = Some((row.try_get::<i64, _>(0)?, body));
            }
            parts.extend(row.try_get::<Option<Vec<u8>>, _>(2)?);
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
        if rows.is_empty() {
            return later(parts, body).map(Some);
        }
        let (mut jobs, mut raw) = (Vec::new(), Vec::new());
        for part in &parts {
            let (more, hashes) = packed::unpack(part)?;
            jobs.extend(more);
            raw.extend(hashes);
        }
        let changes = rows.iter().map(|r| Ok((decode_job(r)?, r.try_get::<i64, _>(1)? == 1))).collect::<Result<_>>()?;
        let (jobs, raw) = packed::replay((jobs, raw), changes);
        let tasks =
            jobs.iter().filter_map(|job| Some((job.id.clone(), started_by(&job.task_id)?.to_string()))).collect();
        Ok(Some((crate::diff::stored(jobs, raw, body), tasks)))
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
            Some((snapshot, _)) => snapshot.values().map(|j| j.id.clone()).collect(),
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

/// The task id of a job a scheduled task started (a list with `inputs` gives the others `""`).
fn started_by(task: &Option<String>) -> Option<&str> {
    task.as_deref().filter(|task| !task.is_empty())
}

/// The snapshot of `parts` with no history row after them: each part read in place now (a part
/// `unpack` would refuse is refused here), its jobs decoded when one is first read.
fn later(parts: Vec<Vec<u8>>, body: Option<ListedBody>) -> Result<Loaded> {
    let (mut facts, mut raw, mut tasks, mut counted) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for part in parts {
        let (more, hashes, started) = packed::scan(&part)?;
        counted.push((more.len(), part));
        facts.extend(more);
        raw.extend(hashes);
        tasks.extend(started);
    }
    let listed = Listed::later(raw, Box::new(move || decode(&counted)));
    let snapshot = crate::diff::stored_later(listed.from_body(body), &facts);
    Ok((snapshot, tasks))
}

/// The jobs of parts `scan` has read, each with its count of jobs: it refuses whatever `unpack`
/// does, so none fails here. Should one fail all the same, it is logged, and its jobs stand in
/// their places as jobs of an unknown status and id, so that the snapshot's facts stay true of
/// every other job.
fn decode(parts: &[(usize, Vec<u8>)]) -> Vec<Arc<Job>> {
    let mut jobs = Vec::with_capacity(parts.iter().map(|(count, _)| count).sum());
    for (count, part) in parts {
        match packed::unpack(part) {
            Ok((more, _)) => jobs.extend(more),
            Err(e) => {
                tracing::error!(error = %e, "a stored snapshot's part read before cannot be decoded now");
                jobs.extend((0..*count).map(|_| Arc::new(Job::new(String::new(), Status::Unknown(String::new())))));
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_that_cannot_be_decoded_after_all_keeps_the_other_jobs_in_their_places() {
        let good = packed::pack(&[Arc::new(Job::new("a", Status::Executing))], &[1]).unwrap();
        let jobs = decode(&[(2, vec![9, 0]), (1, good)]);
        let got: Vec<(&str, Status)> = jobs.iter().map(|j| (j.id.as_str(), j.status.clone())).collect();
        let unknown = ("", Status::Unknown(String::new()));
        assert_eq!(got, [unknown.clone(), unknown, ("a", Status::Executing)]);
    }
}
