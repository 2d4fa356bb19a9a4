//! What the list read knows of the stored snapshot's body: kept with the target, so that a fresh
//! process (`once`) knows the same body again without scanning it, and only while it is true of
//! the stored jobs.

use super::*;
use crate::arcgis::wire::{JobList, Scratch};
use crate::arcgis::{Known, Listed};
use crate::diff::Snapshot;

const BODY: &str = r#"{"asyncNotebookJobs":[{"jobId":"a","status":"EXECUTING"},{"jobId":"b","status":"EXECUTING"}]}"#;

/// The body read by a fresh list read (a new process), knowing `known`.
fn read(body: &str, known: Known) -> Listed {
    JobList::read(body.as_bytes(), known, &mut Scratch::default()).unwrap().into_listed()
}

async fn poll(store: &SqlStore, snapshot: &Snapshot, changed: &[Job]) -> Snapshot {
    store.commit_poll(&PollCommit { snapshot: Some(snapshot), ..commit("prod", changed, &[]) }).await.unwrap();
    store.load_target(Scope::Real, "prod").await.unwrap().snapshot.unwrap()
}

fn jobs(listed: &Listed) -> Vec<Job> {
    listed.jobs().iter().map(|job| Job::clone(job)).collect()
}

async fn a_fresh_process_knows_the_stored_body_again(backend: Backend) {
    let (_dir, store) = open(backend).await;
    let first = crate::diff::listed(read(BODY, Known::default()), None);
    assert!(first.listed_body().is_some());
    let loaded = poll(&store, &first, &jobs(&read(BODY, Known::default()))).await;
    assert_eq!(loaded.listed_body(), first.listed_body());
    assert!(read(BODY, loaded.known()).same(loaded.known().0.unwrap()), "the stored list itself, nothing scanned");

    // A changed job is stored as a history row, without the hash of its bytes: the body is then
    // known for other jobs than the stored ones, and read.
    let body = BODY.replacen("EXECUTING", "FAILED", 1);
    let second = crate::diff::listed(read(&body, loaded.known()), Some(&loaded));
    let loaded = poll(&store, &second, &jobs(&read(&body, Known::default()))[..1]).await;
    assert_eq!(loaded.listed_body(), second.listed_body());
    let listed = read(&body, loaded.known());
    assert!(!listed.same(loaded.known().0.unwrap()), "a stored hash differs: the body is read");
    assert_eq!(jobs(&listed), jobs(&read(&body, Known::default())));

    // A poll whose body is not known (one read whole) keeps what is known of the last one.
    let whole = crate::diff::snapshot(jobs(&listed));
    assert_eq!(poll(&store, &whole, &[]).await.listed_body(), second.listed_body());
}
on_both!(a_fresh_process_knows_the_stored_body_again);
