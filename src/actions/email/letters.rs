//! Who an e-mail goes to: one letter per recipient with the jobs that concern them (a fixed
//! address sees every job, an owner only their own), owners resolved through `owners.map` and
//! Portal; and the dry run's view of it, one line per message as sending splits them.

use super::{Email, Field, DEFAULT_SUBJECT, OWNER, SENDING};
use crate::actions::template;
use crate::actions::{ActionContext, Owner};
use crate::arcgis::NamedJob;
use futures_util::StreamExt;
use std::collections::HashMap;

/// One message to write: one recipient, the jobs that concern them.
#[derive(Debug)]
pub(super) struct Letter {
    pub(super) address: String,
    pub(super) field: Field,
    pub(super) jobs: Vec<NamedJob>,
    /// Written to the jobs' owner, who cannot open admin URLs.
    pub(super) to_owner: bool,
    /// Written to `owners.fallback` for these owners, and why each has no address of their own.
    pub(super) fallback_for: Vec<String>,
}

impl Email {
    /// The recipients and their jobs: fixed addresses see every job, an owner only their own.
    pub(super) async fn letters(&self, cx: &ActionContext<'_>, jobs: &[NamedJob]) -> (Vec<Letter>, Vec<String>) {
        let (mut letters, mut notes) = (Vec::<Letter>::new(), Vec::new());
        let writes_owners = self.0.to.iter().chain(&self.0.cc).any(|r| r == OWNER);
        let owners = if writes_owners { owners(cx, jobs).await } else { HashMap::new() };
        for (field, list) in [(Field::To, &self.0.to), (Field::Cc, &self.0.cc)] {
            for recipient in list {
                for job in jobs {
                    let to_owner = recipient == OWNER;
                    let (address, fallback) = if to_owner {
                        let Some(owner) = owners.get(&job.username) else { continue };
                        if let Owner::Fallback(_, why) | Owner::Unreachable(why) = owner {
                            notes.push(format!("{}: {why}", job.id));
                        }
                        let fallback = match owner {
                            Owner::Fallback(_, why) => Some(why.clone()),
                            _ => None,
                        };
                        match owner.address() {
                            Some(a) => (a.to_string(), fallback),
                            None => continue,
                        }
                    } else {
                        (recipient.clone(), None)
                    };
                    add(&mut letters, address, (field, to_owner, fallback), job);
                }
            }
        }
        notes.dedup();
        (letters, notes)
    }

    /// Each message sending would write, to whom, about which jobs, with its subject; and each
    /// job whose owner cannot be written to.
    pub(super) async fn preview_letters(&self, cx: &ActionContext<'_>) -> Vec<String> {
        let jobs = with_owners(cx).await;
        let (letters, notes) = self.letters(cx, &jobs).await;
        let subject = self.0.subject.as_deref().unwrap_or(DEFAULT_SUBJECT);
        let mut lines: Vec<String> = letters
            .iter()
            .map(|letter| {
                let subject = template::render_header(subject, &cx.template_context(&letter.jobs))
                    .unwrap_or_else(|e| format!("(subject fails to render: {e})"));
                let ids: Vec<&str> = letter.jobs.iter().map(|j| j.id.as_str()).collect();
                format!("would e-mail {} about {}; subject: {subject}", letter.address, ids.join(", "))
            })
            .collect();
        lines.extend(notes.iter().map(|note| format!("would e-mail no one for {note}")));
        lines
    }
}

/// The owner of each distinct username among `jobs`, looked up at most `SENDING` at once.
async fn owners(cx: &ActionContext<'_>, jobs: &[NamedJob]) -> HashMap<Option<String>, Owner> {
    let mut names: Vec<Option<String>> = jobs.iter().map(|j| j.username.clone()).collect();
    names.sort_unstable();
    names.dedup();
    let mut lookups = Vec::with_capacity(names.len());
    for name in names {
        lookups.push(async move {
            let owner = cx.services.owners.resolve(cx.target, cx.source, name.as_deref(), cx.now).await;
            (name, owner)
        });
    }
    futures_util::stream::iter(lookups).buffer_unordered(SENDING).collect().await
}

/// Adds `job` to the letter for `address` (the first header a recipient appears in wins).
fn add(
    letters: &mut Vec<Letter>,
    address: String,
    (field, to_owner, fallback): (Field, bool, Option<String>),
    job: &NamedJob,
) {
    let letter = match letters.iter_mut().position(|l| l.address.eq_ignore_ascii_case(&address)) {
        Some(at) => &mut letters[at],
        None => {
            letters.push(Letter { address, field, jobs: Vec::new(), to_owner, fallback_for: Vec::new() });
            letters.last_mut().expect("just pushed")
        }
    };
    if !letter.jobs.iter().any(|j| j.id == job.id) {
        letter.jobs.push(job.clone());
    }
    if let Some(why) = fallback.filter(|why| !letter.fallback_for.contains(why)) {
        letter.fallback_for.push(why);
    }
}

/// The planned jobs; those without a username (abbreviated Enterprise lists) re-read first.
pub(super) async fn with_owners(cx: &ActionContext<'_>) -> Vec<NamedJob> {
    let mut jobs = cx.occasion.jobs.to_vec();
    for job in jobs.iter_mut().filter(|j| j.username.is_none()) {
        match cx.source.job(&job.id).await {
            Ok(full) => job.job_mut().username = full.username,
            Err(e) => {
                tracing::info!(target_name = cx.target, job = %crate::text::sanitize(&job.id), error = %e, "cannot read the job's owner")
            }
        }
    }
    jobs
}
