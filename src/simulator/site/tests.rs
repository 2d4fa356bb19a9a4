//! The simulated site's timelines, cancels and token rules, at chosen instants.

use super::*;

const T0: i64 = 1_800_000_000_000;

fn scenario(yaml: &str) -> Scenario {
    crate::config::yaml::from_str(yaml).unwrap()
}

fn site(yaml: &str, flavor: Flavor) -> Site {
    Site::new(&scenario(yaml), flavor, T0)
}

fn admin(site: &Site) -> User {
    site.users.iter().find(|u| u.username == "admin").cloned().unwrap()
}

fn user(site: &Site, name: &str) -> User {
    site.users.iter().find(|u| u.username == name).cloned().unwrap()
}

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn a_job_walks_its_timeline() {
    let s = site(
        "jobs: [{ id: a, start: 10s, queued: 5s, runs: 20s, ends: failed, vanish_after: 3s }]",
        Flavor::Enterprise,
    );
    let at = |secs: i64| s.states(T0 + secs * 1000).first().map(|j| (j.status, j.listed));
    assert_eq!(at(9), None);
    assert_eq!(at(10), Some(("SUBMITTED", true)));
    assert_eq!(at(15), Some(("EXECUTING", true)));
    assert_eq!(at(35), Some(("FAILED", true)));
    assert_eq!(at(38), Some(("FAILED", false)), "vanishes from the list");
}

#[test]
fn cancel_stops_obedient_jobs_only() {
    let mut s =
        site("jobs: [{ id: a, start: -1h }, { id: b, start: -1h, obeys_cancel: false }]", Flavor::NotebookServer);
    let now = T0 + 1000;
    let admin = admin(&s);
    s.cancel("a", now, &admin).unwrap();
    s.cancel("b", now, &admin).unwrap();
    let states = s.states(now + 1);
    assert_eq!((states[0].status, states[0].cancelled), ("FAILED", true), "Notebook Server: FAILED + isCancelled");
    assert_eq!(states[1].status, "PROCESSING");
    assert_eq!(s.cancel("a", now + 2, &admin).unwrap_err().0, 500, "a finished job cannot be cancelled");
    assert_eq!(s.cancel("nope", now, &admin).unwrap_err().0, 404);
    assert_eq!(s.stats.cancels["b"], 1);
}

#[test]
fn tokens_are_bound_to_referer_and_expire() {
    let mut s = site("token_lifetime: 10m", Flavor::Enterprise);
    let login = params(&[
        ("username", "admin"),
        ("password", "simulator"),
        ("client", "referer"),
        ("referer", "nbw"),
        ("expiration", "60"),
    ]);
    let (token, expires) = s.generate_token(&login, T0).unwrap();
    assert_eq!(expires, T0 + 600_000, "capped at the scenario's lifetime");
    assert!(s.authorize(Some(&token), Some("nbw"), T0, true).is_ok());
    assert_eq!(s.authorize(Some(&token), Some("other"), T0, true).unwrap_err().0, 498);
    assert_eq!(s.authorize(Some(&token), Some("nbw"), expires, true).unwrap_err().0, 498);
    assert_eq!(s.authorize(None, Some("nbw"), T0, true).unwrap_err().0, 499);
    s.revoke_tokens();
    assert_eq!(s.authorize(Some(&token), Some("nbw"), T0, true).unwrap_err().0, 498);
    let wrong = params(&[("username", "admin"), ("password", "nope")]);
    assert_eq!(s.generate_token(&wrong, T0).unwrap_err().0, 400);
    assert_eq!((s.stats.logins, s.stats.failed_logins), (1, 1));
}

#[test]
fn lists_take_the_flavor_shape() {
    let yaml = "jobs: [{ id: a, start: -2m, username: joe }, { id: b, start: -1m, runs: 10s }]";
    let mut k8s = site(yaml, Flavor::Enterprise);
    let admin = admin(&k8s);
    let query = |details, num, newest_first| ListQuery { details, num, newest_first };
    let list = k8s.list(&query(false, 100, false), T0, &admin);
    assert_eq!(list["asyncNotebookJobs"][1]["status"], "COMPLETED");
    let detailed = k8s.list(&query(true, 100, false), T0, &admin);
    assert!(detailed["notebookJobs"][0].get("status").is_none(), "documented detailed items carry no status");
    let mut classic = site(yaml, Flavor::NotebookServer);
    let list = classic.list(&query(true, 1, true), T0, &admin);
    assert_eq!((list["asyncJobs"].as_array().unwrap().len(), list["total"].as_i64()), (1, Some(2)));
    assert_eq!(list["asyncJobs"][0]["jobId"], "b", "newest first");
    assert_eq!(
        classic.list(&query(true, 1, false), T0, &admin)["asyncJobs"][0]["jobId"],
        "a",
        "oldest first without sortByDate"
    );
    let abbreviated = classic.list(&query(false, 5, true), T0, &admin);
    assert!(abbreviated["asyncJobs"][0].get("status").is_none(), "without detail=true there is no status");
}

#[test]
fn five_refusals_in_fifteen_minutes_lock_the_account() {
    let mut s = site("", Flavor::Enterprise);
    let wrong = params(&[("username", "admin"), ("password", "nope")]);
    let right = params(&[("username", "admin"), ("password", "simulator")]);
    for minute in 0..4 {
        assert_eq!(
            s.generate_token(&wrong, T0 + minute * 60_000).unwrap_err().1,
            "Unable to generate token. Invalid username or password."
        );
    }
    assert!(s.generate_token(&right, T0 + 5 * 60_000).is_ok(), "four refusals do not lock");
    for minute in 0..4 {
        s.generate_token(&wrong, T0 + (6 + minute) * 60_000).unwrap_err();
    }
    for minute in 30..34 {
        s.generate_token(&wrong, T0 + minute * 60_000).unwrap_err();
    }
    assert_eq!(s.stats.lockouts, 0, "a success resets the count; refusals older than 15 minutes drop out");
    s.generate_token(&wrong, T0 + 34 * 60_000).unwrap_err();
    assert_eq!(s.stats.lockouts, 1, "the fifth refusal within 15 minutes locks");
    let locked = s.generate_token(&right, T0 + 35 * 60_000).unwrap_err();
    // Esri's words for a locked account (arcgis-api.md §3.1, §10).
    let esri_locked = "Too many invalid attempts. Please try again later.";
    assert_eq!(locked.1, esri_locked, "even the right password is refused while locked");
    let again = s.generate_token(&right, T0 + 49 * 60_000).unwrap_err();
    assert_eq!(again.1, esri_locked, "trying while locked keeps it locked");
    assert!(s.generate_token(&right, T0 + 65 * 60_000).is_ok(), "15 minutes after the last attempt it opens");
}

#[test]
fn a_non_administrator_sees_only_their_own_jobs() {
    let yaml = "users: [{ username: admin, password: simulator }, { username: joe, password: j, admin: false }, \
        { username: ops, password: o, admin: false, role: org_user, privileges: ['portal:admin:viewUsers'] }]
jobs: [{ id: a, start: -2m, username: joe }, { id: b, start: -1m, username: jane }]";
    let mut s = site(yaml, Flavor::Enterprise);
    let joe = user(&s, "joe");
    let ids = |list: Value| {
        list["asyncNotebookJobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobId"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let all = ListQuery { details: false, num: 100, newest_first: false };
    assert_eq!(ids(s.list(&all, T0, &joe)), ["a"], "HTTP 200, own jobs only");
    assert_eq!(s.job("b", T0, &joe).unwrap_err().0, 403);
    let ops = user(&s, "ops");
    assert!(ops.is_admin(), "any portal:admin: privilege counts");
    assert_eq!(ids(s.list(&all, T0, &ops)), ["a", "b"]);
    assert_eq!(s.portal_self(&joe)["user"]["role"], "org_user");
    assert_eq!(s.portal_self(&admin(&s))["user"]["role"], "org_admin");
}

/// Esri, "Cancel Job": "Version Introduced: 11.5" (arcgis-api.md §10); below, the resource does
/// not exist. Notebook Server's cancel is older.
#[test]
fn enterprise_below_11_5_has_no_cancel() {
    for (flavor, version, exists) in [
        (Flavor::Enterprise, "10.9.1", false),
        (Flavor::Enterprise, "11.4", false),
        (Flavor::Enterprise, "11", false),
        (Flavor::Enterprise, "11.5", true),
        (Flavor::Enterprise, "11.5.1", true),
        (Flavor::Enterprise, "12.0", true),
        (Flavor::Enterprise, "12", true),
        (Flavor::NotebookServer, "11.4", true),
    ] {
        let mut s = site(&format!("version: '{version}'\njobs: [{{ id: a, start: -1h }}]"), flavor);
        let admin = admin(&s);
        let answer = s.cancel("a", T0, &admin);
        assert_eq!(answer.is_ok(), exists, "{flavor:?} {version}: {answer:?}");
        if !exists {
            assert_eq!(answer.unwrap_err(), (404, "No resource".to_string()));
        }
        assert_eq!(s.stats.cancels["a"], 1, "the call is counted all the same");
    }
}

#[test]
fn failed_jobs_carry_messages_and_the_item() {
    let mut s = site("jobs: [{ id: f, start: -10m, runs: 1m, ends: failed, item_id: abc }]", Flavor::Enterprise);
    let admin = admin(&s);
    let job = s.job("f", T0, &admin).unwrap();
    assert_eq!(job["inputs"]["itemId"], "abc");
    assert!(job["messages"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().contains("KeyError")));
    assert_eq!(s.limits()["maxExecuteNotebookTimeMinutes"], 120);
}

#[test]
fn the_admin_root_names_its_version_as_each_server_does() {
    let root = |yaml: &str, flavor| site(yaml, flavor).admin_root();
    let nb121 = root("version: '12.1.0'\n", Flavor::NotebookServer);
    assert_eq!(nb121["version"], "12.1.0", "Notebook Server 12.1: {nb121}");
    assert!(nb121.get("currentVersion").is_none() && nb121["siteId"].is_string());
    assert_eq!(root("jobs: []\n", Flavor::NotebookServer)["currentVersion"], "11.3");
    assert_eq!(root("jobs: []\n", Flavor::Enterprise)["currentVersion"], "12.1");
    assert_eq!(root("version_field: full_version\n", Flavor::Enterprise)["fullVersion"], "12.1");
}
