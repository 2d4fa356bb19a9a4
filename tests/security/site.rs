//! A hostile site, or a notebook owner who writes what a site shows: huge answers, text that
//! forges lines, JSON bodies rewritten by an error message, spreadsheet formulas; and plain HTTP.

use crate::util::daemon::Daemon;
use crate::util::hook::HookServer;
use crate::util::raw_http::{serve_envelope, serve_huge};
use crate::util::{text, Site};
use nbwarden::config::Flavor;
use std::time::Duration;

/// A site whose admin URL is the raw server at `addr` (a static token: no sign-in call).
async fn pointed_at(addr: std::net::SocketAddr) -> Site {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    site.set_auth("{ token: static-token }");
    site.point_at(&format!("http://{addr}/portal/admin"));
    site.rules("rules: []\n");
    site
}

#[tokio::test]
async fn a_gigabyte_answer_is_refused_without_taking_the_memory() {
    const GIB: u64 = 1 << 30;
    for (announce, limit) in [(true, None), (false, Some("32MiB"))] {
        let site = pointed_at(serve_huge(GIB, announce).await).await;
        if let Some(limit) = limit {
            site.target_key("max_response", limit);
        }
        let daemon = Daemon::start(&site.config_path, &[]);
        let named = format!("max_response ({})", limit.unwrap_or("256MiB"));
        assert!(daemon.wait_for_log(&named, Duration::from_secs(60)).await, "{}", daemon.log());
        let peak = daemon.status_kib("VmHWM").unwrap();
        assert!(peak < 100 * 1024, "Content-Length announced {announce}: peak {peak} KiB");
        assert!(daemon.log().contains("poll failed; keeping the previous snapshot"), "{}", daemon.log());
    }
}

#[tokio::test]
async fn site_text_that_would_forge_lines_prints_escaped_and_cut() {
    let hostile = format!("boom\r\nINFO forged: all good \u{1b}[2J\u{202e}{}", "x".repeat(10 * 1024 * 1024));
    let site = pointed_at(serve_envelope(hostile).await).await;
    let out = site.run(&["once"]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    for output in [&stdout, &stderr] {
        assert!(!output.contains('\u{1b}') && !output.contains('\u{202e}') && !output.contains('\r'), "{output:.300}");
        assert!(!output.lines().any(|l| l.starts_with("INFO forged")), "no forged line");
        assert!(output.lines().all(|l| l.len() < 8 * 1024), "every line is cut: {}", output.len());
    }
    assert!(stdout.contains("boom\\r\\nINFO forged: all good \\u{1b}[2J\\u{202e}"), "{stdout:.500}");

    let scenario = "jobs:\n  - { id: \"j\\u001b]0;owned\\u0007\\u202eexe.pdf\", username: \"eve\\r\\nforged\", start: -1h, runs: 10m, ends: failed, messages: [\"line\\u001b[31m\"] }\n";
    let site = Site::simple(scenario, Flavor::Enterprise).await;
    site.rules("rules:\n  - { name: f, on: status_changed, match: { to: failed }, actions: [{ type: log, message: '{{ job.username }} {{ job.messages | join }}' }] }\n");
    for args in [&["once"][..], &["once", "--json"], &["jobs"], &["jobs", "--json"]] {
        let out = site.run(args).await;
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains('\u{1b}') && !all.contains('\u{7}') && !all.contains('\u{202e}'), "{args:?}: {all}");
        assert!(!all.lines().any(|l| l.starts_with("forged")), "{args:?}: {all}");
    }
}

#[tokio::test]
async fn plain_http_that_would_carry_the_password_is_refused_by_check() {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    site.rules("rules: []\n");
    assert!(site.run(&["check"]).await.status.success(), "the simulator on loopback is exempt");
    site.point_at("http://gis.example.com/portal/admin");
    site.set_auth("{ portal_url: 'http://gis.example.com/portal', username: admin, password: x }");
    let said = text(&site.run(&["check"]).await.stdout);
    assert!(
        said.contains(
            "admin_url `http://gis.example.com/portal/admin` would send the password and every token in clear text"
        ),
        "{said}"
    );
    assert!(said.contains("auth.portal_url") && said.contains("allow_insecure_http: true"), "{said}");
    site.target_key("allow_insecure_http", "true");
    assert!(site.run(&["check"]).await.status.success(), "allowed on purpose");
    site.top(
        "email: { host: smtp.example.com, port: 25, security: none, username: u, password: p, from: n@example.org }",
    );
    let said = text(&site.run(&["check"]).await.stdout);
    assert!(
        said.contains(
            "email.security: none would send the SMTP username and password in clear text to smtp.example.com"
        ),
        "{said}"
    );
}

#[tokio::test]
async fn an_error_message_cannot_add_a_key_to_a_webhook_body() {
    let hook = HookServer::start(&[200]).await;
    let hostile = r##"x", "channel": "#general", "text": "all clear"##;
    let scenario = format!("jobs:\n  - {{ id: jf1, username: joe, start: -1h, messages: ['{hostile}'] }}\n");
    let site = Site::simple(&scenario, Flavor::Enterprise).await;
    site.rules(&format!(
        "rules:
  - name: chat
    on: status_changed
    match: {{ to: failed }}
    actions:
      - type: webhook
        url: '{}/mapping'
        body:
          text: '{{{{ job.id }}}} failed: {{{{ job.messages | last }}}}'
          blocks: [{{ type: section, note: '{{{{ job.username }}}}' }}]
      - type: webhook
        url: '{}/tojson'
        body: '{{\"text\": {{{{ job.messages | last | tojson }}}}}}'
",
        hook.url, hook.url
    ));
    let check = text(&site.run(&["check"]).await.stdout);
    assert!(!check.contains("warning"), "both bodies are safe: {check}");
    assert!(site.run(&["once"]).await.status.success(), "the baseline");
    site.sim.end_job("jf1", nbwarden::simulator::Ending::Failed);
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    let received = hook.received();
    assert_eq!(received.len(), 2);
    for request in received {
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert!(!keys.iter().any(|k| *k == "channel"), "{}: {keys:?}", request.uri);
        assert!(body["text"].as_str().unwrap().ends_with(hostile), "{}: {body}", request.uri);
        assert_eq!(request.headers["content-type"], "application/json");
    }

    site.rules("rules:\n  - { name: chat, on: status_changed, match: { to: failed }, actions: [{ type: webhook, url: 'http://127.0.0.1:9/x', body: '{\"text\": \"{{ job.id }}\"}' }] }\n");
    let check = text(&site.run(&["check"]).await.stdout);
    assert!(
        check.contains("warning: action webhook: the body is JSON text with 1 value(s) not passed through `tojson`"),
        "{check}"
    );
    site.rules("rules:\n  - { name: chat, actions: [{ type: webhook, url: 'http://127.0.0.1:9/x', body: '{{ job.id | tojsn }}' }] }\n");
    let check = text(&site.run(&["check"]).await.stdout);
    assert!(check.contains("unknown filter `tojsn` (did you mean `tojson`?)"), "{check}");
}

#[tokio::test]
async fn a_report_in_csv_never_starts_a_spreadsheet_formula() {
    let scenario =
        "jobs:\n  - { id: jf1, username: '=HYPERLINK(\"http://evil.example\",\"x\")', start: -1h, runs: 10m }\n";
    let site = Site::simple(scenario, Flavor::Enterprise).await;
    site.rules("rules: []\n");
    assert!(site.run(&["once"]).await.status.success());
    let csv = text(&site.run(&["report", "--format", "csv"]).await.stdout);
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv.lines().any(|l| l.split(',').any(|cell| cell.trim_matches('"').starts_with('='))), "{csv}");
}

#[tokio::test]
async fn a_configuration_error_never_echoes_a_value_from_the_environment() {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    site.rules("rules: []\n");
    site.rewrite(|line| line.replace("  - name: sim", "  - name: ${PW}"));
    let out = site.run_env(&["check"], &[("PW", "Echo-S3cret-value")]).await;
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("target name \"***\" must match"), "{said}");
    assert!(!said.contains("Echo-S3cret-value"), "{said}");
}
