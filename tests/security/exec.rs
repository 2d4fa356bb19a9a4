//! A rule's `exec` program: it never sees nbwarden's secrets, a job field never becomes one of
//! its options, and a secret written into its arguments stays out of the state file and the logs.

use crate::util::{action_lines, text, Site};
use nbwarden::config::Flavor;

const FAILED: &str = "jobs:\n  - { id: jf1, username: joe, start: -1h, runs: 10m, ends: failed }\n";

fn rule(command: &str, extra: &str) -> String {
    format!("rules:\n  - {{ name: f, match: {{ status: failed }}, actions: [{{ type: exec, command: {command}{extra} }}] }}\n")
}

/// The secrets a real deployment passes to nbwarden as environment variables (unit, Dockerfile,
/// Kubernetes): each must stay out of the program's environment.
const SECRETS: [(&str, &str); 4] = [
    ("NBWARDEN_PROD_PASSWORD", "simulator"),
    ("SMTP_PASSWORD", "Smtp-S3cret-value"),
    ("NBWARDEN_WEBHOOK_URL", "https://hooks.example.com/T000/B000/Hook-S3cret"),
    ("NBWARDEN_DB_PASSWORD", "Db-S3cret-value"),
];

#[tokio::test]
async fn a_program_gets_a_minimal_environment_and_none_of_the_daemons_secrets() {
    let site = Site::simple(FAILED, Flavor::Enterprise).await;
    site.set_auth("\n      portal_url: '{portal}'\n      username: admin\n      password: ${NBWARDEN_PROD_PASSWORD}");
    site.top(
        "email:\n  transport: file\n  dir: outbox\n  from: n@example.org\n  username: u\n  password: ${SMTP_PASSWORD}",
    );
    let out_file = site.dir.path().join("env.txt");
    let command = format!("[sh, -c, 'env > {}']", out_file.display());
    site.rules(&rule(&command, ", inherit_env: [PASSED_ON], env: { FROM_RULE: '{{ job.id }}' }"));
    let mut env: Vec<(&str, &str)> = SECRETS.to_vec();
    env.extend([("PASSED_ON", "asked-for"), ("NOT_ASKED", "left-out"), ("HOME", "/home/nbwarden")]);
    let out = site.run_env(&["once", "--json"], &env).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let seen = std::fs::read_to_string(&out_file).unwrap();
    for (name, value) in SECRETS {
        assert!(!seen.contains(value) && !seen.contains(name), "{name} reached the program:\n{seen}");
    }
    assert!(!seen.contains("left-out"), "only the variables named in inherit_env pass: {seen}");
    for expected in ["PASSED_ON=asked-for", "FROM_RULE=jf1", "NBWARDEN_JOB_ID=jf1", "HOME=/home/nbwarden", "PATH="] {
        assert!(seen.lines().any(|l| l.starts_with(expected)), "{expected} missing:\n{seen}");
    }
}

#[tokio::test]
async fn a_job_field_never_becomes_an_option() {
    let scenario = "jobs:\n  - { id: jf1, username: '--output=/tmp/owned', start: -1h, runs: 10m, ends: failed }\n";
    let site = Site::simple(scenario, Flavor::Enterprise).await;
    let marker = site.dir.path().join("ran");
    let exposed = format!("[sh, -c, 'touch {}', sh, '{{{{ job.username }}}}']", marker.display());
    site.rules(&rule(&exposed, ""));
    let check = text(&site.run(&["check"]).await.stdout);
    assert!(check.contains("argument 4 of `command` opens with a template") && check.contains("\"--\""), "{check}");
    let out = site.run(&["once", "--json"]).await;
    let action = action_lines(&out).into_iter().next().unwrap();
    assert_eq!(action["outcome"], "failed");
    assert!(action["detail"].as_str().unwrap().contains("would read as an option"), "{action}");
    assert!(!marker.exists(), "nothing ran");

    let guarded = format!("[sh, -c, 'printf %s \"$2\" > {}', sh, --, '{{{{ job.username }}}}']", marker.display());
    let site = Site::simple(scenario, Flavor::Enterprise).await;
    site.rules(&rule(&guarded, ""));
    assert!(!text(&site.run(&["check"]).await.stdout).contains("opens with a template"), "`--` guards it");
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "--output=/tmp/owned", "after `--` it is an operand");
}

#[tokio::test]
async fn a_secret_written_into_an_argument_stays_out_of_the_state_file_and_the_logs() {
    let site = Site::simple(FAILED, Flavor::Enterprise).await;
    let received = site.dir.path().join("received");
    site.rules(&format!(
        "rules:
  - name: f
    match: {{ status: failed }}
    actions:
      - type: exec
        command:
          - sh
          - -c
          - 'printf %s \"$1\" > {}'
          - sh
          - --token=${{API_TOKEN}}
",
        received.display()
    ));
    let token = [("API_TOKEN", "Arg-S3cret-token")];
    let preview = site.run_env(&["once", "--dry-run", "--json"], &token).await;
    let shown = format!("{}{}", text(&preview.stdout), text(&preview.stderr));
    assert!(shown.contains("would run") && shown.contains("--token=***"), "{shown}");
    let out = site.run_env(&["-v", "once", "--json"], &token).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&received).unwrap(), "--token=Arg-S3cret-token", "the program got it");
    let all = format!("{}{}{shown}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("Arg-S3cret-token"), "{all}");
    for entry in std::fs::read_dir(site.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("state.db") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains("Arg-S3cret-token"), "{}", path.display());
        }
    }
}
