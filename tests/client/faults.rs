//! Each injected fault of the simulator becomes the right typed error, and the next call recovers.

use crate::util::Site;
use nbwarden::arcgis::{Error, JobSource};
use nbwarden::config::Flavor;
use std::time::{Duration, Instant};

async fn with_fault(fault: &str, timeout: &str) -> Site {
    let scenario = format!("jobs: [{{ id: j1, start: -1m }}]\nfaults: [{fault}]");
    Site::start(&scenario, Flavor::Enterprise, None, &format!("{{ timeout: {timeout} }}")).await
}

#[tokio::test]
async fn each_fault_is_a_clear_error_and_the_next_poll_recovers() {
    type Check = fn(&Error) -> bool;
    let table: [(&str, Check, &str); 4] = [
        (
            "{ on: list, kind: http_error, status: 503, count: 1 }",
            |e| matches!(e, Error::Http { status: 503, .. }),
            "HTTP 503",
        ),
        ("{ on: list, kind: html, count: 1 }", |e| matches!(e, Error::Html { status: 502, .. }), "HTML page"),
        (
            "{ on: list, kind: truncated, count: 1 }",
            |e| matches!(e, Error::InvalidJson { truncated: true, .. }),
            "truncated JSON",
        ),
        (
            "{ on: any, kind: http_error, status: 500, after: 1, count: 1 }",
            |e| matches!(e, Error::Http { status: 500, .. }),
            "HTTP 500",
        ),
    ];
    for (fault, check, words) in table {
        let site = with_fault(fault, "5s").await;
        let client = site.client();
        let error = client.list_jobs().await.unwrap_err();
        assert!(check(&error), "{fault}: {error:?}");
        assert!(error.to_string().contains(words), "{fault}: {error}");
        assert!(error.is_transient(), "{fault}");
        assert_eq!(client.list_jobs().await.unwrap().len(), 1, "{fault}: recovers");
    }
}

#[tokio::test]
async fn slow_answers_within_the_timeout_succeed() {
    let site = with_fault("{ on: list, kind: slow, delay: 300ms, count: 1 }", "5s").await;
    let started = Instant::now();
    assert_eq!(site.client().list_jobs().await.unwrap().len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn slow_and_hanging_answers_past_the_timeout_time_out() {
    for fault in ["{ on: list, kind: slow, delay: 3s, count: 1 }", "{ on: list, kind: hang, count: 1 }"] {
        let site = with_fault(fault, "1s").await;
        let client = site.client();
        let error = client.list_jobs().await.unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{fault}: {error:?}");
        assert_eq!(client.list_jobs().await.unwrap().len(), 1, "{fault}: recovers");
    }
}

#[tokio::test]
async fn an_invalid_token_answer_is_retried_once_after_a_new_sign_in() {
    let site = with_fault("{ on: list, kind: invalid_token, after: 1, count: 1 }", "5s").await;
    let client = site.client();
    client.list_jobs().await.unwrap();
    client.list_jobs().await.unwrap();
    assert_eq!(site.sim.stats().logins, 2);

    let always = with_fault("{ on: list, kind: invalid_token }", "5s").await;
    let error = always.client().list_jobs().await.unwrap_err();
    assert!(matches!(error, Error::TokenRejected { code: 498, .. }), "{error:?}");
    assert_eq!(always.sim.stats().logins, 2, "one retry, no loop");
}

#[tokio::test]
async fn a_failing_sign_in_service_is_transient_not_a_refusal() {
    let site = with_fault("{ on: token, kind: http_error, status: 503, count: 1 }", "5s").await;
    let client = site.client();
    let error = client.list_jobs().await.unwrap_err();
    assert!(matches!(error, Error::Http { status: 503, .. }), "{error:?}");
    assert_eq!(client.list_jobs().await.unwrap().len(), 1, "not paused: the credentials were never refused");
}
