//! Owner look-up against the simulator: the map first, then Portal (cached), then the fallback;
//! and jobs listed without a username are read first.

use super::{outcomes, smtp_config, FAILED};
use crate::util::smtp::SmtpServer;
use crate::util::Site;
use nbwarden::actions::{Owner, Owners};
use nbwarden::clock::LocalMs;
use nbwarden::config::{ConfigDuration, Flavor, OwnerLookup, OwnersConfig};
use std::time::Duration;

const USERS: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: joe, email: joe@example.com, admin: false }
  - { username: svc_etl, password: etl, admin: false }
";

fn owners(map: &[(&str, &str)], fallback: Option<&str>) -> Owners {
    Owners::new(OwnersConfig {
        lookup: OwnerLookup::Portal,
        cache_for: ConfigDuration(Duration::from_secs(3600)),
        fallback: fallback.map(str::to_string),
        map: map.iter().map(|(u, a)| (u.to_string(), a.to_string())).collect(),
        contact: None,
    })
}

#[tokio::test]
async fn the_map_wins_and_needs_no_lookup() {
    let site = Site::simple(USERS, Flavor::Enterprise).await;
    let owners = owners(&[("joe", "etl-team@example.com")], None);
    let owner = owners.resolve("sim", &site.client(), Some("joe"), LocalMs(0)).await;
    assert_eq!(owner, Owner::Address("etl-team@example.com".into()));
    assert_eq!(site.sim.stats().user_lookups, 0);
}

#[tokio::test]
async fn portal_addresses_are_cached_for_cache_for() {
    let site = Site::simple(USERS, Flavor::NotebookServer).await;
    let (owners, client) = (owners(&[], None), site.client());
    assert_eq!(
        owners.resolve("sim", &client, Some("joe"), LocalMs(1_000)).await,
        Owner::Address("joe@example.com".into())
    );
    assert_eq!(
        owners.resolve("sim", &client, Some("joe"), LocalMs(2_000)).await,
        Owner::Address("joe@example.com".into())
    );
    assert_eq!(site.sim.stats().user_lookups, 1, "the second answer came from the cache");
    owners.resolve("sim", &client, Some("joe"), LocalMs(1_000 + 3_600_000)).await;
    assert_eq!(site.sim.stats().user_lookups, 2, "an expired entry is looked up again");
}

#[tokio::test]
async fn owners_without_an_address_get_the_fallback_or_are_reported() {
    let site = Site::simple(USERS, Flavor::Enterprise).await;
    let client = site.client();
    let with = owners(&[], Some("gis-admins@example.com"));
    match with.resolve("sim", &client, Some("svc_etl"), LocalMs(0)).await {
        Owner::Fallback(address, why) => {
            assert_eq!(address, "gis-admins@example.com");
            assert!(why.contains("no e-mail address"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    match with.resolve("sim", &client, Some("ghost"), LocalMs(0)).await {
        Owner::Fallback(_, why) => assert!(why.contains("looking up ghost failed"), "{why}"),
        other => panic!("{other:?}"),
    }
    let without = owners(&[], None);
    assert!(matches!(without.resolve("sim", &client, Some("svc_etl"), LocalMs(0)).await, Owner::Unreachable(_)));
}

/// One `once` of a rule mailing failed jobs to their owners; the action lines and the server.
async fn mail_owners(scenario: &str) -> (Vec<(String, String, String)>, SmtpServer) {
    let smtp = SmtpServer::start(None, None);
    let rule = "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [owner] }] }\n";
    let site = Site::ruled(scenario, rule).await;
    site.top(&smtp_config(smtp.port));
    (outcomes(&site.run(&["once", "--json"]).await), smtp)
}

#[tokio::test]
async fn an_unreachable_owner_is_reported_by_the_action() {
    let scenario = format!("{USERS}jobs:\n  - {{ id: jetl, username: svc_etl, start: -1h, runs: 1m, ends: failed }}\n");
    let (reports, _) = mail_owners(&scenario).await;
    assert_eq!(reports[0].1, "failed");
    assert!(reports[0].2.contains("jetl: svc_etl has no e-mail address in Portal"), "{reports:?}");
}

#[tokio::test]
async fn jobs_listed_without_a_username_are_read_for_their_owner() {
    let (reports, smtp) = mail_owners(&format!("list_without_username: true\n{FAILED}")).await;
    assert_eq!(reports[0].2, "to joe@example.com, jane@example.com", "{reports:?}");
    assert_eq!(smtp.wait_for(2).await.len(), 2);
}
