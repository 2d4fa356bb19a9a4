//! `explain` for an open notebook, found by id or title on a target with `notebooks:` (read
//! live): every notebook rule that applies, and why it does or does not fire for it now: the first
//! match key that fails, the ledger entry that says it fired for this activity, the protection
//! entry or silence that keeps a close off it.

use crate::arcgis::notebooks::OpenNotebook;
use crate::config::format_duration;
use crate::engine::Target;
use crate::rules::matcher::glob_matches;
use crate::rules::notebooks::activity_cause;
use crate::rules::{Rule, RuleSet, Trigger};
use crate::silence::Silence;
use crate::text::sanitize;
use std::fmt::Write;

/// The explanation for every open notebook of `target` whose id is `id` or whose title matches it
/// (a glob); empty when none does; an error when the notebooks cannot be read.
pub async fn explain(
    rules: &RuleSet,
    target: &Target,
    id: &str,
    silences: &[Silence],
) -> Result<String, crate::arcgis::Error> {
    if target.config.notebooks.is_none() {
        return Ok(String::new());
    }
    let notebooks = target.source.open_notebooks().await?;
    let titled = |n: &OpenNotebook| n.title.as_deref().is_some_and(|t| glob_matches(id, t));
    let mut out = String::new();
    let now = target.source.server_now();
    for notebook in notebooks.iter().filter(|n| n.id == id || titled(n)) {
        let idle = notebook.idle(now).map_or("not known".into(), format_duration);
        let _ = writeln!(
            out,
            "notebook {} \"{}\" of {} on {}: idle {idle}, runtime {}",
            sanitize(&notebook.id),
            sanitize(notebook.title.as_deref().unwrap_or("(no title)")),
            sanitize(&notebook.username),
            target.config.name,
            sanitize(notebook.runtime.as_deref().unwrap_or("not known")),
        );
        for rule in rules.rules.iter().filter(|r| matches!(r.trigger, Trigger::Notebook)) {
            let verdict = verdict(rule, target, notebook, silences);
            let _ = writeln!(out, "  rule {} (on notebook): {verdict}", rule.name);
        }
    }
    Ok(out)
}

/// Whether `rule` fires for `notebook` now, and why not.
fn verdict(rule: &Rule, target: &Target, notebook: &OpenNotebook, silences: &[Silence]) -> String {
    if !rule.applies_to(&target.config.name) {
        return "does not apply to this target".into();
    }
    let now = target.source.server_now();
    for condition in &rule.notebook_conditions {
        match condition.holds(notebook, now) {
            Some(true) => {}
            Some(false) => return format!("no: {condition} does not hold"),
            None => return format!("no: the notebook cannot answer {condition} (the server gives no value)"),
        }
    }
    let fired = target.core().ledger.get(&rule.ledger_name(), &notebook.id);
    if fired.is_some_and(|e| e.triggers.contains(&activity_cause(notebook))) {
        return "no: it already fired for this notebook at its current last activity".into();
    }
    let job = crate::arcgis::NamedJob::from(notebook.as_job());
    if let Some(silence) = silences.iter().find(|s| s.covers(&target.config.name, &rule.name, &job)) {
        return format!("YES, but silenced by {} until its end", silence.id);
    }
    match (rule.cancels(), crate::cycle::protected_by(&target.config.protect, &job)) {
        (true, Some(entry)) => {
            format!("YES for its notices; not closed: {entry} of target {} protects it", target.config.name)
        }
        (true, None) => "YES: it fires at the next read, if the close limits allow".into(),
        (false, _) => "YES: it fires at the next read".into(),
    }
}
