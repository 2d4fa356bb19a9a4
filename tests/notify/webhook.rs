//! Webhooks against a local HTTP server: the rendered body, retries of 5xx, no retry of 4xx.

use super::{outcomes, FAILED};
use crate::util::hook::HookServer;
use crate::util::text;
use crate::util::Site;

fn rule(url: &str, extra: &str) -> String {
    format!("rules:\n  - {{ name: f, match: {{ status: failed, username: jane }}, actions: [{{ type: webhook, url: '{url}'{extra} }}] }}\n")
}

#[tokio::test]
async fn the_body_and_headers_are_rendered_and_the_url_is_redacted() {
    let hook = HookServer::start(&[200]).await;
    let url = format!("{}/hooks/nb?token=hook-secret", hook.url);
    let extra = r#", headers: { X-Job: '{{ job.id }}' }, body: '{"text": "{{ job.username }}: {{ job.type }} {{ job.id }} failed on {{ target }}"}'"#;
    let site = Site::ruled(FAILED, &rule(&url, extra)).await;
    let out = site.run(&["once", "--json", "-vv"]).await;
    let reports = outcomes(&out);
    assert_eq!(reports[0].1, "done", "{}", text(&out.stderr));
    assert_eq!(reports[0].2, format!("POST {}/hooks/nb?*** answered 200", hook.url));
    assert!(!text(&out.stdout).contains("hook-secret") && !text(&out.stderr).contains("hook-secret"));
    let received = hook.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].uri, "/hooks/nb?token=hook-secret");
    assert_eq!(received[0].body, r#"{"text": "jane: executeNotebook jf3 failed on sim"}"#);
    assert_eq!(received[0].headers["content-type"], "application/json");
    assert_eq!(received[0].headers["x-job"], "jf3");
}

#[tokio::test]
async fn the_default_body_is_json_with_rule_event_and_job() {
    let hook = HookServer::start(&[204]).await;
    let site = Site::ruled(FAILED, &rule(&hook.url, ", method: put")).await;
    assert_eq!(outcomes(&site.run(&["once", "--json"]).await)[0].1, "done");
    let received = &hook.received()[0];
    assert_eq!(received.method, "PUT");
    let body: serde_json::Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(body["rule"], "f");
    assert_eq!(body["target"], "sim");
    assert_eq!(body["event"]["kind"], "poll");
    assert_eq!(body["job"]["id"], "jf3");
    assert_eq!(body["job"]["status"], "FAILED");
    assert_eq!(body["jobs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_500_is_retried_and_delivered_once() {
    let hook = HookServer::start(&[500, 200]).await;
    let site = Site::ruled(FAILED, &rule(&hook.url, "")).await;
    let first = outcomes(&site.run(&["once", "--json"]).await);
    // `once` makes three quick attempts: the first gets 500, the second 200.
    assert_eq!(first[0].1, "done", "{first:?}");
    assert_eq!(hook.received().len(), 2);
    site.make_retries_due().await;
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty());
    assert_eq!(hook.received().len(), 2, "delivered once");
}

#[tokio::test]
async fn a_500_storm_is_queued_for_later_then_delivered_once() {
    let hook = HookServer::start(&[500, 503, 429, 200]).await;
    let site = Site::ruled(FAILED, &rule(&hook.url, "")).await;
    let first = outcomes(&site.run(&["once", "--json"]).await);
    assert_eq!(first[0].1, "failed");
    assert!(first[0].2.contains("429") && first[0].2.contains("queued for another try"), "{first:?}");
    site.make_retries_due().await;
    assert_eq!(outcomes(&site.run(&["once", "--json"]).await)[0].1, "done");
    site.make_retries_due().await;
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty());
    assert_eq!(hook.received().len(), 4);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let hook = HookServer::start(&[400]).await;
    let site = Site::ruled(FAILED, &rule(&hook.url, "")).await;
    let first = outcomes(&site.run(&["once", "--json"]).await);
    assert_eq!(first[0].1, "failed");
    assert!(first[0].2.contains("answered 400: answer from the hook"), "{first:?}");
    site.make_retries_due().await;
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty());
    assert_eq!(hook.received().len(), 1);
}
