//! Tokens: refresh ahead of expiry, one re-sign-in after 498, referer binding, refused passwords.

use crate::util::Site;
use nbwarden::arcgis::{Error, JobSource};
use nbwarden::config::Flavor;
use std::time::Duration;

const ONE_JOB: &str = "jobs: [{ id: j1, start: -1m }]";

#[tokio::test]
async fn a_token_revoked_mid_run_is_renewed_once_and_the_call_retried() {
    for flavor in [Flavor::Enterprise, Flavor::NotebookServer] {
        let site = Site::simple(ONE_JOB, flavor).await;
        let client = site.client();
        client.list_jobs().await.unwrap();
        site.sim.revoke_tokens();
        assert_eq!(client.list_jobs().await.unwrap().len(), 1, "{flavor:?}");
        assert_eq!(site.sim.stats().logins, 2);
        client.job("j1").await.unwrap();
        assert_eq!(site.sim.stats().logins, 2, "the new token is reused");
    }
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_before_it_expires() {
    let site = Site::simple(&format!("token_lifetime: 2s\n{ONE_JOB}"), Flavor::Enterprise).await;
    let client = site.client();
    client.list_jobs().await.unwrap();
    client.list_jobs().await.unwrap();
    assert_eq!(site.sim.stats().logins, 1);
    // Refresh is due 1 s after issue, give or take the 0.5 s resolution of the `Date` estimate.
    tokio::time::sleep(Duration::from_millis(1_400)).await;
    client.list_jobs().await.unwrap();
    assert_eq!(site.sim.stats().logins, 2, "refreshed at half of a 2 s lifetime");
}

#[tokio::test]
async fn admin_generate_token_with_string_expiry() {
    let auth = "{ username: admin, password: simulator }";
    let site = Site::start(ONE_JOB, Flavor::NotebookServer, Some(auth), "{ timeout: 5s }").await;
    let client = site.client();
    client.list_jobs().await.unwrap();
    client.list_jobs().await.unwrap();
    assert_eq!(site.sim.stats().logins, 1, "the string `expires` was understood");
}

#[tokio::test]
async fn a_token_bound_to_another_referer_is_rejected() {
    let site = Site::simple(ONE_JOB, Flavor::Enterprise).await;
    let form = [
        ("username", "admin"),
        ("password", "simulator"),
        ("client", "referer"),
        ("referer", "someone-else"),
        ("f", "json"),
    ];
    let url = format!("{}/sharing/rest/generateToken", site.sim.portal_url());
    let answer: serde_json::Value =
        reqwest::Client::new().post(url).form(&form).send().await.unwrap().json().await.unwrap();
    let foreign = answer["token"].as_str().unwrap().to_string();

    site.set_auth(&format!("{{ token: '{foreign}', referer: nbwarden }}"));
    let error = site.client().list_jobs().await.unwrap_err();
    assert!(matches!(error, Error::TokenRejected { code: 498, .. }), "{error:?}");
    assert!(error.to_string().contains("static auth.token"), "{error}");
    assert!(!error.to_string().contains(&foreign), "the token never shows in an error");
}

#[tokio::test]
async fn a_refused_password_is_not_retried_before_the_next_poll() {
    let auth = "{ portal_url: '{portal}', username: admin, password: wrong-password }";
    let site = Site::start(ONE_JOB, Flavor::Enterprise, Some(auth), "{ timeout: 5s }").await;
    let client = site.client();
    let first = client.list_jobs().await.unwrap_err();
    assert!(matches!(first, Error::LoginRefused { .. }), "{first:?}");
    assert!(first.to_string().contains("Invalid username or password"), "{first}");
    assert!(!first.to_string().contains("wrong-password"));
    for _ in 0..3 {
        let later = client.job("j1").await.unwrap_err();
        assert!(matches!(later, Error::LoginPaused { .. }), "{later:?}");
    }
    assert_eq!(site.sim.stats().failed_logins, 1, "no loop of sign-ins within a poll");
    assert!(client.list_jobs().await.is_err());
    assert_eq!(site.sim.stats().failed_logins, 2, "the next poll tries once more");
}
