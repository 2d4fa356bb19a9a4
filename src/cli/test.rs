//! `nbwarden test FILE…`: rule unit tests, in the manner of `promtool test rules`. A test file
//! names rule files, gives a timeline of polls (each job's status, type, user, start and end)
//! and of scheduled-task reads (each task with its runs), and the firings expected (rule, job or
//! task, trigger, poll or read; optionally recipients and the rendered subject). The timelines go
//! through the real cores (`replay`); a mismatch prints a diff and exits 1.

use crate::actions::{template, ActionConfig, DEFAULT_SUBJECT, OWNER};
use crate::arcgis::{Job, NamedJob, Status};
use crate::clock::ServerMs;
use crate::config::{parse_yaml, ConfigDuration, LimitsConfig, ProtectConfig};
use crate::replay::{replay, Poll, Step};
use crate::rules::RuleSet;
use anyhow::{anyhow, Context};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The instant the timeline starts at (offsets count from it).
const START_MS: i64 = 1_800_000_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    /// Rule files or folders, relative to the test file.
    rules: Vec<PathBuf>,
    /// The target's name (rules with `targets:` apply to it or not).
    #[serde(default = "default_target")]
    target: String,
    /// `owner` recipients: username → address.
    #[serde(default)]
    owners: BTreeMap<String, String>,
    /// The target's limits (default: nbwarden's).
    #[serde(default)]
    limits: Option<LimitsConfig>,
    /// The target's protection list (default: none).
    #[serde(default)]
    protect: ProtectConfig,
    /// The polls, in time order.
    #[serde(default)]
    polls: Vec<TestPoll>,
    /// The reads of the org's scheduled tasks, in time order (task rules).
    #[serde(default)]
    reads: Vec<TestRead>,
    /// The reads of the open notebooks, in time order (notebook rules).
    #[serde(default)]
    notebook_reads: Vec<TestNotebookRead>,
    /// Every firing expected (none: nothing may fire).
    #[serde(default)]
    expect: Vec<Expected>,
}

fn default_target() -> String {
    "test".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestPoll {
    /// From the start of the timeline.
    at: Offset,
    #[serde(default)]
    jobs: Vec<TestJob>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestJob {
    id: String,
    /// The raw status (EXECUTING, FAILED, …).
    status: String,
    #[serde(default, rename = "type")]
    job_type: Option<String>,
    #[serde(default)]
    user: Option<String>,
    /// From the start of the timeline (`-100m`: before it).
    #[serde(default)]
    start: Option<Offset>,
    #[serde(default)]
    end: Option<Offset>,
    #[serde(default)]
    item_id: Option<String>,
    /// The notebook's title, as Portal would give it.
    #[serde(default)]
    title: Option<String>,
}

/// One read of the open notebooks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestNotebookRead {
    at: Offset,
    #[serde(default)]
    notebooks: Vec<TestNotebook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestNotebook {
    id: String,
    owner: String,
    #[serde(default)]
    item_id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    runtime: Option<String>,
    /// Its last activity, from the start of the timeline (`-2h`: before it).
    #[serde(default)]
    active: Option<Offset>,
    /// When its container or deployment started.
    #[serde(default)]
    opened: Option<Offset>,
}

/// One read of the scheduled tasks: every task with its runs so far.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRead {
    at: Offset,
    #[serde(default)]
    tasks: Vec<TestTask>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestTask {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    item_id: Option<String>,
    /// `runIntervalSeconds`.
    #[serde(default)]
    every: Option<ConfigDuration>,
    /// `cronSchedule`, five fields.
    #[serde(default)]
    cron: Option<String>,
    #[serde(default)]
    start: Option<Offset>,
    #[serde(default)]
    last_start: Option<Offset>,
    #[serde(default = "active")]
    active: bool,
    /// `taskState` (default `active`, or `paused` when not active).
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    runs: Vec<TestRun>,
}

fn active() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRun {
    id: String,
    /// scheduled, executing, succeeded, failed, submitfailed, skipped.
    status: String,
    /// When it was created.
    at: Offset,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// 1 is the first poll (job rules).
    #[serde(default)]
    poll: Option<usize>,
    /// 1 is the first read of the tasks (task rules).
    #[serde(default)]
    read: Option<usize>,
    /// 1 is the first read of the open notebooks (notebook rules).
    #[serde(default)]
    notebook_read: Option<usize>,
    rule: String,
    job: String,
    trigger: String,
    #[serde(default)]
    recipients: Option<Vec<String>>,
    #[serde(default)]
    subject: Option<String>,
}

/// A signed duration from the start of the timeline: `90s`, `-1h30m`.
#[derive(Debug, Clone, Copy)]
struct Offset(i64);

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let (sign, magnitude) = match text.trim().strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.trim()),
        };
        let duration: ConfigDuration = magnitude.parse().map_err(serde::de::Error::custom)?;
        Ok(Offset(sign * duration.0.as_millis() as i64))
    }
}

/// One firing as the test compares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    /// `poll` or `read`.
    step: &'static str,
    poll: usize,
    rule: String,
    job: String,
    trigger: String,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: rule {} job {} trigger {}", self.step, self.poll, self.rule, self.job, self.trigger)
    }
}

/// Runs every file; `Ok(false)` when one fails.
pub fn run(files: &[PathBuf]) -> anyhow::Result<bool> {
    let mut out = String::new();
    let mut ok = true;
    for file in files {
        match run_file(file) {
            Ok(problems) if problems.is_empty() => {
                let _ = writeln!(out, "{}: ok", file.display());
            }
            Ok(problems) => {
                ok = false;
                let _ = writeln!(out, "{}: FAILED", file.display());
                problems.iter().for_each(|p| out.push_str(&format!("  {p}\n")));
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "{}: {e:#}", file.display());
            }
        }
    }
    super::write_stdout(&out)?;
    Ok(ok)
}

/// The differences between what `file` expects and what its timeline fires.
fn run_file(file: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let test: TestFile = parse_yaml(file, &text)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let paths: Vec<PathBuf> = test.rules.iter().map(|p| base.join(p)).collect();
    let rules = RuleSet::load(&paths, &[test.target.as_str()])
        .map_err(|errors| anyhow!("{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))?;
    let polls: Vec<Poll> = test.polls.iter().map(poll).collect();
    // Schedule rules without `timezone:` run in UTC here, so that a test passes on every machine.
    let limits = test.limits.clone().unwrap_or_default();
    let guards = (&limits, &test.protect);
    let steps = replay((&rules, &test.target, guards), polls, None, Some(chrono_tz::UTC), None);
    let reads = test.reads.iter().map(read).collect();
    let task_steps = crate::replay::replay_tasks(&rules, &test.target, reads, chrono_tz::UTC);
    let notebook_reads = test.notebook_reads.iter().map(notebook_read).collect();
    let notebook_steps = crate::replay::replay_notebooks(&rules, &test.target, guards, notebook_reads);
    Ok(compare(&test, &[("poll", &steps), ("read", &task_steps), ("notebook read", &notebook_steps)]))
}

fn notebook_read(r: &TestNotebookRead) -> crate::replay::NotebookRead {
    let at = |o: Offset| ServerMs(START_MS + o.0);
    let notebook = |n: &TestNotebook| crate::arcgis::notebooks::OpenNotebook {
        id: n.id.clone(),
        item_id: n.item_id.clone(),
        title: n.title.clone(),
        username: n.owner.clone(),
        host: None,
        last_activity: n.active.map(at),
        opened: n.opened.map(at),
        runtime: n.runtime.clone(),
    };
    crate::replay::NotebookRead { at_ms: at(r.at), notebooks: r.notebooks.iter().map(notebook).collect() }
}

fn read(r: &TestRead) -> crate::replay::TaskRead {
    let at = |o: Offset| ServerMs(START_MS + o.0);
    let mut runs = std::collections::HashMap::new();
    let mut tasks = Vec::new();
    for t in &r.tasks {
        let default_state = if t.active { "active" } else { "paused" };
        tasks.push(crate::arcgis::tasks::Task {
            id: t.id.clone(),
            title: t.title.clone(),
            owner: t.owner.clone(),
            item_id: t.item_id.clone(),
            cron: t.cron.clone(),
            interval_seconds: t.every.map(|e| e.0.as_secs()),
            start_ms: t.start.map(at),
            last_start_ms: t.last_start.map(at),
            active: t.active,
            state: Some(t.state.clone().unwrap_or(default_state.into())),
        });
        let list = t.runs.iter().map(|run| crate::arcgis::tasks::TaskRun {
            id: run.id.clone(),
            status: run.status.clone(),
            created_ms: Some(at(run.at)),
            modified_ms: None,
        });
        runs.insert(t.id.clone(), list.collect());
    }
    crate::replay::TaskRead { at_ms: at(r.at), tasks, runs }
}

fn poll(p: &TestPoll) -> Poll {
    let at = ServerMs(START_MS + p.at.0);
    let jobs = p
        .jobs
        .iter()
        .map(|j| {
            let mut job = Job::new(j.id.clone(), Status::parse(&j.status));
            job.job_type = j.job_type.clone();
            job.username = j.user.clone();
            job.started_at = j.start.map(|o| ServerMs(START_MS + o.0));
            job.ended_at = j.end.map(|o| ServerMs(START_MS + o.0));
            job.item_id = j.item_id.clone();
            let title = j.title.clone().map(|title| crate::arcgis::Item { title: Some(title), ..Default::default() });
            job.edit(|more| more.notebook = title);
            job
        })
        .collect();
    Poll { at_ms: at, jobs }
}

/// Missing (`-`), unexpected (`+`) and different (`~`) firings, in poll order.
fn compare(test: &TestFile, timelines: &[(&'static str, &[Step])]) -> Vec<String> {
    let fired: BTreeMap<Seen, _> = timelines.iter().flat_map(|(kind, steps)| firings(test, kind, steps)).collect();
    let mut problems = Vec::new();
    let expected: Vec<Seen> = test.expect.iter().map(expected).collect();
    for (seen, expect) in expected.iter().zip(&test.expect) {
        let Some(got) = fired.get(seen) else {
            problems.push(format!("- {seen}   (expected; it did not fire)"));
            continue;
        };
        if let Some(want) = expect.recipients.as_ref().filter(|w| **w != got.0) {
            problems.push(format!("~ {seen}: recipients {:?}, expected {want:?}", got.0));
        }
        if let Some(want) = expect.subject.as_ref().filter(|w| Some(*w) != got.1.as_ref()) {
            problems.push(format!("~ {seen}: subject {:?}, expected {want:?}", got.1.as_deref().unwrap_or("")));
        }
    }
    for seen in fired.keys().filter(|s| !expected.contains(s)) {
        problems.push(format!("+ {seen}   (fired; not expected)"));
    }
    problems
}

/// An expectation as a firing: at its `read` when it names one, else at its `poll`.
fn expected(e: &Expected) -> Seen {
    let (step, poll) = match (e.notebook_read, e.read, e.poll) {
        (Some(read), _, _) => ("notebook read", read),
        (None, Some(read), _) => ("read", read),
        (None, None, poll) => ("poll", poll.unwrap_or(0)),
    };
    Seen { step, poll, rule: e.rule.clone(), job: e.job.clone(), trigger: e.trigger.clone() }
}

/// Every firing of a timeline (of polls or of task reads, `kind`), with the addresses its
/// e-mails went to and their subject. A task's firing is listed under the task's id.
fn firings(test: &TestFile, kind: &'static str, steps: &[Step]) -> BTreeMap<Seen, (Vec<String>, Option<String>)> {
    let mut out = BTreeMap::new();
    for step in steps {
        for record in &step.plan.ledger {
            let rule = record.rule.clone();
            let job = crate::rules::tasks::task_of(&record.job_id).unwrap_or(&record.job_id).to_string();
            let seen = Seen { step: kind, poll: step.poll + 1, rule, job, trigger: record.trigger.to_string() };
            out.insert(seen, (Vec::new(), None));
        }
        for planned in &step.plan.actions {
            let ActionConfig::Email(email) = &*planned.action else { continue };
            for (job, batch) in letters_of(email, planned) {
                let found =
                    out.iter_mut().find(|(s, _)| s.poll == step.poll + 1 && s.rule == planned.rule && s.job == job);
                let Some((_, (recipients, subject))) = found else { continue };
                recipients.extend(email.to.iter().chain(&email.cc).map(|to| match to.as_str() {
                    OWNER => owner_address(test, &batch[0]),
                    fixed => fixed.to_string(),
                }));
                let links = |j: &Job| template::Links { admin: format!("(admin URL of {})", j.id), item: None };
                let context = template::context(&planned.occasion(), &batch, &test.target, links);
                let source = email.subject.as_deref().unwrap_or(DEFAULT_SUBJECT);
                *subject = Some(template::render_header(source, &context).unwrap_or_else(|e| format!("({e})")));
            }
        }
    }
    out
}

/// The firings an e-mail action covers, each with the jobs of its letter to the first recipient:
/// a digest's one slot (all its jobs), or each job (with the jobs of its owner, or all of them).
fn letters_of(email: &crate::actions::EmailAction, planned: &crate::plan::Planned) -> Vec<(String, Vec<NamedJob>)> {
    if planned.event.kind == crate::diff::EventKind::Schedule {
        return vec![(crate::ledger::DIGEST_JOB.to_string(), planned.jobs.clone())];
    }
    let to_owner = email.to.first().is_some_and(|t| t == OWNER);
    let batch = |job: &NamedJob| match to_owner {
        true => planned.jobs.iter().filter(|j| j.username == job.username).cloned().collect(),
        false => planned.jobs.clone(),
    };
    planned.jobs.iter().map(|job| (job.id.clone(), batch(job))).collect()
}

fn owner_address(test: &TestFile, job: &Job) -> String {
    let user = job.username.clone().unwrap_or_default();
    test.owners.get(&user).cloned().unwrap_or(format!("owner {user}"))
}
