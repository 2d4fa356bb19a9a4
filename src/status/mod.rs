//! What the daemon shows about itself: the board behind `/status` and `/healthz` (targets and
//! their health, scheduled tasks, rules, silences, current jobs, recent events and actions, the
//! activity), the metrics, and the HTTP endpoint.

mod chart;
mod filter;
pub mod metrics;
mod page;
pub mod server;
mod shown;
mod views;

pub use filter::Filter;
use shown::{for_people, shown_jobs};
pub use shown::{JobView, Recent, SilenceView};
pub use views::{NotebookView, RuleView, TaskView};

use crate::arcgis::model::rfc3339;
use crate::arcgis::Phase;
use crate::clock::{Clock, LocalMs, ServerMs};
use crate::diff::Snapshot;
use crate::engine::Line;
use crate::text::sanitize;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Recent events and actions kept.
const RECENT_KEPT: usize = 200;

/// One target as `/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    /// The target.
    pub name: String,
    /// Whether it polled successfully within three intervals.
    pub healthy: bool,
    /// How long it may go without a successful poll before it is unhealthy, in seconds.
    pub unhealthy_after_seconds: u64,
    /// The last successful poll (RFC 3339, local clock).
    pub last_success: Option<String>,
    /// The last error, while the target keeps failing.
    pub last_error: Option<String>,
    /// Failed polls in a row.
    pub failures_in_a_row: u32,
    /// The last poll failed: the jobs shown are those of the last successful one, their
    /// runtimes as of then.
    pub stale: bool,
    /// When the jobs shown were listed (RFC 3339, local clock): the last successful poll.
    pub as_of: Option<String>,
    /// Jobs listed by the last successful poll.
    pub jobs_total: usize,
    /// Jobs by phase.
    pub phases: BTreeMap<&'static str, usize>,
    /// Version, account, scope (`all`/`own`) and the server's cap, from the last poll.
    #[serde(flatten)]
    pub site: crate::arcgis::SiteInfo,
    /// While sign-in waits to protect the account from lockout: the next safe try (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_paused_until: Option<String>,
    /// Who holds the target's lease, when replicas share the store.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseInfo>,
    #[serde(skip)]
    sign_in_wait: Option<LocalMs>,
    #[serde(skip)]
    interval: Duration,
    #[serde(skip)]
    since: LocalMs,
    #[serde(skip)]
    last_success_at: Option<LocalMs>,
}

/// A target's lease as `/status` shows it (SPEC §4.12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseInfo {
    /// The replica polling the target, if any.
    pub holder: Option<String>,
    /// Whether it is this replica.
    pub held_here: bool,
    /// Raised at every takeover.
    pub epoch: i64,
}

#[derive(Debug, Default)]
struct Inner {
    /// `http.show_details`: e-mail recipients and program output shown on `/status`.
    show_details: bool,
    targets: BTreeMap<String, TargetView>,
    jobs: BTreeMap<String, Vec<JobView>>,
    recent: VecDeque<Recent>,
    activity: BTreeMap<String, crate::activity::Activity>,
    /// Polls that succeeded and that failed since the start, for the heartbeat.
    polls: (u64, u64),
    silences: Vec<SilenceView>,
    /// Per target, the scheduled tasks as last read.
    tasks: BTreeMap<String, Vec<TaskView>>,
    /// Per target, the open notebooks as last read, most idle first.
    notebooks: BTreeMap<String, Vec<NotebookView>>,
    /// The rules loaded, in file order, with their firings.
    rules: Vec<RuleView>,
    /// Per target, its polls so far (a firing's several actions count once per poll).
    poll_count: BTreeMap<String, u64>,
}

/// The shared board, updated by the scheduler, read by the HTTP endpoint; its times are this
/// machine's clock, the dispatcher's.
#[derive(Debug)]
pub struct Board(Mutex<Inner>, Arc<dyn Clock>);

impl Default for Board {
    fn default() -> Board {
        Board::new(crate::clock::system())
    }
}

impl Board {
    /// A board on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Board {
        Board(Mutex::new(Inner::default()), clock)
    }

    /// Now on the board's clock.
    pub fn now(&self) -> LocalMs {
        self.1.now()
    }

    /// Declares the targets being watched (after a start or a reload), each with how long it may
    /// go without a successful poll: three intervals plus one poll timeout.
    pub fn set_targets(&self, targets: &[(String, Duration)]) {
        let mut inner = self.0.lock().expect("board");
        inner.targets.retain(|name, _| targets.iter().any(|(n, _)| n == name));
        inner.jobs.retain(|name, _| targets.iter().any(|(n, _)| n == name));
        inner.activity.retain(|name, _| targets.iter().any(|(n, _)| n == name));
        inner.tasks.retain(|name, _| targets.iter().any(|(n, _)| n == name));
        inner.notebooks.retain(|name, _| targets.iter().any(|(n, _)| n == name));
        let now = self.now();
        for (name, interval) in targets {
            let view = inner.targets.entry(name.clone()).or_insert_with(|| TargetView {
                name: name.clone(),
                healthy: true,
                unhealthy_after_seconds: 0,
                last_success: None,
                last_error: None,
                failures_in_a_row: 0,
                stale: false,
                as_of: None,
                jobs_total: 0,
                phases: BTreeMap::new(),
                site: Default::default(),
                sign_in_paused_until: None,
                lease: None,
                sign_in_wait: None,
                interval: *interval,
                since: now,
                last_success_at: None,
            });
            view.interval = *interval;
            view.unhealthy_after_seconds = interval.as_secs();
        }
    }

    /// Declares the rules loaded (after a start or a reload); a rule kept by name keeps its
    /// firings.
    pub fn set_rules(&self, rules: &crate::rules::RuleSet) {
        let mut inner = self.0.lock().expect("board");
        let old = std::mem::take(&mut inner.rules);
        inner.rules = rules
            .rules
            .iter()
            .map(|rule| {
                let fresh = RuleView::of(rule);
                match old.iter().find(|o| o.name == rule.name) {
                    Some(kept) => kept.with_definition_of(fresh),
                    None => fresh,
                }
            })
            .collect();
    }

    /// Records a read of `target`'s scheduled tasks.
    pub fn tasks(&self, target: &str, tasks: Vec<TaskView>) {
        self.0.lock().expect("board").tasks.insert(target.to_string(), tasks);
    }

    /// Records a failed read of `target`'s scheduled tasks: each keeps its last view, with why.
    pub fn tasks_failed(&self, target: &str, error: &str) {
        let mut inner = self.0.lock().expect("board");
        for task in inner.tasks.get_mut(target).into_iter().flatten() {
            task.last_error = Some(sanitize(error).into_owned());
        }
    }

    /// Records a read of `target`'s open notebooks, most idle first.
    pub fn notebooks(&self, target: &str, read: &crate::cycle::NotebooksRead) {
        let mut views: Vec<NotebookView> =
            read.notebooks.values().map(|n| NotebookView::of(target, n, read.at)).collect();
        views.sort_by(|a, b| b.idle_seconds.cmp(&a.idle_seconds).then(a.id.cmp(&b.id)));
        self.0.lock().expect("board").notebooks.insert(target.to_string(), views);
    }

    /// Records a failed read of `target`'s open notebooks: each keeps its last view, with why.
    pub fn notebooks_failed(&self, target: &str, error: &str) {
        let mut inner = self.0.lock().expect("board");
        for notebook in inner.notebooks.get_mut(target).into_iter().flatten() {
            notebook.last_error = Some(sanitize(error).into_owned());
        }
    }

    /// Records a successful poll and the jobs it listed (`now` on the server's clock, for their
    /// runtimes; `source` for their links); returns the jobs by phase, for the metrics.
    pub fn polled(
        &self,
        target: &str,
        snapshot: &Snapshot,
        site: Option<&crate::arcgis::SiteInfo>,
        now: ServerMs,
        source: &dyn crate::arcgis::JobSource,
    ) -> BTreeMap<&'static str, usize> {
        let mut counts = [0usize; Phase::ALL.len()];
        for bits in snapshot.phase_bits() {
            counts[bits.trailing_zeros() as usize] += 1;
        }
        let phases: BTreeMap<&'static str, usize> =
            Phase::ALL.iter().zip(counts).filter(|(_, n)| *n > 0).map(|(p, n)| (p.as_str(), n)).collect();
        let jobs = shown_jobs(target, snapshot, now, source);
        let mut inner = self.0.lock().expect("board");
        *inner.poll_count.entry(target.to_string()).or_default() += 1;
        let local = self.now();
        inner.activity.entry(target.to_string()).or_default().polled(local, counts[Phase::Running as usize]);
        inner.polls.0 += 1;
        if let Some(view) = inner.targets.get_mut(target) {
            view.last_success_at = Some(local);
            view.last_success = rfc3339(local.0);
            view.as_of = view.last_success.clone();
            view.stale = false;
            view.last_error = None;
            view.failures_in_a_row = 0;
            view.jobs_total = snapshot.len();
            view.phases = phases.clone();
            view.site = site.cloned().unwrap_or_default();
        }
        inner.jobs.insert(target.to_string(), jobs);
        phases
    }

    /// Puts back the activity the store kept for `target` (after a restart).
    pub fn restore_activity(&self, target: &str, activity: crate::activity::Activity) {
        self.0.lock().expect("board").activity.insert(target.to_string(), activity);
    }

    /// The current activity slot of `target`, the one polls update.
    pub fn latest_slot(&self, target: &str) -> Option<crate::activity::Slot> {
        self.0.lock().expect("board").activity.get(target).and_then(|a| a.latest())
    }

    /// Records whether sign-in waits, and until when; a waiting target is unhealthy.
    pub fn sign_in_wait(&self, target: &str, until: Option<LocalMs>) {
        if let Some(view) = self.0.lock().expect("board").targets.get_mut(target) {
            view.sign_in_wait = until;
            view.sign_in_paused_until = until.map(|u| rfc3339(u.0).unwrap_or_default());
        }
    }

    /// Whether e-mail recipients and program output are shown (`http.show_details`).
    pub fn show_details(&self, show: bool) {
        self.0.lock().expect("board").show_details = show;
    }

    /// Records the silences in force.
    pub fn silences(&self, silences: &[crate::silence::Silence]) {
        let view = |s: &crate::silence::Silence| SilenceView {
            id: sanitize(&s.id).into_owned(),
            matchers: s.matchers_text(),
            ends: rfc3339(s.ends).unwrap_or_default(),
            comment: sanitize(&s.comment).into_owned(),
            author: sanitize(&s.author).into_owned(),
        };
        self.0.lock().expect("board").silences = silences.iter().map(view).collect();
    }

    /// Polls that succeeded and that failed since the start.
    pub fn polls(&self) -> (u64, u64) {
        self.0.lock().expect("board").polls
    }

    /// Records a failed poll.
    pub fn failed(&self, target: &str, error: &str) {
        let mut inner = self.0.lock().expect("board");
        inner.polls.1 += 1;
        *inner.poll_count.entry(target.to_string()).or_default() += 1;
        if let Some(view) = inner.targets.get_mut(target) {
            view.last_error = Some(sanitize(error).into_owned());
            view.failures_in_a_row += 1;
            view.stale = true;
        }
    }

    /// Keeps an event or action line for `/status`.
    pub fn record(&self, line: &Line) {
        if matches!(line, Line::Poll { .. }) {
            return;
        }
        let mut inner = self.0.lock().expect("board");
        let now = self.now();
        match line {
            Line::Event { target, to: Some(to), .. } if to.eq_ignore_ascii_case("failed") => {
                inner.activity.entry(target.clone()).or_default().failed(now, 1);
            }
            Line::Action(report) => {
                let poll = inner.poll_count.get(&report.target).copied().unwrap_or(0);
                if let Some(rule) = inner.rules.iter_mut().find(|r| r.name == report.rule) {
                    rule.counted(report, poll, now);
                }
            }
            _ => {}
        }
        if inner.recent.len() == RECENT_KEPT {
            inner.recent.pop_front();
        }
        let line = for_people(line, inner.show_details);
        inner.recent.push_back(Recent { at: rfc3339(now.0).unwrap_or_default(), line });
    }

    /// Records who holds each target's lease (replicas); a target held elsewhere is healthy
    /// here and shows no jobs, and one taken here is given three intervals from now.
    pub fn leases(&self, leases: &[crate::store::lease::LeaseView], now: LocalMs) {
        let mut inner = self.0.lock().expect("board");
        for lease in leases {
            let Some(view) = inner.targets.get_mut(&lease.target) else { continue };
            let was_here = view.lease.as_ref().is_some_and(|l| l.held_here);
            if lease.held_here && !was_here {
                // Health counts from when this replica took the target.
                view.since = now;
                view.last_success_at = None;
            }
            view.lease =
                Some(LeaseInfo { holder: lease.holder.clone(), held_here: lease.held_here, epoch: lease.epoch });
        }
        let standby: Vec<String> = inner
            .targets
            .values()
            .filter(|v| v.lease.as_ref().is_some_and(|l| !l.held_here))
            .map(|v| v.name.clone())
            .collect();
        for name in standby {
            inner.jobs.remove(&name);
        }
    }

    /// True when replicas share the store and this one holds no target.
    pub fn standby(&self) -> bool {
        let inner = self.0.lock().expect("board");
        !inner.targets.is_empty() && inner.targets.values().all(|v| v.lease.as_ref().is_some_and(|l| !l.held_here))
    }

    /// The targets that have not polled successfully within three intervals, with why.
    pub fn unhealthy(&self, now: LocalMs) -> Vec<(String, String)> {
        let inner = self.0.lock().expect("board");
        inner
            .targets
            .values()
            .filter(|v| !is_healthy(v, now))
            .map(|v| (v.name.clone(), v.last_error.clone().unwrap_or_else(|| "no successful poll yet".into())))
            .collect()
    }

    /// Everything `/status` shows of what `filter` keeps, newest events first.
    pub fn view(&self, now: LocalMs, filter: &Filter) -> StatusView {
        let mut inner = self.0.lock().expect("board");
        let targets = inner
            .targets
            .values()
            .filter(|v| filter.target_kept(&v.name))
            .map(|v| TargetView { healthy: is_healthy(v, now), ..v.clone() })
            .collect();
        let rules = inner
            .rules
            .iter_mut()
            .filter(|r| filter.target.as_deref().is_none_or(|t| r.applies_to(t)))
            .map(|r| r.as_of(now))
            .collect();
        let tasks = inner.tasks.values().flatten().filter(|t| filter.kept(&t.target, &t.owner)).cloned().collect();
        let jobs = inner.jobs.values().flatten().filter(|j| filter.kept(&j.target, &j.username)).cloned().collect();
        let notebooks =
            inner.notebooks.values().flatten().filter(|n| filter.kept(&n.target, &n.owner)).cloned().collect();
        let recent = inner.recent.iter().rev().filter(|r| filter.target_kept(r.line.target())).cloned().collect();
        let activity =
            inner.activity.iter().filter(|(name, _)| filter.target_kept(name)).map(|(n, a)| (n.clone(), a.clone()));
        StatusView {
            version: env!("CARGO_PKG_VERSION"),
            now: rfc3339(now.0).unwrap_or_default(),
            filter: filter.clone(),
            targets,
            tasks,
            rules,
            silences: inner.silences.clone(),
            jobs,
            notebooks,
            recent,
            activity: activity.collect(),
            now_at: now,
        }
    }
}

/// The document of `/status`.
#[derive(Debug, Serialize)]
pub struct StatusView {
    /// nbwarden's version.
    pub version: &'static str,
    /// When this was produced.
    pub now: String,
    /// The filter applied (`?target=…&owner=…`).
    pub filter: Filter,
    /// Targets and their health.
    pub targets: Vec<TargetView>,
    /// The scheduled tasks as last read.
    pub tasks: Vec<TaskView>,
    /// The rules loaded, with their firings of the last 24 hours.
    pub rules: Vec<RuleView>,
    /// The silences in force.
    pub silences: Vec<SilenceView>,
    /// Current jobs (running and queued first, longest first; at most 500 per target).
    pub jobs: Vec<JobView>,
    /// The open notebooks as last read (`notebooks:`), most idle first.
    pub notebooks: Vec<NotebookView>,
    /// Recent events and actions, newest first.
    pub recent: Vec<Recent>,
    /// Per target, the last 24 hours in 10-minute slots: the most jobs running, the failures.
    pub activity: BTreeMap<String, crate::activity::Activity>,
    #[serde(skip)]
    now_at: LocalMs,
}

fn is_healthy(view: &TargetView, now: LocalMs) -> bool {
    if view.lease.as_ref().is_some_and(|l| !l.held_here) {
        return true;
    }
    let waiting = view.sign_in_wait.is_some_and(|until| until > now);
    !waiting && now.since(view.last_success_at.unwrap_or(view.since)) <= view.interval.as_millis() as i64
}
