//! MiniJinja templates of rule actions: checked when rules compile (syntax, filters and tests, and
//! every name against what the rule's trigger provides, so a typo is caught by `check`, not at
//! 3 a.m.), rendered with the job context of SPEC §3. At run time a value the data lacks (no
//! messages, no item) renders as the placeholder `(none)`, never as "undefined value".

use crate::arcgis::model::rfc3339;
use crate::arcgis::{Job, NamedJob};
use crate::clock::{LocalMs, ServerMs};
use crate::config::format_duration;
use crate::diff::EventInfo;
use crate::task_diff::TaskFacts;
use crate::text::{aligned, cell};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};
use std::sync::OnceLock;

/// What a value the data lacks renders as.
pub const MISSING: &str = "(none)";

/// The environment of rules' templates: a lookup into data that is not there is the placeholder.
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_formatter(|out, state, value| match value.is_undefined() {
            true => out
                .write_str(MISSING)
                .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())),
            false => minijinja::escape_formatter(out, state, value),
        });
        env
    })
}

/// Renders a rule's HTML template: every value is HTML-escaped.
pub fn render_html(source: &str, context: &impl serde::Serialize) -> Result<String, TemplateError> {
    let template = environment().template_from_named_str("body.html", source).map_err(|e| describe(&e))?;
    template.render(minijinja::value::Serde(context)).map_err(|e| describe(&e))
}

/// What a rule's templates see, by what fires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provides {
    /// A job rule: `job`, `jobs`, `rule`, `event`, `target`, `now`.
    Jobs,
    /// A task rule: the same, and `task`.
    Tasks,
    /// A notebook rule: the same as a job rule, and `notebook`.
    Notebooks,
}

impl Provides {
    fn roots(self) -> &'static [&'static str] {
        match self {
            Provides::Jobs => &["job", "jobs", "rule", "event", "target", "now"],
            Provides::Tasks => &["job", "jobs", "task", "rule", "event", "target", "now"],
            Provides::Notebooks => &["job", "jobs", "notebook", "rule", "event", "target", "now"],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Provides::Jobs => "a job rule's templates see job, jobs, rule, event, target and now",
            Provides::Tasks => "a task rule's templates see task, job, jobs, rule, event, target and now",
            Provides::Notebooks => "a notebook rule's templates see notebook, job, jobs, rule, event, target and now",
        }
    }
}

/// The fields of `job.*`, `task.*` and `event.*`, read from the contexts themselves.
fn fields(root: &str) -> &'static [String] {
    static JOB: OnceLock<Vec<String>> = OnceLock::new();
    static TASK: OnceLock<Vec<String>> = OnceLock::new();
    static EVENT: OnceLock<Vec<String>> = OnceLock::new();
    static NOTEBOOK: OnceLock<Vec<String>> = OnceLock::new();
    let keys = |value: Value| value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    match root {
        "job" => JOB.get_or_init(|| {
            keys(job_context(&Job::new("", crate::arcgis::Status::Completed).into(), ServerMs(0), &Links::default()))
        }),
        "task" => TASK.get_or_init(|| {
            let task = crate::arcgis::tasks::Task {
                id: String::new(),
                title: String::new(),
                owner: String::new(),
                item_id: None,
                cron: None,
                interval_seconds: None,
                start_ms: None,
                last_start_ms: None,
                active: true,
                state: None,
            };
            let facts = TaskFacts { task, consecutive_failures: 0, result: None, next_due_ms: None, due_ms: None };
            keys(task_context(&facts, None))
        }),
        "notebook" => NOTEBOOK.get_or_init(|| {
            keys(notebook_context(
                &Job::new("", crate::arcgis::Status::Executing).into(),
                ServerMs(0),
                &Links::default(),
            ))
        }),
        "event" => {
            EVENT.get_or_init(|| keys(json!(EventInfo { kind: crate::diff::EventKind::Poll, from: None, to: None })))
        }
        _ => &[],
    }
}

/// Every problem of a template used where `provides` holds: its syntax, unknown filters and
/// tests, and names that the trigger does not provide (which would render as the placeholder).
pub fn problems_for(source: &str, provides: Provides) -> Vec<TemplateError> {
    let template = match environment().template_from_str(source) {
        Ok(template) => template,
        Err(e) => return vec![describe(&e)],
    };
    let mut problems = unknown_functions(&template);
    let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    names.sort();
    problems.extend(names.iter().filter_map(|name| unknown_name(name, provides)));
    problems
}

/// Why `name` (`root.field…`) is not provided, when it is not.
fn unknown_name(name: &str, provides: Provides) -> Option<TemplateError> {
    let mut parts = name.splitn(3, '.');
    let root = parts.next().unwrap_or_default();
    let roots = provides.roots();
    if !roots.contains(&root) {
        let hint = crate::text::nearest(root, roots).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        return Some(TemplateError(format!("`{name}` is not known here{hint}; {}", provides.describe())));
    }
    let known: Vec<&str> = fields(root).iter().map(String::as_str).collect();
    let field = parts.next().filter(|f| !known.is_empty() && !known.contains(f))?;
    let hint =
        crate::text::nearest(field, &known).map(|n| format!(" (did you mean `{root}.{n}`?)")).unwrap_or_default();
    Some(TemplateError(format!("`{root}.{field}` is not a field of `{root}`{hint}; its fields: {}", known.join(", "))))
}

/// Checks a template: its syntax, and that every filter and test it applies exists (MiniJinja
/// finds an unknown one only when rendering reaches it, at 3 a.m.).
pub fn check(source: &str) -> Result<(), TemplateError> {
    let template = environment().template_from_str(source).map_err(|e| describe(&e))?;
    match unknown_functions(&template).into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// The filters and tests `template` applies that do not exist.
fn unknown_functions(template: &minijinja::Template) -> Vec<TemplateError> {
    let code = &minijinja::machinery::get_compiled_template(template).instructions;
    let mut problems = Vec::new();
    for (at, instruction) in instructions(code) {
        let (kind, name, known) = match instruction {
            Instruction::ApplyFilter(name, ..) => ("filter", *name, known_filters()),
            Instruction::PerformTest(name, ..) => ("test", *name, known_tests()),
            _ => continue,
        };
        if !known.iter().any(|k| k == name) {
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint =
                crate::text::nearest(name, &names).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            let line = code.get_line(at).map(|l| format!(" (template line {l})")).unwrap_or_default();
            problems.push(TemplateError(format!("unknown {kind} `{name}`{hint}{line}")));
        }
    }
    problems
}

/// How many values the template writes without passing them through `tojson` last: in a JSON
/// body, each is a place where a job's text could change the document's structure.
pub fn json_unsafe_values(source: &str) -> usize {
    let Ok(template) = environment().template_from_str(source) else { return 0 };
    let code = &minijinja::machinery::get_compiled_template(&template).instructions;
    let mut previous = None;
    let mut unsafe_values = 0;
    for (_, instruction) in instructions(code) {
        if matches!(instruction, Instruction::Emit)
            && !matches!(previous, Some(&Instruction::ApplyFilter("tojson", ..)))
        {
            unsafe_values += 1;
        }
        previous = Some(instruction);
    }
    unsafe_values
}

use minijinja::machinery::{Instruction, Instructions};

fn instructions<'a>(code: &'a Instructions<'a>) -> impl Iterator<Item = (u32, &'a Instruction<'a>)> {
    (0..).map_while(move |at| code.get(at).map(|i| (at, i)))
}

/// The filters of the environment, found by trying each name MiniJinja may know.
fn known_filters() -> &'static [String] {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        const CANDIDATES: &str = "safe escape e lower upper title capitalize replace length count dictsort items reverse trim join split lines default d round abs int float attr first last min max sort list string bool batch slice sum indent select reject selectattr rejectattr map groupby unique chain zip pprint format tojson urlencode";
        let exists = |name: &&str| !unknown(&format!("{{{{ 1 | {name} }}}}"), minijinja::ErrorKind::UnknownFilter);
        CANDIDATES.split(' ').filter(exists).map(str::to_string).collect()
    })
}

/// The tests of the environment, found the same way.
fn known_tests() -> &'static [String] {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        const CANDIDATES: &str = "undefined defined none safe escaped boolean odd even divisibleby number integer int float string sequence iterable mapping startingwith endingwith lower upper sameas eq equalto ne lt lessthan le gt greaterthan ge in true false filter test";
        let exists = |name: &&str| !unknown(&format!("{{% if 1 is {name} %}}{{% endif %}}"), minijinja::ErrorKind::UnknownTest);
        CANDIDATES.split(' ').filter(exists).map(str::to_string).collect()
    })
}

/// Whether rendering `source` fails with `kind`.
fn unknown(source: &str, kind: minijinja::ErrorKind) -> bool {
    environment().render_str(source, ()).is_err_and(|e| e.kind() == kind)
}

/// Renders a template with `context` (any serializable value).
pub fn render(source: &str, context: &impl serde::Serialize) -> Result<String, TemplateError> {
    let template = environment().template_from_str(source).map_err(|e| describe(&e))?;
    template.render(minijinja::value::Serde(context)).map_err(|e| describe(&e))
}

/// A value meant for a header: rendered, with CR and LF replaced by spaces.
pub fn render_header(source: &str, context: &impl serde::Serialize) -> Result<String, TemplateError> {
    render(source, context).map(|text| text.replace(['\r', '\n'], " "))
}

/// Where a job can be looked at: the admin URL (administrators) and the notebook item's page in
/// Portal (its owner).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// `<admin>/…/jobs/<id>`.
    pub admin: String,
    /// `<portal>/home/item.html?id=<item>`, when the item and the portal are known.
    pub item: Option<String>,
}

impl Links {
    /// The links of `job` on `source`.
    pub fn of(source: &dyn crate::arcgis::JobSource, job: &Job) -> Links {
        let item = job.item_id.as_deref().and_then(|id| source.item_url(id));
        Links { admin: source.job_url(&job.id), item }
    }
}

/// What an action acts on: the rule that fired, the event, the jobs and when it was planned.
#[derive(Debug, Clone, Copy)]
pub struct Occasion<'a> {
    /// The rule's name.
    pub rule: &'a str,
    /// What started it.
    pub event: &'a EventInfo,
    /// The jobs concerned (one, or a batch).
    pub jobs: &'a [NamedJob],
    /// The scheduled task, for a task rule.
    pub task: Option<&'a TaskFacts>,
    /// When it was planned, on the server's clock: the instant runtimes are measured at.
    pub planned_ms: ServerMs,
    /// A digest's slot as its cron wrote it (08:00:00, this machine's clock).
    pub slot: Option<LocalMs>,
}

impl Occasion<'_> {
    /// When it happened, for people (the templates' `now`): a digest's slot as the cron wrote
    /// it, else when it was planned.
    pub fn when(&self) -> String {
        let at = self.slot.map_or(self.planned_ms.0, |slot| slot.0);
        rfc3339(at).unwrap_or_default()
    }
}

/// The context of SPEC §3 (`job`, `jobs`, `rule`, `event`, `target`, `now`) for `jobs`, all or
/// part of the planned ones.
pub fn context(planned: &Occasion<'_>, jobs: &[NamedJob], target: &str, links: impl Fn(&Job) -> Links) -> Value {
    let task = planned.task.map(|t| task_context(t, planned.jobs.first().and_then(|j| links(j).item)));
    let notebook = jobs.first().filter(|j| j.session().is_some());
    let notebook = notebook.map(|j| notebook_context(j, planned.planned_ms, &links(j)));
    let jobs: Vec<Value> = jobs.iter().map(|j| job_context(j, planned.planned_ms, &links(j))).collect();
    json!({
        "job": jobs.first().cloned().unwrap_or(Value::Null),
        "jobs": jobs,
        "task": task,
        "notebook": notebook,
        "rule": planned.rule,
        "event": planned.event,
        "target": target,
        "now": planned.when(),
    })
}

/// One job's template fields; absent text fields are empty strings.
pub fn job_context(job: &NamedJob, now: ServerMs, links: &Links) -> Value {
    let runtime = job.runtime(now);
    json!({
        "id": job.id,
        "type": job.job_type.clone().unwrap_or_default(),
        "status": job.status.as_str(),
        "phase": job.phase().as_str(),
        "username": job.username.clone().unwrap_or_default(),
        "started_at": job.started_at.and_then(rfc3339).unwrap_or_default(),
        "ended_at": job.ended_at.and_then(rfc3339).unwrap_or_default(),
        "runtime": runtime.map(format_duration).unwrap_or_default(),
        "runtime_seconds": runtime.map(|r| r.as_secs()),
        "item_id": job.item_id.clone().unwrap_or_default(),
        "runtime_name": job.runtime_name.clone().unwrap_or_default(),
        "task_id": job.task_id.clone().unwrap_or_default(),
        "timeout_minutes": job.timeout_minutes,
        "url": links.admin,
        "admin_url": links.admin,
        "item_url": links.item.clone().unwrap_or_default(),
        "messages": job.messages(),
        "task_title": job.task_title().unwrap_or_default(),
        "title": job.title().unwrap_or_default(),
        "title_unknown": job.notebook().and_then(|n| n.why.clone()).unwrap_or_default(),
        "item_owner": job.notebook().and_then(|n| n.owner.clone()).unwrap_or_default(),
    })
}

/// An open notebook's template fields (`notebook.*`), from the job-shaped record of a notebook
/// rule's firing; absent text fields are empty strings.
pub fn notebook_context(job: &NamedJob, now: ServerMs, links: &Links) -> Value {
    let session = job.session();
    let idle = session.and_then(|n| n.idle(now));
    let open = session.and_then(|n| n.open_for(now));
    let text =
        |f: fn(&crate::arcgis::notebooks::OpenNotebook) -> Option<String>| session.and_then(f).unwrap_or_default();
    json!({
        "id": text(|n| Some(n.id.clone())),
        "title": job.title().unwrap_or_default(),
        "owner": text(|n| Some(n.username.clone())),
        "runtime": text(|n| n.runtime.clone()),
        "item_id": text(|n| n.item_id.clone()),
        "item_url": links.item.clone().unwrap_or_default(),
        "idle": idle.map(format_duration).unwrap_or_default(),
        "idle_seconds": idle.map(|d| d.as_secs()),
        "open": open.map(format_duration).unwrap_or_default(),
        "open_seconds": open.map(|d| d.as_secs()),
        "last_activity": session.and_then(|n| n.last_activity).and_then(rfc3339).unwrap_or_default(),
    })
}

/// A scheduled task's template fields (`task.*`); absent text fields are empty strings.
pub fn task_context(facts: &TaskFacts, item_url: Option<String>) -> Value {
    let task = &facts.task;
    let time = |at: Option<ServerMs>| at.and_then(rfc3339).unwrap_or_default();
    json!({
        "id": task.id,
        "title": task.title,
        "owner": task.owner,
        "item_id": task.item_id.clone().unwrap_or_default(),
        "item_url": item_url.unwrap_or_default(),
        "schedule": facts.schedule(),
        "last_start": time(task.last_start_ms),
        "next_due": time(facts.next_due_ms),
        "due": time(facts.due_ms),
        "active": task.active,
        "state": task.state.clone().unwrap_or_default(),
        "consecutive_failures": facts.consecutive_failures,
        "result": facts.result.clone().unwrap_or_default(),
    })
}

/// The lines of a message about a scheduled task: its title, owner, notebook, schedule and runs.
pub fn task_lines(facts: &TaskFacts, item_url: Option<String>) -> String {
    let context = task_context(facts, item_url);
    let field = |key: &str| context[key].as_str().map(str::to_string).unwrap_or_default();
    let mut rows = vec![
        ("task", format!("{} ({})", field("title"), field("id"))),
        ("owner", field("owner")),
        ("notebook", if field("item_url").is_empty() { field("item_id") } else { field("item_url") }),
        ("schedule", field("schedule")),
        ("state", if facts.task.active { field("state") } else { format!("{} (inactive)", field("state")) }),
        ("last start", field("last_start")),
        ("missed run due at", field("due")),
        ("next run due", field("next_due")),
        ("last run", field("result")),
        ("failures in a row", facts.consecutive_failures.to_string()),
    ];
    rows.retain(|(_, value)| !value.trim().is_empty());
    rows.iter().map(|(name, value)| format!("  {name}: {}\n", crate::text::sanitize(value))).collect()
}

/// A plain-text table of jobs for message bodies: id, type, status, owner, runtime.
pub fn job_table(jobs: &[NamedJob], now: ServerMs) -> String {
    let mut lines = vec![["JOB", "TYPE", "STATUS", "OWNER", "RUNTIME"].map(String::from)];
    for job in jobs {
        lines.push([
            cell(&job.id, 64),
            cell(job.job_type.as_deref().unwrap_or("-"), 40),
            cell(job.status.as_str(), 20),
            cell(job.username.as_deref().unwrap_or("-"), 40),
            job.runtime(now).map(format_duration).unwrap_or_else(|| "-".into()),
        ]);
    }
    aligned(&lines)
}

/// A one-line default message: rule, event and jobs.
pub fn summary(planned: &Occasion<'_>) -> String {
    let jobs: Vec<String> = planned
        .jobs
        .iter()
        .map(|j| {
            format!(
                "{} ({}, {}, {})",
                j.id,
                j.status,
                j.username.as_deref().unwrap_or("?"),
                j.job_type.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if let Some(task) = planned.task {
        let failures = task.consecutive_failures;
        let (title, id, owner) = (&task.task.title, &task.task.id, &task.task.owner);
        return format!(
            "rule {} on {}: task {title} ({id}, owner {owner}, {failures} failure(s) in a row)",
            planned.rule, planned.event.kind
        );
    }
    format!("rule {} on {}: {}", planned.rule, planned.event.kind, jobs.join(", "))
}

/// A template that does not parse or does not render: MiniJinja's reason, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

fn describe(error: &minijinja::Error) -> TemplateError {
    let mut text = error.detail().map(|d| d.to_string()).unwrap_or_else(|| error.kind().to_string());
    if let Some(line) = error.line() {
        text.push_str(&format!(" (template line {line})"));
    }
    TemplateError(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_rejects() {
        let context = json!({ "job": { "id": "j1", "runtime": "1h32m", "messages": [] } });
        assert_eq!(render("{{ job.id }} ran {{ job.runtime }}", &context).unwrap(), "j1 ran 1h32m");
        assert!(check("{{ job.id }").is_err());
        let missing = render("last: {{ job.messages | last }}; {{ job.nothing.deeper }}", &context).unwrap();
        assert_eq!(missing, "last: (none); (none)", "what the data lacks is the placeholder, never an error");
    }

    #[test]
    fn names_are_checked_against_what_the_trigger_provides() {
        let fine = "{{ job.id }} {{ jobs | length }} {% for j in jobs %}{{ j.id }}{% endfor %}";
        assert!(problems_for(fine, Provides::Jobs).is_empty());
        let table = [
            ("{{ jobb.id }}", Provides::Jobs, "`jobb.id` is not known here (did you mean `job`?)"),
            (
                "{{ job.usrname }}",
                Provides::Jobs,
                "`job.usrname` is not a field of `job` (did you mean `job.username`?)",
            ),
            ("{{ task.titel }}", Provides::Tasks, "`task.titel` is not a field of `task` (did you mean `task.title`?)"),
            ("{{ task.title }}", Provides::Jobs, "`task.title` is not known here"),
            ("{{ event.knd }}", Provides::Jobs, "(did you mean `event.kind`?)"),
        ];
        for (source, provides, expected) in table {
            let problems = problems_for(source, provides);
            assert!(problems.len() == 1 && problems[0].to_string().contains(expected), "{source}: {problems:?}");
        }
        assert!(problems_for("{{ task.title }} {{ task.consecutive_failures }}", Provides::Tasks).is_empty());
        let every: Vec<String> = problems_for("{{ jobb.id | upperr }} {{ job.usrname }}", Provides::Jobs)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(every.len(), 3, "every problem of one template at once: {every:?}");
    }

    /// Two jobs (a full one, one that lacks every field) and an event of each kind.
    fn jobs_and_every_event() -> (Vec<NamedJob>, Vec<EventInfo>) {
        let mut failed = Job::new("j1", crate::arcgis::Status::Failed);
        (failed.username, failed.job_type, failed.started_at, failed.ended_at) =
            (Some("joe".into()), Some("executeNotebook".into()), Some(ServerMs(1_000)), Some(ServerMs(61_000)));
        failed.edit(|more| more.messages = vec!["Traceback (most recent call last):".into(), "KeyError: 'X'".into()]);
        let bare = Job::new("j2", crate::arcgis::Status::Unknown(String::new()));
        let event = |kind: &str, from: Option<&str>, to: Option<&str>| crate::diff::EventInfo {
            kind: kind.parse().expect("an event kind"),
            from: from.map(String::from),
            to: to.map(String::from),
        };
        let events = [
            event("poll", None, None),
            event("appeared", None, None),
            event("status_changed", Some("EXECUTING"), Some("FAILED")),
            event("status_changed", Some("none"), Some("FAILED")),
            event("disappeared", Some("EXECUTING"), Some("unknown")),
            event("schedule", None, None),
        ];
        (vec![failed.into(), bare.into()], events.into())
    }

    fn sample_task() -> TaskFacts {
        let task = crate::arcgis::tasks::Task {
            id: "t1".into(),
            title: "Nightly".into(),
            owner: "joe".into(),
            item_id: None,
            cron: Some("0 2 * * *".into()),
            interval_seconds: None,
            start_ms: None,
            last_start_ms: None,
            active: false,
            state: None,
        };
        TaskFacts { task, consecutive_failures: 3, result: None, next_due_ms: None, due_ms: None }
    }

    /// A scheduled task that lacks every optional field, and an event of each task kind.
    fn task_and_every_event() -> (Vec<NamedJob>, Vec<EventInfo>) {
        let event =
            |kind: &str| crate::diff::EventInfo { kind: kind.parse().expect("an event kind"), from: None, to: None };
        (vec![sample_task().as_job().into()], ["task_failed", "task_stopped", "task_missed"].map(event).into())
    }

    /// Every template the program ships (the rules in `rules/` and the default e-mail subject),
    /// rendered strictly against every event kind, with a full job and one that lacks every field.
    #[test]
    fn every_shipped_template_renders_for_every_event_kind() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
        let paths = [std::path::PathBuf::from(dir)];
        let set = crate::rules::RuleSet::load(&paths, &["prod"]).expect("the shipped rules compile");
        let optional = crate::rules::RuleSet::load(&[paths[0].join("optional")], &["prod"]).expect("optional rules");
        let mut rendered = 0;
        for rule in set.rules.iter().chain(&optional.rules) {
            for action in &rule.actions {
                let mut sources: Vec<(&str, &str)> = action.templates();
                if matches!(&**action, crate::actions::ActionConfig::Email(e) if e.subject.is_none()) {
                    sources.push(("subject", crate::actions::DEFAULT_SUBJECT));
                }
                let (all, events) =
                    if rule.trigger.is_task() { task_and_every_event() } else { jobs_and_every_event() };
                let task = rule.trigger.is_task().then(sample_task);
                for event in &events {
                    let planned = Occasion {
                        rule: "r",
                        event,
                        jobs: &all,
                        task: task.as_ref(),
                        planned_ms: ServerMs(120_000),
                        slot: None,
                    };
                    for jobs in [&all[..1], &all[1..], &all[..]] {
                        let cx = context(&planned, jobs, "prod", |_| Links { admin: "a".into(), item: None });
                        for (key, source) in &sources {
                            let result = if *key == "html" { render_html(source, &cx) } else { render(source, &cx) };
                            result
                                .unwrap_or_else(|e| panic!("rule {} {key} on {}: {e}", rule.name, planned.event.kind));
                            rendered += 1;
                        }
                    }
                }
            }
        }
        assert!(rendered > 100, "{rendered} renderings");
    }

    #[test]
    fn unknown_filters_and_tests_are_found_before_rendering() {
        assert!(check("{{ job.id | tojson }} {{ jobs | length }} {% if x is defined %}{% endif %}").is_ok());
        let err = check("line one\n{% if x %}{{ job.id | tojsn }}{% endif %}").unwrap_err().to_string();
        assert!(err.contains("unknown filter `tojsn` (did you mean `tojson`?) (template line 2)"), "{err}");
        let err = check("{% if x is defind %}{% endif %}").unwrap_err().to_string();
        assert!(err.contains("unknown test `defind` (did you mean `defined`?)"), "{err}");
    }

    #[test]
    fn json_bodies_count_the_values_not_passed_through_tojson() {
        assert_eq!(json_unsafe_values(r#"{"text": {{ job.id | tojson }}}"#), 0);
        assert_eq!(json_unsafe_values(r#"{"text": "{{ job.id }} on {{ target | upper }}"}"#), 2);
    }

    #[test]
    fn header_values_stay_on_one_line() {
        let context = json!({ "job": { "username": "eve\r\nBcc: victim@example.com" } });
        let header = render_header("Job of {{ job.username }}", &context).unwrap();
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
    }
}
