//! Scheduled notebook tasks over real HTTP against the simulator: the org's tasks a page at a time
//! until `nextStart` is -1, each task as Portal describes it, and a task's runs.

use crate::util::Site;
use nbwarden::config::Flavor;

#[tokio::test]
async fn every_task_is_read_page_by_page_and_a_tasks_runs_in_order() {
    let mut scenario = String::from("tasks:\n");
    scenario += "  - { id: nightly, title: Nightly parcels, owner: joe, item_id: nb1, every: 1h, start: -5h30m, runs: [succeeded, failed], run_takes: 10m }\n";
    scenario += "  - { id: cron, title: At two, owner: jane, cron: '0 2 * * *', start: -1h }\n";
    for n in 0..148 {
        scenario += &format!("  - {{ id: t{n:03}, title: Task {n}, owner: joe, every: 1d, start: 1h }}\n");
    }
    let site = Site::simple(&scenario, Flavor::Enterprise).await;
    let client = site.client();
    let tasks = client.scheduled_tasks().await.unwrap();
    assert_eq!(tasks.len(), 150, "two pages of 100");
    let nightly = tasks.iter().find(|t| t.id == "nightly").unwrap();
    assert_eq!(
        (nightly.title.as_str(), nightly.owner.as_str(), nightly.item_id.as_deref()),
        ("Nightly parcels", "joe", Some("nb1"))
    );
    assert_eq!((nightly.interval_seconds, nightly.cron.as_deref()), (Some(3600), None));
    assert!(!nightly.active, "five failures in a row stopped it: {nightly:?}");
    assert_eq!(nightly.state.as_deref(), Some("paused"));
    let cron = tasks.iter().find(|t| t.id == "cron").unwrap();
    assert_eq!((cron.cron.as_deref(), cron.interval_seconds, cron.active), (Some("0 2 * * *"), None, true));
    let runs = client.task_runs("joe", "nightly").await.unwrap();
    let statuses: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["succeeded", "failed", "failed", "failed", "failed", "failed"], "oldest first");
    assert_eq!(nightly.last_start_ms, runs.last().unwrap().created_ms);
    assert!(runs.iter().skip(1).all(|r| r.failed()));
    let unknown = client.task_runs("joe", "nope").await.unwrap_err();
    assert!(unknown.to_string().contains("not found"), "{unknown}");
}
