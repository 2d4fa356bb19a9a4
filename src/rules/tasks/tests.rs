//! Task rules: their keys checked, and one read of tasks evaluated (failures in a row, a stop, a
//! missed run past each rule's grace, the baseline recorded quietly, the ledger's once).

use super::*;
use crate::arcgis::tasks::{Task, TaskRun};
use std::path::Path;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn rules(yaml: &str) -> Result<RuleSet, Vec<String>> {
    RuleSet::parse(Path::new("tasks.yaml"), yaml, &["prod"]).map_err(|e| e.iter().map(|e| e.to_string()).collect())
}

fn task(id: &str, last_start: i64) -> Task {
    Task {
        id: id.into(),
        title: format!("Nightly {id}"),
        owner: "joe".into(),
        item_id: Some(format!("nb-{id}")),
        cron: None,
        interval_seconds: Some(3600),
        start_ms: Some(ServerMs(0)),
        last_start_ms: Some(ServerMs(last_start)),
        active: true,
        state: Some("active".into()),
    }
}

fn seen(task: Task, failures: u32) -> Seen {
    Seen { task, consecutive_failures: failures, last_result: None, unfinished_run: None }
}

fn failed(task: &Task, run: &str, consecutive_failures: u32) -> TaskEvent {
    let run = TaskRun { id: run.into(), status: "failed".into(), created_ms: Some(ServerMs(0)), modified_ms: None };
    TaskEvent::Failed { task: task.clone(), run, consecutive_failures }
}

const RULES: &str = "rules:
  - name: third
    on: task_failed
    match: { consecutive_failures: 3, owner: 'jo*' }
    actions: [{ type: log }]
  - name: many
    on: task_failed
    match: { consecutive_failures: { at_least: 4 } }
    actions: [{ type: log }]
  - name: stopped
    on: task_stopped
    actions: [{ type: log }]
  - name: missed
    on: task_missed
    grace: 30m
    match: { title: { not: 'Nightly b' } }
    actions: [{ type: log }]
";

fn evaluate(
    set: &RuleSet,
    tasks: &BTreeMap<String, Seen>,
    events: &[TaskEvent],
    now_ms: i64,
    ledger: &LedgerIndex,
) -> Vec<String> {
    let input = TaskInput {
        target: "prod",
        now: ServerMs(now_ms),
        tasks,
        events,
        ledger,
        baseline: false,
        zone: chrono_tz::UTC,
    };
    set.evaluate_tasks(&input)
        .iter()
        .map(|f| format!("{} {} {}", set.rules[f.rule].name, f.facts.task.id, f.trigger))
        .collect()
}

#[test]
fn failures_in_a_row_match_exactly_or_at_least_and_the_ledger_fires_each_once() {
    let set = rules(RULES).expect("rules");
    let a = task("a", 2 * HOUR);
    let tasks = BTreeMap::from([("a".to_string(), seen(a.clone(), 4))]);
    let events = [failed(&a, "r3", 3), failed(&a, "r4", 4)];
    let mut ledger = LedgerIndex::default();
    let fired = evaluate(&set, &tasks, &events, 2 * HOUR + MIN, &ledger);
    assert_eq!(fired, ["third a failed:r3", "many a failed:r4"]);
    ledger.record("third", &task_key("a"), &"failed:r3".parse::<crate::ledger::Cause>().unwrap(), ServerMs(0));
    let again = evaluate(&set, &tasks, &events, 2 * HOUR + MIN, &ledger);
    assert_eq!(again, ["many a failed:r4"], "the third failure was told once");
}

#[test]
fn a_missed_run_waits_for_the_rules_grace_and_its_title_condition() {
    let set = rules(RULES).expect("rules");
    let tasks =
        BTreeMap::from([("a".to_string(), seen(task("a", HOUR), 0)), ("b".to_string(), seen(task("b", HOUR), 0))]);
    let ledger = LedgerIndex::default();
    assert!(evaluate(&set, &tasks, &[], 2 * HOUR + 20 * MIN, &ledger).is_empty(), "within 30m");
    let due = 2 * HOUR;
    assert_eq!(evaluate(&set, &tasks, &[], 2 * HOUR + 31 * MIN, &ledger), [format!("missed a missed@{due}")]);
    let input = TaskInput {
        target: "prod",
        now: ServerMs(2 * HOUR + 31 * MIN),
        tasks: &tasks,
        events: &[],
        ledger: &ledger,
        baseline: true,
        zone: chrono_tz::UTC,
    };
    assert!(set.evaluate_tasks(&input).iter().all(|f| f.quiet), "the baseline is recorded, not told");
}

#[test]
fn a_stop_fires_the_stop_rule_only() {
    let set = rules(RULES).expect("rules");
    let mut a = task("a", HOUR);
    a.active = false;
    let tasks = BTreeMap::from([("a".to_string(), seen(a.clone(), 5))]);
    let fired = evaluate(&set, &tasks, &[TaskEvent::Stopped { task: a }], HOUR + MIN, &LedgerIndex::default());
    assert_eq!(fired, [format!("stopped a stopped@{HOUR}")]);
}

#[test]
fn task_rule_mistakes_are_located() {
    let errors = rules(
        "rules:
  - name: a
    on: task_stopped
    match: { consecutive_failures: 3, status: failed }
    actions: [{ type: log }]
  - name: b
    on: task_failed
    grace: 10m
    match: { consecutive_failures: 0 }
    actions: [{ type: cancel }]
  - name: c
    on: poll
    match: { owner: x }
    actions: [{ type: log }]
",
    )
    .unwrap_err();
    let text = errors.join("\n");
    for expected in [
        "tasks.yaml:4:14: rule \"a\": `consecutive_failures` only applies to `on: task_failed` rules",
        "tasks.yaml:4:39: rule \"a\": unknown key `status` in the `match` of a task rule",
        "tasks.yaml:8:5: rule \"b\": `grace` only applies to `on: task_missed` rules",
        "`consecutive_failures` takes a whole number from 1, or `{ at_least: N }`",
        "task rules tell people about scheduled tasks; they cannot cancel",
        "rule \"c\": unknown key `owner`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
