//! Tokens: refresh ahead of expiry, one re-sign-in after 498, referer binding, refused passwords.

use crate::util::Site;
use nbwarden::arcgis::signin::SignIns;
use nbwarden::arcgis::{Error, JobSource};
use nbwarden::clock::ManualClock;
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
    let site = Site::simple(&format!("token_lifetime: 6s\n{ONE_JOB}"), Flavor::Enterprise).await;
    let client = site.client();
    client.list_jobs().await.unwrap();
    client.list_jobs().await.unwrap();
    assert_eq!(site.sim.stats().logins, 1);
    // Refresh is due 3 s after issue, give or take the 0.5 s resolution of the `Date` estimate:
    // at 4.5 s it is due, and the token (valid until 6 s) still works.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    client.list_jobs().await.unwrap();
    assert_eq!(site.sim.stats().logins, 2, "refreshed at half of a 6 s lifetime");
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

const MINUTE: i64 = 60_000;

fn manual() -> (ManualClock, std::sync::Arc<SignIns>) {
    let clock = ManualClock::at(1_800_000_000_000);
    let sign_ins = SignIns::new(std::sync::Arc::new(clock.clone()));
    (clock, sign_ins)
}

/// Tries a call every 10 s of the manual clock (the site's moves along) for `minutes`; returns
/// the site's refused sign-ins.
async fn keep_polling(site: &Site, client: &nbwarden::arcgis::Client, clock: &ManualClock, minutes: i64) -> u32 {
    for _ in 0..minutes * 6 {
        clock.advance(10_000);
        site.sim.advance_clock(10_000);
        let _ = client.list_jobs().await;
    }
    site.sim.stats().failed_logins
}

#[tokio::test]
async fn a_refused_password_waits_a_minute_then_longer_and_never_locks_the_account() {
    let auth = "{ portal_url: '{portal}', username: admin, password: wrong-password }";
    let site = Site::start(ONE_JOB, Flavor::Enterprise, Some(auth), "{ timeout: 5s }").await;
    let (clock, sign_ins) = manual();
    let client = site.client_with(&sign_ins);
    let first = client.list_jobs().await.unwrap_err();
    assert!(matches!(first, Error::LoginRefused { .. }), "{first:?}");
    assert!(first.to_string().contains("Invalid username or password"), "{first}");
    assert!(!first.to_string().contains("wrong-password"));
    assert_eq!(first.sign_in_wait(), Some(sign_ins.now() + MINUTE), "the next try waits a minute");
    for _ in 0..3 {
        let later = client.job("j1").await.unwrap_err();
        assert!(matches!(later, Error::SignInPaused { .. }), "{later:?}");
        assert!(later.to_string().contains("to protect the account from lockout"), "{later}");
    }
    assert_eq!(keep_polling(&site, &client, &clock, 0).await, 1, "no second try within the poll");
    assert_eq!(keep_polling(&site, &client, &clock, 1).await, 2, "one more try after a minute");
    assert_eq!(keep_polling(&site, &client, &clock, 2).await, 3, "then after two minutes more");
    assert_eq!(keep_polling(&site, &client, &clock, 60).await, 6, "3 in any 15 minutes at most, 1 h apart at most");
    assert_eq!(site.sim.stats().lockouts, 0, "the simulator never locked the account");
    crate::util::assert_never_locked(&site.sim.stats().refused_at);
    assert_eq!(site.sim.stats().lists, 0);
}

#[tokio::test]
async fn a_locked_account_is_tried_once_then_left_alone_for_fifteen_minutes() {
    let scenario = format!("users: [{{ username: admin, password: simulator, locked: true }}]\n{ONE_JOB}");
    let site = Site::simple(&scenario, Flavor::Enterprise).await;
    let (clock, sign_ins) = manual();
    let client = site.client_with(&sign_ins);
    let first = client.list_jobs().await.unwrap_err();
    assert!(first.to_string().contains("Too many invalid attempts"), "{first}");
    assert_eq!(keep_polling(&site, &client, &clock, 14).await, 1, "left alone while locked");
    let paused = client.list_jobs().await.unwrap_err();
    assert!(paused.to_string().contains("the account is locked"), "{paused}");
    keep_polling(&site, &client, &clock, 1).await;
    let stats = site.sim.stats();
    assert_eq!((stats.failed_logins, stats.logins), (1, 1), "tried again after 15 minutes, and the lock is over");
}

#[tokio::test]
async fn targets_sharing_an_account_share_its_pauses() {
    let auth = "{ portal_url: '{portal}', username: admin, password: wrong-password }";
    let site = Site::start(ONE_JOB, Flavor::Enterprise, Some(auth), "{ timeout: 5s }").await;
    let (_clock, sign_ins) = manual();
    let (one, two) = (site.client_with(&sign_ins), site.client_with(&sign_ins));
    assert!(matches!(one.list_jobs().await.unwrap_err(), Error::LoginRefused { .. }));
    assert!(matches!(two.list_jobs().await.unwrap_err(), Error::SignInPaused { .. }));
    assert_eq!(site.sim.stats().failed_logins, 1);
}

#[tokio::test]
async fn a_rotated_password_file_is_tried_at_once() {
    let auth = "{ portal_url: '{portal}', username: admin, password_file: pw.txt }";
    let site = Site::start(ONE_JOB, Flavor::Enterprise, Some(auth), "{ timeout: 5s }").await;
    std::fs::write(site.dir.path().join("pw.txt"), "stale-password\n").unwrap();
    let (_clock, sign_ins) = manual();
    let client = site.client_with(&sign_ins);
    assert!(matches!(client.list_jobs().await.unwrap_err(), Error::LoginRefused { .. }));
    assert!(matches!(client.list_jobs().await.unwrap_err(), Error::SignInPaused { .. }), "same file: wait");
    std::fs::write(site.dir.path().join("pw.txt"), "simulator\n").unwrap();
    assert_eq!(client.list_jobs().await.unwrap().len(), 1, "the new password is used at once");
    assert_eq!((site.sim.stats().failed_logins, site.sim.stats().logins), (1, 1));
}
