//! The receivers operations teams use, against the simulator: Slack (Block Kit) and Teams (an
//! Adaptive Card 1.5, validated against its schema, kept in tests/fixtures/schemas) get a title
//! with quotes, a newline and `</script>` intact and harmless; a real Alertmanager
//! (`scripts/test` starts Debian's) shows the alert of a runaway job with its labels in
//! `amtool alert query`, and resolves it once the job is cancelled.

use super::outcomes;
use crate::util::hook::HookServer;
use crate::util::{skipped, text, Site};
use serde_json::Value;

const HOSTILE: &str = "Parcels \"import\"\n</script><b>x</b> & <!here>";
/// As people are shown site text (SPEC §4.19): the newline written as `\n`, the rest as it is.
const SHOWN: &str = "Parcels \"import\"\\n</script><b>x</b> & <!here>";

fn scenario(title: &str) -> String {
    format!(
        "items:\n  - {{ id: 9a1e0c55, title: {}, owner: joe }}\njobs:\n  - {{ id: jrun, username: joe, start: -2h, item_id: 9a1e0c55 }}\n",
        serde_json::to_string(title).unwrap()
    )
}

fn posted(hook: &HookServer) -> Value {
    let received = hook.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].headers["content-type"], "application/json");
    serde_json::from_str(&received[0].body).expect("valid JSON")
}

/// An Enterprise site whose abbreviated list gives no item ids: the firing job's resource gives it.
async fn site_with(kind: &str, url: &str) -> Site {
    let rules = format!(
        "rules:\n  - {{ name: long-runs, match: {{ status: running, runtime_over: 90m }}, actions: [{{ type: {kind}, url: '{url}' }}] }}\n"
    );
    Site::ruled(&scenario(HOSTILE), &rules).await
}

#[tokio::test]
async fn slack_gets_block_kit_with_the_title_intact_and_escaped_as_mrkdwn() {
    let hook = HookServer::start(&[200]).await;
    let site = site_with("slack", &format!("{}/services/T0/B0/secret", hook.url)).await;
    let out = site.run(&["once", "--json"]).await;
    let reports = outcomes(&out);
    assert_eq!(reports[0].1, "done", "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("secret"), "the webhook's path is its credential: {}", text(&out.stdout));
    let message = posted(&hook);
    assert!(message["text"].as_str().unwrap().contains(SHOWN), "{message}");
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let section = &blocks[1];
    let name = section["text"]["text"].as_str().unwrap();
    assert!(name.contains("Parcels \"import\"\\n&lt;/script&gt;&lt;b&gt;x&lt;/b&gt; &amp; &lt;!here&gt;"), "{name}");
    assert!(name.contains("/home/item.html?id=9a1e0c55|"), "linked to the notebook: {name}");
    let fields: Vec<&str> = section["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
    assert!(fields.contains(&"Owner: joe") && fields.contains(&"Status: EXECUTING"), "{fields:?}");
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_that_validates_against_the_1_5_schema() {
    let hook = HookServer::start(&[202]).await;
    let site = site_with("teams", &format!("{}/workflows/x?sig=secret", hook.url)).await;
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(outcomes(&out)[0].1, "done", "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("secret"), "{}", text(&out.stdout));
    let message = posted(&hook);
    assert_eq!(message["type"], "message");
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &attachment["content"];
    let schema: Value = serde_json::from_str(include_str!("../fixtures/schemas/adaptive-card-1.5.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(card).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{card:#}");
    assert_eq!(card["version"], "1.5");
    let facts = &card["body"][1]["facts"];
    assert_eq!(facts[0], serde_json::json!({ "title": "Notebook", "value": SHOWN }), "intact: {card:#}");
    let open = &card["actions"][0];
    assert_eq!(open["type"], "Action.OpenUrl");
    assert!(open["url"].as_str().unwrap().ends_with("/home/item.html?id=9a1e0c55"), "{open}");
}

/// `amtool alert query` against the Alertmanager of `scripts/test`, as JSON.
fn query(url: &str) -> Vec<Value> {
    let out = std::process::Command::new("amtool")
        .args([&format!("--alertmanager.url={url}"), "alert", "query", "-o", "json"])
        .output()
        .expect("amtool runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("amtool's JSON")
}

#[tokio::test]
async fn a_runaway_fires_in_a_real_alertmanager_and_resolves_once_cancelled() {
    let Ok(am) = std::env::var("NBWARDEN_TEST_ALERTMANAGER_URL") else {
        return skipped("alertmanager", "no Alertmanager: scripts/test starts Debian's prometheus-alertmanager");
    };
    let rules = format!(
        "rules:
  - name: runaway-alert
    match: {{ type: executeNotebook, status: running, runtime_over: 90m }}
    actions:
      - {{ type: alertmanager, url: '{am}', severity: critical, resend: 10s, labels: {{ team: gis }} }}
      - {{ type: cancel }}
"
    );
    let site = Site::ruled(&scenario("Parcels import"), &rules).await;
    let out = site.run(&["once", "--json"]).await;
    let mut kinds: Vec<(String, String)> = outcomes(&out).into_iter().map(|(a, o, _)| (a, o)).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [("alertmanager".into(), "done".into()), ("cancel".into(), "done".into())],
        "{}",
        text(&out.stdout)
    );
    let firing: Vec<Value> = query(&am).into_iter().filter(|a| a["labels"]["job_id"] == "jrun").collect();
    assert_eq!(firing.len(), 1, "{firing:#?}");
    let labels = &firing[0]["labels"];
    for (name, value) in
        [("alertname", "runaway-alert"), ("target", "sim"), ("owner", "joe"), ("severity", "critical"), ("team", "gis")]
    {
        assert_eq!(labels[name], value, "{labels}");
    }
    assert!(firing[0]["annotations"]["summary"].as_str().unwrap().starts_with("Parcels import of joe"), "{firing:#?}");
    // The job is cancelled: the next poll sends the alert once more, ended now.
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(outcomes(&out).iter().map(|o| o.1.as_str()).collect::<Vec<_>>(), ["done"], "{}", text(&out.stdout));
    assert!(outcomes(&out)[0].2.contains("resolved"), "{:?}", outcomes(&out));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while query(&am).iter().any(|a| a["labels"]["job_id"] == "jrun") {
        assert!(std::time::Instant::now() < deadline, "still firing: {:#?}", query(&am));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty(), "resolved once");
}

/// The dead-man heartbeat (Healthchecks.io's convention): a GET on the URL after a round with a
/// successful poll, on `<url>/fail` when every target failed; from the daemon every `every`, and
/// from `once` after its round; the URL (a secret) never in the output.
#[tokio::test]
async fn the_heartbeat_pings_after_a_good_round_and_fail_when_every_target_failed() {
    let hook = HookServer::start(&[200]).await;
    let ping = format!("{}/ping/5bf66975-secret", hook.url);
    let site = Site::ruled("jobs: [{ id: j1, start: -1m }]", "rules: []\n").await;
    site.top(&format!("heartbeat: {{ url: '{ping}', every: 1s }}"));
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let uris =
        |hook: &HookServer| hook.received().iter().map(|r| (r.method.clone(), r.uri.clone())).collect::<Vec<_>>();
    assert_eq!(uris(&hook), [("GET".to_string(), "/ping/5bf66975-secret".to_string())]);
    let daemon = crate::util::daemon::Daemon::start(&site.config_path, &[]);
    let beat = crate::util::daemon::poll_until(std::time::Duration::from_secs(10), || hook.received().len() >= 2).await;
    assert!(beat, "the daemon beats: {}", daemon.log());
    drop(daemon);
    let down = Site::ruled("jobs: []\nfaults: [{ on: list, kind: http_error, status: 503 }]\n", "rules: []\n").await;
    down.top(&format!("heartbeat: {{ url: '{ping}', every: 1s }}"));
    let before = hook.received().len();
    let out = down.run(&["once", "--json"]).await;
    assert!(!text(&out.stdout).contains("secret") && !text(&out.stderr).contains("secret"));
    let after = uris(&hook);
    assert_eq!(after[before..], [("GET".to_string(), "/ping/5bf66975-secret/fail".to_string())], "{after:?}");
}
