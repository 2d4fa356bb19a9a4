//! What a site that behaves as Esri documents it does to nbwarden (arcgis-api.md §10): accounts
//! without admin rights, jobs that fail between two polls, versions without cancel, the server's
//! own run cap, a 401 from what stands in front of the site, and the default Portal URL.

use crate::util::smtp::SmtpServer;
use crate::util::{action_lines, json_lines, text, Site};
use nbwarden::config::Flavor;
use nbwarden::simulator::JobPlan;

const USERS: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: joe-pw, email: joe@example.com, admin: false }
  - { username: jane, password: jane-pw, email: jane@example.com, admin: false }
";

fn scenario(extra: &str, jobs: &str) -> String {
    format!("{USERS}{extra}jobs:\n{jobs}")
}

/// Adds a job that started 3 s ago and failed 1 s ago: no poll saw it run.
fn failed_between_polls(site: &Site, id: &str, user: &str) {
    let elapsed = nbwarden::clock::local_now_ms() - site.sim.stats().started_ms;
    let yaml = format!(
        "{{ id: {id}, username: {user}, start: '{}ms', runs: 2s, ends: failed, item_id: it{id} }}",
        elapsed - 3000
    );
    site.sim.add_job(nbwarden::config::parse_yaml::<JobPlan>(std::path::Path::new("job"), &yaml).unwrap());
}

#[tokio::test]
async fn an_account_without_admin_rights_is_reported_as_seeing_only_its_own_jobs() {
    let jobs = "  - { id: jjoe, username: joe, start: -5m }\n  - { id: jjane, username: jane, start: -5m }\n";
    let site = Site::start(
        &scenario("", jobs),
        Flavor::Enterprise,
        Some("{ portal_url: '{portal}', username: joe, password: joe-pw }"),
        "{ timeout: 5s }",
    )
    .await;
    site.rules("rules: []\n");
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let poll = &json_lines(&out)[0];
    assert_eq!((poll["scope"].as_str(), poll["jobs"].as_u64()), (Some("own"), Some(1)), "{poll}");
    assert!(text(&out.stderr).contains("sees only its own jobs"), "a warning at start: {}", text(&out.stderr));
    let check = site.run(&["check", "--targets"]).await;
    let said = text(&check.stdout);
    assert!(said.contains("the account joe (role org_user) is no administrator and sees only its own jobs"), "{said}");

    site.set_auth("{ portal_url: '{portal}', username: admin, password: simulator }");
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(json_lines(&out)[0]["scope"], "all");
    assert!(
        text(&site.run(&["check", "--targets"]).await.stdout).contains("account admin (role org_admin) sees all jobs")
    );
}

#[tokio::test]
async fn a_job_first_seen_failed_gets_exactly_one_email_and_the_baseline_none() {
    let smtp = SmtpServer::start(None, None);
    let jobs = "  - { id: jold, username: joe, start: -30m, runs: 1m, ends: failed }\n  - { id: jrun, username: jane, start: -5m }\n";
    let site = Site::simple(&scenario("", jobs), Flavor::Enterprise).await;
    site.rules(include_str!("../../rules/failure-email-owner.yaml"));
    site.top(&format!(
        "email: {{ host: 127.0.0.1, port: {}, security: none, from: n@example.org, timeout: 5s }}",
        smtp.port
    ));
    let baseline = site.run(&["once", "--json"]).await;
    assert!(baseline.status.success(), "{}", text(&baseline.stdout));
    failed_between_polls(&site, "jquick", "joe");
    let out = site.run(&["once", "--json"]).await;
    let lines = json_lines(&out);
    assert!(
        lines.iter().any(|l| l["event"] == "appeared" && l["job_id"] == "jquick" && l["to"] == "FAILED"),
        "{lines:?}"
    );
    let messages = smtp.wait_for(1).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["envelope_to"][0], "joe@example.com");
    let body = messages[0]["text"].as_str().unwrap();
    assert!(body.contains("jquick") && body.contains("KeyError") && body.contains("item.html?id=itjquick"), "{body}");
    for _ in 0..2 {
        site.run(&["once", "--json"]).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "exactly one, and nothing for the baseline's old failure");
}

#[tokio::test]
async fn enterprise_11_4_sends_no_cancel_and_check_targets_says_why() {
    let jobs = "  - { id: jrunaway, username: joe, start: -2h }\n";
    let site = Site::simple(&scenario("version: '11.4'\n", jobs), Flavor::Enterprise).await;
    site.rules(
        "rules:\n  - { name: runaway, match: { status: running, runtime_over: 90m }, actions: [{ type: cancel }] }\n",
    );
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "a failed action fails `once`");
    let action = action_lines(&out).into_iter().next().expect("an action line");
    assert_eq!(action["outcome"], "failed");
    let detail = action["detail"].as_str().unwrap();
    assert!(detail.contains("cancel needs ArcGIS Enterprise 11.5") && detail.contains("runs 11.4"), "{detail}");
    assert!(site.sim.stats().cancels.is_empty(), "nothing was sent");
    assert!(
        text(&out.stderr).contains("rule runaway cancels, but cancel needs ArcGIS Enterprise 11.5"),
        "logged at start"
    );
    let check = site.run(&["check", "--targets"]).await;
    assert_eq!(check.status.code(), Some(1));
    let said = text(&check.stdout);
    assert!(
        said.contains(
            "rule \"runaway\" cancels on target sim, but cancel needs ArcGIS Enterprise 11.5 and the site runs 11.4"
        ),
        "{said}"
    );

    site.rules("rules: []\n");
    site.rewrite(|line| line.replace("timeout: 5s", "timeout: 5s, details: true"));
    let check = site.run(&["check", "--targets"]).await;
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check.stdout).contains("poll.details needs ArcGIS Enterprise 12.1 and the site runs 11.4"),
        "{}",
        text(&check.stdout)
    );
}

#[tokio::test]
async fn rules_at_or_near_the_server_cap_are_warned_about() {
    let site =
        Site::simple(&scenario("max_execute_minutes: 120\n", "  - { id: j1, start: -5m }\n"), Flavor::Enterprise).await;
    site.rules(
        "rules:
  - { name: never, match: { type: executeNotebook, runtime_over: 150m }, actions: [{ type: log }] }
  - { name: racing, match: { runtime_over: 118m }, actions: [{ type: log }] }
  - { name: fine, match: { type: executeNotebook, runtime_over: 90m }, actions: [{ type: log }] }
  - { name: sessions, match: { type: openNotebook, runtime_over: 12h }, actions: [{ type: log }] }
",
    );
    let check = site.run(&["check", "--targets"]).await;
    assert!(check.status.success(), "warnings only: {}", text(&check.stdout));
    let said = text(&check.stdout);
    assert!(said.contains("server limits: maxExecuteNotebookTimeMinutes 120"), "{said}");
    assert!(
        said.contains("rule \"never\": runtime_over 2h30m is at or above the server's 120-minute cap")
            && said.contains("it can never fire"),
        "{said}"
    );
    assert!(
        said.contains("rule \"racing\": runtime_over 1h58m is within 5 minutes of the server's 120-minute cap")
            && said.contains("races the server"),
        "{said}"
    );
    assert!(!said.contains("rule \"fine\"") && !said.contains("rule \"sessions\""), "{said}");
}

#[tokio::test]
async fn one_401_is_survived_and_a_second_names_the_proxy() {
    let site = Site::simple(&scenario("", "  - { id: j1, start: -5m }\n"), Flavor::Enterprise).await;
    site.rules("rules: []\n");
    let fault = |count: u32| {
        nbwarden::config::parse_yaml(
            std::path::Path::new("f"),
            &format!("{{ on: list, kind: unauthorized, count: {count} }}"),
        )
        .unwrap()
    };
    site.sim.add_fault(fault(1));
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert_eq!(site.sim.stats().logins, 2, "one fresh sign-in after the 401");
    site.sim.add_fault(fault(2));
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let error = json_lines(&out)[0]["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("HTTP 401 even with a fresh token") && error.contains("Web Adaptor") && error.contains("IWA"),
        "{error}"
    );
    assert_eq!(site.sim.stats().failed_logins, 0, "a 401 is not a refused sign-in");
}

#[tokio::test]
async fn an_enterprise_target_without_portal_url_signs_in_at_the_portal() {
    let site = Site::start(
        &scenario("", "  - { id: j1, start: -5m }\n"),
        Flavor::Enterprise,
        Some("{ username: admin, password: simulator }"),
        "{ timeout: 5s }",
    )
    .await;
    site.rules("rules: []\n");
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert_eq!((site.sim.stats().logins, site.sim.stats().portal_logins), (1, 1));
    let said = text(&site.run(&["check", "--targets"]).await.stdout);
    let portal = site.sim.portal_url();
    assert!(said.contains(&format!("signs in at {portal}/sharing/rest/generateToken")), "{said}");
    assert!(said.contains(&format!("portal: {portal} (admin_url without /admin)")), "{said}");
}
