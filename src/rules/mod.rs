//! Rules stage: rule files compiled into checked rules (`compile`), match conditions (`matcher`),
//! and evaluation of one poll into firings (`evaluate`, pure).

mod compile;
mod deadline;
pub mod evaluate;
mod load;
pub mod matcher;
pub mod notebooks;
pub mod tasks;
mod trust;
mod usual;
pub mod values;

pub use evaluate::{Evaluation, Firing, Pending};
pub use matcher::{glob_matches, Condition, Subject, Test, UsualLimit, Verdict};
pub use tasks::{TaskCondition, TaskFiring, TaskInput};

use crate::actions::ActionConfig;
use crate::diff::EventKind;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What starts a rule's evaluation.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Every poll, over every listed job (the baseline included).
    Poll,
    /// A job new since the previous poll.
    Appeared,
    /// A job whose status changed (`from`/`to` in `match`).
    StatusChanged,
    /// A job gone from the list (matched with its final status).
    Disappeared,
    /// A cron schedule over the jobs seen within `window` (digests).
    Schedule(Box<Schedule>),
    /// A scheduled task's run ended `failed` or `submitfailed`.
    TaskFailed,
    /// A scheduled task left the active state.
    TaskStopped,
    /// A scheduled task's run was due and has not started within `grace`.
    TaskMissed {
        /// How long after the due time a run may start.
        grace: Duration,
    },
    /// Every read of the open notebooks, over every open notebook.
    Notebook,
}

impl Trigger {
    /// The kind of event that fires it.
    pub fn kind(&self) -> EventKind {
        match self {
            Trigger::Poll => EventKind::Poll,
            Trigger::Appeared => EventKind::Appeared,
            Trigger::StatusChanged => EventKind::StatusChanged,
            Trigger::Disappeared => EventKind::Disappeared,
            Trigger::Schedule(_) => EventKind::Schedule,
            Trigger::TaskFailed => EventKind::TaskFailed,
            Trigger::TaskStopped => EventKind::TaskStopped,
            Trigger::TaskMissed { .. } => EventKind::TaskMissed,
            Trigger::Notebook => EventKind::Notebook,
        }
    }

    /// The `on:` spelling.
    pub fn as_str(&self) -> &'static str {
        self.kind().as_str()
    }

    /// A trigger about scheduled tasks, not jobs.
    pub fn is_task(&self) -> bool {
        matches!(self, Trigger::TaskFailed | Trigger::TaskStopped | Trigger::TaskMissed { .. })
    }
}

/// The schedule of an `on: schedule` rule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The cron pattern (5 fields, or 6 with seconds).
    pub cron: croner::Cron,
    /// Jobs seen within this window are considered.
    pub window: Duration,
    /// Time zone of the pattern; the machine's when absent.
    pub timezone: Option<chrono_tz::Tz>,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique across all files.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Targets it applies to; every target when `None`.
    pub targets: Option<Vec<String>>,
    /// When it is evaluated.
    pub trigger: Trigger,
    /// All must hold (job rules).
    pub conditions: Vec<Condition>,
    /// All must hold (task rules).
    pub task_conditions: Vec<TaskCondition>,
    /// All must hold (notebook rules).
    pub notebook_conditions: Vec<notebooks::NotebookCondition>,
    /// Consecutive matching polls needed (poll rules).
    pub for_polls: u32,
    /// `None`: once per job; otherwise again after this long while it still matches.
    pub repeat: Option<Duration>,
    /// A poll rule with an action that follows the job's state (`alertmanager`): the firing is
    /// sent again this often while the job matches (those actions only), and once more, as
    /// resolved, when it stops matching or leaves the list.
    pub resend: Option<Duration>,
    /// What to do.
    pub actions: Vec<std::sync::Arc<ActionConfig>>,
    /// `mode: shadow`: evaluated, planned, recorded and reported as `planned`; never executed.
    pub shadow: bool,
    /// Where it was written.
    pub file: PathBuf,
    /// Its first line.
    pub line: u64,
}

impl Rule {
    /// The rule's name in the ledger: a shadow rule's firings are kept apart, so that removing
    /// `mode: shadow` acts on the jobs that still match.
    pub fn ledger_name(&self) -> std::borrow::Cow<'_, str> {
        crate::ledger::key(&self.name, self.shadow)
    }

    /// Whether the rule has a `cancel` action.
    pub fn cancels(&self) -> bool {
        self.actions.iter().any(|action| action.is_destructive())
    }

    /// How often a firing for a job that still matches comes again: `repeat`, else `resend`.
    pub fn repeat_ms(&self) -> Option<i64> {
        self.repeat.or(self.resend).map(|d| d.as_millis() as i64)
    }

    /// Whether `action` acts on a firing with `trigger`: a resend or a resolution only goes to
    /// the actions that follow the job's state; every other firing to every action.
    pub fn acts_on(&self, action: &ActionConfig, trigger: &crate::ledger::Cause) -> bool {
        match trigger {
            crate::ledger::Cause::Resolved => action.resend().is_some(),
            crate::ledger::Cause::Repeat(_) if self.repeat.is_none() => action.resend().is_some(),
            _ => true,
        }
    }

    /// Whether a firing with `trigger` cancels.
    pub fn cancels_on(&self, trigger: &crate::ledger::Cause) -> bool {
        self.actions.iter().any(|a| a.is_destructive() && self.acts_on(a, trigger))
    }

    /// The runtime past which the rule matches (its `runtime_over`; the largest if several): how
    /// overdue a job it fired for is, when a limit decides which cancels go first.
    pub fn runtime_threshold(&self) -> Option<Duration> {
        let over = |c: &Condition| match (&c.test, c.negated) {
            (Test::RuntimeOver(limit), false) => Some(*limit),
            _ => None,
        };
        self.conditions.iter().filter_map(over).max()
    }

    /// Whether the rule can match jobs of type `job_type` (no `type` condition, or one that allows it).
    pub fn may_match_type(&self, job_type: &str) -> bool {
        self.conditions.iter().all(|c| match &c.test {
            Test::Type(types) => types.iter().any(|t| t.eq_ignore_ascii_case(job_type)) != c.negated,
            _ => true,
        })
    }

    /// Whether the rule applies to `target`.
    pub fn applies_to(&self, target: &str) -> bool {
        self.targets.as_ref().is_none_or(|t| t.iter().any(|n| n == target))
    }
}

/// Every rule of the configuration, checked.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// In file order.
    pub rules: Vec<Rule>,
}

/// A problem in a rule file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the file as a whole.
    pub line: u64,
    /// 1-based column of the key concerned; 0 when not known.
    pub column: u64,
    /// The rule's name, when known.
    pub rule: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl RuleError {
    fn file(path: &Path, message: impl Into<String>) -> RuleError {
        RuleError { file: path.into(), line: 0, column: 0, rule: None, message: message.into() }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.column > 0 {
            write!(f, ":{}", self.column)?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ": rule \"{rule}\"")?;
        }
        write!(f, ": {}", crate::secret::mask(&self.message))
    }
}

impl RuleSet {
    /// Loads and compiles every rule under `paths`; `targets` are the configured target names
    /// (their flavors unknown: a status documented for either flavor is accepted). Returns every
    /// error at once.
    pub fn load(paths: &[PathBuf], targets: &[&str]) -> Result<RuleSet, Vec<RuleError>> {
        let targets: Vec<(&str, Option<crate::config::Flavor>)> = targets.iter().map(|t| (*t, None)).collect();
        RuleSet::load_for(paths, &targets)
    }

    /// Loads and compiles every rule under `paths` for the configured targets and their flavors.
    pub fn load_for(
        paths: &[PathBuf],
        targets: &[(&str, Option<crate::config::Flavor>)],
    ) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = Vec::new();
        let files = load::rule_files(paths, &mut errors);
        let located: Vec<load::Located> = files.iter().flat_map(|f| load::read_file(f, &mut errors)).collect();
        let rules = compile::compile_all(&located, targets, &mut errors);
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        if errors.is_empty() {
            Ok(RuleSet { rules })
        } else {
            Err(errors)
        }
    }

    /// Compiles the rules of one file's text (`name` labels it in errors): the entry point for
    /// tests and fuzzing.
    pub fn parse(name: &Path, text: &str, targets: &[&str]) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = Vec::new();
        let located = load::read_text(name, text, &mut errors);
        let targets: Vec<(&str, Option<crate::config::Flavor>)> = targets.iter().map(|t| (*t, None)).collect();
        let rules = compile::compile_all(&located, &targets, &mut errors);
        if errors.is_empty() {
            Ok(RuleSet { rules })
        } else {
            Err(errors)
        }
    }

    /// What is risky though it runs, each located at its rule (`check` prints them, `run` logs them).
    pub fn warnings(&self) -> Vec<RuleError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for action in &rule.actions {
                for (_, warning) in action.warnings() {
                    let message = format!("warning: action {}: {warning}", action.kind());
                    out.push(RuleError {
                        column: 0,
                        file: rule.file.clone(),
                        line: rule.line,
                        rule: Some(rule.name.clone()),
                        message,
                    });
                }
            }
        }
        out
    }

    /// The rule with this name.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// Whether some rule of `target` with `runtime_over_usual` can match jobs of this type
    /// (any, when `job_type` is `None`): such a job's notebook item must be known.
    pub fn wants_item(&self, target: &str, job_type: Option<&str>) -> bool {
        let usual = |r: &&Rule| r.conditions.iter().any(|c| matches!(c.test, Test::RuntimeOverUsual(_)));
        let mut rules = self.rules.iter().filter(|r| r.applies_to(target)).filter(usual);
        rules.any(|r| job_type.is_none_or(|t| r.may_match_type(t)))
    }
}

#[cfg(test)]
mod tests;
