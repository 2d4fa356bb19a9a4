//! Leases of targets among replicas sharing a PostgreSQL store (SPEC §4.12): one row per target
//! (holder, epoch, expiry on the database's clock) and a heartbeat per replica. A replica renews
//! what it holds every `ttl/3`, takes a lease only once it has expired (epoch + 1, and the target's
//! claimed actions back to the queue), holds at most ceil(targets / live replicas), and gives one
//! back when that falls, but never while an action of that target runs here (its new holder would
//! do again the part in flight). It acts on a target only while its own monotonic clock says the
//! lease is still valid; every write about the target checks the epoch in its transaction (the
//! fence).

use super::{Error, Result};
use crate::telemetry::{LEASE_HELD, LEASE_TAKEOVERS};
use sqlx::{Any, Pool, Row, Transaction};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Now on the database's clock, epoch ms: every replica compares expiries on the same clock.
macro_rules! db_now {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
    };
}

/// A replica silent this long leaves the table of replicas (it stopped counting as live after
/// one ttl already).
const FORGOTTEN_AFTER_MS: i64 = 3_600_000;

/// A lease held here.
#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: i64,
    /// Until when this replica acts on it: the last renewal's start plus 5/6 of the ttl.
    valid_until: Instant,
}

/// One target's lease as the database has it (`/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    /// The target.
    pub target: String,
    /// The replica holding it, if any.
    pub holder: Option<String>,
    /// Raised at every takeover.
    pub epoch: i64,
    /// Whether this replica holds it.
    pub held_here: bool,
}

/// This replica's leases.
#[derive(Debug)]
pub struct Leases {
    pool: Pool<Any>,
    replica: String,
    ttl: Duration,
    held: Mutex<BTreeMap<String, Held>>,
    /// How many actions of each target run here now.
    busy: Mutex<HashMap<String, usize>>,
}

/// An action of a target running here: while it lives, the target's lease is not given back to
/// spread the targets.
#[derive(Debug)]
pub struct Busy {
    leases: Arc<Leases>,
    target: String,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut busy = self.leases.busy.lock().expect("busy");
        if let Some(count) = busy.get_mut(&self.target) {
            *count -= 1;
            if *count == 0 {
                busy.remove(&self.target);
            }
        }
    }
}

impl Leases {
    /// The leases of replica `replica` in the store behind `pool`, none held yet.
    pub fn new(pool: Pool<Any>, replica: String, ttl: Duration) -> Leases {
        Leases { pool, replica, ttl, held: Mutex::default(), busy: Mutex::default() }
    }

    /// Marks an action of `target` as running here until the guard is dropped. Taken before the
    /// action checks that it may act, so that a lease is either kept for it or already gone.
    pub fn busy(self: &Arc<Self>, target: &str) -> Busy {
        *self.busy.lock().expect("busy").entry(target.to_string()).or_default() += 1;
        Busy { leases: self.clone(), target: target.to_string() }
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// How often leases are renewed.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// The epoch of `target`'s lease when this replica holds it and may still act on it.
    pub fn holds(&self, target: &str) -> Option<i64> {
        let held = self.held.lock().expect("leases");
        held.get(target).filter(|h| h.valid_until > Instant::now()).map(|h| h.epoch)
    }

    /// The targets held here and valid, with their epochs.
    pub fn held(&self) -> Vec<(String, i64)> {
        let now = Instant::now();
        let held = self.held.lock().expect("leases");
        held.iter().filter(|(_, h)| h.valid_until > now).map(|(t, h)| (t.clone(), h.epoch)).collect()
    }

    /// One round: heartbeat, renew, give back above the fair share, take expired leases up to it.
    /// Returns how long to wait before the next round (sooner when a lease it may take expires).
    pub async fn round(&self, targets: &[String]) -> Result<Duration> {
        let started = Instant::now();
        let live = self.heartbeat().await?;
        self.renew(started).await;
        let share = targets.len().div_ceil(live.max(1) as usize);
        self.give_back_above(share).await;
        let mut next = self.renew_every();
        let wanted = targets.iter().filter(|t| !self.held.lock().expect("leases").contains_key(*t));
        for target in wanted.cloned().collect::<Vec<_>>() {
            if self.held.lock().expect("leases").len() >= share {
                break;
            }
            match self.take(&target, started, true).await? {
                Taken::Now => {}
                Taken::ExpiresIn(wait) => next = next.min(wait + Duration::from_millis(50)),
            }
        }
        self.publish(targets);
        Ok(next.max(Duration::from_millis(100)))
    }

    /// Takes every lease of `targets` that no live replica holds (`once`, which runs beside the
    /// daemons and must never poll what one of them polls); returns the targets held.
    pub async fn take_free(&self, targets: &[String]) -> Result<Vec<String>> {
        let started = Instant::now();
        for target in targets {
            // Never the leases of a daemon that shares this replica's name (on the same host).
            self.take(target, started, false).await?;
        }
        Ok(targets.iter().filter(|t| self.holds(t).is_some()).cloned().collect())
    }

    /// Writes this replica's heartbeat; returns how many replicas are live.
    async fn heartbeat(&self) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO replicas (name, heartbeat_ms, started_ms) VALUES ($1, ",
            db_now!(),
            ", ",
            db_now!(),
            ")
             ON CONFLICT (name) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms"
        ))
        .bind(&self.replica)
        .execute(&mut *tx)
        .await?;
        sqlx::query(concat!("DELETE FROM replicas WHERE heartbeat_ms < ", db_now!(), " - $1"))
            .bind(FORGOTTEN_AFTER_MS)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(concat!("SELECT COUNT(*) FROM replicas WHERE heartbeat_ms > ", db_now!(), " - $1"))
            .bind(self.ttl.as_millis() as i64)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.try_get(0)?)
    }

    /// Renews every lease held here; forgets those another replica took.
    async fn renew(&self, started: Instant) {
        let held: Vec<(String, i64)> =
            self.held.lock().expect("leases").iter().map(|(t, h)| (t.clone(), h.epoch)).collect();
        for (target, epoch) in held {
            let renewed = sqlx::query(concat!(
                "UPDATE leases SET expires_ms = ",
                db_now!(),
                " + $1 WHERE target = $2 AND holder = $3 AND epoch = $4"
            ))
            .bind(self.ttl.as_millis() as i64)
            .bind(&target)
            .bind(&self.replica)
            .bind(epoch)
            .execute(&self.pool)
            .await;
            match renewed {
                Ok(done) if done.rows_affected() == 1 => self.keep(&target, epoch, started),
                Ok(_) => self.lost(&target),
                // The server is away: the lease runs out here on its own clock, and is renewed
                // at the same epoch when the server is back, unless another replica took it.
                Err(e) => tracing::warn!(target_name = %target, error = %e, "could not renew the lease"),
            }
        }
    }

    /// Gives back leases while more than `share` are held (the last ones by name), keeping those
    /// whose target has an action running here until a later round.
    async fn give_back_above(&self, share: usize) {
        loop {
            let last = {
                let mut held = self.held.lock().expect("leases");
                if held.len() <= share {
                    return;
                }
                let busy = self.busy.lock().expect("busy");
                let idle = held.keys().rev().find(|t| !busy.contains_key(*t)).cloned();
                idle.and_then(|t| held.remove_entry(&t))
            };
            let Some((target, h)) = last else { return };
            tracing::info!(target_name = %target, epoch = h.epoch, "giving the lease back: another replica is live to share the targets");
            self.release(&target, h.epoch).await;
        }
    }

    /// Takes `target`'s lease if it is free or has expired (or, with `own`, held under this
    /// replica's name by an earlier process), putting its claimed actions back to the queue in
    /// the same transaction.
    async fn take(&self, target: &str, started: Instant, own: bool) -> Result<Taken> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query(concat!(
            "INSERT INTO leases (target, holder, epoch, expires_ms) VALUES ($1, $2, 1, ",
            db_now!(),
            " + $3)
             ON CONFLICT (target) DO UPDATE SET holder = excluded.holder, epoch = leases.epoch + 1,
                 expires_ms = excluded.expires_ms
             WHERE leases.expires_ms < ",
            db_now!(),
            " OR ($4 AND leases.holder = excluded.holder)
             RETURNING epoch"
        ))
        .bind(target)
        .bind(&self.replica)
        .bind(self.ttl.as_millis() as i64)
        .bind(own)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = taken else {
            let row = sqlx::query(concat!("SELECT expires_ms - ", db_now!(), " FROM leases WHERE target = $1"))
                .bind(target)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            let left: i64 = row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0);
            return Ok(Taken::ExpiresIn(Duration::from_millis(left.max(0) as u64)));
        };
        let epoch: i64 = row.try_get(0)?;
        let resumed = sqlx::query("UPDATE actions SET status = 'pending' WHERE target = $1 AND status = 'running'")
            .bind(target)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        self.keep(target, epoch, started);
        if epoch > 1 {
            metrics::counter!(LEASE_TAKEOVERS).increment(1);
        }
        tracing::info!(target_name = %target, epoch, resumed, "took the lease of the target");
        Ok(Taken::Now)
    }

    fn keep(&self, target: &str, epoch: i64, started: Instant) {
        let valid_until = started + self.ttl * 5 / 6;
        self.held.lock().expect("leases").insert(target.to_string(), Held { epoch, valid_until });
    }

    /// Forgets a lease another replica took.
    fn lost(&self, target: &str) {
        if self.held.lock().expect("leases").remove(target).is_some() {
            tracing::warn!(target_name = %target, "lost the lease of the target to another replica; it is no longer polled or acted on here");
            metrics::gauge!(LEASE_HELD, "target" => target.to_string()).set(0.0);
        }
    }

    async fn release(&self, target: &str, epoch: i64) {
        let released = sqlx::query("UPDATE leases SET expires_ms = 0 WHERE target = $1 AND holder = $2 AND epoch = $3")
            .bind(target)
            .bind(&self.replica)
            .bind(epoch)
            .execute(&self.pool)
            .await;
        if let Err(e) = released {
            tracing::warn!(target_name = %target, error = %e, "could not give the lease back; it expires by itself");
        }
    }

    /// Gives every lease back and leaves the replicas (at shutdown): successors need not wait.
    pub async fn release_all(&self) {
        let held = std::mem::take(&mut *self.held.lock().expect("leases"));
        for (target, h) in held {
            self.release(&target, h.epoch).await;
            metrics::gauge!(LEASE_HELD, "target" => target).set(0.0);
        }
        let _ = sqlx::query("DELETE FROM replicas WHERE name = $1").bind(&self.replica).execute(&self.pool).await;
    }

    fn publish(&self, targets: &[String]) {
        for target in targets {
            let held = if self.holds(target).is_some() { 1.0 } else { 0.0 };
            metrics::gauge!(LEASE_HELD, "target" => target.clone()).set(held);
        }
    }

    /// Every target's lease as the database has it.
    pub async fn view(&self, targets: &[String]) -> Result<Vec<LeaseView>> {
        let rows = sqlx::query(concat!("SELECT target, holder, epoch FROM leases WHERE expires_ms > ", db_now!(), ""))
            .fetch_all(&self.pool)
            .await?;
        let mut by_target = BTreeMap::new();
        for row in &rows {
            by_target.insert(row.try_get::<String, _>(0)?, (row.try_get::<String, _>(1)?, row.try_get::<i64, _>(2)?));
        }
        Ok(targets
            .iter()
            .map(|t| {
                let (holder, epoch) = by_target.get(t).cloned().map_or((None, 0), |(h, e)| (Some(h), e));
                LeaseView { target: t.clone(), held_here: self.holds(t).is_some(), holder, epoch }
            })
            .collect())
    }

    /// The fence: fails unless this replica holds `target`'s lease at the epoch it acts on, and
    /// holds the lease row (FOR SHARE) so that no takeover commits before `tx` does.
    pub(super) async fn fence(&self, tx: &mut Transaction<'_, Any>, target: &str) -> Result<()> {
        let epoch = self.held.lock().expect("leases").get(target).map(|h| h.epoch);
        let Some(epoch) = epoch else { return Err(Error::Fenced(target.to_string())) };
        let row = sqlx::query("SELECT epoch FROM leases WHERE target = $1 AND holder = $2 AND epoch = $3 FOR SHARE")
            .bind(target)
            .bind(&self.replica)
            .bind(epoch)
            .fetch_optional(&mut **tx)
            .await?;
        match row {
            Some(_) => Ok(()),
            None => {
                self.lost(target);
                Err(Error::Fenced(target.to_string()))
            }
        }
    }
}

/// What became of a try to take a lease.
enum Taken {
    /// It is held here now.
    Now,
    /// Another replica holds it for this long still.
    ExpiresIn(Duration),
}

#[cfg(test)]
mod tests {
    //! What a replica decides without the database: how long a lease is acted on, how often it
    //! is renewed, which actions keep it, and the gauges it publishes.

    use super::*;

    const TTL: Duration = Duration::from_secs(15);

    /// Leases on a pool that never connects (nothing here reaches the database).
    fn leases() -> Arc<Leases> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
        Arc::new(Leases::new(pool, "a".into(), TTL))
    }

    #[tokio::test]
    async fn a_lease_is_acted_on_for_five_sixths_of_its_ttl_after_the_renewal_began() {
        tokio::time::pause();
        let leases = leases();
        let started = Instant::now();
        leases.keep("t1", 3, started);
        tokio::time::advance(TTL * 5 / 6 - Duration::from_millis(1)).await;
        assert_eq!(leases.holds("t1"), Some(3));
        assert_eq!(leases.held(), [("t1".to_string(), 3)]);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(leases.holds("t1"), None, "12.5 s after the renewal began: no longer acted on");
        assert!(leases.held().is_empty());
        assert_eq!(leases.renew_every(), Duration::from_secs(5), "renewed every third of the ttl");
    }

    #[tokio::test]
    async fn the_held_gauge_says_which_targets_are_held_here() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let leases = leases();
        leases.keep("t1", 1, Instant::now());
        metrics::with_local_recorder(&recorder, || leases.publish(&["t1".into(), "t2".into()]));
        let text = handle.render();
        for line in ["nbwarden_lease_held{target=\"t1\"} 1", "nbwarden_lease_held{target=\"t2\"} 0"] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }

    #[tokio::test]
    async fn a_target_is_busy_while_any_of_its_actions_runs() {
        let leases = leases();
        let (one, two) = (leases.busy("t1"), leases.busy("t1"));
        let count = |l: &Leases| l.busy.lock().unwrap().get("t1").copied();
        assert_eq!(count(&leases), Some(2));
        drop(one);
        assert_eq!(count(&leases), Some(1));
        drop(two);
        assert_eq!(count(&leases), None, "idle again");
    }
}
