//! The notebook rules in a back-test: the watcher's reads are rebuilt from the recorded ones
//! (each written when it differed from the one before, so that between two of them the open
//! notebooks stood as the first says): each recorded read, one every `notebooks.every` between
//! them, and one at the daemon's last read of them; then replayed through the core within the
//! target's close limits.

use super::tasks::Untestable;
use crate::clock::ServerMs;
use crate::config::TargetConfig;
use crate::replay::NotebookRead;
use crate::store::{Scope, SqlStore};

/// At most this many reads are rebuilt per target; a longer span reads less often.
const MAX_READS: i64 = 20_000;

/// The rebuilt reads of `target`'s open notebooks from `since` to `until` (server clock); or why
/// they cannot be rebuilt.
pub(super) async fn reads(
    store: &SqlStore,
    target: &TargetConfig,
    (since, until): (ServerMs, ServerMs),
) -> anyhow::Result<Result<Vec<NotebookRead>, Untestable>> {
    let Some(config) = &target.notebooks else { return Ok(Err(Untestable::NotebooksNotWatched)) };
    let recorded = store.notebook_reads(Scope::Real, &target.name, (since, until)).await?;
    let Some(first) = recorded.first().map(|(at, _)| (*at).max(since)) else {
        return Ok(Err(Untestable::NotebooksNeverRead));
    };
    // The reads end with the daemon's last read of the open notebooks, not at `until` nor at a
    // later poll of the jobs: an idle notebook is not told of at a time nothing read it.
    let last = match store.notebooks_read(Scope::Real, &target.name).await? {
        Some(read) => read,
        // A store from before the time of the last read was kept: the target's last commit.
        None => store.polled(Scope::Real, &target.name).await?.map_or(until, |(_, last)| last),
    }
    .min(until);
    let every = (config.every.0.as_millis() as i64).max((last.since(first) / MAX_READS).max(1_000));
    let mut times: Vec<ServerMs> =
        std::iter::successors(Some(first), |at| Some(at.plus(every))).take_while(|at| *at <= last).collect();
    times.extend(recorded.iter().map(|(at, _)| *at).filter(|at| (first..=last).contains(at)));
    times.push(last);
    times.sort_unstable();
    times.dedup();
    let mut stood = 0;
    let reads = times.into_iter().map(|at| {
        while recorded.get(stood + 1).is_some_and(|(next, _)| *next <= at) {
            stood += 1;
        }
        NotebookRead { at_ms: at, notebooks: recorded[stood].1.clone() }
    });
    Ok(Ok(reads.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arcgis::notebooks::OpenNotebook;
    use crate::store::{NotebooksRecord, PollCommit, Store};

    fn notebook() -> OpenNotebook {
        OpenNotebook {
            id: "nb".into(),
            item_id: None,
            title: None,
            username: "ann".into(),
            host: None,
            last_activity: Some(ServerMs(0)),
            opened: None,
            runtime: None,
        }
    }

    #[tokio::test]
    async fn the_rebuilt_reads_end_at_the_last_read_of_the_notebooks_not_at_a_later_poll() {
        let (_dir, store, target) = super::super::store_and_target("notebooks: { every: 1s }").await;
        let read =
            |at, record| PollCommit { notebooks: Some(record), ..PollCommit::new(Scope::Real, "t", ServerMs(at)) };
        store.commit_poll(&read(1_000, NotebooksRecord::Changed(vec![notebook()]))).await.unwrap();
        store.commit_poll(&read(2_500, NotebooksRecord::Unchanged)).await.unwrap();
        // A poll of the jobs after the last read of the notebooks.
        store.commit_poll(&PollCommit::new(Scope::Real, "t", ServerMs(6_000))).await.unwrap();
        let reads = reads(&store, &target, (ServerMs(0), ServerMs(10_000))).await.unwrap().unwrap();
        let times: Vec<i64> = reads.iter().map(|r| r.at_ms.0).collect();
        assert_eq!(times, [1_000, 2_000, 2_500]);
        assert!(reads.iter().all(|r| r.notebooks == [notebook()]));
    }
}
