//! Tests of configuration loading: strictness, interpolation, secrets, paths, validation.

use super::*;
use std::fs;

const MINIMAL: &str = "targets:\n  - name: prod\n    flavor: enterprise\n    admin_url: https://gis.example.com/portal/admin\n    auth:\n      portal_url: https://gis.example.com/portal\n      username: watcher\n      password: ${NBW_TEST_PW:-from-default}\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn load_text(text: &str) -> (tempfile::TempDir, Result<Config>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "nbwarden.yaml", text);
    let result = load(&path);
    (dir, result)
}

#[test]
fn minimal_file_gets_safe_defaults() {
    let (_dir, config) = load_text(MINIMAL);
    let config = config.unwrap();
    let target = &config.targets[0];
    assert_eq!(target.poll.interval().as_secs(), 30);
    assert_eq!(target.poll.timeout.0.as_secs(), 20);
    assert_eq!(target.limits.max_cancels_per_poll, 10);
    assert_eq!(target.auth.referer, "nbwarden");
    assert!(!config.dry_run);
    assert!(!target.tls.insecure_skip_verify);
    assert_eq!(config.http.listen, "127.0.0.1:9187");
    match target.auth.method().unwrap() {
        AuthMethod::Portal { portal_url, password, .. } => {
            assert_eq!(portal_url, "https://gis.example.com/portal");
            assert_eq!(password.expose(), "from-default");
        }
        other => panic!("expected portal auth, got {other:?}"),
    }
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let text = MINIMAL.replace("    flavor: enterprise\n", "    flavor: enterprise\n    pol: {}\n");
    let (_dir, result) = load_text(&text);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("nbwarden.yaml:4:"), "{message}");
    assert!(message.contains("pol"), "{message}");
}

#[test]
fn interpolation_reads_the_environment_and_rejects_unset_variables() {
    std::env::set_var("NBW_TEST_URL_HOST", "env.example.com");
    let text = MINIMAL.replace("gis.example.com/portal/admin", "${NBW_TEST_URL_HOST}/portal/admin");
    let (_dir, config) = load_text(&text);
    assert_eq!(config.unwrap().targets[0].admin_url, "https://env.example.com/portal/admin");

    let text = MINIMAL.replace("watcher", "${NBW_TEST_SURELY_UNSET}");
    let (_dir, result) = load_text(&text);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("NBW_TEST_SURELY_UNSET"), "{message}");
    assert!(message.contains(":7:") && message.contains("is not set"), "{message}");
}

#[test]
fn a_variable_that_cannot_be_read_names_its_key_and_the_other_problems_still_show() {
    let text = MINIMAL
        .replace("watcher", "\"${NBW_TEST_SURELY_UNSET\"")
        .replace("    flavor: enterprise\n", "    flavr: enterprise\n");
    let (_dir, result) = load_text(&text);
    let message = result.unwrap_err().to_string();
    assert!(message.contains(":3:5: unknown key `flavr`"), "{message}");
    assert!(
        message.contains(":7:17: `username`: `${NBW_TEST_SURELY_UNSET` starts a variable but has no `}`"),
        "{message}"
    );
}

#[test]
fn secret_files_are_read_relative_to_the_config_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pw.txt", "s3cret\n");
    let text = MINIMAL.replace("password: ${NBW_TEST_PW:-from-default}", "password_file: pw.txt");
    let path = write(dir.path(), "nbwarden.yaml", &text);
    let config = load(&path).unwrap();
    let AuthMethod::Portal { password, .. } = config.targets[0].auth.method().unwrap() else { panic!() };
    assert_eq!(password.expose(), "s3cret");
    assert!(!format!("{config:?}").contains("s3cret"), "Debug must redact");
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let (dir, config) = load_text(&format!("{MINIMAL}state: {{ path: state/nb.db }}\nrules: [myrules/]\n"));
    let config = config.unwrap();
    assert_eq!(config.state.path, dir.path().join("state/nb.db"));
    assert_eq!(config.rules, vec![dir.path().join("myrules/")]);
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text = "targets:\n  - name: Prod!\n    flavor: enterprise\n    admin_url: ftp://x\n    auth: { username: u }\n    poll: { every: 30s, cron: '* * * * *' }\n    limits: { max_cancel_fraction: 2 }\n  - name: ok\n    flavor: notebook-server\n    admin_url: https://nb:11443/arcgis/admin\n    auth: { token: t, password_file: missing.txt }\n";
    let (_dir, result) = load_text(text);
    let message = result.unwrap_err().to_string();
    for needle in [
        "[a-z0-9_-]+",
        "ftp://x",
        "username without password",
        "either `every` or `cron`",
        "max_cancel_fraction",
        "missing.txt",
    ] {
        assert!(message.contains(needle), "missing {needle:?} in:\n{message}");
    }
}

#[test]
fn an_unknown_key_after_an_interpolated_value_is_named_as_written() {
    let text = "targets:
  - name: prod
    flavor: enterprise
    admin_url: https://gis.example.com/portal/admin
    auth:
      username: admin
      password: ${HOME}
    poll:
      every: 30s
    tasky: { every: 1s }
";
    let (_dir, result) = load_text(text);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("nbwarden.yaml:10:5: unknown key `tasky` (did you mean `tasks`?)"), "{message}");
    assert!(!message.contains("interpolated"), "{message}");
}

#[test]
fn later_issue_keys_are_accepted() {
    let extra = "email: { transport: file, dir: ./outbox, from: nb@example.com }\nowners: { lookup: none, fallback: a@example.com, map: { svc: b@example.com } }\nhttp: { listen: '' }\ndry_run: true\n";
    let (_dir, config) = load_text(&format!("{MINIMAL}{extra}"));
    let config = config.unwrap();
    assert!(config.dry_run);
    assert_eq!(config.owners.map["svc"], "b@example.com");
    assert_eq!(config.email.unwrap().transport, EmailTransport::File);
}

#[test]
fn auth_methods_are_exclusive() {
    let cases: [(AuthConfig, Result<&str, &str>); 4] = [
        (AuthConfig { token: Some(Secret::new("t")), ..Default::default() }, Ok("static")),
        (
            AuthConfig { username: Some("u".into()), password: Some(Secret::new("p")), ..Default::default() },
            Ok("admin"),
        ),
        (AuthConfig { token: Some(Secret::new("t")), username: Some("u".into()), ..Default::default() }, Err("both")),
        (AuthConfig::default(), Err("no credentials")),
    ];
    for (auth, expected) in cases {
        match (auth.method(), expected) {
            (Ok(AuthMethod::Static(_)), Ok("static")) | (Ok(AuthMethod::Admin { .. }), Ok("admin")) => {}
            (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{e}"),
            (got, want) => panic!("got {got:?}, wanted {want:?}"),
        }
    }
}

#[test]
fn lookup_prefers_the_flag_then_the_environment() {
    std::env::set_var(CONFIG_ENV, "/from/env.yaml");
    assert_eq!(locate(Some(Path::new("/flag.yaml"))).unwrap(), PathBuf::from("/flag.yaml"));
    assert_eq!(locate(None).unwrap(), PathBuf::from("/from/env.yaml"));
    std::env::remove_var(CONFIG_ENV);
}

#[test]
fn a_postgresql_state_takes_its_password_from_a_file_and_its_roots_from_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "db.pw", "p@ss word/é\n");
    write(dir.path(), "db-ca.pem", "-----BEGIN CERTIFICATE-----\n");
    let text = format!(
        "{MINIMAL}state: {{ url: 'postgres://nbw@db.example.com:5432/nbw?sslmode=verify-full', password_file: db.pw, ca_file: db-ca.pem }}\nha: {{ replica: r1 }}\n"
    );
    let config = load(&write(dir.path(), "nbwarden.yaml", &text)).unwrap();
    let url = reqwest::Url::parse(config.state.connect_url().unwrap().expose()).unwrap();
    assert_eq!(url.password(), Some("p%40ss%20word%2F%C3%A9"), "the password, percent-encoded into the URL");
    let query: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(query[0], ("sslmode".into(), "verify-full".into()));
    assert_eq!(query[1], ("sslrootcert".into(), dir.path().join("db-ca.pem").display().to_string()));
    assert_eq!(config.state.shown(), "postgres://nbw@db.example.com:5432/nbw", "shown without password or query");
    let ha = config.ha.unwrap();
    assert_eq!((ha.replica_name(), ha.lease_ttl.0.as_secs()), ("r1".to_string(), 15));
    assert!(!format!("{:?}", config.state).contains("p@ss"), "Debug hides it");
}

#[test]
fn watching_tasks_needs_a_known_zone_and_a_portal() {
    let text = "targets:
  - name: nb
    flavor: notebook-server
    admin_url: https://nb.example.com:11443/arcgis/admin
    auth: { username: admin, password: secret }
    tasks: { every: 5m, timezone: Mars/Olympus }
";
    let message = load_text(text).1.unwrap_err().to_string();
    assert!(message.contains(":6:35: `timezone`: unknown time zone `Mars/Olympus` (write a name of the tz database, e.g. Europe/Berlin or UTC)"), "{message}");
    assert!(message.contains("tasks: reading scheduled tasks needs auth.portal_url"), "{message}");
    let (_dir, ok) = load_text(
        &text
            .replace("Mars/Olympus", "Europe/Berlin")
            .replace("auth: {", "auth: { portal_url: 'https://gis.example.com/portal',"),
    );
    let tasks = ok.expect("valid").targets[0].tasks.clone().expect("tasks");
    assert_eq!((tasks.every.0.as_secs(), tasks.zone()), (300, chrono_tz::Europe::Berlin));
}

#[test]
fn the_state_file_follows_systemds_state_directory_and_an_unwritable_one_is_named() {
    let under = |dirs: Option<&str>| state::state_path_under(dirs.map(std::ffi::OsStr::new));
    assert_eq!(under(Some("/var/lib/nbwarden:/var/lib/other")), PathBuf::from("/var/lib/nbwarden/nbwarden.db"));
    assert_eq!(under(None), PathBuf::from("nbwarden.db"));
    let (dir, config) = load_text(MINIMAL);
    assert_eq!(unwritable(&config.unwrap().state), None, "the file's own folder");
    let _ = dir;
    let stuck = StateConfig { path: PathBuf::from("/proc/nbwarden/state.db"), ..StateConfig::default() };
    let why = unwritable(&stuck).expect("/proc takes no file");
    assert!(why.contains("/proc cannot be written by this user"), "{why}");
}
