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
        "test.yaml:3: rule \"a\": unknown key `typo_key`",
        "test.yaml:3: rule \"a\": `runtime_over`: invalid duration `soon`",
        "test.yaml:4: rule \"a\": unknown key `extra` in the cancel action",
        "test.yaml:6: rule \"b\": unknown trigger `sometimes`",
        "test.yaml:7: rule \"b\": every rule needs `actions`",
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
