//! The commands on a PostgreSQL store work as on SQLite: `once` (acting once, then not again),
//! `jobs`, `explain`, `check --targets` (which reports the server's version); configuration errors
//! name what to fix; the database password never appears in any output.

use crate::util::{action_lines, json_lines, postgres, text, Site};
use nbwarden::config::Flavor;

const SCENARIO: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
jobs:
  - { id: runaway, username: admin, start: -100m }
  - { id: fresh, username: admin, start: -1m }
";

const RULES: &str = "rules:
  - name: runaway
    match: { status: running, runtime_over: 90m }
    actions: [{ type: cancel }]
";

/// A site whose state is database `db` (the URL's password moved to `state.password`).
async fn site_on(db: &str) -> Site {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    site.rules(RULES);
    let mut url = reqwest::Url::parse(db).unwrap();
    let password = url.password().unwrap_or_default().to_string();
    url.set_password(None).unwrap();
    site.rewrite(|line| {
        if line.starts_with("state:") {
            format!("state: {{ url: '{url}', password: '{password}' }}")
        } else {
            line.to_string()
        }
    });
    site
}

#[tokio::test]
async fn once_jobs_explain_and_check_work_on_postgresql_as_on_sqlite() {
    let Some(server) = postgres::url("cli on PostgreSQL") else { return };
    let site = site_on(&postgres::fresh_database(&server).await).await;
    let first = site.run(&["once", "--json"]).await;
    assert!(first.status.success(), "{}{}", text(&first.stdout), text(&first.stderr));
    let actions: Vec<_> = action_lines(&first);
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!((actions[0]["action"].as_str(), actions[0]["outcome"].as_str()), (Some("cancel"), Some("done")));
    let second = site.run(&["once", "--json"]).await;
    assert!(second.status.success());
    assert!(json_lines(&second).iter().all(|l| l["kind"] != "action"), "the ledger is in the database: not again");
    assert_eq!(site.sim.stats().cancels.get("runaway"), Some(&1));

    let jobs = site.run(&["jobs", "--json"]).await;
    assert!(jobs.status.success(), "{}", text(&jobs.stderr));
    assert!(text(&jobs.stdout).contains("fresh"), "{}", text(&jobs.stdout));
    let explain = site.run(&["explain", "runaway"]).await;
    assert!(explain.status.success(), "{}", text(&explain.stderr));
    assert!(text(&explain.stdout).contains("cancel"), "the audit trail in the database: {}", text(&explain.stdout));
    let check = site.run(&["check", "--targets"]).await;
    let said = text(&check.stdout);
    assert!(check.status.success(), "{said}");
    assert!(said.contains("connected; PostgreSQL 1"), "the server's version: {said}");
}

#[tokio::test]
async fn a_wrong_database_password_is_a_clear_error_that_never_shows_the_password() {
    let Some(server) = postgres::url("wrong database password") else { return };
    let mut url = reqwest::Url::parse(&postgres::fresh_database(&server).await).unwrap();
    url.set_password(Some("Wr0ng-Pa55-in-url")).unwrap();
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    site.rewrite(
        |line| if line.starts_with("state:") { format!("state: {{ url: '{url}' }}") } else { line.to_string() },
    );
    for args in [&["once"][..], &["check", "--targets"], &["jobs"]] {
        let out = site.run(args).await;
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{args:?}: {all}");
        assert!(!all.contains("Wr0ng-Pa55-in-url"), "{args:?} shows the password: {all}");
        assert!(
            all.contains("password authentication failed") || all.contains("cannot open the state store"),
            "{args:?}: {all}"
        );
        let mut shown = url.clone();
        shown.set_password(None).unwrap();
        assert!(all.contains(shown.as_str().trim_end_matches('/')), "{args:?} names the server: {all}");
    }
}

#[tokio::test]
async fn replicas_without_postgresql_and_a_url_that_is_not_postgresql_are_configuration_errors() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    site.top("ha: { replica: a, lease_ttl: 15s }");
    let out = site.run(&["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("ha needs a PostgreSQL state.url"), "{}", text(&out.stdout));
    site.rewrite(|line| {
        if line.starts_with("state:") {
            "state: { url: 'mysql://u:pw-not-shown@db/x' }".into()
        } else if line.starts_with("ha:") {
            "ha: { lease_ttl: 1s }".into()
        } else {
            line.to_string()
        }
    });
    let out = site.run(&["check"]).await;
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("is not a PostgreSQL URL"), "{said}");
    assert!(said.contains("ha.lease_ttl 1s is too short"), "{said}");
    assert!(!said.contains("pw-not-shown"), "{said}");
}

#[tokio::test]
async fn the_daemon_runs_on_postgresql_without_replicas() {
    use crate::util::daemon::{poll_until, Daemon};
    let Some(server) = postgres::url("run on PostgreSQL") else { return };
    let site = site_on(&postgres::fresh_database(&server).await).await;
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let cancelled =
        poll_until(std::time::Duration::from_secs(20), || site.sim.stats().cancels.contains_key("runaway")).await;
    assert!(cancelled, "{}", daemon.log());
    daemon.signal("TERM");
    assert!(
        daemon.wait_exit(std::time::Duration::from_secs(15)).await.is_some_and(|s| s.success()),
        "{}",
        daemon.log()
    );
    let again = site.run(&["once", "--json"]).await;
    assert!(json_lines(&again).iter().all(|l| l["kind"] != "action"), "the daemon's ledger is in the database");
    assert_eq!(site.sim.stats().cancels.get("runaway"), Some(&1));
}
