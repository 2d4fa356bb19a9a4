//! The ArcGIS client over real HTTP: against the simulator (both flavors) and raw local servers.

mod faults;
mod notebooks;
mod tasks;
mod tls;
mod tokens;

use crate::util::{raw_http, Site};
use nbwarden::arcgis::{Error, JobSource, Phase, Scope, Status};
use nbwarden::config::Flavor;

const JOBS: &str = "jobs:
  - { id: jrun, username: joe, start: -2h, item_id: abc123, runtime_name: ArcGIS Notebook Python 3 Advanced, task_id: t1 }
  - { id: jdone, username: jane, start: -10m, runs: 1m, ends: failed }
  - { id: jqueue, username: joe, start: -5s, queued: 1h }
  - { id: jlater, start: 1h }
users:
  - { username: admin, password: simulator, email: admins@example.com }
  - { username: joe, password: x, email: joe@example.com, admin: false }
  - { username: quiet, password: y, admin: false }
";

#[tokio::test]
async fn lists_jobs_of_both_flavors() {
    for (flavor, running) in [(Flavor::Enterprise, Status::Executing), (Flavor::NotebookServer, Status::Processing)] {
        let site = Site::simple(JOBS, flavor).await;
        let mut jobs = site.client().list_jobs().await.unwrap();
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
        let summary: Vec<(&str, Phase)> = jobs.iter().map(|j| (j.id.as_str(), j.phase())).collect();
        assert_eq!(
            summary,
            [("jdone", Phase::Failed), ("jqueue", Phase::Submitted), ("jrun", Phase::Running)],
            "{flavor:?}"
        );
        let run = jobs.iter().find(|j| j.id == "jrun").unwrap();
        assert_eq!(run.status, running);
        assert_eq!(run.username.as_deref(), Some("joe"));
        let runtime = run.runtime(site.client().server_now()).unwrap().as_secs();
        assert!((7195..7300).contains(&runtime), "{runtime}");
        assert_eq!(site.sim.stats().lists, 1, "one list call per poll");
    }
}

#[tokio::test]
async fn enterprise_details_take_status_from_the_abbreviated_list() {
    let site = Site::start(JOBS, Flavor::Enterprise, None, "{ details: true, timeout: 5s }").await;
    let jobs = site.client().list_jobs().await.unwrap();
    let run = jobs.iter().find(|j| j.id == "jrun").unwrap();
    assert_eq!((run.status.clone(), run.phase()), (Status::Executing, Phase::Running));
    assert_eq!(run.item_id.as_deref(), Some("abc123"));
    assert_eq!(run.runtime_name.as_deref(), Some("ArcGIS Notebook Python 3 Advanced"));
    assert!(run.scheduled());
    let done = jobs.iter().find(|j| j.id == "jdone").unwrap();
    assert_eq!(done.phase(), Phase::Failed);
    assert!(done.ended_at.is_some(), "end time merged from the abbreviated list");
    let facts = site.client().poll(Default::default()).await.unwrap().site;
    let plain = Site::simple(JOBS, Flavor::Enterprise).await.client().poll(Default::default()).await.unwrap().site;
    assert!(
        facts.version.is_some() && facts.scope == Some(Scope::All),
        "the site's facts come with a detailed list too"
    );
    assert_eq!(facts, plain);
}

#[tokio::test]
async fn reads_one_job_and_cancels_it() {
    for flavor in [Flavor::Enterprise, Flavor::NotebookServer] {
        let site = Site::simple(JOBS, flavor).await;
        let client = site.client();
        let job = client.job("jrun").await.unwrap();
        assert_eq!((job.phase(), job.item_id.as_deref()), (Phase::Running, Some("abc123")));
        client.cancel("jrun").await.unwrap();
        let after = client.job("jrun").await.unwrap();
        assert_eq!(after.phase(), Phase::Cancelled, "{flavor:?}: {after:?}");
        assert_eq!(site.sim.stats().cancels["jrun"], 1);

        let refused = client.cancel("jdone").await.unwrap_err();
        assert!(matches!(refused, Error::Api { code: Some(500), .. }), "{refused}");
        assert!(refused.to_string().contains("Unable to cancel job"), "{refused}");
        let missing = client.job("nope").await.unwrap_err();
        assert!(matches!(missing, Error::Api { code: Some(404), .. }), "{missing}");
    }
}

#[tokio::test]
async fn hostile_job_ids_stay_inside_the_jobs_resource() {
    let site = Site::simple(JOBS, Flavor::Enterprise).await;
    let client = site.client();
    client.list_jobs().await.unwrap();
    let before = site.sim.stats();
    for id in ["../../sharing/rest/portals/self", "a/b", "..", "x\\y"] {
        let error = client.job(id).await.unwrap_err();
        assert!(matches!(error, Error::UnsafeId { .. }), "{id}: {error}");
        assert!(matches!(client.cancel(id).await.unwrap_err(), Error::UnsafeId { .. }), "{id}");
    }
    let after = site.sim.stats();
    assert!(after.cancels.is_empty() && after.logins == before.logins, "nothing was sent");
    // Other odd characters are percent-encoded into one segment and reach the job resource.
    let error = client.job("j?x#y z").await.unwrap_err();
    assert!(matches!(error, Error::Api { code: Some(404), .. }), "{error}");
}

#[tokio::test]
async fn looks_up_users_on_the_portal() {
    let site = Site::simple(JOBS, Flavor::Enterprise).await;
    let client = site.client();
    assert_eq!(client.user_email("joe").await.unwrap().as_deref(), Some("joe@example.com"));
    assert_eq!(client.user_email("quiet").await.unwrap(), None, "a user without an address");
    let unknown = client.user_email("ghost").await.unwrap_err();
    assert!(unknown.to_string().contains("ghost"), "{unknown}");

    let admin_only = format!("{{ username: admin, password: {} }}", crate::util::ADMIN_PASSWORD);
    let nb = Site::start(JOBS, Flavor::NotebookServer, Some(&admin_only), "{ timeout: 5s }").await;
    assert!(matches!(nb.client().user_email("joe").await, Err(Error::NoPortal { .. })));
}

#[tokio::test]
async fn an_html_error_page_from_a_proxy_is_named_as_such() {
    let addr = raw_http::serve(Some(raw_http::BAD_GATEWAY)).await;
    let auth = "{ token: static-token }";
    let site = Site::start("{}", Flavor::Enterprise, Some(auth), "{ timeout: 5s }").await;
    site.point_at(&format!("http://{addr}/portal/admin"));
    let error = site.client().list_jobs().await.unwrap_err();
    assert!(matches!(error, Error::Html { status: 502, .. }), "{error:?}");
    assert!(error.to_string().contains("\"502 Bad Gateway\""), "{error}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let addr = raw_http::serve(None).await;
    let site = Site::start("{}", Flavor::NotebookServer, Some("{ token: t }"), "{ timeout: 1s }").await;
    site.point_at(&format!("http://{addr}/arcgis/admin"));
    let started = std::time::Instant::now();
    let error = site.client().list_jobs().await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(error.to_string().contains("did not answer within 1s"), "{error}");
}

#[tokio::test]
async fn https_to_a_plain_server_is_a_tls_error() {
    let addr = raw_http::serve(Some(raw_http::BAD_GATEWAY)).await;
    let site = Site::start("{}", Flavor::Enterprise, Some("{ token: t }"), "{ timeout: 5s }").await;
    site.point_at(&format!("https://{addr}/portal/admin"));
    let error = site.client().list_jobs().await.unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("tls.ca_file"), "{error}");
}

#[tokio::test]
async fn the_server_clock_offset_is_applied() {
    let site = Site::simple(&format!("clock_offset: -10m\n{JOBS}"), Flavor::Enterprise).await;
    let client = site.client();
    let jobs = client.list_jobs().await.unwrap();
    let offset = client.clock_offset_ms();
    assert!((offset + 600_000).abs() < 1_500, "offset {offset}");
    let run = jobs.iter().find(|j| j.id == "jrun").unwrap();
    let runtime = run.runtime(client.server_now()).unwrap().as_secs();
    assert!((7195..7210).contains(&runtime), "runtime from the server's clock: {runtime}");
}

#[tokio::test]
async fn errors_with_real_http_statuses_take_the_same_paths() {
    let scenario = format!("http_errors: true\n{JOBS}");
    for flavor in [Flavor::Enterprise, Flavor::NotebookServer] {
        let site = Site::simple(&scenario, flavor).await;
        let client = site.client();
        client.list_jobs().await.unwrap();
        let missing = client.job("nope").await.unwrap_err();
        assert!(matches!(missing, Error::Api { code: Some(404), .. }), "{flavor:?}: HTTP 404 + envelope: {missing}");
        site.sim.revoke_tokens();
        assert_eq!(client.list_jobs().await.unwrap().len(), 3, "{flavor:?}: HTTP 498 signs in again");
        assert_eq!(site.sim.stats().logins, 2);
        let refused = client.cancel("jdone").await.unwrap_err();
        assert!(matches!(refused, Error::Api { code: Some(500), .. }) && refused.is_transient(), "{refused}");
    }
    let site =
        Site::start(&scenario, Flavor::NotebookServer, Some("{ username: joe, password: x }"), "{ timeout: 5s }").await;
    let forbidden = site.client().list_jobs().await.unwrap_err();
    assert!(matches!(forbidden, Error::Forbidden { .. }), "HTTP 403: {forbidden}");
}

/// A site's version as it reports it: `currentVersion`, `fullVersion`, or Notebook Server 12.1's
/// `version` (arcgis 2.4.4, `arcgis/gis/nb/_site.py`), which the cancel gate and `check` read.
#[tokio::test]
async fn the_version_is_read_whichever_name_the_site_gives_it() {
    let cases = [
        (Flavor::NotebookServer, "version: '12.1.0'\n", "12.1.0"),
        (Flavor::NotebookServer, "version: '11.3'\n", "11.3"),
        (Flavor::Enterprise, "version: '11.4'\nversion_field: full_version\n", "11.4"),
        (Flavor::Enterprise, "version: '12.0'\nversion_field: version\n", "12.0"),
        (Flavor::Enterprise, "version: '11.5'\n", "11.5"),
    ];
    for (flavor, scenario, version) in cases {
        let site = Site::simple(&format!("{scenario}jobs: []\n"), flavor).await;
        let listing = site.client().poll(Default::default()).await.unwrap();
        assert_eq!(listing.site.version.as_deref(), Some(version), "{scenario}");
    }
}

/// The cancel operation of ArcGIS Enterprise was introduced in 11.5 (Esri, "Cancel Job":
/// "Version Introduced: 11.5"; arcgis-api.md §10). These versions and answers are that document's,
/// not nbwarden's own comparison: 11.4 (and 10.9.1, 11) have no cancel, 11.5, 11.5.1, 12, 12.0
/// and 12.1 do. Notebook Server's cancel is older than the versions nbwarden supports.
#[tokio::test]
async fn the_cancel_gate_follows_the_versions_esri_documents() {
    let cases = [
        (Flavor::Enterprise, "10.9.1", false),
        (Flavor::Enterprise, "11.4", false),
        (Flavor::Enterprise, "11.4.9", false),
        (Flavor::Enterprise, "11", false),
        (Flavor::Enterprise, "12", true),
        (Flavor::Enterprise, "11.5", true),
        (Flavor::Enterprise, "11.5.1", true),
        (Flavor::Enterprise, "12.0", true),
        (Flavor::Enterprise, "12.1", true),
        (Flavor::NotebookServer, "11.4", true),
    ];
    for (flavor, version, cancels) in cases {
        let site = Site::simple(&format!("version: '{version}'\n{JOBS}"), flavor).await;
        let result = site.client().cancel("jrun").await;
        let sent = site.sim.stats().cancels.get("jrun").copied().unwrap_or(0);
        match cancels {
            true => assert!(result.is_ok() && sent == 1, "{flavor:?} {version} cancels: {result:?}"),
            false => {
                let error = result.unwrap_err();
                assert!(matches!(error, Error::Unsupported { .. }), "{version}: {error:?}");
                assert!(error.to_string().contains("ArcGIS Enterprise 11.5"), "{error}");
                assert_eq!(sent, 0, "{version}: refused before any call reaches the site");
            }
        }
    }
}

/// Which accounts see every job (Esri, "Notebook jobs": "non-administrative notebook users can
/// only see notebook jobs they own"; `portals/self` gives `role` `org_admin` for administrators
/// and, for custom roles, `org_user` or `org_publisher` with `privileges`, where `portal:admin:…`
/// ones are administrative — arcgis-api.md §10). Read through the client after its sign-in, the
/// expected scopes written here from those documents. An admin `generateToken` (Notebook Server
/// without a Portal) is the primary site administrator's, who sees everything.
#[tokio::test]
async fn the_accounts_scope_follows_its_role_and_its_privileges() {
    let users = "users:
  - { username: admin, password: simulator }
  - { username: ops, password: o, admin: false, role: org_user, privileges: ['portal:user:createItem', 'portal:admin:viewUsers'] }
  - { username: editor, password: e, admin: false, role: org_publisher, privileges: ['portal:publisher:publishFeatures', 'premium:user:notebooks'] }
  - { username: joe, password: j, admin: false }
jobs: []
";
    let cases = [
        ("admin", "simulator", Scope::All),
        ("ops", "o", Scope::All),
        ("editor", "e", Scope::Own),
        ("joe", "j", Scope::Own),
    ];
    for (user, password, scope) in cases {
        let auth = format!("{{ portal_url: '{{portal}}', username: {user}, password: {password} }}");
        let site = Site::simple(users, Flavor::Enterprise).await;
        site.set_auth(&auth);
        let site_info = site.client().poll(Default::default()).await.unwrap().site;
        assert_eq!(site_info.scope, Some(scope), "{user}");
    }
    let admin = "{ username: admin, password: simulator }";
    let server = Site::start("jobs: []\n", Flavor::NotebookServer, Some(admin), "{ timeout: 5s }").await;
    let site_info = server.client().poll(Default::default()).await.unwrap().site;
    assert_eq!(site_info.scope, Some(Scope::All), "an admin token of Notebook Server");
    assert_eq!(server.sim.stats().logins, 1, "no portals/self to read there");
}
