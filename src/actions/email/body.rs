//! The default body of an e-mail (no `body:` in the rule): why the letter came to its reader,
//! then per job a line an owner recognises ("Your notebook 'Parcels import' failed at 07:19
//! after 5m"), the end of its messages and a link to the notebook; the admin URL only for
//! administrators. A report e-mail's body is the report's summary, never the window's jobs.

use super::letters::Letter;
use crate::actions::{template, ActionContext};
use crate::arcgis::{Job, NamedJob, Phase};
use crate::clock::ServerMs;
use crate::config::format_duration;
use crate::text::sanitize;
use std::fmt::Write;

/// Lines of a failed job's messages quoted (the end of a traceback).
const QUOTED_MESSAGES: usize = 6;

/// The body of `letter` when the rule gives none.
pub(super) fn default_body(cx: &ActionContext<'_>, letter: &Letter, reporting: bool) -> String {
    let planned = cx.occasion;
    let mut text = why_you(cx, letter);
    if reporting {
        let _ = writeln!(text, "\nThe report of target \"{}\" is below; the whole page is attached.", cx.target);
        return text;
    }
    if let Some(task) = planned.task {
        text.push('\n');
        text.push_str(&template::task_lines(task, letter.jobs.first().and_then(|j| cx.links(j).item)));
        return text;
    }
    // The fallback address is the administrators': they read whose job it is, and its admin URL.
    let owner_reads = letter.to_owner && letter.fallback_for.is_empty();
    if !owner_reads {
        text.push('\n');
        text.push_str(&template::job_table(&letter.jobs, planned.planned_ms));
    }
    for job in &letter.jobs {
        text.push('\n');
        text.push_str(&about(cx, job, owner_reads));
    }
    text
}

/// Why the reader gets this letter: the fallback and for whom, the owner and who to ask, or
/// the rule that lists them.
fn why_you(cx: &ActionContext<'_>, letter: &Letter) -> String {
    let planned = cx.occasion;
    let (rule, target, kind) = (planned.rule, cx.target, planned.event.kind);
    let contact = cx.services.owners.contact().map(|c| format!(" Questions: {c}.")).unwrap_or_default();
    if !letter.fallback_for.is_empty() {
        let whom = letter.fallback_for.join("; ");
        return format!("You receive this because {whom} (owners.fallback). nbwarden's rule \"{rule}\" fired on target \"{target}\" ({kind}) at {}.\n", planned.when());
    }
    match letter.to_owner {
        true => format!("You receive this as the owner: nbwarden, which watches the notebook jobs of target \"{target}\", sent it by its rule \"{rule}\".{contact}\n"),
        false => format!("nbwarden rule \"{rule}\" fired on target \"{target}\" ({kind}) at {}.\n", planned.when()),
    }
}

/// One job: what happened to which notebook, then its details.
fn about(cx: &ActionContext<'_>, job: &NamedJob, to_owner: bool) -> String {
    let now = cx.occasion.planned_ms;
    let links = cx.links(job);
    let whose = match (to_owner, job.username.as_deref()) {
        (true, _) => "Your notebook".to_string(),
        (false, Some(user)) => format!("{}'s notebook", sanitize(user)),
        (false, None) => "A notebook".to_string(),
    };
    let name = match job.title() {
        Some(title) => format!("'{}'", sanitize(title)),
        None => "(title not known)".into(),
    };
    let mut text = format!("{whose} {name} {}.\n", what_happened(job, now));
    if !job.messages().is_empty() {
        text.push_str("  last messages:\n");
        let skip = job.messages().len().saturating_sub(QUOTED_MESSAGES);
        for line in job.messages().iter().skip(skip).flat_map(|m| m.lines()) {
            let _ = writeln!(text, "    > {}", sanitize(line));
        }
    }
    match (&links.item, job.notebook().and_then(|n| n.why.as_deref())) {
        (Some(url), _) => {
            let _ = writeln!(text, "  notebook: {url}");
        }
        (None, why) => {
            let why = why.unwrap_or("this site's job list gives no item id; turn on `poll.details`");
            let _ = writeln!(text, "  notebook: not known ({why})");
        }
    }
    if job.title().is_none() {
        if let Some(why) = job.notebook().and_then(|n| n.why.as_deref()).filter(|_| links.item.is_some()) {
            let _ = writeln!(text, "  title: not known ({why})");
        }
    }
    let kind = sanitize(job.job_type.as_deref().unwrap_or("job"));
    let _ = writeln!(text, "  job: {} ({kind})", sanitize(&job.id));
    if let Some(title) = job.task_title() {
        let _ = writeln!(text, "  scheduled task: {}", sanitize(title));
    }
    if !to_owner {
        let _ = writeln!(text, "  admin: {}", links.admin);
    }
    text
}

/// "failed at 07:19 after 5m", "has been running for 2h 5m", …, on the server's clock.
fn what_happened(job: &Job, now: ServerMs) -> String {
    let runtime = job.runtime(now).map(format_duration);
    let at = job.ended_at.map(clock_time).unwrap_or_default();
    let after = runtime.as_ref().map(|r| format!(" after {r}")).unwrap_or_default();
    match job.phase() {
        Phase::Failed => format!("failed{at}{after}"),
        Phase::Completed => format!("completed{at}{after}"),
        Phase::Cancelled => format!("was cancelled{at}{after}"),
        Phase::Running => format!("has been running for {}", runtime.unwrap_or_else(|| "an unknown time".into())),
        Phase::Submitted => "is waiting to start".into(),
        Phase::Unknown => format!("is {}", sanitize(job.status.as_str())),
    }
}

/// " at 07:19 UTC on 2026-12-05".
fn clock_time(at: ServerMs) -> String {
    chrono::DateTime::from_timestamp_millis(at.0)
        .map(|t| format!(" at {}", t.format("%H:%M UTC on %Y-%m-%d")))
        .unwrap_or_default()
}
