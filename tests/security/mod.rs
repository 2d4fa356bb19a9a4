//! The security review's checks (SECURITY.md): secrets stay out of the state files, the HTTP
//! endpoint is loopback by default, and a hostile scenario is harmless.

mod endpoint;
mod exec;
mod local;
mod site;

use crate::util::hook::HookServer;
use crate::util::smtp::SmtpServer;
use crate::util::{json_lines, text, Site, ADMIN_PASSWORD};
use nbwarden::config::Flavor;

#[tokio::test]
async fn secrets_never_reach_the_state_files() {
    let hook = HookServer::start(&[500, 500, 500, 200]).await;
    let smtp = SmtpServer::start(None, Some("mailer:Smtp-S3cret"));
    let site = Site::simple("jobs:\n  - { id: jrun, username: joe, start: -2h }\n", Flavor::Enterprise).await;
    site.rules(&format!(
        "rules:
  - name: runaway
    match: {{ status: running, runtime_over: 90m }}
    actions:
      - {{ type: cancel }}
      - {{ type: webhook, url: '{}/hook?token=Hook-S3cret', headers: {{ X-Api-Key: 'Header-S3cret' }} }}
      - {{ type: exec, command: ['true'], env: {{ API_KEY: Env-S3cret }} }}
      - {{ type: email, to: [a@example.com] }}
",
        hook.url.replace("http://", "http://user:Url-S3cret@")
    ));
    site.top(&format!(
        "email: {{ host: 127.0.0.1, port: {}, security: none, username: mailer, password: Smtp-S3cret, from: n@example.org }}",
        smtp.port
    ));
    let first = site.run(&["once", "--json"]).await;
    assert!(
        text(&first.stdout).contains("queued for another try"),
        "the webhook is left queued: {}",
        text(&first.stdout)
    );
    site.make_retries_due().await;
    let second = site.run(&["once", "--json"]).await;
    let delivered = json_lines(&second).iter().any(|l| l["action"] == "webhook" && l["outcome"] == "done");
    assert!(delivered, "the retried webhook took its secrets from the rules: {}", text(&second.stdout));
    let received = hook.received();
    let last = received.last().unwrap();
    assert_eq!(last.uri, "/hook?token=Hook-S3cret");
    assert_eq!(last.headers["x-api-key"], "Header-S3cret");
    let mut files = 0;
    for entry in std::fs::read_dir(site.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("state.db") {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        for secret in [
            ADMIN_PASSWORD,
            "SIMTOK",
            "Qx7Qx7",
            "Smtp-S3cret",
            "Hook-S3cret",
            "Header-S3cret",
            "Url-S3cret",
            "Env-S3cret",
        ] {
            assert!(!content.contains(secret), "{secret} found in {}", path.display());
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o077, 0, "{} is private to its owner ({mode:o})", path.display());
    }
    assert!(files >= 2, "the state file and its journal were checked");
    for out in [first, second] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        for secret in ["Smtp-S3cret", "Hook-S3cret", "Header-S3cret", "Url-S3cret", "Env-S3cret"] {
            assert!(!all.contains(secret), "{secret} in the output:\n{all}");
        }
    }
}

#[test]
fn the_http_endpoint_listens_on_loopback_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nbwarden.yaml");
    let minimal =
        "targets:\n  - { name: p, flavor: enterprise, admin_url: 'https://gis/portal/admin', auth: { token: t } }\n";
    std::fs::write(&path, minimal).unwrap();
    let loaded = nbwarden::config::load(&path).unwrap();
    assert_eq!(loaded.http.listen, "127.0.0.1:9187", "a file without `http:` serves on loopback only");
    std::fs::write(&path, format!("{minimal}http: {{}}\n")).unwrap();
    assert_eq!(nbwarden::config::load(&path).unwrap().http.listen, "127.0.0.1:9187", "nor with an empty `http:`");
}

#[tokio::test]
async fn a_hostile_scenario_is_harmless() {
    let huge = "x".repeat(10 * 1024 * 1024);
    let hook = HookServer::start(&[200]).await;
    let scenario = format!(
        "jobs:
  - {{ id: \"../../admin/x\", username: \"o'neil\\\"; rm -rf /\", start: -2h }}
  - {{ id: \"j\\u001b[31mred\\r\\nforged\", username: \"\\u0007bell\\nline\", start: -2h }}
  - {{ id: jbig, username: \"{huge}\", start: -2h, item_id: \"{huge}\" }}
"
    );
    let site = Site::simple(&scenario, Flavor::Enterprise).await;
    site.rules(&format!(
        "rules:
  - name: runaway
    match: {{ status: running, runtime_over: 90m }}
    actions:
      - {{ type: cancel }}
      - {{ type: webhook, url: '{}', body: '{{{{ job.username | length }}}}' }}
      - {{ type: log, message: '{{{{ job.id }}}} of {{{{ job.username }}}}' }}
",
        hook.url
    ));
    site.target_key("limits", "{ max_cancel_fraction: 1.0 }");
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "the cancel that cannot be addressed fails `once`");
    let refused = crate::util::action_lines(&out)
        .into_iter()
        .find(|l| l["action"] == "cancel" && l["job_ids"][0] == "../../admin/x");
    let refused = refused.expect("an action line for the hostile id");
    assert_eq!(refused["outcome"], "failed");
    assert!(refused["detail"].as_str().unwrap().contains("cannot be used in a URL"), "{refused}");
    let cancels = site.sim.stats().cancels;
    assert_eq!(cancels.get("j\u{1b}[31mred\r\nforged"), Some(&1));
    assert_eq!(cancels.get("jbig"), Some(&1));
    assert_eq!(cancels.len(), 2, "nothing else was cancelled, and no URL left the jobs resource: {cancels:?}");
    assert_eq!(hook.received().len(), 3);
    // Text output and logs make control characters visible instead of obeying them.
    let table = site.run(&["jobs"]).await;
    assert!(table.status.success());
    let shown = text(&table.stdout);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}') && shown.contains("j\\u{1b}[31mred\\r\\nforged"),
        "{}",
        &shown[..shown.len().min(2000)]
    );
    let stderr = text(&out.stderr);
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\u{7}'), "the log escapes control characters");
    assert!(!stderr.lines().any(|l| l.starts_with("line ") || l.starts_with("forged")), "no forged log lines");
}
