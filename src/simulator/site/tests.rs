//! The simulated site's timelines, cancels and token rules, at chosen instants.

use super::*;

const T0: i64 = 1_800_000_000_000;

fn scenario(yaml: &str) -> Scenario {
    serde_saphyr::from_str(yaml).unwrap()
}

fn site(yaml: &str, flavor: Flavor) -> Site {
    Site::new(&scenario(yaml), flavor, T0)
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
    s.cancel("a", now).unwrap();
    s.cancel("b", now).unwrap();
    let states = s.states(now + 1);
    assert_eq!((states[0].status, states[0].cancelled), ("FAILED", true), "Notebook Server: FAILED + isCancelled");
    assert_eq!(states[1].status, "PROCESSING");
    assert_eq!(s.cancel("a", now + 2).unwrap_err().0, 500, "a finished job cannot be cancelled");
    assert_eq!(s.cancel("nope", now).unwrap_err().0, 404);
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
    let list = k8s.list(false, 100, T0);
    assert_eq!(list["asyncNotebookJobs"][1]["status"], "COMPLETED");
    let detailed = k8s.list(true, 100, T0);
    assert!(detailed["notebookJobs"][0].get("status").is_none(), "documented detailed items carry no status");
    let mut classic = site(yaml, Flavor::NotebookServer);
    let list = classic.list(false, 1, T0);
    assert_eq!((list["asyncJobs"].as_array().unwrap().len(), list["total"].as_i64()), (1, Some(2)));
    assert_eq!(list["asyncJobs"][0]["jobId"], "b", "newest first");
}
