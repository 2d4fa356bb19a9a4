//! `nbwarden check [--targets]`: validate the configuration and rules (every error, located);
//! with `--targets`, sign in to each target and report what its job list provides.

use crate::arcgis::client::CANCEL_SINCE;
use crate::arcgis::signin::SignIns;
use crate::arcgis::{Client, Job, JobSource};
use crate::arcgis::{Scope, SiteInfo};
use crate::config::{Flavor, TargetConfig};
use crate::rules::{Rule, RuleSet, Test};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

/// `Ok(false)` when something is wrong (exit 1): every problem of the configuration and of the
/// rules is listed in one run, each with its file, line and column.
pub async fn run(explicit: Option<&Path>, probe_targets: bool) -> anyhow::Result<bool> {
    let path = crate::config::locate(explicit)?;
    let (config, mut problems) = match crate::config::load(&path) {
        Ok(config) => (Some(config), Vec::new()),
        Err(e @ crate::config::Error::Invalid { .. }) => (None, e.to_string().lines().map(str::to_string).collect()),
        Err(e) => return Err(e.into()),
    };
    let sketch = crate::config::sketch(&path);
    let (rule_paths, targets) = match &config {
        Some(c) => (c.rules.clone(), c.targets.iter().map(|t| (t.name.clone(), Some(t.flavor))).collect()),
        None => (sketch.rules, sketch.targets),
    };
    let known: Vec<(&str, Option<Flavor>)> = targets.iter().map(|(n, f)| (n.as_str(), *f)).collect();
    let rules = match RuleSet::load_for(&rule_paths, &known) {
        Ok(rules) => Some(rules),
        Err(errors) => {
            problems.extend(errors.iter().map(|e| e.to_string()));
            None
        }
    };
    if let (Some(config), Some(rules)) = (&config, &rules) {
        problems.extend(super::setup::unmet_needs(config, rules));
    }
    problems.extend(config.as_ref().and_then(|c| crate::config::unwritable(&c.state)));
    let mut out = String::new();
    for warning in rules.iter().flat_map(RuleSet::warnings) {
        let _ = writeln!(out, "{warning}");
    }
    let (Some(config), Some(rules), true) = (config, rules, problems.is_empty()) else {
        problems.iter().for_each(|p| out.push_str(&format!("{p}\n")));
        let _ = writeln!(out, "{} problem(s) found; nothing was changed", problems.len());
        super::write_stdout(&out)?;
        return Ok(false);
    };
    let mut out = format!(
        "{}: OK, {} target(s), {} rule(s)\n{out}",
        config.source.display(),
        config.targets.len(),
        rules.rules.len()
    );
    if rules.rules.is_empty() {
        out.push_str("warning: no rules found under `rules:`; nbwarden will only watch\n");
    }
    let listen = config.http.listen.trim();
    if !listen.is_empty() && !crate::status::server::is_loopback(listen) {
        let _ = writeln!(out, "warning: http.listen {listen} serves /metrics, /healthz and /status beyond this machine: anyone who can reach the port reads the targets, rules and recent actions; prefer 127.0.0.1 (behind a proxy) or a firewall; requests must name an IP address, localhost or one of http.hosts");
    }
    task_rule_notes(&config, &rules, &mut out);
    protect_notes(&config, &rules, &mut out);
    if let Some(ha) = &config.ha {
        let _ = writeln!(out, "replicas: this one is \"{}\", leases last {}", ha.replica_name(), ha.lease_ttl);
    }
    let mut ok = true;
    if probe_targets {
        let store_ok = probe_store(&config, &mut out).await;
        ok &= store_ok;
        let sign_ins = match store_ok {
            true => super::setup::sign_ins_of(&config).await?,
            false => SignIns::new(crate::clock::system()),
        };
        for target in &config.targets {
            ok &= probe(target, &rules, &sign_ins, &mut out).await;
        }
    }
    super::write_stdout(&out)?;
    Ok(ok)
}

/// Connects to a PostgreSQL store and reports its version (an SQLite file is not created here).
async fn probe_store(config: &crate::config::Config, out: &mut String) -> bool {
    if config.state.postgres().is_none() {
        return true;
    }
    let shown = config.state.shown();
    let version = match super::setup::open(config).await {
        Ok((store, _)) => store.server_version().await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    match version {
        Ok(version) => {
            let _ = writeln!(out, "state store {shown}: connected; {version}");
            true
        }
        Err(e) => {
            let _ = writeln!(out, "{e:#}");
            false
        }
    }
}

async fn probe(target: &TargetConfig, rules: &RuleSet, sign_ins: &Arc<SignIns>, out: &mut String) -> bool {
    let client = match Client::new(target, sign_ins) {
        Ok(client) => client,
        Err(e) => {
            let _ = writeln!(out, "target {}: {e}", target.name);
            return false;
        }
    };
    let jobs = match client.list_jobs().await {
        Ok(jobs) => jobs,
        Err(e) => {
            let _ = writeln!(out, "target {}: cannot list jobs: {e}", target.name);
            return false;
        }
    };
    let site = client.site_info().await;
    let version = site.version.as_deref().unwrap_or("unknown");
    let _ = writeln!(out, "target {}: signed in; version {version}; {} job(s) listed", target.name, jobs.len());
    let _ = writeln!(out, "  signs in at {}", client.endpoints().generate_token());
    if let Some(portal) = target.portal_url() {
        let how = if target.auth.portal_url.is_some() { "auth.portal_url" } else { "admin_url without /admin" };
        let _ = writeln!(out, "  portal: {portal} ({how})");
    }
    scope_lines(&site, out);
    let fields = provided_fields(target, &jobs);
    let listing: Vec<String> =
        fields.iter().map(|(name, has)| format!("{name} {}", if *has { "yes" } else { "no" })).collect();
    let _ = writeln!(out, "  the job list provides: {}", listing.join(", "));
    let applicable: Vec<&Rule> = rules.rules.iter().filter(|r| r.applies_to(&target.name)).collect();
    for rule in &applicable {
        for condition in &rule.conditions {
            let needed = field_of(&condition.test);
            if fields.iter().any(|(name, has)| Some(*name) == needed && !has) {
                let _ = writeln!(
                    out,
                    "  rule \"{}\": `{}` needs {}, which this job list does not provide: the rule never matches here{}",
                    rule.name,
                    condition.key,
                    needed.unwrap_or("?"),
                    if target.flavor == Flavor::Enterprise && !target.poll.details {
                        " (poll.details: true asks Enterprise 12.1+ for it)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if !fields.iter().any(|(name, has)| *name == "item_id" && *has) {
        for rule in
            applicable.iter().filter(|r| r.conditions.iter().any(|c| matches!(c.test, Test::RuntimeOverUsual(_))))
        {
            let _ = writeln!(out, "  note: rule \"{}\": `runtime_over_usual` needs each job's notebook item, which this job list does not give: nbwarden reads `jobs/<id>` once for each job as it appears (one extra call per new job)", rule.name);
        }
    }
    cap_lines(&site, &applicable, out);
    let tasks_ok = tasks_line(target, &client, out).await;
    let notebooks_ok = notebooks_line(target, &client, out).await;
    version_errors(target, &site, &applicable, out) && tasks_ok && notebooks_ok
}

/// With `notebooks:`, whether the open notebooks can be read, how many there are, and whether
/// the server gives their activity times (rules with `idle_over` need them).
async fn notebooks_line(target: &TargetConfig, client: &Client, out: &mut String) -> bool {
    if target.notebooks.is_none() {
        return true;
    }
    let how = match target.flavor {
        crate::config::Flavor::NotebookServer => "<admin>/notebooks, 100 a page, and system/containers for runtimes",
        crate::config::Flavor::Enterprise => "<admin>/notebooks and notebooks/deployments for runtimes",
    };
    match client.open_notebooks().await {
        Ok(notebooks) => {
            let timed = notebooks.iter().filter(|n| n.last_activity.is_some()).count();
            let _ = writeln!(out, "  open notebooks (notebooks:): {} open, read from {how}", notebooks.len());
            if timed < notebooks.len() {
                let _ = writeln!(out, "  note: {} of them give no activity time (dateLastActivity): `idle_over` cannot match them, so idle rules never close them", notebooks.len() - timed);
            }
            true
        }
        Err(e) => {
            let _ = writeln!(out, "  cannot read the open notebooks (notebooks:): {e}");
            false
        }
    }
}

/// A note for each task or notebook rule that no target with `tasks:` (`notebooks:`) lets act:
/// it would never fire.
fn task_rule_notes(config: &crate::config::Config, rules: &RuleSet, out: &mut String) {
    let reading: Vec<&str> = config.targets.iter().filter(|t| t.notebooks.is_some()).map(|t| t.name.as_str()).collect();
    for rule in rules.rules.iter().filter(|r| matches!(r.trigger, crate::rules::Trigger::Notebook)) {
        if !reading.iter().any(|name| rule.applies_to(name)) {
            let _ = writeln!(out, "note: rule \"{}\" (on: notebook) applies to no target with `notebooks:`, so it never fires; add `notebooks: {{ every: 5m }}` to a target to watch its open notebooks", rule.name);
        }
    }
    let watching: Vec<&str> = config.targets.iter().filter(|t| t.tasks.is_some()).map(|t| t.name.as_str()).collect();
    for rule in rules.rules.iter().filter(|r| r.trigger.is_task()) {
        if !watching.iter().any(|name| rule.applies_to(name)) {
            let _ = writeln!(out, "note: rule \"{}\" (on: {}) applies to no target with `tasks:`, so it never fires; add `tasks: {{ every: 5m }}` to a target to watch its scheduled notebook tasks", rule.name, rule.trigger.as_str());
        }
    }
}

/// A warning for each `not:` of a cancelling rule that repeats an entry of the protection list
/// of a target it applies to: the list already keeps every rule's cancels off it.
fn protect_notes(config: &crate::config::Config, rules: &RuleSet, out: &mut String) {
    for target in &config.targets {
        let protect = &target.protect;
        for rule in rules.rules.iter().filter(|r| r.cancels() && r.applies_to(&target.name)) {
            for condition in rule.conditions.iter().filter(|c| c.negated) {
                let (list, values, entries) = match &condition.test {
                    Test::Username(values) => ("users", values, &protect.users),
                    Test::ItemId(values) => ("items", values, &protect.items),
                    Test::Title(values) => ("titles", values, &protect.titles),
                    _ => continue,
                };
                for value in values.iter().filter(|v| entries.iter().any(|e| e.eq_ignore_ascii_case(v))) {
                    let _ = writeln!(out, "warning: rule \"{}\": `{}: {{ not: {value} }}` repeats protect.{list} of target \"{}\", which already keeps every rule's cancels off it; the `not:` can go", rule.name, condition.key, target.name);
                }
            }
        }
    }
}

/// With `tasks:`, whether the org's scheduled tasks can be read, and how many there are.
async fn tasks_line(target: &TargetConfig, client: &Client, out: &mut String) -> bool {
    if target.tasks.is_none() {
        return true;
    }
    match client.scheduled_tasks().await {
        Ok(tasks) => {
            let active = tasks.iter().filter(|t| t.active).count();
            let _ = writeln!(out, "  scheduled notebook tasks: {} readable, {active} active", tasks.len());
            true
        }
        Err(e) => {
            let _ = writeln!(out, "  cannot read the scheduled notebook tasks (tasks:): {e}");
            false
        }
    }
}

/// Who signed in, and whether the account sees every job.
fn scope_lines(site: &SiteInfo, out: &mut String) {
    let (user, role) = (site.user.as_deref().unwrap_or("?"), site.role.as_deref().unwrap_or("?"));
    let _ = match site.scope {
        Some(Scope::All) => writeln!(out, "  account {user} (role {role}) sees all jobs"),
        Some(Scope::Own) => writeln!(
            out,
            "  warning: the account {user} (role {role}) is no administrator and sees only its own jobs; rules see a partial list (use an account with the org_admin role or admin privileges)"
        ),
        None => writeln!(out, "  warning: could not tell whether the account sees all jobs (portals/self unreadable)"),
    };
}

/// Warnings for `runtime_over` rules of executeNotebook jobs at or near the server's own cap.
fn cap_lines(site: &SiteInfo, rules: &[&Rule], out: &mut String) {
    let Some(cap) = site.max_execute_minutes else { return };
    let _ = writeln!(out, "  server limits: maxExecuteNotebookTimeMinutes {cap}");
    let cap_ms = cap * 60_000;
    for rule in rules.iter().filter(|r| r.may_match_type("executeNotebook")) {
        let Some(limit) = rule.conditions.iter().find_map(|c| match (&c.test, c.negated) {
            (Test::RuntimeOver(d), false) => Some(d.as_millis() as u64),
            _ => None,
        }) else {
            continue;
        };
        let shown = crate::config::format_duration(std::time::Duration::from_millis(limit));
        if limit >= cap_ms {
            let _ = writeln!(out, "  warning: rule \"{}\": runtime_over {shown} is at or above the server's {cap}-minute cap for executeNotebook runs (maxExecuteNotebookTimeMinutes): it can never fire", rule.name);
        } else if cap_ms - limit < 5 * 60_000 {
            let _ = writeln!(out, "  warning: rule \"{}\": runtime_over {shown} is within 5 minutes of the server's {cap}-minute cap for executeNotebook runs (maxExecuteNotebookTimeMinutes): it races the server, which may end the run first", rule.name);
        }
    }
}

/// What the site's version cannot do: cancel below Enterprise 11.5, `details` below 12.1.
/// False when something is wrong (exit 1).
fn version_errors(target: &TargetConfig, site: &SiteInfo, rules: &[&Rule], out: &mut String) -> bool {
    let version = site.version.as_deref().unwrap_or("?");
    let mut ok = true;
    if target.flavor != Flavor::Enterprise {
        return ok;
    }
    if site.below(CANCEL_SINCE) {
        for rule in rules.iter().filter(|r| r.cancels()) {
            ok = false;
            let _ = writeln!(out, "  error: rule \"{}\" cancels on target {}, but cancel needs ArcGIS Enterprise 11.5 and the site runs {version}; limit the rule's targets or upgrade", rule.name, target.name);
        }
    }
    if target.poll.details && site.below((12, 1)) {
        ok = false;
        let _ = writeln!(
            out,
            "  error: target {}: poll.details needs ArcGIS Enterprise 12.1 and the site runs {version}; remove it",
            target.name
        );
    }
    ok
}

/// Which optional job fields this target's list carries, judged from the jobs (or the flavor).
fn provided_fields(target: &TargetConfig, jobs: &[Job]) -> Vec<(&'static str, bool)> {
    let detailed = target.flavor == Flavor::NotebookServer || target.poll.details;
    let has = |f: fn(&Job) -> bool| if jobs.is_empty() { None } else { Some(jobs.iter().any(f)) };
    vec![
        ("type", has(|j| j.job_type.is_some()).unwrap_or(true)),
        ("username", has(|j| j.username.is_some()).unwrap_or(true)),
        ("start time", has(|j| j.started_at.is_some()).unwrap_or(true)),
        ("item_id", has(|j| j.item_id.is_some()).unwrap_or(detailed)),
        ("runtime_name", has(|j| j.runtime_name.is_some()).unwrap_or(detailed && target.flavor == Flavor::Enterprise)),
        ("task (scheduled)", has(|j| j.task_id.is_some()).unwrap_or(detailed)),
        ("timeout", has(|j| j.timeout_minutes.is_some()).unwrap_or(detailed)),
    ]
}

fn field_of(test: &Test) -> Option<&'static str> {
    Some(match test {
        Test::Type(_) => "type",
        Test::Username(_) => "username",
        Test::RuntimeOver(_) | Test::RuntimeUnder(_) => "start time",
        // The title is read from Portal by the job's item id.
        Test::ItemId(_) | Test::Title(_) => "item_id",
        Test::RuntimeName(_) => "runtime_name",
        Test::Scheduled(_) => "task (scheduled)",
        Test::ExceedsOwnTimeout(_) => "timeout",
        Test::RuntimeOverUsual(_) | Test::Status(_) | Test::From(_) | Test::To(_) => return None,
    })
}
