//! The real binary's `once`, `check` and `explain` against the simulator: dry run, exactly-once
//! across processes, crash resumption, limits, ignored cancels, failed polls, disappearances.

mod backtest;
mod check;
mod dry_run;
mod fidelity;
mod paths;
mod shadow;

use crate::util::{action_lines, actions, json_lines, killed_at, text, Site};
use nbwarden::config::Flavor;
use nbwarden::simulator::Ending;

const RUNAWAY: &str = "rules:
  - name: runaway
    match: { type: executeNotebook, status: running, runtime_over: 90m }
    actions: [{ type: cancel }]
  - name: failures
    on: status_changed
    match: { to: failed }
    actions: [{ type: log, message: '{{ job.id }} of {{ job.username }} failed' }]
";

const JOBS: &str = "jobs:
  - { id: jrun, username: joe, start: -2h }
  - { id: jshort, username: joe, start: -10m30s }
  - { id: jold, username: jane, start: -1h, runs: 10m, ends: failed }
";

fn act(rule: &str, action: &str, job: &str, outcome: &str) -> (String, String, String, String) {
    (rule.into(), action.into(), job.into(), outcome.into())
}

#[tokio::test]
async fn dry_run_plans_with_detail_and_touches_nothing() {
    let site = Site::ruled(JOBS, RUNAWAY).await;
    for _ in 0..2 {
        let out = site.run(&["once", "--dry-run", "--json"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(actions(&out), [act("runaway", "cancel", "jrun", "planned")]);
        let line = action_lines(&out).into_iter().next().unwrap();
        assert!(line["detail"].as_str().unwrap().contains("/notebooks/jobs/jrun/cancel"), "{line}");
    }
    assert!(site.sim.stats().cancels.is_empty(), "nothing was sent");
    assert!(!site.dir.path().join("state.db").exists(), "a preview writes no state");
}

#[tokio::test]
async fn configured_dry_run_records_its_plans_apart_and_never_acts() {
    let site = Site::ruled(JOBS, RUNAWAY).await;
    std::fs::write(&site.config_path, std::fs::read_to_string(&site.config_path).unwrap() + "\ndry_run: true\n")
        .unwrap();
    assert_eq!(actions(&site.run(&["once", "--json"]).await), [act("runaway", "cancel", "jrun", "planned")]);
    assert!(actions(&site.run(&["once", "--json"]).await).is_empty(), "its own ledger: reported once");
    assert!(site.dir.path().join("state.db").exists(), "plans are recorded");
    assert!(site.sim.stats().cancels.is_empty());
    let real = site.dir.path().join("real.yaml");
    std::fs::write(&real, std::fs::read_to_string(&site.config_path).unwrap().replace("dry_run: true", "")).unwrap();
    let out = crate::util::nbwarden(&["--config", real.to_str().unwrap(), "once", "--json"], &[]).await;
    assert_eq!(
        actions(&out),
        [act("runaway", "cancel", "jrun", "done")],
        "turning dry run off acts on what still matches"
    );
}

#[tokio::test]
async fn acts_exactly_once_across_processes_and_not_on_the_baseline() {
    let site = Site::ruled(JOBS, RUNAWAY).await;
    let first = site.run(&["once", "--json"]).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let lines = json_lines(&first);
    assert_eq!(lines[0]["baseline"], true);
    assert_eq!(actions(&first), [act("runaway", "cancel", "jrun", "done")], "no failure notice for jold");
    assert_eq!(site.sim.stats().cancels["jrun"], 1);

    site.sim.end_job("jshort", Ending::Failed);
    let second = site.run(&["once", "--json"]).await;
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(actions(&second), [act("failures", "log", "jshort", "done")]);
    let events: Vec<String> = json_lines(&second)
        .iter()
        .filter(|l| l["kind"] == "event")
        .map(|l| format!("{} {} {}", l["job_id"], l["from"], l["to"]))
        .collect();
    assert!(events.contains(&r#""jshort" "EXECUTING" "FAILED""#.to_string()), "{events:?}");

    let third = site.run(&["once", "--json"]).await;
    assert!(actions(&third).is_empty(), "nothing fires twice: {}", text(&third.stdout));
    assert_eq!(site.sim.stats().cancels["jrun"], 1);
}

#[tokio::test]
async fn a_crash_between_commit_and_dispatch_is_resumed_on_the_next_start() {
    let site = Site::ruled(JOBS, RUNAWAY).await;
    let config = site.config_path.to_str().unwrap();
    let Some(_) = killed_at(&["--config", config, "once", "--json"], "after_commit").await else { return };
    assert!(site.sim.stats().cancels.is_empty(), "the crash came before dispatch");

    let resumed = site.run(&["once", "--json"]).await;
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert_eq!(actions(&resumed), [act("runaway", "cancel", "jrun", "done")]);
    assert_eq!(site.sim.stats().cancels["jrun"], 1);
    let again = site.run(&["once", "--json"]).await;
    assert!(actions(&again).is_empty());
    assert_eq!(site.sim.stats().cancels["jrun"], 1, "resumed once, never repeated");
}

#[tokio::test]
async fn limits_suppress_and_later_release_cancels() {
    let jobs = "jobs: [{ id: ja, start: -2h }, { id: jb, start: -2h }, { id: jc, start: -2h }]";
    let site = Site::ruled(jobs, RUNAWAY).await;
    site.target_key("limits", "{ max_cancels_per_poll: 1, max_cancels_per_hour: 60, max_cancel_fraction: 1.0 }");
    let mut done = Vec::new();
    for round in 0..3 {
        let out = site.run(&["once", "--json"]).await;
        let outcomes = actions(&out);
        let (finished, suppressed): (Vec<_>, Vec<_>) = outcomes.iter().partition(|a| a.3 == "done");
        assert_eq!((finished.len(), suppressed.len()), (1, 2 - round), "round {round}: {outcomes:?}");
        assert!(suppressed.iter().all(|a| a.3 == "suppressed"));
        done.push(finished[0].2.clone());
    }
    done.sort();
    assert_eq!(done, ["ja", "jb", "jc"]);
    assert!(site.sim.stats().cancels.values().all(|&n| n == 1), "{:?}", site.sim.stats().cancels);
    assert!(actions(&site.run(&["once", "--json"]).await).is_empty());
}

/// `max_cancels_per_hour` when acting: the cancels done in the last hour count, so that a later
/// poll within the hour finds the budget spent.
#[tokio::test]
async fn the_hourly_limit_counts_the_cancels_done_when_acting() {
    let jobs = "jobs: [{ id: ja, start: -2h }, { id: jb, start: -2h }, { id: jc, start: -2h }]";
    let site = Site::ruled(jobs, RUNAWAY).await;
    site.target_key("limits", "{ max_cancels_per_poll: 10, max_cancels_per_hour: 2, max_cancel_fraction: 1.0 }");
    let first = actions(&site.run(&["once", "--json"]).await);
    let mut outcomes: Vec<&str> = first.iter().map(|a| a.3.as_str()).collect();
    outcomes.sort();
    assert_eq!(outcomes, ["done", "done", "suppressed"], "{first:?}");
    let second = site.run(&["once", "--json"]).await;
    assert_eq!(actions(&second).iter().map(|a| a.3.as_str()).collect::<Vec<_>>(), ["suppressed"]);
    let detail = action_lines(&second)[0]["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("max_cancels_per_hour (2, 2 in the last hour)"), "{detail}");
    assert_eq!(site.sim.stats().cancels.len(), 2, "the third waits for the hour: {:?}", site.sim.stats().cancels);
}

#[tokio::test]
async fn a_job_that_ignores_cancel_is_reported_after_three_polls() {
    let site = Site::ruled("jobs: [{ id: jstubborn, username: svc, start: -3h, obeys_cancel: false }]", RUNAWAY).await;
    assert_eq!(actions(&site.run(&["once", "--json"]).await), [act("runaway", "cancel", "jstubborn", "done")]);
    for _ in 0..2 {
        let out = site.run(&["once", "--json"]).await;
        assert!(out.status.success() && actions(&out).is_empty(), "{}", text(&out.stdout));
    }
    let third = site.run(&["once", "--json"]).await;
    assert_eq!(third.status.code(), Some(1), "an ignored cancel is a failure");
    let line = action_lines(&third).into_iter().next().unwrap();
    assert_eq!((line["outcome"].as_str(), line["job_ids"][0].as_str()), (Some("failed"), Some("jstubborn")));
    assert!(line["detail"].as_str().unwrap().starts_with("cancel_ignored"), "{line}");
    assert!(actions(&site.run(&["once", "--json"]).await).is_empty(), "reported once");
    assert_eq!(site.sim.stats().cancels["jstubborn"], 1);
}

#[tokio::test]
async fn a_failed_poll_is_not_an_empty_poll() {
    let rules = "rules:\n  - { name: gone, on: disappeared, actions: [{ type: log }] }\n";
    let site = Site::ruled(JOBS, rules).await;
    assert!(site.run(&["once"]).await.status.success());
    site.sim.add_fault(nbwarden::config::yaml::from_str("{ on: list, kind: html, count: 1 }").unwrap());
    let failed = site.run(&["once", "--json"]).await;
    assert_eq!(failed.status.code(), Some(1));
    let lines = json_lines(&failed);
    assert_eq!((lines.len(), &lines[0]["ok"]), (1, &serde_json::json!(false)), "{lines:?}");
    assert!(lines[0]["error"].as_str().unwrap().contains("HTML"));
    let after = site.run(&["once", "--json"]).await;
    assert!(json_lines(&after).iter().all(|l| l["kind"] == "poll"), "nothing disappeared: {}", text(&after.stdout));
}

#[tokio::test]
async fn a_disappeared_job_carries_its_final_status() {
    let jobs = "jobs: [{ id: jquick, username: joe, start: -1m, runs: 90s, vanish_after: 0s }]";
    let rules =
        "rules:\n  - { name: gone-ok, on: disappeared, match: { status: completed }, actions: [{ type: log }] }\n";
    let site = Site::ruled(jobs, rules).await;
    assert!(site.run(&["once"]).await.status.success());
    site.sim.end_job("jquick", Ending::Completed);
    let out = site.run(&["once", "--json"]).await;
    let event = json_lines(&out).into_iter().find(|l| l["kind"] == "event").unwrap();
    assert_eq!(
        (event["event"].as_str(), event["from"].as_str(), event["to"].as_str()),
        (Some("disappeared"), Some("EXECUTING"), Some("COMPLETED"))
    );
    assert_eq!(actions(&out), [act("gone-ok", "log", "jquick", "done")]);
}

#[tokio::test]
async fn human_output_and_exit_code_of_an_unreachable_target() {
    let site = Site::ruled(JOBS, RUNAWAY).await;
    let out = site.run(&["once"]).await;
    let stdout = text(&out.stdout);
    assert!(stdout.contains("poll    sim: 3 jobs (first poll: baseline, no events)"), "{stdout}");
    assert!(stdout.contains("action  sim: rule runaway cancel [jrun] done: cancelled http://"), "{stdout}");
    let path = site.config_path.clone();
    drop(site.sim);
    let out = crate::util::nbwarden(&["--config", path.to_str().unwrap(), "once", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out)[0]["ok"], false);
}

#[tokio::test]
async fn explain_says_why_each_rule_would_or_would_not_fire() {
    let rules = format!("{RUNAWAY}  - {{ name: nagging, for_polls: 3, match: {{ status: running }}, actions: [{{ type: log }}] }}\n  - {{ name: items, match: {{ item_id: abc }}, actions: [{{ type: log }}] }}\n");
    // jrun ignores the cancel, so it still matches afterwards and only the ledger stops the rule.
    let jobs = JOBS.replace(
        "{ id: jrun, username: joe, start: -2h }",
        "{ id: jrun, username: joe, start: -2h, obeys_cancel: false }",
    );
    let site = Site::ruled(&jobs, &rules).await;
    let out = site.run(&["explain", "jshort"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "job jshort on sim: EXECUTING (running)",
        "rule runaway (on poll): no: runtime_over: 1h30m: runtime is 10m",
        "rule failures (on status_changed): no: to: failed: status is EXECUTING (running)",
        "rule nagging (on poll): not yet: needs 2 more matching poll(s) (for_polls: 3)",
        "rule items (on poll): no: cannot tell `item_id` for this job",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(site.run(&["once"]).await.status.success());
    let after = text(&site.run(&["explain", "jrun"]).await.stdout);
    assert!(after.contains("job jrun on sim: EXECUTING (running)"), "{after}");
    assert!(after.contains("rule runaway (on poll): no: already fired (poll)"), "{after}");
    assert!(after.contains("history: runaway cancel done"), "{after}");
    let unknown = site.run(&["explain", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(1));
}

#[tokio::test]
async fn transient_failures_are_retried_quickly_then_queued() {
    let site = Site::ruled(JOBS, RUNAWAY).await;
    site.sim.add_fault(
        nbwarden::config::yaml::from_str("{ on: cancel, kind: http_error, status: 503, count: 2 }").unwrap(),
    );
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(actions(&out), [act("runaway", "cancel", "jrun", "done")], "third quick try: {}", text(&out.stdout));
    assert_eq!(site.sim.stats().cancels["jrun"], 1, "the two failed tries never reached the site");

    let site = site_with_stubborn_fault().await;
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let line = action_lines(&out).into_iter().next().unwrap();
    assert!(
        line["detail"].as_str().unwrap().contains("answered HTTP 503: Service Unavailable; queued for another try"),
        "{line}"
    );
    let again = site.run(&["once", "--json"]).await;
    assert!(actions(&again).is_empty(), "not due yet, and the firing is not planned twice");
    assert_eq!(site.sim.stats().cancels.get("jrun"), None, "nothing got through");
}

async fn site_with_stubborn_fault() -> Site {
    let site = Site::ruled(JOBS, RUNAWAY).await;
    site.sim.add_fault(nbwarden::config::yaml::from_str("{ on: cancel, kind: http_error, status: 503 }").unwrap());
    site
}

#[tokio::test]
async fn jobs_pushed_off_a_short_page_are_not_taken_for_gone() {
    let jobs = "jobs: [{ id: jold, username: joe, start: -3h }, { id: jnew, username: jane, start: -1m }]";
    let site = Site::start(jobs, Flavor::NotebookServer, None, "{ timeout: 5s, page_size: 2 }").await;
    site.rules("rules:\n  - { name: gone, on: disappeared, actions: [{ type: log }] }\n");
    let baseline = site.run(&["once", "--json"]).await;
    assert_eq!(json_lines(&baseline)[0]["jobs"], 2);
    site.sim.add_job(nbwarden::config::yaml::from_str("{ id: jnewest, username: jane, start: 0s }").unwrap());
    let out = site.run(&["once", "--json"]).await;
    let lines = json_lines(&out);
    let events: Vec<String> =
        lines.iter().filter(|l| l["kind"] == "event").map(|l| format!("{} {}", l["event"], l["job_id"])).collect();
    assert_eq!(events, [r#""appeared" "jnewest""#], "jold was pushed off the page, not gone");
    assert!(actions(&out).is_empty());
    assert!(text(&out.stderr).contains("raise poll.page_size"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn explain_answers_for_a_task_by_title_and_names_a_target_it_cannot_reach() {
    let scenario = "jobs:\n  - { id: jrun, username: joe, start: -10m }\ntasks:\n  - { id: t1, title: Parcels import, owner: joe, every: 1h, start: -2h30m, runs: [failed], stops_running_after: 1 }\n";
    let site = Site::ruled(
        scenario,
        "rules:
  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }
  - { name: failing, on: task_failed, match: { consecutive_failures: { at_least: 3 } }, actions: [{ type: log }] }
  - { name: late, on: task_missed, grace: 15m, actions: [{ type: log }] }
  - { name: others, on: task_stopped, match: { owner: jane }, actions: [{ type: log }] }
",
    )
    .await;
    site.target_key("tasks", "{ every: 1m }");
    assert!(site.run(&["once"]).await.status.success(), "the watcher reads the tasks");
    let out = site.run(&["explain", "parcels import"]).await;
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    for expected in [
        "task t1 \"Parcels import\" of joe on sim: active, next run due",
        "rule failing (on task_failed): no: consecutive_failures: at least 3 does not hold for this task",
        "rule late (on task_missed): YES: the run due at",
        "rule others (on task_stopped): no: owner: jane does not hold for this task",
    ] {
        assert!(said.contains(expected), "missing {expected:?} in:\n{said}");
    }
    assert!(!said.contains("rule runaway"), "a task is not asked about job rules: {said}");
    let job = text(&site.run(&["explain", "jrun"]).await.stdout);
    assert!(
        job.contains("rule runaway (on poll)") && !job.contains("rule failing") && !job.contains("rule late"),
        "{job}"
    );

    site.add_target("{ name: down, flavor: enterprise, admin_url: 'http://127.0.0.1:9/portal/admin', auth: { token: t }, poll: { timeout: 2s } }");
    let unknown = site.run(&["explain", "nope"]).await;
    let said = text(&unknown.stderr);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        said.contains("was found neither as a job, a scheduled task nor an open notebook")
            && said.contains("target \"down\" could not be asked: cannot connect"),
        "{said}"
    );
}

/// `protect:` (SPEC §4.15): a protected user's runaway is not cancelled while another user's
/// is; the protected one's cancel is reported `skipped` with the entry, once; `explain` names the
/// entry; `check` warns when a cancelling rule's own `not:` repeats it.
#[tokio::test]
async fn a_protected_users_runaway_is_never_cancelled_while_anothers_is() {
    let jobs = "jobs: [{ id: jsvc, username: svc_etl, start: -2h }, { id: jjoe, username: joe, start: -2h }]";
    let site = Site::ruled(jobs, RUNAWAY).await;
    site.target_key("protect", "{ users: ['svc_*'] }");
    let out = site.run(&["once", "--json"]).await;
    let mut outcomes = actions(&out);
    outcomes.sort();
    assert_eq!(outcomes, [act("runaway", "cancel", "jjoe", "done"), act("runaway", "cancel", "jsvc", "skipped")]);
    let skipped = action_lines(&out).into_iter().find(|l| l["job_ids"][0] == "jsvc").unwrap();
    let detail = skipped["detail"].as_str().unwrap();
    assert!(detail.contains("protect.users \"svc_*\""), "{detail}");
    assert_eq!(site.sim.stats().cancels.keys().collect::<Vec<_>>(), ["jjoe"], "only joe's job is cancelled");
    assert!(actions(&site.run(&["once", "--json"]).await).is_empty(), "told once");
    let explained = text(&site.run(&["explain", "jsvc"]).await.stdout);
    assert!(explained.contains("protected by protect.users \"svc_*\""), "{explained}");
    site.rules("rules:\n  - { name: runaway, match: { runtime_over: 90m, username: { not: svc_* } }, actions: [{ type: cancel }] }\n");
    let checked = text(&site.run(&["check"]).await.stdout);
    assert!(checked.contains("`username: { not: svc_* }` repeats protect.users of target"), "{checked}");
}

/// Silences (SPEC §4.16): a silenced runaway is left alone while an unsilenced one is cancelled;
/// the silenced firing is told once (`silenced`, with the silence's id) and not recorded; once the
/// silence is expired with `silence expire`, the job still matches and is cancelled.
#[tokio::test]
async fn a_silenced_runaway_is_left_alone_until_the_silence_is_expired() {
    let jobs = "jobs: [{ id: jquiet, username: joe, start: -2h }, { id: jloud, username: jane, start: -2h }]";
    let site = Site::ruled(jobs, RUNAWAY).await;
    let added = site
        .run(&["silence", "add", "--job", "jquiet", "--for", "2h", "--comment", "the year-end run", "--author", "ops"])
        .await;
    assert!(added.status.success(), "{}", text(&added.stderr));
    let id = text(&added.stdout).lines().next().unwrap().trim().to_string();
    assert_eq!(id.len(), 8, "{}", text(&added.stdout));
    let listed = text(&site.run(&["silence", "list"]).await.stdout);
    assert!(
        listed.contains(&id)
            && listed.contains("active")
            && listed.contains("job=jquiet")
            && listed.contains("the year-end run"),
        "{listed}"
    );
    let explained = text(&site.run(&["explain", "jquiet"]).await.stdout);
    assert!(explained.contains(&format!("silenced by {id} until")) && explained.contains("runaway"), "{explained}");
    let first = site.run(&["once", "--json"]).await;
    let mut outcomes = actions(&first);
    outcomes.sort();
    assert_eq!(outcomes, [act("runaway", "cancel", "jloud", "done"), act("runaway", "cancel", "jquiet", "silenced")]);
    let silenced = action_lines(&first).into_iter().find(|l| l["outcome"] == "silenced").unwrap();
    assert!(silenced["detail"].as_str().unwrap().contains(&format!("silenced by {id} until")), "{silenced}");
    assert_eq!(site.sim.stats().cancels.keys().collect::<Vec<_>>(), ["jloud"]);
    // Not recorded: each `once` (a process of its own) tells it again; the daemon tells it once.
    assert_eq!(actions(&site.run(&["once", "--json"]).await), [act("runaway", "cancel", "jquiet", "silenced")]);
    assert_eq!(site.sim.stats().cancels.len(), 1);
    let expired = site.run(&["silence", "expire", &id]).await;
    assert!(expired.status.success(), "{}", text(&expired.stderr));
    assert_eq!(actions(&site.run(&["once", "--json"]).await), [act("runaway", "cancel", "jquiet", "done")]);
    assert_eq!(site.sim.stats().cancels.len(), 2, "{:?}", site.sim.stats().cancels);
    let again = site.run(&["silence", "expire", &id]).await;
    assert_eq!(again.status.code(), Some(1), "no such silence in force any more");
}
