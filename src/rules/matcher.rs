//! Match conditions (pure; no I/O): each key of SPEC §3 checked against one job, with `not`,
//! and "cannot tell" kept apart from "does not hold".

use crate::arcgis::Item;
use crate::arcgis::{Job, Phase};
use crate::clock::ServerMs;
use crate::config::format_duration;
use crate::usual::Usual;
use std::fmt;
use std::time::Duration;

/// A `status`, `from` or `to` value: a phase name matches by phase, anything else the raw status.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusValue {
    /// `running`, `failed`, …
    Phase(Phase),
    /// `PROCESSING`, … (compared case-insensitively).
    Raw(String),
    /// `from: none`: the job was first seen (after the baseline) already in its status.
    None,
}

impl StatusValue {
    /// Reads a rule value: the exact lowercase phase names are phases (`failed`); anything else,
    /// `FAILED` included, is a raw status.
    pub fn parse(text: &str) -> StatusValue {
        if text == "none" {
            return StatusValue::None;
        }
        match Phase::ALL.into_iter().find(|p| p.as_str() == text) {
            Some(phase) => StatusValue::Phase(phase),
            None => StatusValue::Raw(text.to_string()),
        }
    }

    fn matches(&self, job: &Job) -> bool {
        match self {
            StatusValue::Phase(phase) => job.phase() == *phase,
            StatusValue::Raw(raw) => job.status.as_str().eq_ignore_ascii_case(raw),
            StatusValue::None => false,
        }
    }

    /// For `from`: the status before, `None` for a job first seen in its status.
    fn matches_before(&self, before: Option<&Job>) -> bool {
        match before {
            Some(job) => self.matches(job),
            None => *self == StatusValue::None,
        }
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        match self {
            StatusValue::Phase(p) => p.as_str(),
            StatusValue::Raw(r) => r,
            StatusValue::None => "none",
        }
    }
}

/// The test of one match key.
#[derive(Debug, Clone)]
pub enum Test {
    /// `type`: exact, case-insensitive.
    Type(Vec<String>),
    /// `status`.
    Status(Vec<StatusValue>),
    /// `username`: `*` globs, case-insensitive.
    Username(Vec<String>),
    /// `runtime_over`.
    RuntimeOver(Duration),
    /// `runtime_under`.
    RuntimeUnder(Duration),
    /// `item_id`.
    ItemId(Vec<String>),
    /// `title`: globs on the notebook item's title, as Portal gives it.
    Title(Vec<String>),
    /// `runtime_name`.
    RuntimeName(Vec<String>),
    /// `from` (status_changed only): the status before.
    From(Vec<StatusValue>),
    /// `to` (status_changed only): the status after.
    To(Vec<StatusValue>),
    /// `scheduled`: a scheduled task started the job.
    Scheduled(bool),
    /// `exceeds_own_timeout`: runtime > inputs.executionTimeoutInMinutes.
    ExceedsOwnTimeout(bool),
    /// `runtime_over_usual`: runtime above a factor times the item's median runtime.
    RuntimeOverUsual(UsualLimit),
}

/// `runtime_over_usual: 3x`, with `min_runs` and `window`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsualLimit {
    /// The factor.
    pub factor: f64,
    /// Completed runs needed before the key can hold.
    pub min_runs: u32,
    /// How many of the item's last completed runs the median is taken over.
    pub window: u32,
}

impl UsualLimit {
    /// The runtime (ms) above which a job of `item_id` is over its usual, when enough runs are known.
    pub fn limit_ms(&self, usual: &Usual, item_id: &str) -> Option<i64> {
        let baseline = usual.baseline(item_id, self.window);
        let median = baseline.median_ms.filter(|_| baseline.runs >= self.min_runs as usize)?;
        Some((median as f64 * self.factor) as i64)
    }

    /// What is known for this job's item, in words.
    fn explain(&self, usual: &Usual, job: &Job, now: ServerMs) -> String {
        let Some(item) = usual.item_of(job) else {
            return "the job's notebook item is not known (not in the list, and its resource gave none)".into();
        };
        let baseline = usual.baseline(item, self.window);
        let (runs, needed) = (baseline.runs, self.min_runs);
        let Some(median) = baseline.median_ms.filter(|_| runs >= needed as usize) else {
            return format!("only {runs} earlier run(s) of item {item} are known, {needed} needed (min_runs)");
        };
        let runtime = job.runtime(now).map_or("unknown".into(), format_duration);
        let limit = format_duration(Duration::from_millis((median as f64 * self.factor) as u64));
        let median = format_duration(Duration::from_millis(median as u64));
        format!("runtime is {runtime}; the median of the last {runs} run(s) of item {item} is {median}, times {} is {limit}", self.factor)
    }
}

/// One match condition.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The match key as written.
    pub key: &'static str,
    /// Wrapped in `{not: …}`.
    pub negated: bool,
    /// What is tested.
    pub test: Test,
}

/// What a condition says about one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It holds.
    Holds,
    /// It does not hold.
    Fails,
    /// The job lacks the field (e.g. `item_id` in an abbreviated list): the match is false.
    Unanswerable,
}

/// The job under test, with the previous version for status changes.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The job as it is (for `disappeared`: with its final status).
    pub job: &'a Job,
    /// For `status_changed`: the job before.
    pub before: Option<&'a Job>,
    /// Now on the server's clock.
    pub now: ServerMs,
    /// The target's usual runtimes, for `runtime_over_usual`.
    pub usual: &'a Usual,
}

impl<'a> Subject<'a> {
    /// A job on its own at `now`, with what is known of usual runtimes.
    pub fn at(job: &'a Job, now: ServerMs, usual: &'a Usual) -> Subject<'a> {
        Subject { job, before: None, now, usual }
    }
}

impl Condition {
    /// Checks the condition, applying `not` (which leaves "cannot tell" as it is).
    pub fn check(&self, subject: &Subject) -> Verdict {
        match (self.raw_check(subject), self.negated) {
            (Some(holds), negated) if holds != negated => Verdict::Holds,
            (Some(_), _) => Verdict::Fails,
            (None, _) => Verdict::Unanswerable,
        }
    }

    fn raw_check(&self, s: &Subject) -> Option<bool> {
        let job = s.job;
        let any_eq = |values: &[String], field: &Option<String>| {
            field.as_deref().map(|f| values.iter().any(|v| v.eq_ignore_ascii_case(f)))
        };
        match &self.test {
            Test::Type(values) => any_eq(values, &job.job_type),
            Test::Status(values) => Some(values.iter().any(|v| v.matches(job))),
            Test::Username(globs) => job.username.as_deref().map(|u| globs.iter().any(|g| glob_matches(g, u))),
            Test::RuntimeOver(limit) => job.runtime(s.now).map(|r| r > *limit),
            Test::RuntimeUnder(limit) => job.runtime(s.now).map(|r| r < *limit),
            Test::ItemId(values) => any_eq(values, &job.item_id),
            Test::Title(globs) => {
                let title = job.own_title().or_else(|| s.usual.title_of(job));
                title.map(|t| globs.iter().any(|g| glob_matches(g, t)))
            }
            Test::RuntimeName(values) => any_eq(values, &job.runtime_name),
            Test::From(values) => Some(values.iter().any(|v| v.matches_before(s.before))),
            Test::To(values) => Some(values.iter().any(|v| v.matches(job))),
            Test::Scheduled(wanted) => job.task_id.as_ref().map(|_| job.scheduled() == *wanted),
            Test::ExceedsOwnTimeout(wanted) => {
                let limit = Duration::from_secs(job.timeout_minutes? * 60);
                job.runtime(s.now).map(|r| (r > limit) == *wanted)
            }
            Test::RuntimeOverUsual(usual) => {
                let item = s.usual.item_of(job)?;
                let runtime = job.runtime(s.now)?.as_millis() as i64;
                Some(usual.limit_ms(s.usual, item).is_some_and(|limit| runtime > limit))
            }
        }
    }

    /// Why the condition failed for this job, for `explain`.
    pub fn explain(&self, subject: &Subject) -> String {
        let job = subject.job;
        let actual = match &self.test {
            Test::Type(_) => format!("type is {}", job.job_type.as_deref().unwrap_or("not given")),
            Test::Status(_) | Test::To(_) => format!("status is {} ({})", job.status, job.phase()),
            Test::From(_) => match subject.before {
                Some(before) => format!("status was {} ({})", before.status, before.phase()),
                None => "the job was first seen in this status (from none)".into(),
            },
            Test::Username(_) => format!("username is {}", job.username.as_deref().unwrap_or("not given")),
            Test::RuntimeOver(_) | Test::RuntimeUnder(_) | Test::ExceedsOwnTimeout(_) => {
                match job.runtime(subject.now) {
                    Some(r) => format!("runtime is {}", format_duration(r)),
                    None => "the start time is not given".into(),
                }
            }
            Test::ItemId(_) => format!("item_id is {}", job.item_id.as_deref().unwrap_or("not given by this job list")),
            Test::Title(_) => match (subject.usual.notebook_of(job), &job.item_id) {
                (Some(Item { title: Some(title), .. }), _) => format!("title is {title}"),
                (Some(Item { why, .. }), _) => {
                    format!("the title is not known: {}", why.as_deref().unwrap_or("Portal gave none"))
                }
                (None, None) => {
                    "the title is not known: this site's job list gives no item id (turn on `poll.details`)".into()
                }
                (None, Some(_)) => "the title is not known yet: the item has not been read from Portal".into(),
            },
            Test::RuntimeName(_) => format!("runtime_name is {}", job.runtime_name.as_deref().unwrap_or("not given")),
            Test::Scheduled(_) => match &job.task_id {
                Some(_) => format!("scheduled is {}", job.scheduled()),
                None => "this job list does not say whether a task started it".into(),
            },
            Test::RuntimeOverUsual(usual) => usual.explain(subject.usual, job, subject.now),
        };
        format!("{self}: {actual}")
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |values: &[String]| values.join(" | ");
        let statuses = |values: &[StatusValue]| values.iter().map(StatusValue::as_str).collect::<Vec<_>>().join(" | ");
        let value = match &self.test {
            Test::Type(v) | Test::Username(v) | Test::ItemId(v) | Test::RuntimeName(v) | Test::Title(v) => list(v),
            Test::Status(v) | Test::From(v) | Test::To(v) => statuses(v),
            Test::RuntimeOver(d) | Test::RuntimeUnder(d) => format_duration(*d),
            Test::Scheduled(b) | Test::ExceedsOwnTimeout(b) => b.to_string(),
            Test::RuntimeOverUsual(u) => format!("{}x (min_runs {}, window {})", u.factor, u.min_runs, u.window),
        };
        let not = if self.negated { "not " } else { "" };
        write!(f, "{}: {not}{value}", self.key)
    }
}

/// `*` matches any run of characters, `?` one character; ASCII letters compare case-insensitively.
/// Byte-wise and allocation-free: it runs for every running job on every poll.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests;
