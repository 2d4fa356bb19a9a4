//! Diff stage (pure; no I/O): two snapshots of one target → `appeared`, `status_changed`,
//! `disappeared` events (SPEC §4). A baseline has no previous snapshot and yields no events.

use crate::arcgis::{Job, Status};
use std::collections::HashMap;

/// The jobs of one target at one poll, by id.
pub type Snapshot = HashMap<String, Job>;

/// Builds a snapshot from a job list (a repeated id keeps its last entry).
pub fn snapshot(jobs: Vec<Job>) -> Snapshot {
    jobs.into_iter().map(|job| (job.id.clone(), job)).collect()
}

/// A change between two snapshots of one target.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// A job that was not in the previous snapshot.
    Appeared(Job),
    /// A job whose status or phase changed.
    StatusChanged {
        /// As previously seen.
        before: Job,
        /// As seen now.
        after: Job,
    },
    /// A job missing from the new snapshot; its final status is read once afterwards.
    Disappeared {
        /// As last seen.
        last_seen: Job,
        /// From `<jobs>/<id>`, `None` when that failed.
        final_status: Option<Status>,
    },
}

impl JobEvent {
    /// `appeared`, `status_changed` or `disappeared`.
    pub fn kind(&self) -> &'static str {
        match self {
            JobEvent::Appeared(_) => "appeared",
            JobEvent::StatusChanged { .. } => "status_changed",
            JobEvent::Disappeared { .. } => "disappeared",
        }
    }

    /// The job the event is about, as most recently known.
    pub fn job(&self) -> &Job {
        match self {
            JobEvent::Appeared(job) => job,
            JobEvent::StatusChanged { after, .. } => after,
            JobEvent::Disappeared { last_seen, .. } => last_seen,
        }
    }
}

/// What changed between two polls: the events, and the snapshot rows to write.
#[derive(Debug, Default, PartialEq)]
pub struct Delta {
    /// Events in a stable order (appeared and changed by id, then disappeared by id).
    pub events: Vec<JobEvent>,
    /// Jobs new or different in any field: the rows to upsert.
    pub upserts: Vec<Job>,
    /// Ids no longer listed: the rows to delete.
    pub removed: Vec<String>,
}

/// Compares `next` with `prev`; `None` is the baseline: every job is upserted, no event emitted.
pub fn diff(prev: Option<&Snapshot>, next: &Snapshot) -> Delta {
    let Some(prev) = prev else {
        return Delta { events: Vec::new(), upserts: next.values().cloned().collect(), removed: Vec::new() };
    };
    let mut delta = Delta::default();
    for (id, job) in next {
        match prev.get(id) {
            None => {
                delta.events.push(JobEvent::Appeared(job.clone()));
                delta.upserts.push(job.clone());
            }
            Some(old) if old == job => {}
            Some(old) => {
                if old.status != job.status || old.phase() != job.phase() {
                    delta.events.push(JobEvent::StatusChanged { before: old.clone(), after: job.clone() });
                }
                delta.upserts.push(job.clone());
            }
        }
    }
    delta.events.sort_by(|a, b| a.job().id.cmp(&b.job().id));
    let mut gone: Vec<&Job> = prev.iter().filter(|(id, _)| !next.contains_key(*id)).map(|(_, j)| j).collect();
    gone.sort_by(|a, b| a.id.cmp(&b.id));
    for job in gone {
        delta.removed.push(job.id.clone());
        delta.events.push(JobEvent::Disappeared { last_seen: job.clone(), final_status: None });
    }
    delta
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, status: Status) -> Job {
        Job::new(id, status)
    }

    fn snap(jobs: &[Job]) -> Snapshot {
        snapshot(jobs.to_vec())
    }

    #[test]
    fn table() {
        let run = |id| job(id, Status::Executing);
        let mut cancelled_flag = job("b", Status::Failed);
        cancelled_flag.cancelled_flag = true;
        let mut ended = run("a");
        ended.ended_at = Some(5);
        let mut renamed = run("a");
        renamed.username = Some("joe".into());
        // (name, previous, next, events, rows upserted, rows removed)
        type Case<'a> = (&'a str, Option<Snapshot>, Snapshot, Vec<&'a str>, usize, usize);
        let cases: Vec<Case> = vec![
            ("baseline: no events, every row written", None, snap(&[run("a"), run("b")]), vec![], 2, 0),
            ("nothing changed: nothing to write", Some(snap(&[run("a")])), snap(&[run("a")]), vec![], 0, 0),
            ("appeared", Some(snap(&[run("a")])), snap(&[run("a"), run("b")]), vec!["appeared b"], 1, 0),
            (
                "status changed",
                Some(snap(&[run("a")])),
                snap(&[job("a", Status::Failed)]),
                vec!["status_changed a"],
                1,
                0,
            ),
            ("disappeared", Some(snap(&[run("a"), run("b")])), snap(&[run("a")]), vec!["disappeared b"], 0, 1),
            (
                "phase changed by isCancelled",
                Some(snap(&[job("b", Status::Failed)])),
                snap(&[cancelled_flag]),
                vec!["status_changed b"],
                1,
                0,
            ),
            ("phase changed by endTime", Some(snap(&[run("a")])), snap(&[ended]), vec!["status_changed a"], 1, 0),
            ("other field: written, no event", Some(snap(&[run("a")])), snap(&[renamed]), vec![], 1, 0),
            ("empty previous poll", Some(Snapshot::new()), snap(&[run("a")]), vec!["appeared a"], 1, 0),
        ];
        for (name, prev, next, events, upserts, removed) in cases {
            let delta = diff(prev.as_ref(), &next);
            let got: Vec<String> = delta.events.iter().map(|e| format!("{} {}", e.kind(), e.job().id)).collect();
            assert_eq!(got, events, "{name}");
            assert_eq!((delta.upserts.len(), delta.removed.len()), (upserts, removed), "{name}");
        }
    }

    #[test]
    fn status_change_carries_both_sides() {
        let delta = diff(Some(&snap(&[job("a", Status::Executing)])), &snap(&[job("a", Status::Failed)]));
        let JobEvent::StatusChanged { before, after } = &delta.events[0] else { panic!() };
        assert_eq!((before.status.as_str(), after.status.as_str()), ("EXECUTING", "FAILED"));
    }
}
