//! `check`: every problem with its location and exit 1; `--targets` reports what a list provides.

use crate::util::{text, Site};
use nbwarden::config::Flavor;

#[tokio::test]
async fn a_broken_rules_file_lists_every_error_with_file_and_line() {
    let site = Site::simple("{}", Flavor::Enterprise).await;
    site.rules("rules:\n  - name: a\n    match: { typo_key: 1, runtime_over: soon }\n    actions: [{ type: cancel, extra: 1 }]\n  - name: b\n    on: sometimes\n    actions: []\n");
    let out = site.run(&["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    for needle in [
        "test.yaml:3:14: rule \"a\": unknown key `typo_key`",
        "test.yaml:3:27: rule \"a\": `runtime_over`: invalid duration `soon`",
        "test.yaml:4:31: rule \"a\": unknown key `extra` in the cancel action",
        "test.yaml:6:5: rule \"b\": unknown trigger `sometimes`",
        "test.yaml:7:5: rule \"b\": every rule needs `actions`",
        "5 problem(s) found",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    assert!(!text(&out.stderr).contains("panicked"));
}

#[tokio::test]
async fn a_good_configuration_passes_and_targets_are_probed() {
    let site = Site::simple("jobs: [{ id: j1, username: joe, start: -1m }]", Flavor::Enterprise).await;
    site.rules(
        "rules:
  - { name: by-item, match: { item_id: abc }, actions: [{ type: log }] }
  - { name: unusual, match: { runtime_over_usual: 3x }, actions: [{ type: log }] }
",
    );
    let out = site.run(&["check"]).await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("OK, 1 target(s), 2 rule(s)"));
    let probed = site.run(&["check", "--targets"]).await;
    let stdout = text(&probed.stdout);
    assert!(probed.status.success(), "{stdout}");
    assert!(stdout.contains("target sim: signed in; version 12.1; 1 job(s) listed"), "{stdout}");
    assert!(stdout.contains("item_id no"), "{stdout}");
    assert!(
        stdout.contains("rule \"by-item\": `item_id` needs item_id, which this job list does not provide"),
        "{stdout}"
    );
    assert!(stdout.contains("note: rule \"unusual\": `runtime_over_usual` needs each job's notebook item, which this job list does not give: nbwarden reads `jobs/<id>` once for each job as it appears"), "{stdout}");
    let detailed =
        Site::simple("jobs: [{ id: j1, username: joe, start: -1m, item_id: abc }]", Flavor::NotebookServer).await;
    detailed.rules("rules:\n  - { name: unusual, match: { runtime_over_usual: 3x }, actions: [{ type: log }] }\n");
    let probed = text(&detailed.run(&["check", "--targets"]).await.stdout);
    assert!(probed.contains("item_id yes") && !probed.contains("runtime_over_usual"), "{probed}");
}

#[tokio::test]
async fn an_invalid_configuration_is_reported_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nbwarden.yaml");
    std::fs::write(&path, "targets: []\ndry_rn: true\n").unwrap();
    let out = crate::util::nbwarden(&["--config", path.to_str().unwrap(), "check"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("nbwarden.yaml:2:"), "{}", text(&out.stdout));
}

#[tokio::test]
async fn a_task_rule_without_a_watching_target_is_noted_and_the_tasks_are_probed() {
    let scenario = "tasks:
  - { id: t1, title: Nightly, owner: admin, every: 1h, start: -30m }
  - { id: t2, title: Broken, owner: admin, every: 1m, start: -10m, runs: [failed], run_takes: 10s }
";
    let site = Site::simple(scenario, Flavor::Enterprise).await;
    site.rules("rules:\n  - { name: failing, on: task_failed, actions: [{ type: log }] }\n");
    let out = text(&site.run(&["check"]).await.stdout);
    assert!(
        out.contains("note: rule \"failing\" (on: task_failed) applies to no target with `tasks:`, so it never fires"),
        "{out}"
    );
    site.target_key("tasks", "{ every: 5m }");
    let probed = site.run(&["check", "--targets"]).await;
    let stdout = text(&probed.stdout);
    assert!(probed.status.success(), "{stdout}");
    assert!(!stdout.contains("applies to no target"), "{stdout}");
    assert!(stdout.contains("scheduled notebook tasks: 2 readable, 1 active"), "{stdout}");
}

/// Issue 27's trial: three mistakes in the configuration and four in the rules; one `check`.
#[tokio::test]
async fn one_check_lists_every_mistake_of_the_configuration_and_the_rules_with_its_place() {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    let config = format!(
        "targets:
  - name: sim
    flavor: enterprise
    admin_url: '{}'
    auth:
      portal_url: '{}'
      username: admin
      password: simulator
      token_lifetme: 60m
    poll:
      timeout: 20
    tasks: {{ every: 5m, timezone: Europe/Berln }}
rules: [rules/]
state: {{ path: state.db }}
http: {{ listen: '' }}
",
        site.sim.admin_url(),
        site.sim.portal_url()
    );
    std::fs::write(&site.config_path, config).unwrap();
    site.rules(
        "rules:
  - name: runaway
    match:
      status: runing
      runtime_ovr: 90m
    actions:
      - { type: log, message: '{{ jobb.id }} ran away' }
  - name: digest
    on: schedule
    cron: '0 25 * * *'
    actions: [{ type: log }]
",
    );
    let out = site.run(&["check"]).await;
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let expected = [
        ("nbwarden.yaml:", "unknown key `token_lifetme` (did you mean `token_lifetime`?)"),
        ("nbwarden.yaml:", "`timeout`: a duration needs a unit, for example `20s`"),
        ("nbwarden.yaml:", "unknown time zone `Europe/Berln` (did you mean `Europe/Berlin`?)"),
        ("test.yaml:4:7:", "`status: runing` could never match"),
        ("test.yaml:5:7:", "unknown key `runtime_ovr` in `match` (did you mean `runtime_over`?)"),
        ("test.yaml:7:", "`jobb.id` is not known here (did you mean `job`?)"),
        ("test.yaml:10:5:", "hour 25 is out of 0–23"),
    ];
    for (place, words) in expected {
        let line = said.lines().find(|l| l.contains(words)).unwrap_or_else(|| panic!("missing {words:?} in:\n{said}"));
        assert!(line.contains(place), "{place} in {line}");
        let location = line.split(": ").next().unwrap();
        assert_eq!(location.matches(':').count(), 2, "file:line:column in {line}");
    }
    assert!(said.contains("7 problem(s) found"), "{said}");
}

#[tokio::test]
async fn variables_are_read_in_every_scalar_style_and_a_broken_one_is_located() {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    site.rules("rules: []\n");
    let quoted = "\n      portal_url: '{portal}'\n      username: \"${NBW_USER}\"\n      password: '${NBW_PW}'";
    site.set_auth(quoted);
    let http = "http:\n  listen: \"${NBW_ADDR}\"\n  hosts:\n    - |-\n      ${NBW_HOST}\n    - $${NOT_A_VARIABLE}";
    site.rewrite(|line| if line.starts_with("http:") { http.to_string() } else { line.to_string() });
    let env = [
        ("NBW_USER", "admin"),
        ("NBW_PW", "simulator"),
        ("NBW_ADDR", "127.0.0.1:0"),
        ("NBW_HOST", "status.example.com"),
    ];
    let out = site.run_env(&["check"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    let out = site.run_env(&["once", "--json"], &env).await;
    assert!(out.status.success(), "the quoted password signed in: {}", text(&out.stdout));
    let config = nbwarden::config::yaml::document(&std::fs::read_to_string(&site.config_path).unwrap());
    assert!(config.is_err(), "without the variables set, they are problems");
    let bad = site
        .run_env(&["check"], &[("NBW_ADDR", "localhost:port"), ("NBW_USER", "a"), ("NBW_PW", "b"), ("NBW_HOST", "h")])
        .await;
    let said = text(&bad.stdout);
    assert!(
        said.contains("http.listen `***` is not an address to listen on"),
        "an environment value is never echoed: {said}"
    );
    site.top("broken: ${NBW_USER");
    let said = text(&site.run_env(&["check"], &env).await.stdout);
    assert!(said.contains("starts a variable but has no `}`"), "{said}");
    assert!(
        said.lines().any(|l| l.contains("nbwarden.yaml:") && l.contains("has no `}`") && l.split(':').count() >= 4),
        "{said}"
    );
}

#[tokio::test]
async fn a_configuration_error_never_echoes_a_value_from_the_environment() {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    site.rules("rules: []\n");
    site.rewrite(|line| line.replace("    poll: { timeout: 5s }", "    poll: { timeout: '${PW}' }"));
    let out = site.run_env(&["check"], &[("PW", "Echo-S3cret-value")]).await;
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("invalid duration `***`") && !said.contains("Echo-S3cret-value"), "{said}");
}
