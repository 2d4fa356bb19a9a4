//! The governance report (pure; no I/O): the runs that finished in a window, from the recorded
//! history, grouped by owner, notebook, type, runtime or task — runs, compute minutes, failures,
//! cancels by nbwarden, median and p95 runtime — with the longest runs and the runs of each day
//! by outcome. `render` writes it as HTML (charts in SVG), CSV or JSON.

pub mod charts;
pub mod render;
pub mod source;

use crate::arcgis::{Job, Phase};
use crate::clock::ServerMs;
use crate::store::Change;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the groups are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The job's owner.
    Owner,
    /// The notebook item.
    Notebook,
    /// The job type.
    Type,
    /// The notebook runtime.
    Runtime,
    /// The scheduled task that started it.
    Task,
}

impl By {
    /// Every grouping, in the order of `--by`.
    pub const ALL: [By; 5] = [By::Owner, By::Notebook, By::Type, By::Runtime, By::Task];

    /// The `--by` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            By::Owner => "owner",
            By::Notebook => "notebook",
            By::Type => "type",
            By::Runtime => "runtime",
            By::Task => "task",
        }
    }

    /// The grouping of a `--by` value.
    pub fn parse(text: &str) -> Option<By> {
        By::ALL.into_iter().find(|b| b.as_str() == text)
    }

    fn key(self, job: &Job) -> String {
        let field = match self {
            By::Owner => job.username.as_deref(),
            By::Notebook => job.item_id.as_deref(),
            By::Type => job.job_type.as_deref(),
            By::Runtime => job.runtime_name.as_deref(),
            By::Task => {
                return match (job.task_id.as_deref().filter(|t| !t.is_empty()), job.own_task_title()) {
                    (Some(id), Some(title)) => format!("{title} ({id})"),
                    (Some(id), None) => id.to_string(),
                    (None, _) => "(not scheduled)".into(),
                }
            }
        };
        field.map_or_else(|| "(unknown)".to_string(), str::to_string)
    }
}

/// When a scheduled task started a run, as the tasks watcher read it.
#[derive(Debug, Clone, Copy)]
pub struct TaskStart<'a> {
    /// The task.
    pub task: &'a str,
    /// Its owner, who owns the job it starts.
    pub owner: &'a str,
    /// When the run was created.
    pub at_ms: ServerMs,
}

/// How far a job's start may be from its task run's creation to be taken as that run's job.
const TASK_START_SLACK_MS: i64 = 120_000;

/// Gives the runs whose job list carried no `inputs` (Enterprise's: no task id known) the task
/// that started them: one of their owner's tasks whose run was created within two minutes of the
/// job's start, when exactly one task fits.
pub fn attribute_tasks(runs: &mut [Run], starts: &[TaskStart]) {
    if starts.is_empty() {
        return;
    }
    for run in runs.iter_mut().filter(|r| r.job.task_id.is_none()) {
        let (Some(owner), Some(started)) = (run.job.username.as_deref(), run.job.started_at) else { continue };
        let mut tasks = starts
            .iter()
            .filter(|s| s.owner == owner && (s.at_ms - started).abs() <= TASK_START_SLACK_MS)
            .map(|s| s.task);
        if let Some(first) = tasks.next() {
            if tasks.all(|t| t == first) {
                run.job.task_id = Some(first.to_string());
            }
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// COMPLETED.
    Completed,
    /// FAILED.
    Failed,
    /// Cancelled (by anyone).
    Cancelled,
    /// Left the list without a known ending.
    Unknown,
}

impl Ending {
    /// Every outcome, in chart order.
    pub const ALL: [Ending; 4] = [Ending::Completed, Ending::Failed, Ending::Cancelled, Ending::Unknown];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Completed => "completed",
            Ending::Failed => "failed",
            Ending::Cancelled => "cancelled",
            Ending::Unknown => "unknown",
        }
    }
}

/// One finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The target.
    pub target: String,
    /// The job as last recorded.
    pub job: Job,
    /// When it ended (or was found gone).
    pub ended_ms: ServerMs,
    /// End minus start, ms.
    pub runtime_ms: i64,
    /// How it ended.
    pub outcome: Ending,
}

/// The finished runs of one target's history: each job's last recorded version, when it has a
/// start and ended (an end time, a finished status, or gone from the list).
pub fn runs(target: &str, changes: Vec<Change>) -> Vec<Run> {
    let mut last: HashMap<String, Change> = HashMap::new();
    for change in changes {
        last.insert(change.job.id.clone(), change);
    }
    let mut runs: Vec<Run> = last.into_values().filter_map(|change| finished(target, change)).collect();
    runs.sort_by(|a, b| (a.ended_ms, &a.job.id).cmp(&(b.ended_ms, &b.job.id)));
    runs
}

fn finished(target: &str, change: Change) -> Option<Run> {
    let outcome = match change.job.phase() {
        Phase::Completed => Ending::Completed,
        Phase::Failed => Ending::Failed,
        Phase::Cancelled => Ending::Cancelled,
        _ if !change.listed => Ending::Unknown,
        _ => return None,
    };
    let ended_ms = change.job.ended_at.unwrap_or(change.at_ms);
    let runtime_ms = (ended_ms - change.job.started_at?).max(0);
    Some(Run { target: target.into(), job: change.job, ended_ms, runtime_ms, outcome })
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The owner, item id, type, runtime or task id (or "(unknown)").
    pub name: String,
    /// Runs finished in the window.
    pub runs: u64,
    /// The sum of their runtimes, minutes.
    pub compute_minutes: f64,
    /// Runs that failed.
    pub failures: u64,
    /// Failures per run.
    pub failure_rate: f64,
    /// Runs nbwarden cancelled.
    pub cancels: u64,
    /// The median runtime, minutes.
    pub median_minutes: f64,
    /// The 95th percentile runtime (nearest rank), minutes.
    pub p95_minutes: f64,
}

/// One of the longest runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Longest {
    /// The target.
    pub target: String,
    /// The job.
    pub job_id: String,
    /// Its owner.
    pub owner: String,
    /// Its group under `--by`.
    pub group: String,
    /// Its runtime, minutes.
    pub runtime_minutes: f64,
    /// How it ended.
    pub outcome: Ending,
    /// When it ended, RFC 3339.
    pub ended: String,
}

/// One day's runs by outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// The day (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// Runs that ended that day, by outcome.
    pub runs: BTreeMap<&'static str, u64>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The window's start, RFC 3339.
    pub since: String,
    /// The window's end, RFC 3339.
    pub until: String,
    /// The grouping.
    pub by: &'static str,
    /// Every group, most compute first.
    pub groups: Vec<Group>,
    /// The 10 longest runs.
    pub longest: Vec<Longest>,
    /// Every day of the window.
    pub days: Vec<Day>,
    /// The open notebooks nbwarden closed in the window, by owner and runtime, most first.
    pub closes: Vec<Closes>,
}

/// Open notebooks closed for one owner on one runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closes {
    /// The owner.
    pub owner: String,
    /// The runtime.
    pub runtime: String,
    /// How many.
    pub closes: u64,
}

/// The closes of `closed` ((target, owner, runtime) each), counted by owner and runtime.
pub fn closes_by_owner_and_runtime(closed: &[(String, String, String)]) -> Vec<Closes> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (_, owner, runtime) in closed {
        *counts.entry((owner.clone(), runtime.clone())).or_default() += 1;
    }
    let mut out: Vec<Closes> =
        counts.into_iter().map(|((owner, runtime), closes)| Closes { owner, runtime, closes }).collect();
    out.sort_by(|a, b| b.closes.cmp(&a.closes).then_with(|| (&a.owner, &a.runtime).cmp(&(&b.owner, &b.runtime))));
    out
}

/// How many of the longest runs are listed.
pub const LONGEST: usize = 10;

/// The report of the `runs` that ended in `[since_ms, until_ms]`; `cancelled` holds the
/// (target, job id) pairs nbwarden cancelled.
pub fn report(
    runs: &[Run],
    cancelled: &BTreeSet<(String, String)>,
    by: By,
    (since_ms, until_ms): (ServerMs, ServerMs),
) -> Report {
    let window: Vec<&Run> = runs.iter().filter(|r| (since_ms..=until_ms).contains(&r.ended_ms)).collect();
    let mut grouped: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for run in &window {
        grouped.entry(by.key(&run.job)).or_default().push(run);
    }
    let mut groups: Vec<Group> = grouped.into_iter().map(|(name, runs)| group(name, &runs, cancelled)).collect();
    groups.sort_by(|a, b| b.compute_minutes.total_cmp(&a.compute_minutes).then_with(|| a.name.cmp(&b.name)));
    let mut longest = window.clone();
    longest.sort_by(|a, b| b.runtime_ms.cmp(&a.runtime_ms).then_with(|| a.job.id.cmp(&b.job.id)));
    let longest = longest.into_iter().take(LONGEST).map(|r| longest_run(r, by)).collect();
    Report {
        since: rfc3339(since_ms.0),
        until: rfc3339(until_ms.0),
        by: by.as_str(),
        groups,
        longest,
        days: days(&window, since_ms, until_ms),
        closes: Vec::new(),
    }
}

fn group(name: String, runs: &[&Run], cancelled: &BTreeSet<(String, String)>) -> Group {
    let mut runtimes: Vec<i64> = runs.iter().map(|r| r.runtime_ms).collect();
    runtimes.sort_unstable();
    let n = runtimes.len();
    let failures = runs.iter().filter(|r| r.outcome == Ending::Failed).count() as u64;
    let median = match n % 2 {
        1 => runtimes[n / 2] as f64,
        _ => (runtimes[n / 2 - 1] + runtimes[n / 2]) as f64 / 2.0,
    };
    let p95 = runtimes[(n * 95).div_ceil(100).max(1) - 1] as f64;
    Group {
        name,
        runs: n as u64,
        compute_minutes: minutes(runtimes.iter().sum::<i64>() as f64),
        failures,
        failure_rate: round(failures as f64 / n as f64, 3),
        cancels: runs.iter().filter(|r| cancelled.contains(&(r.target.clone(), r.job.id.clone()))).count() as u64,
        median_minutes: minutes(median),
        p95_minutes: minutes(p95),
    }
}

fn longest_run(run: &Run, by: By) -> Longest {
    Longest {
        target: run.target.clone(),
        job_id: run.job.id.clone(),
        owner: run.job.username.clone().unwrap_or_else(|| "(unknown)".into()),
        group: by.key(&run.job),
        runtime_minutes: minutes(run.runtime_ms as f64),
        outcome: run.outcome,
        ended: rfc3339(run.ended_ms.0),
    }
}

/// Every UTC day from `since_ms` to `until_ms`, with the runs that ended on it by outcome.
fn days(runs: &[&Run], since: ServerMs, until: ServerMs) -> Vec<Day> {
    const DAY: i64 = 86_400_000;
    let (since_ms, until_ms) = (since.0, until.0);
    let mut out: Vec<Day> = (since_ms.div_euclid(DAY)..=until_ms.div_euclid(DAY))
        .map(|day| Day { date: rfc3339(day * DAY)[..10].to_string(), runs: BTreeMap::new() })
        .collect();
    for run in runs {
        let index = (run.ended_ms.0.div_euclid(DAY) - since_ms.div_euclid(DAY)) as usize;
        if let Some(day) = out.get_mut(index) {
            *day.runs.entry(run.outcome.as_str()).or_default() += 1;
        }
    }
    for day in &mut out {
        for outcome in Ending::ALL {
            day.runs.entry(outcome.as_str()).or_default();
        }
    }
    out
}

fn minutes(ms: f64) -> f64 {
    round(ms / 60_000.0, 1)
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn rfc3339(ms: i64) -> String {
    crate::arcgis::model::rfc3339(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests;
