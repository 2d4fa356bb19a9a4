//! Every fixture of `tests/fixtures/arcgis/` (copied from shared/fixtures) parsed into its typed value.

use super::*;
use crate::arcgis::model::Phase;
use crate::clock::ServerMs;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arcgis")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn jobs(name: &str) -> Vec<Job> {
    let list: JobList = serde_json::from_slice(&fixture(name)).unwrap();
    assert!(list.is_payload(), "{name}");
    list.into_jobs()
}

#[test]
fn enterprise_abbreviated_list() {
    let jobs = jobs("k8s_jobs_list_abbrev.json");
    let summary: Vec<(&str, Phase, Option<&str>)> =
        jobs.iter().map(|j| (j.job_type.as_deref().unwrap(), j.phase(), j.username.as_deref())).collect();
    assert_eq!(
        summary,
        vec![
            ("executeNotebook", Phase::Completed, Some("jane")),
            ("executeNotebook", Phase::Failed, Some("joe")),
            ("executeNotebook", Phase::Running, Some("joe")),
            ("executeNotebook", Phase::Submitted, Some("jane")),
            ("openNotebook", Phase::Completed, Some("jane")),
            ("executeNotebookAsWebTool", Phase::Running, None),
        ]
    );
    assert_eq!(jobs[2].id, "jsmxxqor3lqg0qv7gt1co3fmutfhgb0kr");
    assert_eq!((jobs[2].started_at, jobs[2].ended_at), (Some(ServerMs(1747664863350)), None));
    assert_eq!(jobs[0].ended_at, Some(ServerMs(1747664335113)));
    assert!(jobs.iter().all(|j| j.item_id.is_none()), "the abbreviated list has no item_id");
}

#[test]
fn enterprise_detailed_list() {
    let jobs = jobs("k8s_jobs_list_detailed.json");
    assert_eq!(jobs.len(), 2);
    let (first, second) = (&jobs[0], &jobs[1]);
    assert_eq!(first.status, Status::Executing);
    assert_eq!(first.started_at, Some(ServerMs(1747664863350)), "dateCreated stands in for startTime");
    assert_eq!(first.item_id.as_deref(), Some("d9c20adc5f95476590be87f1e6eb1dba"));
    assert_eq!(first.runtime_name.as_deref(), Some("ArcGIS Notebook Python 3 Standard"));
    assert_eq!(first.timeout_minutes, Some(10_000_000));
    assert!(!first.scheduled());
    assert_eq!(second.status, Status::Unknown(String::new()), "the documented detailed item has no status");
    assert_eq!(second.task_id.as_deref(), Some("t456"));
    assert!(second.scheduled());
    assert_eq!(second.timeout_minutes, Some(60));
}

#[test]
fn enterprise_single_job() {
    let wire: WireJob = serde_json::from_slice(&fixture("k8s_job.json")).unwrap();
    assert!(wire.is_payload() && wire.has_status());
    let job = wire.into_job().unwrap();
    assert_eq!(job.id, "j69a35465-0cf4-4e4f-a815-7e90fb5d5a2f");
    assert_eq!((job.status, job.username.as_deref()), (Status::Executing, Some("Joe")));
    assert_eq!(job.started_at, Some(ServerMs(1731012905732)));
}

#[test]
fn notebook_server_detailed_list() {
    let jobs = jobs("classic_jobs_list_detail.json");
    assert_eq!(jobs.len(), 2);
    assert_eq!((jobs[0].status.clone(), jobs[0].phase()), (Status::Processing, Phase::Running));
    assert_eq!(jobs[0].item_id.as_deref(), Some("525d80c96d5a4915bb5cfff79c851fb1"));
    assert_eq!(jobs[1].phase(), Phase::Completed);
    assert_eq!(jobs[1].job_type.as_deref(), Some("openNotebook"));
}

#[test]
fn tokens_with_numeric_and_string_expiry() {
    let portal: TokenResponse = serde_json::from_slice(&fixture("generate_token_portal.json")).unwrap();
    assert!(portal.is_payload());
    assert_eq!(portal.expires, Some(1453833598866));
    let admin: TokenResponse = serde_json::from_slice(&fixture("generate_token_admin.json")).unwrap();
    assert_eq!(admin.expires, Some(13472658353687), "admin generateToken sends expires as a string");
    assert!(!format!("{admin:?}").contains("sakjfh"), "token must not show in Debug");
}

#[test]
fn operation_answers() {
    for name in ["cancel_success.json", "classic_execute_notebook.json"] {
        let ok: OperationResponse = serde_json::from_slice(&fixture(name)).unwrap();
        assert!(ok.is_payload(), "{name}");
    }
    let failed: OperationResponse = serde_json::from_slice(&fixture("cancel_failure.json")).unwrap();
    assert!(!failed.is_payload());
    let error = Envelope::parse(&fixture("cancel_failure.json")).unwrap();
    assert_eq!(error.code, Some(500));
    assert!(error.message.contains("Unable to cancel job"));
}

#[test]
fn both_error_envelopes() {
    let table = [
        ("error_invalid_token_portal.json", 498, true),
        ("error_token_required_portal.json", 499, true),
        ("error_token_required_admin.json", 499, true),
        ("error_invalid_token_admin.json", 498, true),
        ("error_forbidden_portal.json", 403, false),
        ("error_generate_token_bad_login.json", 400, false),
    ];
    for (name, code, auth) in table {
        let error = Envelope::parse(&fixture(name)).unwrap_or_else(|| panic!("{name} is an envelope"));
        assert_eq!((error.code, error.is_auth()), (Some(code), auth), "{name}");
        assert!(!error.message.is_empty(), "{name}");
    }
    let bad_login = Envelope::parse(&fixture("error_generate_token_bad_login.json")).unwrap();
    assert_eq!(bad_login.message, "Unable to generate token. Invalid username or password.");
}

#[test]
fn portal_documents() {
    let user: UserResponse = serde_json::from_slice(&fixture("community_user.json")).unwrap();
    assert!(user.is_payload());
    assert_eq!(user.email.as_deref(), Some("joe@example.com"));
    for name in ["portals_self.json", "oauth_client_credentials.json", "k8s_jobs_list_abbrev.json"] {
        assert_eq!(Envelope::parse(&fixture(name)), None, "{name} is no error");
    }
}

#[test]
fn every_fixture_is_covered_and_matches_shared() {
    let covered = [
        "cancel_failure.json",
        "cancel_success.json",
        "classic_admin_root_12_1.json",
        "classic_execute_notebook.json",
        "classic_jobs_list_detail.json",
        "community_user.json",
        "error_forbidden_portal.json",
        "error_generate_token_bad_login.json",
        "error_invalid_token_admin.json",
        "error_invalid_token_portal.json",
        "error_token_required_admin.json",
        "error_token_required_portal.json",
        "generate_token_admin.json",
        "generate_token_portal.json",
        "k8s_job.json",
        "k8s_jobs_list_abbrev.json",
        "k8s_jobs_list_detailed.json",
        "oauth_client_credentials.json",
        "portals_self.json",
    ];
    let mut ours: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ours.sort();
    assert_eq!(ours, covered);
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if !shared.is_dir() {
        let reason = format!("{} is missing, so the fixture copies were not compared with it", shared.display());
        crate::test_support::skipped("arcgis::wire::tests::every_fixture_is_covered_and_matches_shared", &reason);
        return;
    }
    for name in covered {
        assert_eq!(std::fs::read(shared.join(name)).unwrap(), fixture(name), "{name} differs from shared/");
    }
    let oauth: serde_json::Value = serde_json::from_slice(&fixture("oauth_client_credentials.json")).unwrap();
    assert_eq!(oauth["expires_in"], 1800);
}

#[test]
fn the_version_is_read_from_any_of_its_three_names() {
    let root = |body: &[u8]| serde_json::from_slice::<AdminRoot>(body).unwrap();
    let notebook_server_12_1 = root(&fixture("classic_admin_root_12_1.json"));
    assert!(notebook_server_12_1.is_payload());
    assert_eq!(notebook_server_12_1.version().as_deref(), Some("12.1.0"), "Notebook Server 12.1 says `version`");
    assert_eq!(root(br#"{"currentVersion": "11.4"}"#).version().as_deref(), Some("11.4"));
    assert_eq!(root(br#"{"fullVersion": "11.5.0"}"#).version().as_deref(), Some("11.5.0"));
    assert_eq!(root(br#"{"currentVersion": 12.0, "version": "x"}"#).version().as_deref(), Some("12.0"));
    assert!(!root(br#"{"resources": []}"#).is_payload());
}

#[test]
fn lenient_fields_and_missing_ids() {
    let body = br#"{"asyncJobs":[{"jobId":"a","startTime":"1700000000000","endTime":null,"status":"weird","extra":{"x":1}},{"status":"EXECUTING"},{"jobId":"b","startTime":true,"inputs":{"executionTimeoutInMinutes":"30"}}]}"#;
    let jobs = serde_json::from_slice::<JobList>(body).unwrap().into_jobs();
    assert_eq!(jobs.len(), 2, "an item without jobId is dropped");
    assert_eq!(jobs[0].started_at, Some(ServerMs(1_700_000_000_000)));
    assert_eq!(jobs[0].status, Status::Unknown("weird".into()));
    assert_eq!(jobs[1].started_at, None);
    assert_eq!(jobs[1].timeout_minutes, Some(30));
}

#[test]
fn a_null_or_missing_list_is_no_list_and_other_keys_are_ignored() {
    let parse = |body: &str| JobList::from_json(body.as_bytes()).unwrap();
    assert!(!parse(r#"{"asyncNotebookJobs": null, "total": 3}"#).is_payload(), "null is no list, not an empty one");
    assert!(!parse(r#"{"error": {"code": 498}}"#).is_payload());
    let list = parse(r#"{"extra": {"a": [1]}, "asyncJobs": [{"jobId": "a"}, {"status": "FAILED"}], "total": "5"}"#);
    assert_eq!((list.cut_short(), list.into_jobs().len()), (Some((5, 2)), 1), "two items listed, one with an id");
    assert!(JobList::from_json(br#"{"asyncJobs": [] } trailing"#).is_err());
}
