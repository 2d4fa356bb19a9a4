//! `/status` as a console (SPEC §4.16, issue 31), in a real headless browser against the
//! simulator: the scheduled tasks, rules and silences sections and the filters; a target whose
//! site is down marked stale, its jobs frozen as of the last poll; the chart keeping its points
//! across a restart; the page read at 420 and at 1,920 pixels.

use super::{get, get_until, SECOND};
use crate::util::browser::{browser, chromium, keep_screenshot, layout};
use crate::util::daemon::Daemon;
use crate::util::Site;
use serde_json::Value;

/// Chromium, or (outside CI, without NBWARDEN_REQUIRE_BROWSER) `None` with the test skipped.
fn chromium_for(test: &str) -> Option<&'static str> {
    let found = chromium();
    if found.is_none() {
        assert!(std::env::var_os("NBWARDEN_REQUIRE_BROWSER").is_none(), "chromium is required here but missing");
        crate::util::skipped(test, "no chromium: the page was checked as JSON only");
    }
    found
}

/// The rows of the table `id` in `dom`, header left out.
fn rows<'a>(dom: &'a str, id: &str) -> Vec<&'a str> {
    let table = dom.split(&format!("<table id=\"{id}\">")).nth(1).and_then(|t| t.split("</table>").next());
    table.unwrap_or_else(|| panic!("no table {id} in\n{dom}")).split("<tr").skip(2).collect()
}

async fn json(url: &str) -> Value {
    serde_json::from_str(&get(url, "application/json").await.1).unwrap()
}

const SCENARIO: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: joe, email: joe@example.com, admin: false }
jobs:
  - { id: jlong, username: joe, start: -2h }
  - { id: jbob, username: bob, start: -3h }
  - { id: jshort, username: jane, start: -5m }
tasks:
  - { id: flaky, title: Nightly parcels, owner: joe, item_id: nb1, every: 2s, start: 1s, runs: [failed], run_takes: 300ms }
  - { id: fine, title: Hourly fine, owner: jane, every: 1h, start: -30m }
";

const RULES: &str = "rules:
  - name: runaway
    match: { status: running, runtime_over: 90m }
    actions: [{ type: cancel }]
  - name: trial-long
    mode: shadow
    match: { status: running, runtime_over: 1m }
    actions: [{ type: log }]
";

#[tokio::test]
async fn the_console_shows_tasks_rules_and_silences_filters_and_reads_at_420_and_1920_pixels() {
    let site = Site::with_rules(SCENARIO, "{ every: 1s, timeout: 2s }", RULES).await;
    site.target_key("tasks", "{ every: 1s }");
    let added = site.run(&["silence", "add", "--user", "bob", "--for", "2h", "--comment", "year-end run"]).await;
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    let status = format!("{base}/status");
    let ready = |_: u16, body: &str| {
        let view: Value = serde_json::from_str(body).unwrap_or_default();
        let failing =
            view["tasks"].as_array().is_some_and(|t| t.iter().any(|t| t["failures_in_a_row"].as_u64() >= Some(1)));
        let silenced = view["rules"].as_array().is_some_and(|r| r.iter().any(|r| r["silenced_24h"] == 1));
        failing && silenced
    };
    let (_, body) = get_until(&status, 30 * SECOND, ready).await;
    assert!(ready(200, &body), "{body}\n{}", daemon.log());
    let view: Value = serde_json::from_str(&body).unwrap();
    for key in ["targets", "tasks", "rules", "silences", "jobs", "recent"] {
        assert!(view[key].is_array(), "{key} in {view:#}");
    }
    assert_eq!(view["targets"][0]["stale"], false);
    let rule = |name: &str| view["rules"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone();
    let runaway = rule("runaway");
    assert_eq!((runaway["trigger"].as_str(), runaway["mode"].as_str()), (Some("poll"), Some("live")));
    assert_eq!((runaway["fired_24h"].as_u64(), runaway["silenced_24h"].as_u64()), (Some(1), Some(1)), "{runaway}");
    assert!(runaway["last_fired"].is_string(), "{runaway}");
    assert_eq!(rule("trial-long")["mode"], "shadow");
    let flaky = view["tasks"].as_array().unwrap().iter().find(|t| t["id"] == "flaky").unwrap();
    assert_eq!((flaky["title"].as_str(), flaky["owner"].as_str()), (Some("Nightly parcels"), Some("joe")), "{flaky}");
    assert!(flaky["next_run"].is_string() && flaky["last_result"] == "failed", "{flaky}");
    assert!(view["silences"][0]["matchers"].as_str().is_some_and(|m| m.contains("bob")), "{view:#}");

    // Filters, as a query string that can be shared.
    let joes = json(&format!("{status}?owner=joe")).await;
    let owners = |key: &str, field: &str| -> Vec<String> {
        joes[key].as_array().unwrap().iter().map(|x| x[field].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(owners("jobs", "username"), ["joe"], "{joes:#}");
    assert_eq!(owners("tasks", "owner"), ["joe"], "{joes:#}");
    let none = json(&format!("{status}?target=elsewhere")).await;
    assert!(none["targets"].as_array().unwrap().is_empty() && none["jobs"].as_array().unwrap().is_empty());

    let page = reqwest::Client::new().get(&status).header("accept", "text/html").send().await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.starts_with("default-src 'none'") && !policy.contains("script"), "no script may run: {policy}");

    let Some(binary) = chromium_for("the_console_shows_tasks_rules_and_silences") else { return };
    let dom = browser(binary, &status, None).await;
    let tasks = rows(&dom, "tasks");
    let nightly = tasks.iter().find(|r| r.contains("Nightly parcels")).unwrap_or_else(|| panic!("{tasks:?}"));
    assert!(nightly.contains("failed") && nightly.contains("joe"), "{nightly}");
    let rules = rows(&dom, "rules");
    assert!(rules.iter().any(|r| r.contains("trial-long") && r.contains("shadow")), "{rules:?}");
    assert!(rules.iter().any(|r| r.contains("runaway") && r.contains("cancel")), "{rules:?}");
    let silences = rows(&dom, "silences");
    assert!(silences.len() == 1 && silences[0].contains("bob") && silences[0].contains("year-end run"), "{silences:?}");
    let jobs = rows(&dom, "jobs");
    assert!(jobs.iter().any(|r| r.contains("jbob") && r.contains("/jobs/jbob")), "the admin page linked: {jobs:?}");
    let filtered = browser(binary, &format!("{status}?owner=jane"), None).await;
    let jane = rows(&filtered, "jobs");
    assert!(jane.len() == 1 && jane[0].contains("jshort"), "{jane:?}");
    assert!(filtered.contains("value=\"jane\""), "the filter shows in the form");

    for width in [420, 1920] {
        let measured = layout(binary, &status, width).await;
        assert!((i64::from(width) - 20..=i64::from(width)).contains(&measured.window), "{measured:?}");
        assert!(measured.page <= measured.window, "the page scrolls sideways at {width} px: {measured:?}");
        assert!((1..=measured.window).contains(&measured.chart), "the chart fits at {width} px: {measured:?}");
    }
    keep_screenshot(binary, &status, "console.png").await;
}

#[tokio::test]
async fn a_target_whose_site_is_down_is_stale_with_its_jobs_as_of_the_last_poll() {
    let site = Site::with_rules(
        "jobs:\n  - { id: jlong, username: joe, start: -2h }\n",
        "{ every: 1s, timeout: 1s }",
        "rules: []\n",
    )
    .await;
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    let status = format!("{base}/status");
    let (_, body) = get_until(&status, 10 * SECOND, |_, b| b.contains("\"jobs_total\":1")).await;
    assert!(body.contains("\"stale\":false"), "{body}\n{}", daemon.log());
    site.sim.add_fault(
        nbwarden::config::parse_yaml(std::path::Path::new("f"), "{ on: list, kind: http_error, status: 503 }").unwrap(),
    );
    let (_, body) = get_until(&status, 10 * SECOND, |_, b| b.contains("\"stale\":true")).await;
    let down: Value = serde_json::from_str(&body).unwrap();
    let target = &down["targets"][0];
    assert_eq!(target["stale"], true, "{down:#}\n{}", daemon.log());
    assert_eq!(target["as_of"], target["last_success"], "{target}");
    let frozen = down["jobs"][0]["runtime_seconds"].as_u64().unwrap();
    tokio::time::sleep(2 * SECOND).await;
    let later = json(&status).await;
    assert_eq!(later["jobs"][0]["runtime_seconds"].as_u64(), Some(frozen), "runtimes do not count on: {later:#}");

    let Some(binary) = chromium_for("a_target_whose_site_is_down_is_stale") else { return };
    let dom = browser(binary, &status, None).await;
    let targets = rows(&dom, "targets");
    assert!(targets[0].contains("class=\"stale\"") && targets[0].contains("stale: jobs as of 20"), "{targets:?}");
    assert!(dom.contains("sim: its last poll failed; these jobs are as of"), "{dom}");
}

#[tokio::test]
async fn the_chart_keeps_its_points_across_a_restart() {
    use nbwarden::activity::Slot;
    use nbwarden::store::Store;
    let scenario = "jobs:\n  - { id: j1, username: joe, start: -5m }\n  - { id: j2, username: joe, start: -4m }\n  - { id: j3, username: joe, start: -3m }\n";
    let site = Site::with_rules(scenario, "{ every: 1s, timeout: 2s }", "rules: []\n").await;
    let base = site.serve_http();
    let status = format!("{base}/status");
    let running = |view: &Value| -> Vec<(i64, u64, u64)> {
        let slots = view["activity"]["sim"].as_array().cloned().unwrap_or_default();
        slots
            .iter()
            .map(|s| (s["start_ms"].as_i64().unwrap(), s["running"].as_u64().unwrap(), s["failures"].as_u64().unwrap()))
            .collect()
    };
    let mut first = Daemon::start(&site.config_path, &[]);
    let (_, body) = get_until(&status, 10 * SECOND, |_, b| b.contains("\"running\":3")).await;
    let before = running(&serde_json::from_str(&body).unwrap());
    assert_eq!(before.len(), 1, "{body}\n{}", first.log());
    first.signal("TERM");
    assert!(first.wait_exit(10 * SECOND).await.is_some_and(|s| s.success()), "{}", first.log());
    // Two hours earlier, as an earlier run of the daemon kept it: 7 running, 2 failed.
    let now_slot = before[0].0;
    let earlier = Slot { start_ms: nbwarden::clock::LocalMs(now_slot - 12 * 600_000), running: 7, failures: 2 };
    let store = nbwarden::store::SqlStore::open_sqlite(&site.dir.path().join("state.db")).await.unwrap();
    store
        .save_activity(nbwarden::store::Scope::Real, "sim", &earlier, earlier.start_ms.plus(-86_400_000))
        .await
        .unwrap();
    drop(store);

    site.sim.end_job("j3", nbwarden::simulator::Ending::Completed);
    let second = Daemon::start(&site.config_path, &[]);
    let (_, body) = get_until(&status, 10 * SECOND, |_, b| b.contains("\"jobs_total\":3")).await;
    let after = running(&serde_json::from_str(&body).unwrap());
    assert_eq!(after.first(), Some(&(earlier.start_ms.0, 7, 2)), "the earlier slot: {after:?}\n{}", second.log());
    assert_eq!(
        after.last().map(|s| (s.0, s.1)),
        Some((now_slot, 3)),
        "the slot of before the restart keeps its 3 running: {after:?}"
    );

    let Some(binary) = chromium_for("the_chart_keeps_its_points_across_a_restart") else { return };
    let dom = browser(binary, &status, None).await;
    let chart = dom.split("<div id=\"activity-chart\">").nth(1).and_then(|c| c.split("</svg>").next()).unwrap_or("");
    let texts: Vec<&str> = chart.split("</text>").filter_map(|t| t.rsplit('>').next().map(str::trim)).collect();
    assert!(texts.contains(&"jobs failed (larger: more)") && texts.contains(&"sim"), "the legend: {texts:?}");
    let ticks: Vec<&&str> = texts.iter().filter(|t| t.len() == 5 && t.as_bytes()[2] == b':').collect();
    assert!(ticks.len() >= 2 && ticks.iter().all(|t| t.ends_with(":00")), "two hours and more: whole hours {ticks:?}");
    let upper = chart.to_ascii_uppercase();
    assert!(upper.split("<CIRCLE").skip(1).any(|c| c.contains("#C62828")), "the earlier failures marked: {chart}");
    assert!(upper.split("<CIRCLE").skip(1).filter(|c| c.contains("#1565C0")).count() >= 2, "both slots drawn: {chart}");
}
