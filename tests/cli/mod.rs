//! The real binary: `jobs` against the simulator, exit codes, and secrets kept out of all output.

mod kubernetes;
mod postgres;
mod report;
mod rule_tests;

use crate::util::{nbwarden, text, Site, ADMIN_PASSWORD};
use nbwarden::config::Flavor;

const SCENARIO: &str = "jobs:\n  - { id: jrun, username: joe, start: -95m30s }\n  - { id: jfail, username: jane, start: -9m, runs: 1m, ends: failed }\n";

#[tokio::test]
async fn jobs_prints_an_aligned_table() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    let out = nbwarden(&["--config", site.config_path.to_str().unwrap(), "jobs"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("TARGET  JOB ID  TYPE"), "{stdout}");
    let run = lines.iter().find(|l| l.contains("jrun")).unwrap();
    for word in ["sim", "executeNotebook", "EXECUTING", "running", "joe", "1h35m"] {
        assert!(run.contains(word), "{word} in {run}");
    }
    let column = lines[0].find("PHASE").unwrap();
    assert_eq!(&run[column..column + 7], "running", "columns align");
}

#[tokio::test]
async fn jobs_json_writes_one_object_per_job() {
    let site = Site::simple(SCENARIO, Flavor::NotebookServer).await;
    let config = site.config_path.to_str().unwrap();
    let out = nbwarden(&["jobs", "--json", "--target", "sim"], &[("NBWARDEN_CONFIG", config)]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let failed = rows.iter().find(|r| r["id"] == "jfail").unwrap();
    for key in ["target", "id", "type", "status", "phase", "username", "started_at", "runtime_seconds"] {
        assert!(failed.get(key).is_some(), "{key}");
    }
    assert_eq!((failed["status"].as_str(), failed["phase"].as_str()), (Some("FAILED"), Some("failed")));
    assert_eq!(failed["runtime_seconds"], 60);
}

#[tokio::test]
async fn an_unreadable_target_exits_1_with_a_clear_message() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    let config = site.config_path.to_str().unwrap().to_string();
    drop(site.sim);
    let out = nbwarden(&["--config", &config, "jobs"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("target \"sim\"") && stderr.contains("cannot connect"), "{stderr}");
    let unknown = nbwarden(&["--config", &config, "jobs", "--target", "nope"], &[]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no target named \"nope\""));
    assert_eq!(nbwarden(&["jobs", "--frobnicate"], &[]).await.status.code(), Some(2), "wrong usage");
}

#[tokio::test]
async fn a_bad_config_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nbwarden.yaml");
    std::fs::write(&path, "targets:\n  - name: a\n    flavour: enterprise\n").unwrap();
    let out = nbwarden(&["--config", path.to_str().unwrap(), "jobs"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("nbwarden.yaml:3:") && stderr.contains("flavour"), "{stderr}");
}

#[tokio::test]
async fn no_password_or_token_reaches_any_output() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    let config = site.config_path.to_str().unwrap();
    let wrong = std::fs::read_to_string(config).unwrap().replace(ADMIN_PASSWORD, "Wr0ng-Passw0rd");
    let wrong_path = site.dir.path().join("wrong.yaml");
    std::fs::write(&wrong_path, wrong).unwrap();
    let runs = [
        nbwarden(&["--config", config, "-vv", "jobs", "--json"], &[]).await,
        nbwarden(&["--config", config, "--log-format", "json", "jobs"], &[("NBWARDEN_LOG", "trace")]).await,
        nbwarden(&["--config", wrong_path.to_str().unwrap(), "-vv", "jobs", "--json"], &[("NBWARDEN_LOG", "trace")])
            .await,
    ];
    site.sim.revoke_tokens();
    assert!(site.sim.stats().logins >= 2, "the runs signed in");
    for out in runs {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.is_empty());
        for secret in [ADMIN_PASSWORD, "Wr0ng-Passw0rd", "SIMTOK", "Qx7Qx7"] {
            assert!(!all.contains(secret), "{secret} leaked in:\n{all}");
        }
    }
}

/// The secrets the example configuration reads from the environment: no defaults.
const EXAMPLE_SECRETS: [(&str, &str); 3] =
    [("NBWARDEN_PROD_PASSWORD", "p1"), ("NBWARDEN_NB_PASSWORD", "p2"), ("SMTP_PASSWORD", "p3")];

#[tokio::test]
async fn the_shipped_configuration_examples_pass_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for example in ["nbwarden.example.yaml", "examples/simulator.yaml"] {
        let path = root.join(example);
        let out = nbwarden(&["--config", path.to_str().unwrap(), "check"], &EXAMPLE_SECRETS).await;
        assert!(out.status.success(), "{example}: {}{}", text(&out.stdout), text(&out.stderr));
        assert!(text(&out.stdout).contains(": OK, "), "{example}: {}", text(&out.stdout));
    }
    let example = root.join("nbwarden.example.yaml");
    let unset = nbwarden(&["--config", example.to_str().unwrap(), "check"], &[]).await;
    let said = text(&unset.stdout);
    assert_eq!(unset.status.code(), Some(1), "a secret without a value is no default password: {said}");
    for (name, _) in EXAMPLE_SECRETS {
        assert!(said.contains(&format!("environment variable {name} is not set")), "{name}: {said}");
    }
}

/// `nbwarden.example.yaml` says it shows every key: each key of each section's serde type is
/// written there (or shown commented out), as the action keys are read from their types.
#[test]
fn the_example_configuration_shows_every_key_of_the_types() {
    use nbwarden::config::yaml::keys_of;
    use nbwarden::config::*;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/nbwarden.example.yaml")).unwrap();
    let written =
        |key: &str| text.lines().any(|line| line.trim_start_matches(['#', ' ', '-']).starts_with(&format!("{key}:")));
    let sections = [
        ("the file", keys_of::<Config>()),
        ("targets", keys_of::<TargetConfig>()),
        ("auth", keys_of::<AuthConfig>()),
        ("tls", keys_of::<TlsConfig>()),
        ("poll", keys_of::<PollConfig>()),
        ("limits", keys_of::<LimitsConfig>()),
        ("tasks", keys_of::<TasksConfig>()),
        ("notebooks", keys_of::<nbwarden::config::NotebooksConfig>()),
        ("email", keys_of::<EmailConfig>()),
        ("owners", keys_of::<OwnersConfig>()),
        ("state", keys_of::<StateConfig>()),
        ("ha", keys_of::<HaConfig>()),
        ("http", keys_of::<HttpConfig>()),
    ];
    for (section, keys) in sections {
        assert!(!keys.is_empty(), "{section}: its keys are read from the type");
        for key in keys {
            assert!(written(key), "`{key}` of {section} is missing from nbwarden.example.yaml");
        }
    }
}

#[test]
fn the_systemd_unit_is_hardened_and_runs_the_daemon() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/nbwarden.service")).unwrap();
    let keys: Vec<&str> = unit.lines().filter(|l| !l.starts_with('#')).collect();
    for wanted in [
        "User=nbwarden",
        "ExecStart=/usr/local/bin/nbwarden run",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=nbwarden",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(keys.contains(&wanted), "{wanted} missing from the unit");
    }
}

#[tokio::test]
async fn once_from_cron_with_a_wrong_password_tries_once_then_waits_across_runs() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    site.set_auth("{ portal_url: '{portal}', username: admin, password: not-the-password }");
    let first = site.run(&["once", "--json"]).await;
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let line = &crate::util::json_lines(&first)[0];
    let error = line["error"].as_str().unwrap();
    assert!(error.contains("refused") && error.contains("the next try waits until 20"), "{error}");
    assert_eq!(site.sim.stats().failed_logins, 1);
    // The next run (cron a minute later, or at once) knows from the state file to wait.
    for _ in 0..3 {
        let again = site.run(&["once", "--json"]).await;
        assert_eq!(again.status.code(), Some(1));
        let error = crate::util::json_lines(&again)[0]["error"].as_str().unwrap().to_string();
        assert!(error.contains("not signing in as admin at") && error.contains("refused once"), "{error}");
    }
    let check = site.run(&["check", "--targets"]).await;
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stdout));
    assert_eq!(site.sim.stats().failed_logins, 1, "`once` and `check --targets` wait like the daemon");
    assert!(!text(&first.stdout).contains("not-the-password") && !text(&first.stderr).contains("not-the-password"));
    site.set_auth("{ portal_url: '{portal}', username: admin, password: simulator }");
    let fixed = site.run(&["once", "--json"]).await;
    assert!(fixed.status.success(), "changed credentials try at once: {}", text(&fixed.stdout));
}

/// The command line as people expect it: completions that bash loads, a man page, and a
/// `--version` that names the commit.
#[tokio::test]
async fn completions_load_in_bash_the_man_page_renders_and_the_version_names_the_commit() {
    let completions = crate::util::nbwarden(&["completions", "bash"], &[]).await;
    assert!(completions.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("nbwarden.bash");
    std::fs::write(&script, &completions.stdout).unwrap();
    let loaded = std::process::Command::new("bash")
        .args(["-c", &format!("source '{}' && complete -p nbwarden", script.display())])
        .output()
        .expect("bash runs");
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("nbwarden"));
    let man = crate::util::nbwarden(&["man"], &[]).await;
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success() && page.contains(".TH nbwarden") && page.contains("silence"), "{page}");
    let version = crate::util::nbwarden(&["--version"], &[]).await;
    let said = String::from_utf8_lossy(&version.stdout);
    assert!(said.starts_with(&format!("nbwarden {} (commit ", env!("CARGO_PKG_VERSION"))), "{said}");
    assert!(
        !said.contains("unknown") || !std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").exists(),
        "{said}"
    );
}
