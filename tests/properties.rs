//! Property tests (proptest), run with the normal suite: no input makes the parsers panic; the
//! diff agrees with a naive reference diff (a map from old to new) on pairs of overlapping lists,
//! edited and reordered; a rendered header never breaks a mail header line.

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
            started_at: started.map(nbwarden::clock::ServerMs),
            ended_at: ended.map(nbwarden::clock::ServerMs),
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

/// What one edit does to an old job in the next poll.
#[derive(Debug, Clone)]
enum Edit {
    Keep,
    Drop,
    Status(&'static str),
    EndAt(i64),
    Cancelled,
    Owner(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => Just(Edit::Keep),
        1 => Just(Edit::Drop),
        2 => proptest::sample::select(STATUSES).prop_map(Edit::Status),
        1 => (1i64..10_000).prop_map(Edit::EndAt),
        1 => Just(Edit::Cancelled),
        1 => "[a-z]{1,6}".prop_map(Edit::Owner),
    ]
}

/// Two polls whose ids overlap: the old list, each job kept, dropped or changed, new jobs added,
/// and the whole reordered by `rotate` (beyond the diff's sequential lookahead when large).
fn two_polls() -> impl Strategy<Value = (Vec<Job>, Vec<Job>)> {
    (jobs(), proptest::collection::vec(edit(), 30), jobs(), 0usize..30, any::<bool>()).prop_map(
        |(old, edits, fresh, rotate, reverse)| {
            let mut new: Vec<Job> = old
                .iter()
                .zip(edits)
                .filter_map(|(job, edit)| {
                    let mut job = job.clone();
                    match edit {
                        Edit::Keep => {}
                        Edit::Drop => return None,
                        Edit::Status(s) => job.status = Status::parse(s),
                        Edit::EndAt(t) => job.ended_at = Some(nbwarden::clock::ServerMs(t)),
                        Edit::Cancelled => job.cancelled_flag = !job.cancelled_flag,
                        Edit::Owner(o) => job.username = Some(o),
                    }
                    Some(job)
                })
                .collect();
            let known: std::collections::HashSet<String> =
                new.iter().map(|j| j.id.clone()).chain(old.iter().map(|j| j.id.clone())).collect();
            new.extend(
                fresh.into_iter().map(|j| Job { id: format!("n{}", j.id), ..j }).filter(|j| !known.contains(&j.id)),
            );
            let len = new.len().max(1);
            new.rotate_left(rotate % len);
            if reverse {
                new.reverse();
            }
            (old, new)
        },
    )
}

/// The diff as the SPEC states it, with nothing clever: a map from old to new.
fn reference_diff(old: &[Job], new: &[Job]) -> (Vec<String>, Vec<String>) {
    let before = by_id(old);
    let mut events = Vec::new();
    let mut upserts = Vec::new();
    for job in new {
        match before.get(&job.id) {
            None => {
                events.push(format!("appeared {}", job.id));
                upserts.push(job.id.clone());
            }
            Some(was) if was != job => {
                if was.status != job.status || was.phase() != job.phase() {
                    events.push(format!("status_changed {} {}->{}", job.id, was.status, job.status));
                }
                upserts.push(job.id.clone());
            }
            Some(_) => {}
        }
    }
    events.sort_by(|a, b| a.split(' ').nth(1).cmp(&b.split(' ').nth(1)));
    let now = by_id(new);
    events.extend(before.keys().filter(|id| !now.contains_key(*id)).map(|id| format!("disappeared {id}")));
    upserts.sort();
    (events, upserts)
}

fn described(event: &JobEvent) -> String {
    match event {
        JobEvent::Appeared(job) => format!("appeared {}", job.id),
        JobEvent::StatusChanged { before, after } => {
            format!("status_changed {} {}->{}", after.id, before.status, after.status)
        }
        JobEvent::Disappeared { last_seen, .. } => format!("disappeared {}", last_seen.id),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_snapshot_against_a_fresh_copy_of_itself_has_no_events(list in jobs()) {
        // Built twice from cloned jobs: nothing is shared between the two sides but equal values.
        let delta = diff(Some(&snapshot(list.clone())), &snapshot(list.into_iter().map(|j| Job { ..j }).collect()));
        prop_assert!(delta.events.is_empty());
        prop_assert!(delta.upserts.is_empty());
    }

    #[test]
    fn the_diff_agrees_with_a_naive_reference_diff((old, new) in two_polls()) {
        let delta = diff(Some(&snapshot(old.clone())), &snapshot(new.clone()));
        let events: Vec<String> = delta.events.iter().map(described).collect();
        let mut upserts: Vec<String> = delta.upserts.iter().map(|&i| new[i].id.clone()).collect();
        upserts.sort();
        let (expected_events, expected_upserts) = reference_diff(&old, &new);
        prop_assert_eq!(events, expected_events);
        prop_assert_eq!(upserts, expected_upserts);
        // Every event carries the job as the new poll lists it (or, gone, as last seen).
        let (before, now) = (by_id(&old), by_id(&new));
        for event in &delta.events {
            match event {
                JobEvent::Appeared(job) | JobEvent::StatusChanged { after: job, .. } => prop_assert_eq!(Some(job), now.get(&job.id)),
                JobEvent::Disappeared { last_seen, .. } => prop_assert_eq!(Some(last_seen), before.get(&last_seen.id)),
            }
        }
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
    fn a_rendered_subject_stays_one_header(username in "[a-z ]{0,8}(\r|\n|\r\n|\u{85}|\u{2028}|\u{b}|\u{c})?(Bcc: [a-z]{1,5}@x.org)?[a-z]{0,4}") {
        let context = serde_json::json!({ "job": { "username": username } });
        let subject = nbwarden::actions::template::render_header("Job of {{ job.username }}", &context).unwrap();
        // Independently of the code: as bytes, no CR or LF; as a message built by lettre, one
        // Subject header and no other header than those written.
        prop_assert!(!subject.bytes().any(|b| b == 0x0d || b == 0x0a), "{:?}", subject);
        let message = lettre::Message::builder()
            .from("n@example.org".parse().unwrap())
            .to("a@example.org".parse().unwrap())
            .subject(subject)
            .body(String::from("b"))
            .unwrap();
        let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
        let head = raw.split("\r\n\r\n").next().unwrap_or_default();
        let names: Vec<&str> = head.split("\r\n").filter(|l| !l.starts_with([' ', '\t'])).filter_map(|l| l.split(':').next()).collect();
        prop_assert_eq!(names.iter().filter(|n| n.eq_ignore_ascii_case("subject")).count(), 1, "{}", head);
        prop_assert!(!names.iter().any(|n| n.eq_ignore_ascii_case("bcc")), "{}", head);
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

mod list_read {
    //! The reusing list read (`JobList::read`) against the full parse (`JobList::from_json`): for
    //! any body — whitespace, key order, escapes, duplicate keys, truncation, a byte changed — the
    //! same jobs, or an error from both; and a job listed in the same bytes is shared.
    use nbwarden::arcgis::wire::{JobList, Payload, Scratch};
    use nbwarden::arcgis::{Job, Known, Listed};
    use proptest::prelude::*;
    use std::sync::Arc;

    const SPACES: &[&str] = &["", " ", "\n  ", "\t", "\r\n"];

    /// A JSON string of `text`, some of its ASCII letters written as `\u` escapes.
    fn quoted(text: &str, escape: bool) -> String {
        let plain = serde_json::to_string(text).unwrap();
        if !escape {
            return plain;
        }
        plain
            .chars()
            .map(|c| if c.is_ascii_lowercase() { format!("\\u{:04x}", c as u32) } else { c.to_string() })
            .collect()
    }

    /// One job object's members as (key, value) text.
    fn members() -> impl Strategy<Value = Vec<(String, String)>> {
        (
            "[a-c][0-9]{1,2}",
            proptest::sample::select(&["EXECUTING", "FAILED", "COMPLETED", "CANCELLED", "odd"][..]),
            proptest::option::of("[a-zé\"\\\\/ ]{0,6}"),
            proptest::option::of(prop_oneof![
                (0i64..9_999).prop_map(|n| n.to_string()),
                (0i64..9_999).prop_map(|n| format!("\"{n}\"")),
                Just("null".to_string())
            ]),
            proptest::option::of("[a-f0-9]{3}"),
            proptest::option::of(Just(r#"{"deep":[1,{"x":"]}"},[[]]],"s":"\"{["}"#.to_string())),
            any::<bool>(),
        )
            .prop_map(|(id, status, user, start, item, extra, escape)| {
                let mut m = vec![("jobId".to_string(), quoted(&id, escape)), ("status".into(), quoted(status, false))];
                if let Some(user) = user {
                    m.push(("username".into(), quoted(&user, escape)));
                }
                if let Some(start) = start {
                    m.push(("startTime".into(), start));
                }
                if let Some(item) = item {
                    m.push(("inputs".into(), format!(r#"{{"itemId":{}}}"#, quoted(&item, false))));
                }
                if let Some(extra) = extra {
                    m.push(("unknownField".into(), extra));
                }
                m
            })
    }

    /// A job object: its members in some order, with some whitespace, maybe a member twice.
    fn object() -> impl Strategy<Value = String> {
        (members().prop_shuffle(), proptest::sample::select(SPACES), any::<u8>()).prop_map(|(mut m, ws, dup)| {
            if dup % 13 == 0 && !m.is_empty() {
                m.push(m[0].clone());
            }
            let inner: Vec<String> = m.iter().map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}")).collect();
            format!("{{{}{ws}}}", inner.join(","))
        })
    }

    /// A list body: the items under one of the keys, maybe beside `total` and other members.
    fn body(items: Vec<String>, key: &str, ws: &str, extra: u8) -> String {
        let written = quoted(key, extra & 0x10 != 0);
        let mut members = vec![format!("{written}{ws}:{ws}[{ws}{}{ws}]", items.join(&format!("{ws},{ws}")))];
        match extra % 4 {
            0 => members.push(format!("\"total\":{}", items.len() + 1)),
            1 => members.insert(0, r#""num":100,"nextStart":-1"#.into()),
            2 => members.push(format!("\"{key}\":[]")),
            _ => {}
        }
        format!("{ws}{{{ws}{}{ws}}}{ws}", members.join(","))
    }

    fn listed(list: JobList) -> (Vec<Job>, bool, Option<(i64, usize)>) {
        let (payload, cut) = (list.is_payload(), list.cut_short());
        (list.into_jobs(), payload, cut)
    }

    /// Both reads of `next`, the reusing one knowing what it read of `prev`.
    fn compare(prev: &str, next: &[u8]) -> Result<usize, TestCaseError> {
        let mut scratch = Scratch::default();
        let before = JobList::read(prev.as_bytes(), Known::default(), &mut scratch).ok().map(JobList::into_listed);
        let before = before.unwrap_or_default();
        let (known, jobs) = (Known(Some(&before)), before.jobs());
        let full = JobList::from_json(next).map(listed);
        let fast = JobList::read(next, known, &mut scratch);
        let shared = match (&full, fast) {
            (Ok(full), Ok(fast)) => {
                let (payload, cut) = (fast.is_payload(), fast.cut_short());
                let fast_listed = fast.into_listed();
                let fast_jobs = fast_listed.jobs();
                let shared = fast_jobs.iter().filter(|j| jobs.iter().any(|k| Arc::ptr_eq(k, j))).count();
                let fast_jobs: Vec<Job> = fast_jobs.iter().map(|job| Job::clone(job)).collect();
                prop_assert_eq!(&(fast_jobs, payload, cut), full);
                shared
            }
            (Err(_), Err(_)) => 0,
            (full, fast) => return Err(TestCaseError::fail(format!("full {full:?}, reusing {:?}", fast.map(listed)))),
        };
        Ok(shared)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn a_reusing_read_equals_a_full_parse(
            items in proptest::collection::vec(object(), 0..12),
            keep in proptest::collection::vec(any::<bool>(), 12),
            key in proptest::sample::select(&["asyncNotebookJobs", "notebookJobs", "asyncJobs"][..]),
            ws in proptest::sample::select(SPACES),
            extra in any::<u8>(),
        ) {
            let prev = body(items.iter().zip(&keep).filter(|(_, k)| **k).map(|(i, _)| i.clone()).collect(), key, "", extra);
            let next = body(items.clone(), key, ws, extra);
            compare(&prev, next.as_bytes())?;
            compare(&next, next.as_bytes())?;
        }

        #[test]
        fn a_cut_or_changed_body_reads_as_a_full_parse_does(
            items in proptest::collection::vec(object(), 1..6),
            at in any::<prop::sample::Index>(),
            byte in proptest::sample::select(&b"{}[]\",:\\ 0an\xff"[..]),
            cut in any::<bool>(),
        ) {
            let whole = body(items, "asyncNotebookJobs", " ", 3);
            let mut next = whole.clone().into_bytes();
            let at = at.index(next.len());
            match cut {
                true => next.truncate(at),
                false => next[at] = byte,
            }
            compare(&whole, &next)?;
        }
    }

    /// Unchanged jobs are shared, changed and new ones parsed, whatever moved in between.
    #[test]
    fn jobs_listed_in_the_same_bytes_are_shared_not_parsed() {
        let item =
            |i: usize, status: &str| format!(r#"{{"jobId":"j{i}","status":"{status}","username":"u{}"}}"#, i % 3);
        let list = |items: Vec<String>| format!(r#"{{"asyncNotebookJobs":[{}]}}"#, items.join(","));
        let prev = list((0..40).map(|i| item(i, "EXECUTING")).collect());
        // j5 changed, j0..j2 and j20..j34 gone (more than the lookahead), j99 new at the top.
        let mut next: Vec<String> = vec![item(99, "SUBMITTED")];
        next.extend(
            (3..40).filter(|i| !(20..35).contains(i)).map(|i| item(i, if i == 5 { "FAILED" } else { "EXECUTING" })),
        );
        let shared = compare(&prev, list(next.clone()).as_bytes()).unwrap();
        assert_eq!(shared, next.len() - 2, "all but the changed and the new job");
        let again = list(next.clone());
        assert_eq!(compare(&again, again.as_bytes()).unwrap(), next.len(), "the same body again: every job");
    }

    /// The same body again is the previous list itself, shared whole: nothing per job.
    #[test]
    fn the_same_body_again_is_the_previous_list_itself() {
        let body = r#"{"asyncNotebookJobs":[{"jobId":"j1","status":"EXECUTING"},{"jobId":"j2","status":"FAILED"}]}"#;
        let mut scratch = Scratch::default();
        let first = JobList::read(body.as_bytes(), Known::default(), &mut scratch).unwrap().into_listed();
        let again = JobList::read(body.as_bytes(), Known(Some(&first)), &mut scratch).unwrap().into_listed();
        assert!(again.same(&first), "one list, shared");
        let fresh = JobList::read(body.as_bytes(), Known(Some(&first)), &mut Scratch::default()).unwrap();
        assert!(fresh.into_listed().same(&first), "known from the list alone (a fresh process, from the store)");
        let mut raw = first.raw.to_vec();
        raw[1] ^= 1;
        let other_jobs = Listed::new(first.jobs().to_vec(), raw).from_body(first.body);
        let read = JobList::read(body.as_bytes(), Known(Some(&other_jobs)), &mut scratch).unwrap().into_listed();
        assert!(!read.same(&other_jobs) && read.jobs() == first.jobs(), "the body known for other jobs: read again");
        let spaced = body.replace(',', ", ");
        let other = JobList::read(spaced.as_bytes(), Known(Some(&first)), &mut scratch).unwrap().into_listed();
        assert!(!other.same(&first) && other.jobs() == first.jobs(), "other bytes: equal jobs, a list built anew");
    }
}

/// A job whose bytes hash as another job's did (a crafted collision) is parsed, not taken for the
/// other one: a job is shared only when its id is in the bytes.
#[test]
fn a_hash_collision_never_makes_a_job_another_one() {
    use nbwarden::arcgis::wire::{raw_hash, JobList, Scratch};
    use nbwarden::arcgis::Known;
    let item = r#"{"jobId":"mine","status":"EXECUTING","username":"eve"}"#;
    let other = std::sync::Arc::new(Job::new("theirs", Status::Completed));
    let known = nbwarden::arcgis::Listed::new(vec![other], vec![raw_hash(item.as_bytes())]);
    let body = format!(r#"{{"asyncNotebookJobs":[{item}]}}"#);
    let read = JobList::read(body.as_bytes(), Known(Some(&known)), &mut Scratch::default());
    let ids: Vec<String> = read.unwrap().into_jobs().into_iter().map(|j| j.id).collect();
    assert_eq!(ids, ["mine"]);
}
