//! Completed runs (`runtime_over_usual`) on both backends: written with their poll, each once,
//! loaded with the target, read back before a time for `backtest`, the newest 100 per item kept.

use super::*;
use crate::clock::ServerMs;
use crate::usual::{Run, MAX_WINDOW};

fn run(item: &str, job: &str, ended_ms: i64, runtime_ms: i64) -> Run {
    Run { item_id: item.into(), job_id: job.into(), ended_ms: ServerMs(ended_ms), runtime_ms }
}

async fn runs_are_written_once_with_their_poll_and_loaded_with_the_target(backend: Backend) {
    let (_dir, store) = open(backend).await;
    let first = vec![run("nb", "a", 100, 10), run("nb", "b", 200, 30), run("other", "c", 300, 5)];
    store.commit_poll(&PollCommit { runs: first, ..commit("t", &[], &[]) }).await.unwrap();
    // The same run again (a baseline after lost state) is kept as it was.
    store.commit_poll(&PollCommit { runs: vec![run("nb", "a", 100, 99)], ..commit("t", &[], &[]) }).await.unwrap();
    let state = store.load_target(Scope::Real, "t").await.unwrap();
    assert_eq!(state.usual.baseline("nb", 20), crate::usual::Baseline { runs: 2, median_ms: Some(20) });
    assert_eq!(state.usual.baseline("other", 20).runs, 1);
    let before = store.runs(Scope::Real, "t", ServerMs(250)).await.unwrap();
    assert_eq!(before.iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert!(store.load_target(Scope::Dry, "t").await.unwrap().usual.baseline("nb", 20).runs == 0);
}
on_both!(runs_are_written_once_with_their_poll_and_loaded_with_the_target);

async fn pruning_keeps_the_newest_runs_of_each_item(backend: Backend) {
    let (_dir, store) = open(backend).await;
    let many: Vec<Run> = (0..MAX_WINDOW as i64 + 5).map(|n| run("nb", &format!("j{n}"), n, n)).collect();
    store.commit_poll(&PollCommit { runs: many, ..commit("t", &[], &[]) }).await.unwrap();
    let cutoff = crate::store::Cutoff { local: crate::clock::LocalMs(0), ..Default::default() };
    store.prune(&cutoff).await.unwrap();
    let kept = store.runs(Scope::Real, "t", ServerMs(i64::MAX)).await.unwrap();
    assert_eq!(kept.len(), MAX_WINDOW as usize);
    assert_eq!(kept[0].job_id, "j5", "the oldest five went");
}
on_both!(pruning_keeps_the_newest_runs_of_each_item);
