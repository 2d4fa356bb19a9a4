//! The store on sqlx's `Any` driver: one code path for an SQLite file (mode 0600, WAL) and a
//! PostgreSQL server, each with its own migrations. One transaction per poll; writes proportional
//! to what changed; with replicas, every write about a target is fenced by its lease.

use super::lease::Leases;
use super::{packed, Cutoff, Error, PollCommit, Result, Scope, Store};
use crate::arcgis::signin::{History, Refusal};
use crate::arcgis::Job;
use crate::clock::{LocalMs, ServerMs};
use crate::cycle::Core;
use crate::plan::{ActionReport, Attempt, AuditEntry, CancelCheck, Outcome, Planned, Queued};
use sqlx::any::AnyRow;
use sqlx::{Any, Pool, Row};
use std::collections::HashMap;
use std::sync::Arc;

/// The SQL store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: Pool<Any>,
    /// History rows after the packed snapshot before it is packed again (and a quarter of it).
    fold_min: i64,
    /// Which server it is.
    backend: Backend,
    /// The leases of this replica, when several share the store: every write about a target
    /// checks in its transaction that this replica still holds the target's lease.
    fence: Option<Arc<Leases>>,
}

/// The database behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

fn decode_job(row: &AnyRow) -> Result<Job> {
    Ok(serde_json::from_str(&row.try_get::<String, _>(0)?)?)
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn load_target(&self, scope: Scope, target: &str) -> Result<Core> {
        let (snapshot, tasks) = self.load_snapshot(scope, target).await?.unzip();
        // The task ids its jobs carry are remembered, as if read again.
        let job_tasks = tasks.unwrap_or_default().into_iter().collect();
        let mut state = Core { snapshot, job_tasks, ..Default::default() };
        let ledger = sqlx::query(
            "SELECT rule, job_id, trig, fired_ms FROM ledger WHERE scope = $1 AND target = $2 ORDER BY fired_ms",
        )
        .bind(scope.as_str())
        .bind(target)
        .fetch_all(&self.pool)
        .await?;
        for row in &ledger {
            let (rule, job, trigger): (String, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let Ok(cause) = trigger.parse::<crate::ledger::Cause>();
            state.ledger.record(&rule, &job, &cause, ServerMs(row.try_get(3)?));
        }
        let streaks = sqlx::query("SELECT rule, job_id, count FROM streaks WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        for row in &streaks {
            state.streaks.insert((row.try_get(0)?, row.try_get(1)?), row.try_get::<i64, _>(2)? as u32);
        }
        state.usual = crate::usual::Usual::from_runs(self.runs(scope, target, ServerMs(i64::MAX)).await?);
        state.tasks = self.tasks(scope, target).await?;
        for (id, item) in self.items(scope, target).await? {
            state.usual.learn_notebook(&id, item);
        }
        Ok(state)
    }

    async fn commit_poll(&self, c: &PollCommit<'_>) -> Result<Vec<i64>> {
        fault::disk()?;
        let mut tx = self.pool.begin().await?;
        self.fence(&mut tx, c.target).await?;
        let (scope, target) = (c.scope.as_str(), c.target);
        // A poll whose body is not known again keeps the one before: it stays true of its jobs.
        let listed_body = c.snapshot.and_then(|s| s.listed_body()).map(|b| serde_json::to_string(&b)).transpose()?;
        sqlx::query(
            "INSERT INTO targets (scope, target, baseline_ms, last_poll_ms, listed_body, notebooks_read_ms)
             VALUES ($1, $2, $3, $3, $4, $5)
             ON CONFLICT (scope, target) DO UPDATE SET last_poll_ms = excluded.last_poll_ms,
             listed_body = COALESCE(excluded.listed_body, targets.listed_body),
             notebooks_read_ms = COALESCE(excluded.notebooks_read_ms, targets.notebooks_read_ms)",
        )
        .bind(scope)
        .bind(target)
        .bind(c.now_ms.0)
        .bind(listed_body)
        .bind(c.notebooks.as_ref().map(|_| c.now_ms.0))
        .execute(&mut *tx)
        .await?;
        let appended = commit::append_history(&mut tx, c).await?;
        commit::write_snapshot(&mut tx, c, appended, self.fold_min).await?;
        runs::insert(&mut tx, c).await?;
        let recorded = commit::insert_ledger(&mut tx, c).await?;
        commit::write_streaks(&mut tx, c).await?;
        commit::write_checks(&mut tx, c).await?;
        tasks::write(&mut tx, c).await?;
        notebooks::write(&mut tx, c).await?;
        let mut ids = Vec::with_capacity(c.actions.len());
        for planned in &c.actions {
            // Only what this commit recorded first: another process that recorded a firing
            // before queued its actions already.
            let mut planned = planned.clone();
            if planned.keep_recorded(&recorded) {
                ids.push(commit::insert_action(&mut tx, c, &planned).await?);
            }
        }
        for entry in &c.audit {
            commit::put_audit(&mut *tx, scope, entry).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn due_actions(&self, scope: Scope, now: LocalMs, after_id: i64, limit: u32) -> Result<Vec<Queued>> {
        if let Some(leases) = &self.fence {
            return claim::due(&self.pool, leases, scope, now, after_id, limit).await;
        }
        let rows = sqlx::query(
            "SELECT id, target, payload, attempts, created_ms FROM actions
             WHERE id > $3 AND scope = $1 AND status = 'pending' AND next_attempt_ms <= $2 ORDER BY id LIMIT $4",
        )
        .bind(scope.as_str())
        .bind(now.0)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queued).collect()
    }

    async fn add_settled(&self, entries: &[(i64, String)]) -> Result<()> {
        fault::disk()?;
        let mut by_action: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        for (id, key) in entries {
            by_action.entry(*id).or_default().push(key.clone());
        }
        let mut tx = self.pool.begin().await?;
        for (id, keys) in by_action {
            self.fence_action(&mut tx, id).await?;
            settle_in(&mut tx, id, &keys).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_attempt(&self, id: i64, attempt: &Attempt, now: LocalMs) -> Result<()> {
        fault::disk()?;
        let mut tx = self.pool.begin().await?;
        self.fence_action(&mut tx, id).await?;
        let (status, next_ms, detail) = match attempt {
            Attempt::Final { outcome, detail } => (outcome.as_str(), now, detail.as_str()),
            Attempt::Retry { next, detail, .. } => ("pending", *next, detail.as_str()),
        };
        sqlx::query(
            "UPDATE actions SET status = $1, next_attempt_ms = $2, detail = $3, updated_ms = $4, attempts = attempts + 1
             WHERE id = $5",
        )
        .bind(status)
        .bind(next_ms.0)
        .bind(detail)
        .bind(now.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Attempt::Retry { progress: Some(settled), .. } = attempt {
            settle_in(&mut tx, id, settled).await?;
        }
        if let Attempt::Final { outcome, detail } = attempt {
            sqlx::query(
                "INSERT INTO audit (at_ms, scope, target, rule, action, job_ids, outcome, detail)
                 SELECT $1, scope, target, rule, kind, job_ids, $2, $3 FROM actions WHERE id = $4",
            )
            .bind(now.0)
            .bind(outcome.as_str())
            .bind(detail.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn cancel_checks(&self, scope: Scope, target: &str) -> Result<Vec<CancelCheck>> {
        let rows = sqlx::query("SELECT job_id, rule, polls_left FROM cancel_checks WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let polls_left = row.try_get::<i64, _>(2)? as u32;
                Ok(CancelCheck { job_id: row.try_get(0)?, rule: row.try_get(1)?, polls_left })
            })
            .collect()
    }

    async fn add_cancel_check(&self, scope: Scope, target: &str, check: &CancelCheck) -> Result<()> {
        fault::disk()?;
        let mut tx = self.pool.begin().await?;
        self.fence(&mut tx, target).await?;
        commit::put_check(&mut *tx, scope.as_str(), target, check).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_for_job(&self, scope: Scope, target: &str, job_id: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at_ms, target, rule, action, job_ids, outcome, detail FROM audit
             WHERE scope = $1 AND target = $2 ORDER BY id DESC LIMIT 5000",
        )
        .bind(scope.as_str())
        .bind(target)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let job_ids: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(4)?)?;
            if job_ids.iter().any(|j| j == job_id) {
                let outcome = outcome(&row.try_get::<String, _>(5)?)?;
                let report = ActionReport {
                    target: row.try_get(1)?,
                    rule: row.try_get(2)?,
                    action: row.try_get(3)?,
                    job_ids,
                    outcome,
                    detail: row.try_get(6)?,
                    // Acting, only shadow rules plan without queuing.
                    shadow: scope == Scope::Real && outcome == Outcome::Planned,
                };
                out.push(AuditEntry { at: LocalMs(row.try_get(0)?), report });
            }
        }
        Ok(out)
    }

    async fn cancels_since(&self, scope: Scope, target: &str, since: LocalMs, planned: bool) -> Result<u32> {
        self.destructive_since("cancel", (scope, target), since, planned).await
    }

    async fn closes_since(&self, scope: Scope, target: &str, since: LocalMs, planned: bool) -> Result<u32> {
        self.destructive_since("close_notebook", (scope, target), since, planned).await
    }

    async fn history_since(&self, scope: Scope, target: &str, since: ServerMs) -> Result<Vec<Job>> {
        let mut jobs: Vec<Job> =
            self.load_snapshot(scope, target).await?.map(|(s, _)| s.values().cloned().collect()).unwrap_or_default();
        let rows = sqlx::query(
            "SELECT job FROM job_history WHERE scope = $1 AND target = $2 AND at_ms >= $3 AND listed = 0 ORDER BY id",
        )
        .bind(scope.as_str())
        .bind(target)
        .bind(since.0)
        .fetch_all(&self.pool)
        .await?;
        let mut gone: HashMap<String, Job> = HashMap::new();
        for row in &rows {
            let job = decode_job(row)?;
            gone.insert(job.id.clone(), job);
        }
        for job in &jobs {
            gone.remove(&job.id);
        }
        let mut gone: Vec<Job> = gone.into_values().collect();
        gone.sort_by(|a, b| a.id.cmp(&b.id));
        jobs.extend(gone);
        Ok(jobs)
    }

    async fn sign_in_refusals(&self) -> Result<HashMap<String, History>> {
        sign_ins::load(&self.pool).await
    }

    async fn record_sign_in(&self, account: &str, refusal: Option<&Refusal>) -> Result<()> {
        fault::disk()?;
        sign_ins::record(&self.pool, account, refusal).await
    }

    async fn prune(&self, cutoff: &Cutoff) -> Result<u64> {
        fault::disk()?;
        prune::run(self, cutoff).await
    }

    async fn save_items(&self, scope: Scope, target: &str, items: &[(String, crate::arcgis::Item)]) -> Result<()> {
        self.save_items_sql(scope, target, items).await
    }

    async fn silences(&self, since: LocalMs) -> Result<Vec<crate::silence::Silence>> {
        SqlStore::silences(self, since).await
    }

    async fn activity(&self, scope: Scope, target: &str, since: LocalMs) -> Result<Vec<crate::activity::Slot>> {
        activity::read(&self.pool, scope, target, since).await
    }

    async fn save_activity(
        &self,
        scope: Scope,
        target: &str,
        slot: &crate::activity::Slot,
        drop_before: LocalMs,
    ) -> Result<()> {
        fault::disk()?;
        activity::save(&self.pool, scope, target, slot, drop_before).await
    }
}

impl SqlStore {
    /// Actions of `kind` of a target since `since`: queued or done, or (`planned`) only planned.
    async fn destructive_since(
        &self,
        kind: &str,
        (scope, target): (Scope, &str),
        since: LocalMs,
        planned: bool,
    ) -> Result<u32> {
        // A dry run and a shadow rule queue nothing: their cancels are the `planned` lines of the
        // audit trail, so that they meet the hourly limit as acting would.
        let sql = match planned {
            false => {
                "SELECT COUNT(*) FROM actions WHERE scope = $1 AND target = $2 AND kind = $4
                 AND created_ms >= $3 AND status IN ('pending', 'running', 'done')"
            }
            true => {
                "SELECT COUNT(*) FROM audit WHERE scope = $1 AND target = $2 AND action = $4
                 AND outcome = 'planned' AND at_ms >= $3"
            }
        };
        let query = sqlx::query(sql).bind(scope.as_str()).bind(target).bind(since.0).bind(kind);
        let row = query.fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)? as u32)
    }

    /// Fails unless this replica may write about `target` (always, without replicas).
    async fn fence(&self, tx: &mut sqlx::Transaction<'_, Any>, target: &str) -> Result<()> {
        match &self.fence {
            Some(leases) => leases.fence(tx, target).await,
            None => Ok(()),
        }
    }

    /// The fence of the target of queued action `id`.
    async fn fence_action(&self, tx: &mut sqlx::Transaction<'_, Any>, id: i64) -> Result<()> {
        if self.fence.is_none() {
            return Ok(());
        }
        let row = sqlx::query("SELECT target FROM actions WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
        match row {
            Some(row) => self.fence(tx, &row.try_get::<String, _>(0)?).await,
            None => Ok(()),
        }
    }
}

/// A queued action read back (`id, target, payload, attempts, created_ms`).
fn queued(row: &AnyRow) -> Result<Queued> {
    Ok(Queued {
        id: row.try_get(0)?,
        target: row.try_get(1)?,
        planned: serde_json::from_str::<Planned>(&row.try_get::<String, _>(2)?)?,
        attempts: row.try_get::<i64, _>(3)? as u32,
        created: LocalMs(row.try_get(4)?),
    })
}

mod activity;
mod claim;
mod commit;
mod fault;
mod file;
pub use file::StateLock;
mod history;
mod items;
mod notebooks;
mod silences;
pub use history::{Change, Fired};
mod open;
mod prune;
mod runs;
mod sign_ins;
mod snapshot;
mod tasks;
pub use tasks::RUNS_KEPT as TASK_RUNS_KEPT;

/// A stored outcome, read back.
fn outcome(text: &str) -> Result<Outcome> {
    Outcome::parse(text).ok_or_else(|| Error::DecodeFailed(format!("unknown outcome `{text}` in the audit trail")))
}

/// Adds `keys` to the parts a pending action has settled (its stored `Planned`).
async fn settle_in(tx: &mut sqlx::Transaction<'_, Any>, id: i64, keys: &[String]) -> Result<()> {
    let row = sqlx::query("SELECT payload FROM actions WHERE id = $1 AND status IN ('pending', 'running')")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(()) };
    let mut planned: Planned = serde_json::from_str(&row.try_get::<String, _>(0)?)?;
    for key in keys.iter().filter(|k| !planned.settled.contains(k)).collect::<Vec<_>>() {
        planned.settled.push(key.clone());
    }
    sqlx::query("UPDATE actions SET payload = $1 WHERE id = $2")
        .bind(serde_json::to_string(&planned)?)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
