//! Replicas on a real PostgreSQL server: leases spread the targets, a takeover raises the epoch
//! and fences the old holder's writes, and queued actions are claimed by one replica at a time.

use super::postgres;
use super::*;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(15);

/// Two replicas' stores on one fresh database, or none when there is no server.
async fn replicas(test: &str) -> Option<[(SqlStore, Arc<Leases>); 2]> {
    named(test, ["a", "b"]).await
}

/// Two processes' stores on one fresh database, as replicas of these names.
async fn named(test: &str, names: [&str; 2]) -> Option<[(SqlStore, Arc<Leases>); 2]> {
    let server = postgres::url(&format!("store::sql::tests::replicas::{test}"))?;
    let url = crate::secret::Secret::new(postgres::fresh_database(&server).await);
    let mut out = Vec::new();
    for name in names {
        let store = SqlStore::open_postgres(&url, "test").await.unwrap();
        let leases = Arc::new(Leases::new(store.pool.clone(), name.into(), TTL));
        out.push((store.fenced(leases.clone()), leases));
    }
    out.try_into().ok()
}

fn targets() -> Vec<String> {
    ["t1", "t2", "t3"].map(String::from).to_vec()
}

fn held(leases: &Leases) -> Vec<String> {
    leases.held().into_iter().map(|(t, _)| t).collect()
}

/// Ends every lease now, as if its holder had stopped renewing `ttl` ago.
async fn expire_all(store: &SqlStore) {
    sqlx::query("UPDATE leases SET expires_ms = 0").execute(&store.pool).await.unwrap();
}

#[tokio::test]
async fn replicas_share_the_targets_and_the_first_gives_one_back() {
    let Some([(_, a), (_, b)]) = replicas("replicas_share_the_targets").await else { return };
    a.round(&targets()).await.unwrap();
    assert_eq!(held(&a), targets(), "alone, it takes every target");
    b.round(&targets()).await.unwrap();
    assert!(held(&b).is_empty(), "nothing has expired: nothing is taken");
    a.round(&targets()).await.unwrap();
    assert_eq!(held(&a), ["t1", "t2"], "two live replicas: ceil(3 / 2) = 2 each at most");
    b.round(&targets()).await.unwrap();
    assert_eq!(held(&b), ["t3"], "the one given back");
    let view = b.view(&targets()).await.unwrap();
    let t3 = view.iter().find(|v| v.target == "t3").unwrap();
    assert_eq!((t3.holder.as_deref(), t3.epoch, t3.held_here), (Some("b"), 2, true));
}

/// A lease is not given back to spread the targets while an action of its target runs here: its
/// new holder would send the part in flight again. Another one goes instead, or none this round.
#[tokio::test]
async fn a_lease_whose_target_has_an_action_running_here_is_kept() {
    let Some([(store_a, a), (_, b)]) = replicas("a_busy_lease_is_kept").await else { return };
    a.round(&targets()).await.unwrap();
    b.round(&targets()).await.unwrap();
    let (busy_t2, busy_t3) = (a.busy("t2"), a.busy("t3"));
    let also_t3 = a.busy("t3");
    a.round(&targets()).await.unwrap();
    assert_eq!(held(&a), ["t2", "t3"], "t1 given back: t2 and t3 have actions running here");
    drop((busy_t2, busy_t3));
    b.round(&targets()).await.unwrap();
    assert_eq!(held(&b), ["t1"]);
    let c = Leases::new(store_a.pool.clone(), "c".into(), TTL);
    c.round(&targets()).await.unwrap();
    a.round(&targets()).await.unwrap();
    assert_eq!(held(&a), ["t3"], "three replicas: one each; t3 still has an action running");
    drop(also_t3);
}

/// A round says when to come back: after a third of the ttl, or 50 ms after a lease held
/// elsewhere runs out, if sooner; only a takeover (epoch above 1) is counted as one.
#[tokio::test]
async fn a_round_comes_back_when_a_lease_runs_out_and_counts_takeovers() {
    let Some([(store_a, a), (_, b)]) = replicas("a_round_comes_back").await else { return };
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let (handle, _local) = (recorder.handle(), metrics::set_default_local_recorder(&recorder));
    let takeovers = || {
        let text = handle.render();
        text.lines().find_map(|l| l.strip_prefix("nbwarden_lease_takeovers_total ")).unwrap_or("0").to_string()
    };
    assert_eq!(a.round(&["t1".to_string()]).await.unwrap(), TTL / 3, "nothing to wait for: a third of the ttl");
    assert_eq!(takeovers(), "0", "a first take is no takeover");
    let ends_in_a_second =
        "UPDATE leases SET expires_ms = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + 1000";
    let started = std::time::Instant::now();
    sqlx::query(ends_in_a_second).execute(&store_a.pool).await.unwrap();
    let wait = b.round(&["t1".to_string()]).await.unwrap();
    // 1 s and 50 ms, less what the round took to read it (a loaded machine is slow here), with
    // 50 ms to spare: a wait without the 50 ms (950 ms at most) still fails.
    let elapsed = started.elapsed();
    let (low, high) = (Duration::from_millis(1_000).saturating_sub(elapsed), Duration::from_millis(1_050));
    assert!((low..=high).contains(&wait), "{wait:?} after {elapsed:?}");
    expire_all(&store_a).await;
    b.round(&["t1".to_string()]).await.unwrap();
    assert_eq!(takeovers(), "1", "taken over at epoch 2");
}

/// Replicas count as live while their heartbeat is younger than the ttl, however often the
/// others write theirs: one silent for a while within the ttl still shares the targets.
#[tokio::test]
async fn a_replica_quiet_within_its_ttl_still_counts_as_live() {
    let Some([(store_a, _), _]) = replicas("quiet_within_ttl").await else { return };
    let ttl = Duration::from_secs(1);
    let (a, b) =
        (Leases::new(store_a.pool.clone(), "a".into(), ttl), Leases::new(store_a.pool.clone(), "b".into(), ttl));
    let four: Vec<String> = ["t1", "t2", "t3", "t4"].map(String::from).to_vec();
    a.round(&four[..1]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.round(&four).await.unwrap();
    assert_eq!(held(&b), ["t2", "t3"], "two live replicas: two targets each at most");
}

#[tokio::test]
async fn a_takeover_raises_the_epoch_and_fences_the_old_holder() {
    let Some([(store_a, a), (store_b, b)]) = replicas("a_takeover_fences_the_old_holder").await else { return };
    a.round(&["t1".to_string()]).await.unwrap();
    let mut poll = PollCommit::new(Scope::Real, "t1", crate::clock::ServerMs(1_000));
    poll.actions = vec![super::planned("j1")];
    poll.ledger = poll.actions[0].fired(&crate::ledger::Cause::Poll);
    let ids = store_a.commit_poll(&poll).await.unwrap();
    assert_eq!(
        store_a.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), 0, 64).await.unwrap().len(),
        1,
        "claimed by a"
    );
    assert!(
        store_a.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), 0, 64).await.unwrap().is_empty(),
        "running: not again"
    );

    // a stops renewing (paused); its lease runs out and b takes the target over.
    expire_all(&store_a).await;
    b.round(&["t1".to_string()]).await.unwrap();
    assert_eq!(b.held(), [("t1".to_string(), 2)], "epoch raised by one");
    let resumed = store_b.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), 0, 64).await.unwrap();
    assert_eq!(resumed.iter().map(|q| q.id).collect::<Vec<_>>(), ids, "a's claimed action is b's to resume");

    // a wakes up: every write about t1 loses the race.
    let done = Attempt::Final { outcome: Outcome::Done, detail: "cancelled".into() };
    let fenced = |r: Result<()>| matches!(r, Err(Error::Fenced(t)) if t == "t1");
    assert!(fenced(store_a.record_attempt(ids[0], &done, crate::clock::LocalMs(2_000)).await), "the outcome");
    assert!(
        fenced(
            store_a.commit_poll(&PollCommit::new(Scope::Real, "t1", crate::clock::ServerMs(2_000))).await.map(|_| ())
        ),
        "a poll"
    );
    assert!(fenced(store_a.add_settled(&[(ids[0], "x@example.com".into())]).await), "journal progress");
    let check = CancelCheck { job_id: "j1".into(), rule: "r".into(), polls_left: 3 };
    assert!(fenced(store_a.add_cancel_check(Scope::Real, "t1", &check).await), "a cancel check");
    assert!(a.holds("t1").is_none(), "a knows it lost the lease");
    assert!(
        store_a.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), 0, 64).await.unwrap().is_empty(),
        "and claims nothing"
    );
    store_b.record_attempt(ids[0], &done, crate::clock::LocalMs(2_000)).await.expect("the holder records");
}

/// Two processes with the same `ha.replica` (its default is the host name): a new one takes
/// the lease over (epoch + 1) while the old one still runs; the old one's writes are refused by
/// the epoch alone, the name being the same.
#[tokio::test]
async fn a_stale_process_of_the_same_replica_name_is_fenced_by_the_epoch() {
    let Some([(old_store, old), (new_store, new)]) = named("same_name_fenced", ["a", "a"]).await else { return };
    old.round(&["t1".to_string()]).await.unwrap();
    let mut poll = PollCommit::new(Scope::Real, "t1", crate::clock::ServerMs(1_000));
    poll.actions = vec![super::planned("j1")];
    poll.ledger = poll.actions[0].fired(&crate::ledger::Cause::Poll);
    let ids = old_store.commit_poll(&poll).await.unwrap();
    new.round(&["t1".to_string()]).await.unwrap();
    assert_eq!(new.held(), [("t1".to_string(), 2)], "the same name, a new process: epoch + 1");
    let done = Attempt::Final { outcome: Outcome::Done, detail: "cancelled".into() };
    let fenced = |r: Result<()>| matches!(r, Err(Error::Fenced(t)) if t == "t1");
    assert!(fenced(old_store.record_attempt(ids[0], &done, crate::clock::LocalMs(2_000)).await), "the outcome");
    assert!(
        fenced(
            old_store.commit_poll(&PollCommit::new(Scope::Real, "t1", crate::clock::ServerMs(2_000))).await.map(|_| ())
        ),
        "a poll"
    );
    assert!(old.holds("t1").is_none(), "the old process knows it lost the lease");
    new_store.record_attempt(ids[0], &done, crate::clock::LocalMs(2_000)).await.expect("the new process records");
}

#[tokio::test]
async fn a_restarted_replica_takes_its_own_lease_back_at_once() {
    let Some([(store_a, a), _]) = replicas("a_restarted_replica").await else { return };
    a.round(&["t1".to_string()]).await.unwrap();
    let again = Leases::new(store_a.pool.clone(), "a".into(), TTL);
    again.round(&["t1".to_string()]).await.unwrap();
    assert_eq!(again.held(), [("t1".to_string(), 2)], "the same name, a new process: epoch + 1 at once");
    again.release_all().await;
    let view = again.view(&["t1".to_string()]).await.unwrap();
    assert_eq!(view[0].holder, None, "given back at shutdown");
}

#[tokio::test]
async fn progress_journaled_by_a_holder_is_what_its_successor_resumes_from() {
    use crate::journal::ProgressLog;
    let Some([(store_a, a), (store_b, b)]) = replicas("progress_in_the_database").await else { return };
    a.round(&["t1".to_string()]).await.unwrap();
    let mut poll = PollCommit::new(Scope::Real, "t1", crate::clock::ServerMs(1_000));
    poll.actions = vec![super::planned("j1")];
    poll.ledger = poll.actions[0].fired(&crate::ledger::Cause::Poll);
    let ids = store_a.commit_poll(&poll).await.unwrap();
    let claimed = store_a.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), 0, 64).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // a serves one recipient, records it, and is killed before the action's outcome.
    let store_a: Arc<dyn Store> = Arc::new(store_a);
    let journal = crate::store::progress::StoreJournal::new(store_a.clone(), Some(a.clone()));
    assert!(journal.may_act("t1"), "a holds t1");
    journal.append("t1", ids[0], "joe@example.com").await;
    drop(journal);
    sqlx::query("UPDATE leases SET expires_ms = 0").execute(&store_b.pool).await.unwrap();
    b.round(&["t1".to_string()]).await.unwrap();
    let resumed = store_b.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), 0, 64).await.unwrap();
    assert_eq!(resumed.len(), 1, "b resumes a's action");
    assert_eq!(resumed[0].planned.settled, ["joe@example.com"], "without the recipient a already served");
    a.round(&["t1".to_string()]).await.unwrap();
    let late = crate::store::progress::StoreJournal::new(store_a, Some(a.clone()));
    assert!(!late.may_act("t1"), "a, its renewal refused, may no longer act on t1");
}

#[tokio::test]
async fn once_beside_a_daemon_of_the_same_name_takes_none_of_its_leases() {
    let Some([(store_a, a), _]) = replicas("once_beside_a_daemon").await else { return };
    a.round(&["t1".to_string(), "t2".to_string()]).await.unwrap();
    sqlx::query("UPDATE leases SET expires_ms = 0 WHERE target = 't2'").execute(&store_a.pool).await.unwrap();
    let once = Leases::new(store_a.pool.clone(), "a".into(), TTL);
    let taken = once.take_free(&["t1".to_string(), "t2".to_string()]).await.unwrap();
    assert_eq!(taken, ["t2"], "only the expired lease, although the daemon has the same name");
    assert_eq!(a.held().len(), 2, "the daemon still believes it holds both until its next round");
}
