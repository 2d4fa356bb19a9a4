//! The notebook rules in a back-test: the watcher's reads are rebuilt from the recorded ones
//! (each written when it differed from the one before, so that between two of them the open
//! notebooks stood as the first says): each recorded read, one every `notebooks.every` between
//! them, and one at the target's last commit; then replayed through the core within the target's
//! close limits.

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
    // The reads end with the target's last commit (its last read, or poll), not at `until`: the
    // daemon read nothing after it.
    let last = store.polled(Scope::Real, &target.name).await?.map_or(until, |(_, last)| last.min(until));
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
