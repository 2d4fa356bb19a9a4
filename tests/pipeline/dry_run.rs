//! README's "First dry run", as a new administrator runs it: `once --dry-run` on a fresh state with
//! the shipped rules names every job that `run` then cancels or e-mails in its first two polls;
//! what waits on `for_polls` or on a crossing before the next poll is `pending`.

use crate::util::daemon::{poll_until, Daemon};
use crate::util::{action_lines, text, Site};
use nbwarden::config::Flavor;
use std::collections::BTreeSet;
use std::time::Duration;

/// Nothing changes between the polls but time: jobs over their limits, one crossing 90 minutes a
/// few seconds in, one stuck in SUBMITTED, a session open for 9 hours, a failure of before.
const SCENARIO: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: joe, email: joe@example.com, admin: false }
  - { username: jane, password: jane, email: jane@example.com, admin: false }
jobs:
  - { id: jover, username: joe, start: -2h }
  - { id: jcross, username: jane, start: -89m56s }
  - { id: jstuck, username: joe, start: -31m, queued: 1h }
  - { id: jopen, type: openNotebook, username: jane, start: -9h }
  - { id: jfine, username: jane, start: -5m }
  - { id: jfailed, username: joe, start: -1h, runs: 10m, ends: failed }
";

#[tokio::test]
async fn the_first_dry_run_names_every_job_the_first_two_polls_act_on() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in std::fs::read_dir(&shipped).unwrap().map(|e| e.unwrap().path()) {
        if entry.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&entry, site.dir.path().join("rules").join(entry.file_name().unwrap())).unwrap();
        }
    }
    site.rewrite(|line| line.replace("poll: { timeout: 5s }", "poll: { every: 10s, timeout: 5s }"));
    site.top("email: { transport: file, dir: outbox, from: 'nbwarden <n@example.org>' }\nowners: { fallback: gis-admins@example.com }");

    let preview = site.run(&["once", "--dry-run", "--json"]).await;
    assert!(preview.status.success(), "{}{}", text(&preview.stdout), text(&preview.stderr));
    let lines = action_lines(&preview);
    let named: BTreeSet<String> = lines
        .iter()
        .filter(|l| l["outcome"] == "planned" || l["outcome"] == "pending")
        .flat_map(|l| l["job_ids"].as_array().unwrap().iter().map(|j| j.as_str().unwrap().to_string()))
        .collect();
    let pending = |job: &str, words: &str| {
        lines.iter().any(|l| {
            l["outcome"] == "pending" && l["job_ids"][0] == job && l["detail"].as_str().unwrap().contains(words)
        })
    };
    assert!(pending("jover", "would cancel") && pending("jover", "(1 of 2 polls)"), "{}", text(&preview.stdout));
    assert!(pending("jcross", "when the job crosses the rule's limit"), "{}", text(&preview.stdout));
    assert!(!site.dir.path().join("state.db").exists(), "a dry run writes nothing");

    let before = site.sim.stats().lists;
    let daemon = Daemon::start(&site.config_path, &[]);
    let two_polls = poll_until(Duration::from_secs(40), || site.sim.stats().lists >= before + 2).await;
    assert!(two_polls, "{}", daemon.log());
    // The crossing's cancel waits for its second matching poll, a second after the first.
    let settled = poll_until(Duration::from_secs(15), || site.sim.stats().cancels.contains_key("jcross")).await;
    drop(daemon);
    assert!(settled, "jcross was cancelled once it crossed");
    let acted = acted_on(&site).await;
    assert!(acted.contains("jover") && acted.contains("jstuck") && acted.contains("jopen"), "{acted:?}");
    let unnamed: Vec<&String> = acted.iter().filter(|j| !named.contains(*j)).collect();
    assert!(unnamed.is_empty(), "run acted on {unnamed:?}, which the dry run did not name ({named:?})");
    assert!(!acted.contains("jfine") && !acted.contains("jfailed"));
}

/// The jobs the daemon cancelled or e-mailed about, from its audit trail.
async fn acted_on(site: &Site) -> BTreeSet<String> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", site.dir.path().join("state.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT job_ids FROM audit WHERE outcome = 'done' AND action IN ('cancel', 'email')")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.iter()
        .flat_map(|row| serde_json::from_str::<Vec<String>>(&sqlx::Row::get::<String, _>(row, 0)).unwrap())
        .collect()
}
