//! The report over a known history: exact figures per group, the longest runs, the days.

use super::*;
use crate::arcgis::Status;
use crate::clock::ServerMs;

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// 2026-11-28T00:00:00Z.
const T0: ServerMs = ServerMs(1_795_824_000_000);

fn change(
    id: &str,
    owner: &str,
    (start, end): (ServerMs, Option<ServerMs>),
    status: Status,
    listed: bool,
    at: ServerMs,
) -> Change {
    let job = Job {
        username: Some(owner.into()),
        item_id: Some(format!("nb-{owner}")),
        job_type: Some("executeNotebook".into()),
        started_at: Some(start),
        ended_at: end,
        ..Job::new(id, status)
    };
    Change { at_ms: at, job, listed }
}

/// ann: 10 + 30 + 20 minutes, one failed; bob: 90 minutes cancelled by nbwarden, one gone while
/// running (found gone 5 minutes after its start: unknown), one still running (not counted).
fn history() -> Vec<Change> {
    vec![
        change("a1", "ann", (T0, None), Status::Executing, true, T0),
        change("a1", "ann", (T0, Some(T0 + 10 * MIN)), Status::Completed, true, T0 + 11 * MIN),
        change("a2", "ann", (T0 + DAY, Some(T0 + DAY + 30 * MIN)), Status::Failed, true, T0 + DAY + 31 * MIN),
        change("a3", "ann", (T0 + DAY, Some(T0 + DAY + 20 * MIN)), Status::Completed, true, T0 + DAY + 21 * MIN),
        change("b1", "bob", (T0, None), Status::Executing, true, T0),
        change("b1", "bob", (T0, Some(T0 + 90 * MIN)), Status::Cancelled("CANCELLED".into()), true, T0 + 91 * MIN),
        change("b2", "bob", (T0, None), Status::Executing, true, T0 + MIN),
        change("b2", "bob", (T0, None), Status::Unknown("unknown".into()), false, T0 + 5 * MIN),
        change("b3", "bob", (T0, None), Status::Executing, true, T0 + 2 * MIN),
    ]
}

#[test]
fn exact_figures_per_owner_the_longest_runs_and_every_day() {
    let runs = runs("prod", history());
    assert_eq!(runs.len(), 5, "b3 is still running");
    let cancelled = BTreeSet::from([("prod".to_string(), "b1".to_string())]);
    let report = report(&runs, &cancelled, By::Owner, (T0, T0 + 2 * DAY));
    let bob = &report.groups[0];
    assert_eq!(
        (bob.name.as_str(), bob.runs, bob.compute_minutes, bob.failures, bob.cancels),
        ("bob", 2, 95.0, 0, 1),
        "most compute first: 90 + 5 minutes"
    );
    assert_eq!((bob.median_minutes, bob.p95_minutes), (47.5, 90.0));
    let ann = &report.groups[1];
    assert_eq!((ann.runs, ann.compute_minutes, ann.failures, ann.failure_rate), (3, 60.0, 1, 0.333));
    assert_eq!((ann.median_minutes, ann.p95_minutes, ann.cancels), (20.0, 30.0, 0));
    let longest: Vec<(&str, f64, Ending)> =
        report.longest.iter().map(|l| (l.job_id.as_str(), l.runtime_minutes, l.outcome)).collect();
    assert_eq!(
        longest,
        [
            ("b1", 90.0, Ending::Cancelled),
            ("a2", 30.0, Ending::Failed),
            ("a3", 20.0, Ending::Completed),
            ("a1", 10.0, Ending::Completed),
            ("b2", 5.0, Ending::Unknown),
        ]
    );
    let days: Vec<(&str, u64, u64)> =
        report.days.iter().map(|d| (d.date.as_str(), d.runs["completed"], d.runs["failed"])).collect();
    assert_eq!(days, [("2026-11-28", 1, 0), ("2026-11-29", 1, 1), ("2026-11-30", 0, 0)]);
    assert_eq!(report.days[0].runs["cancelled"] + report.days[0].runs["unknown"], 2);
}

#[test]
fn runs_outside_the_window_and_other_groupings() {
    let runs = runs("prod", history());
    let second_day = report(&runs, &BTreeSet::new(), By::Notebook, (T0 + DAY, T0 + 2 * DAY));
    let names: Vec<(&str, u64)> = second_day.groups.iter().map(|g| (g.name.as_str(), g.runs)).collect();
    assert_eq!(names, [("nb-ann", 2)]);
    let by_task = report(&runs, &BTreeSet::new(), By::Task, (T0, T0 + 2 * DAY));
    assert_eq!(by_task.groups[0].name, "(not scheduled)");
    let mut scheduled = runs.clone();
    scheduled[0].job.task_id = Some("t1".into());
    scheduled[0].job.edit(|more| more.task_title = Some("Nightly".into()));
    scheduled[1].job.task_id = Some("t2".into());
    let names: Vec<String> =
        report(&scheduled, &BTreeSet::new(), By::Task, (T0, T0 + 9 * DAY)).groups.into_iter().map(|g| g.name).collect();
    assert!(names.contains(&"Nightly (t1)".to_string()) && names.contains(&"t2".to_string()), "{names:?}");
    assert_eq!(By::parse("runtime"), Some(By::Runtime));
    let empty = report(&[], &BTreeSet::new(), By::Owner, (T0, T0 + DAY / 2));
    assert!(empty.groups.is_empty() && empty.longest.is_empty() && empty.days.len() == 1);
}

/// On Enterprise the job list carries no `inputs`: a run's task is the one of its owner's tasks
/// whose run the watcher read as created within two minutes of the job's start, if only one fits.
#[test]
fn a_run_without_a_task_id_takes_the_one_task_of_its_owner_that_started_then() {
    let mut runs = runs("prod", history());
    runs.iter_mut().filter(|r| r.job.id == "a1").for_each(|r| r.job.task_id = Some(String::new()));
    let starts = [
        TaskStart { task: "t1", owner: "ann", at_ms: T0 + DAY - 30_000 },
        TaskStart { task: "t1", owner: "ann", at_ms: T0 + DAY + 40_000 },
        TaskStart { task: "t9", owner: "ann", at_ms: T0 + 2 * DAY },
        TaskStart { task: "tb", owner: "bob", at_ms: T0 + 121_000 },
        TaskStart { task: "tz", owner: "zed", at_ms: T0 },
    ];
    attribute_tasks(&mut runs, &starts);
    let mut tasks: Vec<(&str, Option<&str>)> =
        runs.iter().map(|r| (r.job.id.as_str(), r.job.task_id.as_deref())).collect();
    tasks.sort();
    assert_eq!(
        tasks,
        [("a1", Some("")), ("a2", Some("t1")), ("a3", Some("t1")), ("b1", None), ("b2", None)],
        "a1's list said it was not scheduled; b1 started 2 min 1 s before bob's run"
    );
    let two =
        [TaskStart { task: "t1", owner: "bob", at_ms: T0 }, TaskStart { task: "t2", owner: "bob", at_ms: T0 + 1 }];
    let mut runs = super::runs("prod", history());
    attribute_tasks(&mut runs, &two);
    assert!(runs.iter().all(|r| r.job.task_id.is_none()), "two tasks fit: neither is taken");
}

#[test]
fn every_format_carries_the_same_numbers_and_the_page_escapes_names() {
    let mut history = history();
    history.push(change("x", "<img src=x onerror=alert(1)>", (T0, Some(T0 + MIN)), Status::Completed, true, T0 + MIN));
    let report = report(&runs("prod", history), &BTreeSet::new(), By::Owner, (T0, T0 + 2 * DAY));
    let csv = render::csv(&report).unwrap();
    assert!(csv.contains("group,bob,compute_minutes,95\n") && csv.contains("longest,1,job_id,b1\n"), "{csv}");
    assert!(csv.contains("day,2026-11-29,failed,1\n"), "{csv}");
    let json: serde_json::Value = serde_json::from_str(&render::json(&report).unwrap()).unwrap();
    assert_eq!(json["groups"][0]["compute_minutes"], 95.0);
    let html = render::html(&report).unwrap();
    assert!(!html.contains("<img"), "hostile names are escaped, in the tables and in the charts");
    assert_eq!(html.matches("<svg").count(), 2, "two charts");
}

#[test]
fn an_emails_report_groupings_are_the_reports() {
    let names: Vec<&str> = By::ALL.iter().map(|b| b.as_str()).collect();
    assert_eq!(names, crate::actions::reports::GROUPINGS);
    let text = "rules:\n  - { name: r, on: schedule, cron: '0 8 * * 1', actions: [{ type: email, to: [a@example.com], report: { by: team } }] }\n";
    let errors = crate::rules::RuleSet::parse(std::path::Path::new("r.yaml"), text, &["t"]).unwrap_err();
    assert!(
        errors[0]
            .to_string()
            .contains("`report.by: team` is not a grouping; use one of owner, notebook, type, runtime, task"),
        "{errors:?}"
    );
}
