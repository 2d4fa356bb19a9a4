//! `nbwarden backtest`: what would these rules have done? Each target's job timeline is rebuilt
//! from the recorded history and replayed through the real cores (`replay`), with the daemon's
//! extra polls at deadline crossings; nothing is executed and nothing is written. Each rule's
//! firings, with what its actions would have done, are compared with what the live rules fired.

use super::setup::{self, Setup};
use crate::actions::{ActionContext, Progress, Services};
use crate::arcgis::model::rfc3339;
use crate::arcgis::{Job, JobSource};
use crate::clock::{Offset, ServerMs};
use crate::replay::{replay, replay_tasks, Poll, Step};
use crate::rules::RuleSet;
use crate::store::{Change, Fired, Scope};
use crate::usual::Usual;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Arc;

#[cfg(test)]
mod agrees;
mod notebooks;
mod tasks;
use tasks::Untested;

/// A store in a fresh folder, and the configuration of one target `t` with `watch` added (e.g.
/// `tasks: { every: 1s }`), for the tests of the rebuilt reads.
#[cfg(test)]
async fn store_and_target(watch: &str) -> (tempfile::TempDir, crate::store::SqlStore, crate::config::TargetConfig) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::SqlStore::open_sqlite(&dir.path().join("state.db")).await.unwrap();
    let text = format!(
        "targets:
  - name: t
    flavor: enterprise
    admin_url: https://gis.example.com/portal/admin
    auth: {{ portal_url: 'https://gis.example.com/portal', username: w, password: p }}
    {watch}
"
    );
    let mut config = crate::config::parse(std::path::Path::new("nbwarden.yaml"), &text).unwrap();
    (dir, store, config.targets.remove(0))
}

/// What `backtest` was asked.
pub struct Options {
    /// From this long ago.
    pub since: std::time::Duration,
    /// Up to this instant, read on the servers' clocks; now when `None`.
    pub until_ms: Option<ServerMs>,
    /// Other rule files to replay instead of the configured ones.
    pub rules: Vec<std::path::PathBuf>,
    /// Only this target.
    pub target: Option<String>,
    /// One JSON object per firing, then one per rule.
    pub json: bool,
}

/// One back-tested firing.
struct Firing {
    target: String,
    at_ms: ServerMs,
    fired: Fired,
    actions: Vec<(String, String)>,
}

/// Runs the back-test and prints it; always `Ok(true)` unless something cannot be read.
pub async fn run(setup: Setup, options: Options) -> anyhow::Result<bool> {
    super::write_stdout(&report(setup, options).await?)?;
    Ok(true)
}

/// The back-test as it is printed.
pub async fn report(setup: Setup, options: Options) -> anyhow::Result<String> {
    let config = &setup.config;
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let rules = match options.rules.is_empty() {
        true => setup.rules.clone(),
        false => RuleSet::load(&options.rules, &names).map_err(|errors| {
            anyhow::anyhow!("{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
        })?,
    };
    let (store, _) = setup::open(config).await?;
    // The recorded history is on the servers' clocks: this machine's now is read as theirs.
    let until = options.until_ms.unwrap_or_else(|| crate::clock::system().now().on_server(Offset::default()));
    let since = until - options.since.as_millis() as i64;
    let services = Services::new(config.email.as_ref(), &config.owners, None)?;
    let sign_ins = crate::arcgis::signin::SignIns::new(crate::clock::system());
    let (mut firings, mut live, mut held) = (Vec::new(), BTreeSet::new(), Held::new());
    let mut untested = Untested::new();
    for target in config.targets.iter().filter(|t| options.target.as_ref().is_none_or(|n| *n == t.name)) {
        let source: Arc<dyn JobSource> = Arc::new(setup::client(target, &sign_ins)?);
        let polled = store.polled(Scope::Real, &target.name).await?;
        let last_poll = polled.map(|(_, last)| last);
        let last_read = store.tasks_read_ms(Scope::Real, &target.name).await?.map(ServerMs);
        // Recorded times are the server's clock, which may run ahead of this machine's: without
        // `--until`, everything recorded up to now on either clock is in.
        let until = match options.until_ms {
            Some(until) => until,
            None => last_poll.into_iter().chain(last_read).fold(until, ServerMs::max),
        };
        let polled = polled.map(|(first, last)| (first, last.min(until)));
        let polls = timeline(store.changes(Scope::Real, &target.name, until).await?, since, polled);
        let interval = target.poll.interval().as_millis() as i64;
        // Runs recorded live (a rule with `runtime_over_usual` was loaded), else those of the first poll.
        let stored = store.runs(Scope::Real, &target.name, since).await?;
        let usual = (!stored.is_empty()).then(|| Usual::from_runs(stored));
        let guards = (&target.limits, &target.protect);
        let steps = replay((&rules, &target.name, guards), polls, usual, None, Some(interval));
        firings.extend(described(&target.name, &steps, &*source, &services).await);
        held_back(&target.name, &steps, &mut held);
        let task_steps = task_steps(&store, target, &rules, (since, until), &mut untested).await?;
        firings.extend(described(&target.name, &task_steps, &*source, &services).await);
        let notebook_steps = notebook_steps(&store, target, &rules, (since, until), &mut untested).await?;
        firings.extend(described(&target.name, &notebook_steps, &*source, &services).await);
        held_back(&target.name, &notebook_steps, &mut held);
        for fired in store.fired_between(Scope::Real, &target.name, (since, until)).await? {
            live.insert((target.name.clone(), fired));
        }
    }
    Ok(match options.json {
        true => as_json(&rules, (&firings, &held, &untested), &live)?,
        false => as_text(&rules, (&firings, &held, &untested), &live, (since, until)),
    })
}

/// The task rules of `target` replayed over its rebuilt task reads; the rules that cannot be
/// back-tested there go into `untested`, with why.
async fn task_steps(
    store: &crate::store::SqlStore,
    target: &crate::config::TargetConfig,
    rules: &RuleSet,
    window: (ServerMs, ServerMs),
    untested: &mut Untested,
) -> anyhow::Result<Vec<Step>> {
    let task_rules: Vec<_> = rules.rules.iter().filter(|r| r.applies_to(&target.name) && r.trigger.is_task()).collect();
    if task_rules.is_empty() {
        return Ok(Vec::new());
    }
    let reads = tasks::reads(store, target, window).await?;
    for rule in &task_rules {
        if let Some(why) = reads.as_ref().err().cloned().or_else(|| tasks::untestable_rule(rule)) {
            untested.entry(rule.name.clone()).or_default().push((target.name.clone(), why));
        }
    }
    let zone = target.tasks.as_ref().map_or(chrono_tz::UTC, |t| t.zone());
    Ok(reads.map(|reads| replay_tasks(rules, &target.name, reads, zone)).unwrap_or_default())
}

/// The notebook rules of `target` replayed over its rebuilt reads of the open notebooks; the rules
/// that cannot be back-tested there go into `untested`, with why.
async fn notebook_steps(
    store: &crate::store::SqlStore,
    target: &crate::config::TargetConfig,
    rules: &RuleSet,
    window: (ServerMs, ServerMs),
    untested: &mut Untested,
) -> anyhow::Result<Vec<Step>> {
    let notebook_rules = rules
        .rules
        .iter()
        .filter(|r| r.applies_to(&target.name) && matches!(r.trigger, crate::rules::Trigger::Notebook));
    let names: Vec<String> = notebook_rules.map(|r| r.name.clone()).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    match notebooks::reads(store, target, window).await? {
        Ok(reads) => {
            let guards = (&target.limits, &target.protect);
            Ok(crate::replay::replay_notebooks(rules, &target.name, guards, reads))
        }
        Err(why) => {
            for name in names {
                untested.entry(name).or_default().push((target.name.clone(), why.clone()));
            }
            Ok(Vec::new())
        }
    }
}

/// The polls that saw changes from `since` on, each with every job then listed (the changes
/// before `since` make the first one's state), and the target's first poll (its baseline, which
/// saw no change when nothing was listed) and last poll (the deadlines crossed since the last
/// change are stepped to) when they came at other times; made one at a time, as the replay takes
/// them.
struct Timeline {
    changes: std::vec::IntoIter<Change>,
    next: Option<Change>,
    listed: BTreeMap<String, Job>,
    since: ServerMs,
    /// The first poll, still to be yielded when earlier than the first change.
    first_poll: Option<ServerMs>,
    /// The last poll, still to be yielded when later than the last change.
    last_poll: Option<ServerMs>,
}

/// The timeline of `changes` from `since`, given when the target was first and last `polled`.
fn timeline(changes: Vec<Change>, since: ServerMs, polled: Option<(ServerMs, ServerMs)>) -> Timeline {
    let mut changes = changes.into_iter();
    let next = changes.next();
    let (first_poll, last_poll) = (polled.map(|(first, _)| first), polled.map(|(_, last)| last));
    Timeline { changes, next, listed: BTreeMap::new(), since, first_poll, last_poll }
}

impl Iterator for Timeline {
    type Item = Poll;

    fn next(&mut self) -> Option<Poll> {
        loop {
            let change = self.next.as_ref().map(|c| c.at_ms);
            let at = match (change, self.first_poll.take()) {
                (Some(change), Some(first)) if first < change => first,
                (None, Some(first)) => first,
                (Some(change), _) => change,
                (None, None) => {
                    let at = self.last_poll.take().filter(|at| *at >= self.since)?;
                    return Some(Poll { at_ms: at, jobs: self.listed.values().cloned().collect() });
                }
            };
            self.last_poll = self.last_poll.filter(|last| *last > at);
            while let Some(change) = self.next.take_if(|c| c.at_ms == at) {
                match change.listed {
                    true => self.listed.insert(change.job.id.clone(), change.job),
                    false => self.listed.remove(&change.job.id),
                };
                self.next = self.changes.next();
            }
            if at >= self.since {
                return Some(Poll { at_ms: at, jobs: self.listed.values().cloned().collect() });
            }
        }
    }
}

/// Each firing of the steps, with what each of its actions would have done: per message, as
/// sending would split it, with the owners looked up; each planned action previewed once, however
/// many firings its batch holds.
async fn described(target: &str, steps: &[Step], source: &dyn JobSource, services: &Services) -> Vec<Firing> {
    let progress = Progress::default();
    let mut out = Vec::new();
    for step in steps {
        let mut previews = Vec::with_capacity(step.plan.actions.len());
        for planned in &step.plan.actions {
            let occasion = planned.occasion();
            let now = step.at_ms.on_local(Offset::default());
            let cx = ActionContext { target, source, occasion, services, progress: &progress, now };
            previews.push(planned.action.build().preview_each(&cx).await);
        }
        for record in &step.plan.ledger {
            let covering =
                step.plan.actions.iter().zip(&previews).filter(|(p, _)| p.rule == record.rule && covers(p, record));
            let actions = covering
                .flat_map(|(planned, lines)| lines.iter().map(|line| (planned.action.kind().to_string(), line.clone())))
                .collect();
            let fired = Fired {
                rule: record.rule.clone(),
                shadow: record.shadow,
                job_id: record.job_id.clone(),
                trigger: record.trigger.clone(),
            };
            out.push(Firing { target: target.into(), at_ms: step.at_ms, fired, actions });
        }
    }
    out
}

/// Whether the planned action acts on the firing `record`: its job, its task, or a digest slot.
fn covers(planned: &crate::plan::Planned, record: &crate::plan::LedgerRecord) -> bool {
    let task = planned.task.as_ref().map(|t| crate::rules::tasks::task_key(&t.task.id));
    planned.jobs.iter().any(|j| j.id == record.job_id)
        || record.job_id == crate::ledger::DIGEST_JOB
        || task.is_some_and(|key| key == record.job_id)
}

/// Firings a limit held back, by (rule, target, job): the first poll that held it, at how many
/// polls, and the last limit's words. A held firing is not recorded, so it comes again at each poll.
type Held = BTreeMap<(String, String, String), (ServerMs, u32, String)>;

fn held_back(target: &str, steps: &[Step], held: &mut Held) {
    for step in steps {
        let mut this_poll = BTreeMap::new();
        for report in &step.plan.suppressed {
            for job in &report.job_ids {
                this_poll.insert((report.rule.clone(), target.to_string(), job.clone()), &report.detail);
            }
        }
        for (key, detail) in this_poll {
            let entry = held.entry(key).or_insert((step.at_ms, 0, String::new()));
            entry.1 += 1;
            entry.2.clone_from(detail);
        }
    }
}

/// The keys of `Held` of one rule.
fn rule_range(rule: &str) -> std::ops::RangeInclusive<(String, String, String)> {
    let (low, high) = (String::new(), char::MAX.to_string());
    (rule.to_string(), low.clone(), low)..=(rule.to_string(), high.clone(), high)
}

/// Per rule: the jobs only the back-test acted on, and those only the live rules did.
fn differences(
    rule: &str,
    firings: &[Firing],
    live: &BTreeSet<(String, Fired)>,
) -> (usize, usize, Vec<String>, Vec<String>) {
    let tested: BTreeSet<(String, Fired)> =
        firings.iter().filter(|f| f.fired.rule == rule).map(|f| (f.target.clone(), f.fired.clone())).collect();
    let lived: BTreeSet<&(String, Fired)> = live.iter().filter(|(_, f)| f.rule == rule).collect();
    let only_backtest = tested.iter().filter(|f| !lived.contains(f)).map(|(_, f)| f.job_id.clone()).collect();
    let only_live = lived.iter().filter(|f| !tested.contains(f)).map(|(_, f)| f.job_id.clone()).collect();
    (tested.len(), lived.len(), only_backtest, only_live)
}

fn as_json(
    rules: &RuleSet,
    (firings, held, untested): (&[Firing], &Held, &Untested),
    live: &BTreeSet<(String, Fired)>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    for f in firings {
        let actions: Vec<_> =
            f.actions.iter().map(|(action, detail)| json!({ "action": action, "detail": detail })).collect();
        let line = json!({
            "kind": "firing", "target": f.target, "rule": f.fired.rule, "trigger": f.fired.trigger.to_string(),
            "at": rfc3339(f.at_ms), "job_ids": [f.fired.job_id], "actions": actions,
            "live": live.contains(&(f.target.clone(), f.fired.clone())),
        });
        writeln!(out, "{}", crate::text::json_safe(serde_json::to_string(&line)?))?;
    }
    for ((rule, target, job), (first, polls, detail)) in held {
        let line = json!({ "kind": "suppressed", "target": target, "rule": rule, "job_ids": [job],
                           "first": rfc3339(*first), "polls": polls, "detail": detail });
        writeln!(out, "{}", crate::text::json_safe(serde_json::to_string(&line)?))?;
    }
    for rule in &rules.rules {
        let (tested, lived, only_backtest, only_live) = differences(&rule.name, firings, live);
        let mut line = json!({ "kind": "rule", "rule": rule.name, "firings": tested, "live_firings": lived,
                               "only_backtest": only_backtest, "only_live": only_live });
        if let Some(list) = untested.get(&rule.name) {
            let list: Vec<_> = list.iter().map(|(t, why)| json!({ "target": t, "reason": why.to_string() })).collect();
            line["not_backtestable"] = json!(list);
        }
        writeln!(out, "{}", crate::text::json_safe(serde_json::to_string(&line)?))?;
    }
    Ok(out)
}

fn as_text(
    rules: &RuleSet,
    (firings, held, untested): (&[Firing], &Held, &Untested),
    live: &BTreeSet<(String, Fired)>,
    (since, until): (ServerMs, ServerMs),
) -> String {
    let mut out = format!(
        "back-test from {} to {} (recorded history; nothing was executed)\n",
        rfc3339(since).unwrap_or_default(),
        rfc3339(until).unwrap_or_default()
    );
    for rule in &rules.rules {
        let (tested, lived, only_backtest, only_live) = differences(&rule.name, firings, live);
        let untested = untested.get(&rule.name).map_or(&[][..], Vec::as_slice);
        match (tested, untested) {
            (0, [(_, why)]) => {
                let _ = writeln!(out, "rule {}: not back-testable: {why}; the live rules fired {lived}", rule.name);
            }
            _ => {
                let _ = writeln!(out, "rule {}: {tested} firing(s); the live rules fired {lived}", rule.name);
                for (target, why) in untested {
                    let _ = writeln!(out, "  not back-testable on {target}: {why}");
                }
            }
        }
        for f in firings.iter().filter(|f| f.fired.rule == rule.name) {
            let when = rfc3339(f.at_ms).unwrap_or_default();
            let _ = writeln!(out, "  {when} {} {} ({})", f.target, f.fired.job_id, f.fired.trigger);
            for (_, detail) in &f.actions {
                let _ = writeln!(out, "      {}", crate::text::sanitize(detail));
            }
        }
        for ((_, target, job), (first, polls, detail)) in held.range(rule_range(&rule.name)) {
            let first = rfc3339(*first).unwrap_or_default();
            let detail = crate::text::sanitize(detail);
            let _ = writeln!(out, "  {first} {target} {job}: held back at {polls} poll(s): {detail}");
        }
        let verb = if rule.cancels() { "cancelled" } else { "acted on" };
        if !only_backtest.is_empty() {
            let _ =
                writeln!(out, "  would have {verb} {} more job(s): {}", only_backtest.len(), only_backtest.join(", "));
        }
        if !only_live.is_empty() {
            let _ = writeln!(out, "  would have {verb} {} job(s) fewer: {}", only_live.len(), only_live.join(", "));
        }
    }
    out
}
