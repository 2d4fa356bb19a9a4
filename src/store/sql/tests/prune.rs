//! Pruning on both backends: what is still listed stays, old audit lines and finished actions go
//! (never pending ones), a job's ledger goes as a whole, each target cut on its own server clock.

use super::*;
use crate::clock::{LocalMs, Offset, ServerMs};

async fn pruning_keeps_what_is_still_listed(backend: Backend) {
    let (_dir, mut store) = open(backend).await;
    store.fold_min = 0;
    let jobs = [job("listed", Status::Executing), job("gone", Status::Failed)];
    let (both, one) = (snapshot(jobs.to_vec()), snapshot(jobs[..1].to_vec()));
    let mut poll = PollCommit { snapshot: Some(&both), ..commit("prod", &jobs, &[]) };
    poll.ledger = ["listed", "gone"]
        .map(|j| LedgerRecord {
            rule: "r".into(),
            shadow: false,
            job_id: j.into(),
            trigger: crate::ledger::Cause::Poll,
        })
        .to_vec();
    store.commit_poll(&poll).await.unwrap();
    store.commit_poll(&PollCommit { snapshot: Some(&one), ..commit("prod", &[], &["gone"]) }).await.unwrap();
    assert_eq!(
        store.history_since(Scope::Real, "prod", crate::clock::ServerMs(0)).await.unwrap().len(),
        2,
        "the gone job is history"
    );
    assert_eq!(
        store.history_since(Scope::Real, "prod", crate::clock::ServerMs(1_001)).await.unwrap().len(),
        1,
        "gone before the window"
    );
    let removed = store.prune(&Cutoff { local: LocalMs(2_000), servers: Vec::new() }).await.unwrap();
    assert_eq!(removed, 4, "the ledger of the gone job, and the three history rows (both listed, one gone)");
    let state = store.load_target(Scope::Real, "prod").await.unwrap();
    assert!(
        state.ledger.fired("r", "listed", &crate::ledger::Cause::Poll)
            && !state.ledger.fired("r", "gone", &crate::ledger::Cause::Poll)
    );
    assert_eq!(store.history_since(Scope::Real, "prod", crate::clock::ServerMs(0)).await.unwrap().len(), 1);
}

async fn count(store: &SqlStore, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    sqlx::query(AssertSqlSafe(sql)).fetch_one(&store.pool).await.unwrap().try_get(0).unwrap()
}
on_both!(pruning_keeps_what_is_still_listed);

async fn pruning_clears_old_audit_lines_and_finished_actions_but_never_pending_ones(backend: Backend) {
    let (_dir, store) = open(backend).await;
    let ids = store.commit_poll(&queuing("prod", vec![planned("a"), planned("b")])).await.unwrap();
    let done = Attempt::Final { outcome: Outcome::Done, detail: "ok".into() };
    store.record_attempt(ids[0], &done, crate::clock::LocalMs(1_000)).await.unwrap();
    let report = ActionReport {
        target: "prod".into(),
        rule: "r".into(),
        action: "cancel".into(),
        job_ids: vec!["c".into()],
        outcome: Outcome::Suppressed,
        detail: String::new(),
        shadow: false,
    };
    let audited = PollCommit { audit: vec![AuditEntry { at: LocalMs(500), report }], ..commit("prod", &[], &[]) };
    store.commit_poll(&audited).await.unwrap();
    let (actions, audit) = (count(&store, "actions").await, count(&store, "audit").await);
    assert_eq!((actions, audit), (2, 2), "one finished and one pending action; two audit lines");
    let far_future = Cutoff { local: LocalMs(i64::MAX / 2), servers: Vec::new() };
    store.prune(&far_future).await.unwrap();
    assert_eq!(count(&store, "audit").await, 0);
    assert_eq!(count(&store, "actions").await, 1, "the pending action stays, however old");
    assert_eq!(store.due_actions(Scope::Real, crate::clock::LocalMs(i64::MAX / 2), 0, 64).await.unwrap()[0].id, ids[1]);
}
on_both!(pruning_clears_old_audit_lines_and_finished_actions_but_never_pending_ones);

async fn a_job_ledger_goes_as_a_whole_and_each_target_is_cut_on_its_server_clock(backend: Backend) {
    let (_dir, store) = open(backend).await;
    for (target, now) in [("ahead", 1_000), ("behind", 1_000)] {
        let mut poll = commit(target, &[], &["gone"]);
        poll.now_ms = crate::clock::ServerMs(now);
        poll.ledger = vec![LedgerRecord {
            rule: "r".into(),
            shadow: false,
            job_id: "gone".into(),
            trigger: crate::ledger::Cause::Poll,
        }];
        store.commit_poll(&poll).await.unwrap();
    }
    // A newer firing of another trigger for the same job keeps its older one too.
    let mut later = commit("ahead", &[], &[]);
    later.now_ms = crate::clock::ServerMs(5_000);
    later.ledger = vec![LedgerRecord {
        rule: "r".into(),
        shadow: false,
        job_id: "gone".into(),
        trigger: crate::ledger::Cause::Disappeared,
    }];
    store.commit_poll(&later).await.unwrap();
    // Local cut at 2 000; "ahead"'s server runs 10 s ahead of this machine, "behind" 10 s behind.
    let cutoff = Cutoff::ago(
        std::time::Duration::from_millis(1_000),
        LocalMs(3_000),
        &[("ahead".into(), Offset(10_000)), ("behind".into(), Offset(-10_000))],
    );
    assert_eq!(cutoff.servers, [("ahead".to_string(), ServerMs(12_000)), ("behind".to_string(), ServerMs(-8_000))]);
    store.prune(&cutoff).await.unwrap();
    let ahead = store.load_target(Scope::Real, "ahead").await.unwrap();
    assert!(
        !ahead.ledger.fired("r", "gone", &crate::ledger::Cause::Poll)
            && !ahead.ledger.fired("r", "gone", &crate::ledger::Cause::Disappeared),
        "cut at 12 000 on its clock: both go"
    );
    let behind = store.load_target(Scope::Real, "behind").await.unwrap();
    assert!(behind.ledger.fired("r", "gone", &crate::ledger::Cause::Poll), "cut at -8 000 on its clock: kept");
    // The in-memory ledger follows the same rule: the whole job, by its newest firing.
    let mut memory = crate::ledger::LedgerIndex::default();
    memory.record("r", "gone", &crate::ledger::Cause::Poll, ServerMs(1_000));
    memory.record("r", "gone", &crate::ledger::Cause::Disappeared, ServerMs(5_000));
    assert_eq!(memory.prune(ServerMs(3_000), |_| false), 0, "the newest firing is after the cut: the job stays whole");
    let mut sql = commit("solo", &[], &["gone"]);
    sql.ledger = vec![LedgerRecord {
        rule: "r".into(),
        shadow: false,
        job_id: "gone".into(),
        trigger: crate::ledger::Cause::Poll,
    }];
    store.commit_poll(&sql).await.unwrap();
    let mut newer = commit("solo", &[], &[]);
    newer.now_ms = crate::clock::ServerMs(5_000);
    newer.ledger = vec![LedgerRecord {
        rule: "r".into(),
        shadow: false,
        job_id: "gone".into(),
        trigger: crate::ledger::Cause::Disappeared,
    }];
    store.commit_poll(&newer).await.unwrap();
    store.prune(&Cutoff { local: LocalMs(0), servers: vec![("solo".into(), ServerMs(3_000))] }).await.unwrap();
    let solo = store.load_target(Scope::Real, "solo").await.unwrap();
    assert!(
        solo.ledger.fired("r", "gone", &crate::ledger::Cause::Poll)
            && solo.ledger.fired("r", "gone", &crate::ledger::Cause::Disappeared),
        "SQL keeps the job whole too"
    );
}
on_both!(a_job_ledger_goes_as_a_whole_and_each_target_is_cut_on_its_server_clock);
