//! Property tests (proptest), run with the normal suite: no input makes the parsers panic, a
//! snapshot diffed against itself is empty, and a diff's events applied to the old snapshot give
//! the new one.

use nbwarden::arcgis::client::decode;
use nbwarden::arcgis::wire::JobList;
use nbwarden::arcgis::{Job, Status};
use nbwarden::diff::{diff, snapshot, JobEvent};
use proptest::prelude::*;
use std::collections::BTreeMap;

const STATUSES: &[&str] = &["SUBMITTED", "EXECUTING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED", "WEIRD"];

fn job() -> impl Strategy<Value = Job> {
    (
        0u8..40,
        proptest::sample::select(STATUSES),
        proptest::option::of("[a-z]{1,6}"),
        proptest::option::of(0i64..10_000),
        proptest::option::of(0i64..10_000),
        proptest::option::of("[a-f0-9]{4}"),
        any::<bool>(),
    )
        .prop_map(|(id, status, username, started, ended, item, cancelled)| Job {
            username,
            started_at: started,
            ended_at: ended,
            item_id: item,
            cancelled_flag: cancelled,
            job_type: Some("executeNotebook".into()),
            ..Job::new(format!("j{id}"), Status::parse(status))
        })
}

/// A job list with unique ids, as a server sends it.
fn jobs() -> impl Strategy<Value = Vec<Job>> {
    proptest::collection::vec(job(), 0..30).prop_map(|jobs| {
        let mut seen = std::collections::HashSet::new();
        jobs.into_iter().filter(|j| seen.insert(j.id.clone())).collect()
    })
}

fn by_id(jobs: &[Job]) -> BTreeMap<String, Job> {
    jobs.iter().map(|j| (j.id.clone(), j.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_snapshot_against_itself_has_no_events(list in jobs()) {
        let snap = snapshot(list);
        let delta = diff(Some(&snap), &snap);
        prop_assert!(delta.events.is_empty());
        prop_assert!(delta.upserts.is_empty());
    }

    #[test]
    fn events_and_upserts_applied_to_the_old_snapshot_give_the_new_one(old in jobs(), new in jobs()) {
        let (old_snap, new_snap) = (snapshot(old.clone()), snapshot(new.clone()));
        let delta = diff(Some(&old_snap), &new_snap);
        let mut state = by_id(&old);
        for event in &delta.events {
            match event {
                JobEvent::Appeared(job) | JobEvent::StatusChanged { after: job, .. } => {
                    state.insert(job.id.clone(), job.clone());
                }
                JobEvent::Disappeared { last_seen, .. } => {
                    prop_assert!(state.remove(&last_seen.id).is_some(), "only a known job can disappear");
                }
            }
        }
        for job in &delta.upserts {
            state.insert(job.id.clone(), job.clone());
        }
        prop_assert_eq!(state, by_id(&new));
    }

    #[test]
    fn any_bytes_as_a_job_list_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in prop_oneof![Just(200u16), Just(500), Just(498)]) {
        if let Ok(list) = decode::<JobList>("https://x/jobs", status, "application/json", None, &body) {
            let _ = snapshot(list.into_jobs());
        }
    }

    #[test]
    fn json_shaped_job_lists_never_panic(items in proptest::collection::vec(json_item(), 0..8), key in proptest::sample::select(&["asyncNotebookJobs", "notebookJobs", "asyncJobs", "other"][..])) {
        let body = serde_json::json!({ key: items }).to_string();
        if let Ok(list) = decode::<JobList>("https://x/jobs", 200, "application/json", None, body.as_bytes()) {
            for job in list.into_jobs() {
                prop_assert!(!job.id.is_empty());
            }
        }
    }

    #[test]
    fn any_text_as_a_rule_file_never_panics(text in "(rules:\n  - )?[ -~\n]{0,300}") {
        let _ = nbwarden::rules::RuleSet::parse(std::path::Path::new("p.yaml"), &text, &["prod"]);
    }

    #[test]
    fn rendered_headers_never_carry_line_breaks(username in "\\PC*[\r\n]?\\PC*") {
        let context = serde_json::json!({ "job": { "username": username } });
        let header = nbwarden::template::render_header("Job of {{ job.username }}", &context).unwrap();
        prop_assert!(!header.contains('\r') && !header.contains('\n'));
    }
}

/// A JSON value shaped like a job item, with wrong types and odd values mixed in.
fn json_item() -> impl Strategy<Value = serde_json::Value> {
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
    ];
    proptest::collection::btree_map(
        proptest::sample::select(
            &["jobId", "type", "name", "status", "startTime", "endTime", "username", "inputs", "customAttributes"][..],
        ),
        value,
        0..9,
    )
    .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}
