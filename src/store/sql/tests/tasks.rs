//! Scheduled tasks on both backends: no read means a baseline; a read's changes (tasks changed or
//! gone, the runs read) written in its transaction and loaded with the target, apart per scope;
//! the newest 100 runs of each task kept.

use super::*;
use crate::arcgis::tasks::{Task, TaskRun};
use crate::store::TaskCommit;
use crate::task_diff::Seen;

fn seen(id: &str, failures: u32) -> Seen {
    let task = Task {
        id: id.into(),
        title: format!("Task {id}"),
        owner: "joe".into(),
        item_id: None,
        cron: Some("0 2 * * *".into()),
        interval_seconds: None,
        start_ms: Some(crate::clock::ServerMs(1)),
        last_start_ms: Some(crate::clock::ServerMs(2)),
        active: true,
        state: Some("active".into()),
    };
    Seen { task, consecutive_failures: failures, last_result: Some("failed".into()), unfinished_run: None }
}

fn run(n: i64, status: &str) -> TaskRun {
    TaskRun {
        id: format!("r{n}"),
        status: status.into(),
        created_ms: Some(crate::clock::ServerMs(n)),
        modified_ms: None,
    }
}

fn read(changed: Vec<Seen>, removed: &[&str], runs: Vec<(String, TaskRun)>) -> Option<TaskCommit> {
    Some(TaskCommit { changed, removed: removed.iter().map(|r| r.to_string()).collect(), runs })
}

async fn a_tasks_read_round_trips_and_only_its_changes_are_written(backend: Backend) {
    let (_dir, store) = open(backend).await;
    assert_eq!(store.load_target(Scope::Real, "t").await.unwrap().tasks, None, "never read: a baseline");
    store.commit_poll(&PollCommit { tasks: read(vec![], &[], vec![]), ..commit("t", &[], &[]) }).await.unwrap();
    assert_eq!(store.load_target(Scope::Real, "t").await.unwrap().tasks, Some(Default::default()), "read, none");
    let runs = vec![("a".to_string(), run(1, "executing"))];
    let first = read(vec![seen("a", 2), seen("b", 0)], &[], runs);
    store.commit_poll(&PollCommit { tasks: first, ..commit("t", &[], &[]) }).await.unwrap();
    let runs = vec![("a".to_string(), run(1, "failed")), ("a".to_string(), run(2, "failed"))];
    store
        .commit_poll(&PollCommit { tasks: read(vec![seen("a", 3)], &["b"], runs), ..commit("t", &[], &[]) })
        .await
        .unwrap();
    let tasks = store.load_target(Scope::Real, "t").await.unwrap().tasks.expect("read");
    assert_eq!(tasks.values().cloned().collect::<Vec<_>>(), [seen("a", 3)]);
    let stored = store.task_runs(Scope::Real, "t", "a").await.unwrap();
    assert_eq!(stored, [run(1, "failed"), run(2, "failed")], "a run read again is updated");
    assert_eq!(store.load_target(Scope::Dry, "t").await.unwrap().tasks, None, "the dry run's scope is apart");
    let many = (0..105).map(|n| ("a".to_string(), run(n + 10, "succeeded"))).collect();
    store.commit_poll(&PollCommit { tasks: read(vec![], &[], many), ..commit("t", &[], &[]) }).await.unwrap();
    store.prune(&crate::store::Cutoff { local: crate::clock::LocalMs(0), ..Default::default() }).await.unwrap();
    let kept = store.task_runs(Scope::Real, "t", "a").await.unwrap();
    assert_eq!((kept.len(), kept[0].id.as_str()), (100, "r15"), "the newest 100 (r1, r2 and r10…r14 went)");
}
on_both!(a_tasks_read_round_trips_and_only_its_changes_are_written);
