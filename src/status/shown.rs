//! What `/status` shows of the jobs and the recent lines: each job with its runtime and links,
//! the lines with site text sanitized and private details hidden, the silences in force.

use crate::arcgis::model::rfc3339;
use crate::arcgis::Phase;
use crate::clock::ServerMs;
use crate::diff::Snapshot;
use crate::engine::Line;
use crate::text::sanitize;
use serde::Serialize;

/// Jobs shown per target (running and queued first, longest first).
const JOBS_SHOWN: usize = 500;

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
    /// The job's page in the admin API.
    pub admin_url: String,
    /// The notebook item's page in Portal, when known.
    pub item_url: Option<String>,
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

/// What `/status` shows of a line: site text sanitized; unless `show_details`, no e-mail
/// recipient (owners' addresses) and no program output.
pub(super) fn for_people(line: &Line, show_details: bool) -> Line {
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

pub(super) fn shown_jobs(
    target: &str,
    snapshot: &Snapshot,
    now: ServerMs,
    source: &dyn crate::arcgis::JobSource,
) -> Vec<JobView> {
    // With enough running and submitted jobs to fill the table, the finished ones are not read;
    // the phase and the runtime of a job without an end time come from the snapshot, so only
    // the jobs shown are read.
    let unfinished = (1u8 << Phase::Running as u8) | (1u8 << Phase::Submitted as u8);
    let bits = snapshot.phase_bits();
    let all = bits.iter().filter(|&&b| b & unfinished != 0).count() < JOBS_SHOWN;
    let candidates = (0..bits.len()).filter(|&p| all || bits[p] & unfinished != 0);
    let mut jobs: Vec<_> = candidates.map(|p| (bits[p] & unfinished == 0, snapshot.runtime_at(p, now), p)).collect();
    type Shown = (bool, Option<std::time::Duration>, usize);
    let order = |a: &Shown, b: &Shown| a.0.cmp(&b.0).then(b.1.cmp(&a.1));
    // Only the jobs shown are sorted: a poll of 100k jobs selects 500 in linear time.
    if jobs.len() > JOBS_SHOWN {
        jobs.select_nth_unstable_by(JOBS_SHOWN, order);
        jobs.truncate(JOBS_SHOWN);
    }
    jobs.sort_by(order);
    jobs.into_iter()
        .map(|(_, runtime, position)| {
            let job = &*snapshot.jobs()[position];
            let links = crate::actions::template::Links::of(source, job);
            JobView {
                target: target.to_string(),
                id: sanitize(&job.id).into_owned(),
                job_type: sanitize(job.job_type.as_deref().unwrap_or_default()).into_owned(),
                status: sanitize(job.status.as_str()).into_owned(),
                phase: job.phase().as_str(),
                username: sanitize(job.username.as_deref().unwrap_or_default()).into_owned(),
                started_at: job.started_at.and_then(|at| rfc3339(at.0)),
                runtime_seconds: runtime.map(|r| r.as_secs()),
                runtime: runtime.map(crate::config::format_duration).unwrap_or_default(),
                admin_url: links.admin,
                item_url: links.item,
            }
        })
        .collect()
}
