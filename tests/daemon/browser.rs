//! The `/status` page in a real headless browser (Debian's chromium). Without one the page is
//! parsed as served instead and the test is reported as skipped (a failure under CI, and when
//! NBWARDEN_REQUIRE_BROWSER is set, as `scripts/test` does when Chromium is installed).

use super::{get, get_until, SECOND};
use crate::util::browser::{browser, chromium, keep_screenshot};
use crate::util::daemon::Daemon;
use crate::util::Site;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

#[tokio::test]
async fn the_status_page_shows_the_jobs_table_with_every_value_escaped() {
    let scenario = format!(
        "jobs:\n  - {{ id: jlong, username: joe, start: -2h }}\n  - {{ id: jshort, username: jane, start: -5m }}\n  - {{ id: '{HOSTILE}', username: '{HOSTILE}', start: -1m }}\n"
    );
    let site = Site::with_rules(&scenario, "{ every: 1s, timeout: 2s }", "rules: []\n").await;
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    let status = format!("{base}/status");
    let (_, json) = get_until(&status, 10 * SECOND, |_, body| body.contains("\"jobs_total\":3")).await;
    assert!(json.contains("\"jobs_total\":3"), "{json}\n{}", daemon.log());

    let dom = match chromium() {
        Some(binary) => browser(binary, &status, None).await,
        None => {
            assert!(std::env::var_os("NBWARDEN_REQUIRE_BROWSER").is_none(), "chromium is required here but missing");
            crate::util::skipped(
                "the_status_page_shows_the_jobs_table_with_every_value_escaped",
                "no chromium: the served HTML is checked instead of a browser's DOM",
            );
            get(&status, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8").await.1
        }
    };
    let jobs = dom.split("<table id=\"jobs\">").nth(1).and_then(|t| t.split("</table>").next());
    let jobs = jobs.unwrap_or_else(|| panic!("no jobs table in\n{dom}"));
    let rows: Vec<&str> = jobs.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 3, "{jobs}");
    // Two hours as of the last poll, whose time is the site's `Date` header, to the second: it may
    // read up to a second early (1h59m).
    let two_hours = rows[0].contains("<td>2h") || rows[0].contains("<td>1h59m");
    assert!(rows[0].contains("jlong") && two_hours, "longest first: {}", rows[0]);
    assert!(rows[1].contains("jshort") && rows[1].contains("jane"), "{}", rows[1]);
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"), "the hostile id is shown as text");
    assert!(!dom.contains("<img"), "and never becomes an element");
    assert!(dom.contains("<table id=\"targets\">") && dom.contains("healthy"), "{dom}");
}

/// The shipped rules of `rules/`, the built-in scenario, until the page has every kind of event
/// and of action; then the page in Chromium, kept as `target/test-artifacts/status-page.png`.
#[tokio::test]
async fn the_status_page_of_the_shipped_rules_on_the_built_in_scenario() {
    let site =
        Site::with_rules(nbwarden::simulator::scenario::BUILTIN, "{ every: 1s, timeout: 2s }", "rules: []\n").await;
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in
        std::fs::read_dir(&shipped).unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
    {
        std::fs::copy(entry.path(), site.dir.path().join("rules").join(entry.file_name())).unwrap();
    }
    std::fs::remove_file(site.dir.path().join("rules/test.yaml")).unwrap();
    site.top(
        "email: { transport: file, dir: outbox, from: n@example.org }\nowners: { fallback: gis-admins@example.com }",
    );
    let base = site.serve_http();
    let daemon = Daemon::start(&site.config_path, &[]);
    let status = format!("{base}/status");
    let every_kind = |_: u16, body: &str| {
        ["\"event\":\"appeared\"", "\"event\":\"status_changed\"", "\"event\":\"disappeared\""]
            .iter()
            .chain(&["\"action\":\"cancel\"", "\"action\":\"email\"", "\"action\":\"log\""])
            .all(|kind| body.contains(kind))
    };
    let (_, json) = get_until(&status, 60 * SECOND, every_kind).await;
    assert!(every_kind(200, &json), "{json}\n{}", daemon.log());
    let html = get(&status, "text/html").await.1;
    assert!(html.contains("<table id=\"recent\">") && !html.contains("cannot render"), "{html}");
    let Some(binary) = chromium() else {
        assert!(std::env::var_os("NBWARDEN_REQUIRE_BROWSER").is_none(), "chromium is required here but missing");
        return crate::util::skipped(
            "the_status_page_of_the_shipped_rules_on_the_built_in_scenario",
            "no chromium: only the served HTML was checked",
        );
    };
    let dom = browser(binary, &status, None).await;
    for text in [
        "jquick12jane",
        "appeared",
        "status_changed",
        "disappeared",
        "cancel-runaway-executions: cancel",
        "failure-email-to-owner: email",
        "all jobs",
    ] {
        assert!(dom.contains(text), "{text} missing from the page\n{dom}");
    }
    // The chart of the activity, beside the tables: the target's line and its failures.
    let chart = dom.split("<div id=\"activity-chart\">").nth(1).and_then(|c| c.split("</svg>").next()).unwrap_or("");
    assert!(chart.contains("<svg") && chart.contains("Jobs running"), "no chart in\n{dom}");
    let texts: Vec<&str> = chart.split("</text>").filter_map(|t| t.rsplit('>').next().map(str::trim)).collect();
    assert!(texts.contains(&"sim"), "the target in the legend: {texts:?}");
    let upper = chart.to_ascii_uppercase();
    let circles = |colour: &str| upper.split("<CIRCLE").skip(1).filter(|c| c.contains(colour)).count();
    assert!(circles("#1565C0") >= 1, "the target's running jobs: {chart}");
    assert!(circles("#C62828") >= 1, "failures marked: {chart}");
    keep_screenshot(binary, &status, "status-page.png").await;
}
