//! What the benches share: the job lists, the rules, the daemon's way of reading a list and of
//! committing a poll.
#![allow(dead_code)]

use nbwarden::arcgis::wire::{structure, JobList, Payload, Scratch};
use nbwarden::diff::{listed, Snapshot};
use nbwarden::store::{PollCommit, Scope};
use std::time::Duration;

/// The benches' "now" on the server's clock.
pub const NOW: nbwarden::clock::ServerMs = nbwarden::clock::ServerMs(1_800_000_000_000);

/// An Enterprise list of `n` jobs; one job in `every` (offset `flip`) has just failed.
pub fn body(n: usize, every: usize, flip: usize) -> Vec<u8> {
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let running = i % 10 == 0;
        let failed_now = i % every == flip;
        let start = NOW.0 - (i as i64 % 7200) * 1000;
        let (status, end) = match (running, failed_now) {
            (_, true) => ("FAILED", NOW.0 - 1000),
            (true, false) => ("EXECUTING", 0),
            (false, false) => ("COMPLETED", start + 60_000),
        };
        items.push(format!(
            r#"{{"jobId":"j{i:07}","type":"executeNotebook","startTime":{start},"endTime":{end},"status":"{status}","username":"user{}"}}"#,
            i % 50
        ));
    }
    format!(r#"{{"asyncNotebookJobs":[{}]}}"#, items.join(",")).into_bytes()
}

pub fn rules_yaml() -> String {
    let mut out = String::from("rules:\n");
    for i in 0..50 {
        let rule = match i % 5 {
            0 => format!("  - {{ name: r{i}, match: {{ type: executeNotebook, status: running, runtime_over: {}m, username: {{ not: [svc_*] }} }}, actions: [{{ type: cancel }}] }}\n", 90 + i),
            1 => format!("  - {{ name: r{i}, on: status_changed, match: {{ to: failed, username: 'user{}*' }}, actions: [{{ type: log }}] }}\n", i % 10),
            2 => format!("  - {{ name: r{i}, for_polls: 2, match: {{ status: submitted, runtime_over: 10m }}, actions: [{{ type: log }}] }}\n"),
            3 => format!("  - {{ name: r{i}, on: appeared, match: {{ type: openNotebook }}, actions: [{{ type: log }}] }}\n"),
            _ => format!("  - {{ name: r{i}, on: disappeared, match: {{ status: failed }}, actions: [{{ type: log }}] }}\n"),
        };
        out.push_str(&rule);
    }
    out
}

pub fn parse(bytes: &[u8]) -> Vec<nbwarden::arcgis::Job> {
    let list: JobList = serde_json::from_slice(bytes).expect("valid list");
    assert!(list.is_payload());
    list.into_jobs()
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The floor under any read of `body`: copied into a kept buffer, as from the socket, and scanned
/// for its structure, nothing parsed.
pub fn floor(body: &[u8], buffer: &mut Vec<u8>, scratch: &mut Scratch) -> usize {
    buffer.clear();
    buffer.extend_from_slice(body);
    structure(buffer, scratch).expect("a list")
}

/// The list read as the daemon reads it, knowing the previous poll.
pub fn read(body: &[u8], previous: &Snapshot, scratch: &mut Scratch) -> Snapshot {
    listed(JobList::read(body, previous.known(), scratch).expect("valid list").into_listed(), Some(previous))
}

/// A poll's commit as the engine makes it: the whole snapshot, and the rows that changed.
pub fn commit<'a>(
    target: &'a str,
    snapshot: &'a Snapshot,
    upserts: &[usize],
    ledger: Vec<nbwarden::plan::LedgerRecord>,
) -> PollCommit<'a> {
    let upserts = upserts.iter().map(|&index| &*snapshot.jobs()[index]).collect();
    PollCommit { snapshot: Some(snapshot), upserts, ledger, ..PollCommit::new(Scope::Real, target, NOW) }
}
