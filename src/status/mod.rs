//! What the daemon shows about itself: the board behind `/status` and `/healthz` (targets and
//! their health, current jobs, recent events and actions), the metrics, and the HTTP endpoint.

pub mod activity;
mod chart;
pub mod metrics;
mod page;
pub mod server;

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

/// Jobs shown per target (running and queued first, longest first).
const JOBS_SHOWN: usize = 500;
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

/// One job as `/status` shows it.
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

/// One job as shown.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    /// The target.
    pub target: String,
    /// The job.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// Its raw status.
    pub status: String,
    /// Its phase.
    pub phase: &'static str,
    /// Its owner.
    pub username: String,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// For how long it has run (or ran).
    pub runtime_seconds: Option<u64>,
    /// The same, for people.
    pub runtime: String,
}

/// An event or action, with when it happened.
#[derive(Debug, Clone, Serialize)]
pub struct Recent {
    /// RFC 3339, local clock.
    pub at: String,
    /// The line.
    #[serde(flatten)]
    pub line: Line,
}

#[derive(Debug, Default)]
struct Inner {
    /// `http.show_details`: e-mail recipients and program output shown on `/status`.
    show_details: bool,
    targets: BTreeMap<String, TargetView>,
    jobs: BTreeMap<String, Vec<JobView>>,
    recent: VecDeque<Recent>,
    activity: BTreeMap<String, activity::Activity>,
    /// Polls that succeeded and that failed since the start, for the heartbeat.
    polls: (u64, u64),
    silences: Vec<SilenceView>,
}

/// A silence in force, as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SilenceView {
    /// Its id.
    pub id: String,
    /// "job=j1 user=svc_*".
    pub matchers: String,
    /// Until when (RFC 3339).
    pub ends: String,
    /// Why.
    pub comment: String,
    /// Who.
    pub author: String,
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
        let now = self.now();
        for (name, interval) in targets {
            let view = inner.targets.entry(name.clone()).or_insert_with(|| TargetView {
                name: name.clone(),
                healthy: true,
                unhealthy_after_seconds: 0,
                last_success: None,
                last_error: None,
                failures_in_a_row: 0,
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

    /// Records a successful poll and the jobs it listed (`now` on the server's clock, for their
    /// runtimes); returns the jobs by phase, for the metrics.
    pub fn polled(
        &self,
        target: &str,
        snapshot: &Snapshot,
        site: Option<&crate::arcgis::SiteInfo>,
        now: ServerMs,
    ) -> BTreeMap<&'static str, usize> {
        let mut counts = [0usize; Phase::ALL.len()];
        for bits in snapshot.phase_bits() {
            counts[bits.trailing_zeros() as usize] += 1;
        }
        let phases: BTreeMap<&'static str, usize> =
            Phase::ALL.iter().zip(counts).filter(|(_, n)| *n > 0).map(|(p, n)| (p.as_str(), n)).collect();
        let jobs = shown_jobs(target, snapshot, now);
        let mut inner = self.0.lock().expect("board");
        let local = self.now();
        inner.activity.entry(target.to_string()).or_default().polled(local, counts[Phase::Running as usize]);
        inner.polls.0 += 1;
        if let Some(view) = inner.targets.get_mut(target) {
            view.last_success_at = Some(local);
            view.last_success = rfc3339(local.0);
            view.last_error = None;
            view.failures_in_a_row = 0;
            view.jobs_total = snapshot.len();
            view.phases = phases.clone();
            view.site = site.cloned().unwrap_or_default();
        }
        inner.jobs.insert(target.to_string(), jobs);
        phases
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
        if let Some(view) = inner.targets.get_mut(target) {
            view.last_error = Some(sanitize(error).into_owned());
            view.failures_in_a_row += 1;
        }
    }

    /// Keeps an event or action line for `/status`.
    pub fn record(&self, line: &Line) {
        if matches!(line, Line::Poll { .. }) {
            return;
        }
        let mut inner = self.0.lock().expect("board");
        let now = self.now();
        if let Line::Event { target, to: Some(to), .. } = line {
            if to.eq_ignore_ascii_case("failed") {
                inner.activity.entry(target.clone()).or_default().failed(now, 1);
            }
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

    /// Everything `/status` shows, newest events first.
    pub fn view(&self, now: LocalMs) -> StatusView {
        let inner = self.0.lock().expect("board");
        let targets = inner.targets.values().map(|v| TargetView { healthy: is_healthy(v, now), ..v.clone() }).collect();
        StatusView {
            version: env!("CARGO_PKG_VERSION"),
            now: rfc3339(now.0).unwrap_or_default(),
            targets,
            jobs: inner.jobs.values().flatten().cloned().collect(),
            recent: inner.recent.iter().rev().cloned().collect(),
            silences: inner.silences.clone(),
            activity: inner.activity.clone(),
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
    /// Targets and their health.
    pub targets: Vec<TargetView>,
    /// Current jobs (running and queued first, longest first; at most 500 per target).
    pub jobs: Vec<JobView>,
    /// Recent events and actions, newest first.
    pub recent: Vec<Recent>,
    /// The silences in force.
    pub silences: Vec<SilenceView>,
    /// Per target, the last 24 hours in 10-minute slots: the most jobs running, the failures.
    pub activity: BTreeMap<String, activity::Activity>,
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

/// What `/status` shows of a line: site text sanitized; unless `show_details`, no e-mail
/// recipient (owners' addresses) and no program output.
fn for_people(line: &Line, show_details: bool) -> Line {
    let clean = |text: &str| sanitize(text).into_owned();
    match line {
        Line::Event { target, job_id, event, from, to } => Line::Event {
            target: target.clone(),
            job_id: clean(job_id),
            event: event.clone(),
            from: from.as_deref().map(clean),
            to: to.as_deref().map(clean),
        },
        Line::Action(report) => {
            let private = matches!(report.action.as_str(), "email" | "exec") && !show_details;
            let detail = match private {
                true => "details hidden (recipients and program output; http.show_details: true shows them)".into(),
                false => clean(&report.detail),
            };
            let job_ids = report.job_ids.iter().map(|id| clean(id)).collect();
            Line::Action(crate::plan::ActionReport { detail, job_ids, ..report.clone() })
        }
        Line::Poll { .. } => line.clone(),
    }
}

fn shown_jobs(target: &str, snapshot: &Snapshot, now: ServerMs) -> Vec<JobView> {
    let finished = |j: &crate::arcgis::Job| !matches!(j.phase(), Phase::Running | Phase::Submitted);
    let mut jobs: Vec<_> = snapshot.values().map(|j| (finished(j), j.runtime(now), j)).collect();
    type Shown<'a> = (bool, Option<std::time::Duration>, &'a crate::arcgis::Job);
    let order = |a: &Shown, b: &Shown| a.0.cmp(&b.0).then(b.1.cmp(&a.1));
    // Only the jobs shown are sorted: a poll of 100k jobs selects 500 in linear time.
    if jobs.len() > JOBS_SHOWN {
        jobs.select_nth_unstable_by(JOBS_SHOWN, order);
        jobs.truncate(JOBS_SHOWN);
    }
    jobs.sort_by(order);
    jobs.into_iter()
        .map(|(_, runtime, job)| JobView {
            target: target.to_string(),
            id: sanitize(&job.id).into_owned(),
            job_type: sanitize(job.job_type.as_deref().unwrap_or_default()).into_owned(),
            status: sanitize(job.status.as_str()).into_owned(),
            phase: job.phase().as_str(),
            username: sanitize(job.username.as_deref().unwrap_or_default()).into_owned(),
            started_at: job.started_at.and_then(|at| rfc3339(at.0)),
            runtime_seconds: runtime.map(|r| r.as_secs()),
            runtime: runtime.map(crate::config::format_duration).unwrap_or_default(),
        })
        .collect()
}
