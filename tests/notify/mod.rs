//! Notifications through the real binary: e-mail to a real SMTP server on loopback (parsed back),
//! the file transport, retries across an SMTP outage, and header injection.

mod exec;
mod notebooks;
mod owners;
mod receivers;
mod report;
mod tasks;
mod webhook;

use crate::util::smtp::{free_port, parse_eml, SmtpServer};
use crate::util::{action_lines, text, Site};
use serde_json::Value;

const FAILED: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: joe, email: joe@example.com, admin: false }
  - { username: jane, password: jane, email: jane@example.com, admin: false }
jobs:
  - { id: jf1, username: joe, start: -1h, runs: 10m, ends: failed }
  - { id: jf2, username: joe, start: -50m, runs: 12m, ends: failed }
  - { id: jf3, username: jane, start: -40m, runs: 10m, ends: failed }
  - { id: jok, username: jane, start: -40m, runs: 10m }
";

fn smtp_config(port: u16) -> String {
    format!("email: {{ host: 127.0.0.1, port: {port}, security: none, from: 'nbwarden <nbwarden@example.org>', timeout: 5s }}")
}

/// The `action` lines of one run: (action, outcome, detail).
fn outcomes(output: &std::process::Output) -> Vec<(String, String, String)> {
    action_lines(output)
        .into_iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("outcome"), s("detail"))
        })
        .collect()
}

fn to(message: &Value) -> Vec<&str> {
    message["envelope_to"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

fn for_recipient<'a>(messages: &'a [Value], address: &str) -> &'a Value {
    let found: Vec<&Value> = messages.iter().filter(|m| to(m) == [address]).collect();
    assert_eq!(found.len(), 1, "exactly one message for {address}: {messages:#?}");
    found[0]
}

#[tokio::test]
async fn one_message_per_recipient_listing_only_their_jobs() {
    let smtp = SmtpServer::start(None, None);
    let site = Site::ruled(
        FAILED,
        "rules:
  - name: failed-jobs
    match: { status: failed }
    actions:
      - type: email
        to: [owner]
        cc: [audit@example.com]
        subject: '{{ jobs | length }} failed job(s) of {{ job.username }}'
        body: '{% for j in jobs %}{{ j.id }} ran {{ j.runtime }}; {% endfor %}'
",
    )
    .await;
    site.top(&smtp_config(smtp.port));
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reports = outcomes(&out);
    assert_eq!(reports.len(), 1, "one batched action for the poll: {reports:?}");
    assert_eq!(reports[0].1, "done");
    assert_eq!(reports[0].2, "to joe@example.com, jane@example.com, audit@example.com");

    let messages = smtp.wait_for(3).await;
    assert_eq!(messages.len(), 3, "{messages:#?}");
    let joe = for_recipient(&messages, "joe@example.com");
    assert_eq!(joe["subject"], "2 failed job(s) of joe");
    assert_eq!(joe["to"], "joe@example.com");
    assert_eq!(joe["cc"], "");
    assert_eq!(joe["from"], "nbwarden <nbwarden@example.org>");
    assert_eq!(joe["text"].as_str().unwrap().trim_end(), "jf1 ran 10m; jf2 ran 12m;");
    let jane = for_recipient(&messages, "jane@example.com");
    assert_eq!(jane["text"].as_str().unwrap().trim_end(), "jf3 ran 10m;", "jane never sees joe's jobs");
    let audit = for_recipient(&messages, "audit@example.com");
    assert_eq!(audit["to"], "");
    assert_eq!(audit["cc"], "audit@example.com");
    assert_eq!(audit["text"].as_str().unwrap().trim_end(), "jf1 ran 10m; jf2 ran 12m; jf3 ran 10m;");
    let mut ids: Vec<&str> = messages.iter().map(|m| m["message_id"].as_str().unwrap()).collect();
    for id in &ids {
        assert!(id.starts_with("<nbwarden.") && id.ends_with("@example.org>"), "{id}");
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one Message-ID per message");

    let again = site.run(&["once", "--json"]).await;
    assert!(outcomes(&again).is_empty(), "nothing fires twice");
    assert_eq!(smtp.messages().len(), 3);
}

#[tokio::test]
async fn an_smtp_outage_delays_the_message_and_it_arrives_exactly_once() {
    let port = free_port();
    let site = Site::ruled(
        FAILED,
        "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [owner] }] }\n",
    )
    .await;
    site.top(&smtp_config(port));
    let out = site.run(&["once", "--json"]).await;
    let reports = outcomes(&out);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].1, "failed");
    assert!(reports[0].2.contains("queued for another try"), "{reports:?}");

    let smtp = SmtpServer::start(Some(port), None);
    let early = site.run(&["once", "--json"]).await;
    assert!(outcomes(&early).is_empty(), "the retry waits for its backoff");
    site.make_retries_due().await;
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(outcomes(&out)[0].1, "done", "{}", text(&out.stdout));
    site.make_retries_due().await;
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty());
    let messages = smtp.wait_for(2).await;
    let mut recipients: Vec<&str> = messages.iter().flat_map(to).collect();
    recipients.sort();
    assert_eq!(recipients, ["jane@example.com", "joe@example.com"], "each owner exactly once");
    // The default subject and body: the rule, and a line per job as its owner knows it; the
    // owner gets no admin URL (they cannot open it), the administrators' copy would.
    let joe = for_recipient(&messages, "joe@example.com");
    assert_eq!(joe["subject"], "[nbwarden] f on sim: 2 notebook jobs");
    let body = joe["text"].as_str().unwrap();
    assert!(
        body.contains("Your notebook (title not known) failed") && body.contains("  job: jf2 (executeNotebook)"),
        "{body}"
    );
    assert!(!body.contains("/notebooks/jobs/"), "{body}");
}

#[tokio::test]
async fn a_busy_recipient_is_retried_without_resending_to_the_others() {
    let smtp = SmtpServer::start(None, None);
    smtp.set_busy(true);
    let site = Site::ruled(
        FAILED,
        "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [busy@example.com, ok@example.com] }] }\n",
    )
    .await;
    site.top(&smtp_config(smtp.port));
    let first = outcomes(&site.run(&["once", "--json"]).await);
    assert_eq!(first[0].1, "failed");
    assert!(first[0].2.contains("451"), "{first:?}");
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    smtp.set_busy(false);
    site.make_retries_due().await;
    let second = outcomes(&site.run(&["once", "--json"]).await);
    assert_eq!(second[0].1, "done");
    assert_eq!(second[0].2, "to busy@example.com, ok@example.com (earlier)");
    let messages = smtp.wait_for(2).await;
    assert_eq!(messages.iter().map(to).collect::<Vec<_>>(), [["ok@example.com"], ["busy@example.com"]]);
}

#[tokio::test]
async fn a_refused_recipient_is_a_permanent_failure() {
    let smtp = SmtpServer::start(None, None);
    let site = Site::ruled(
        FAILED,
        "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [reject@example.com] }] }\n",
    )
    .await;
    site.top(&smtp_config(smtp.port));
    let out = site.run(&["once", "--json"]).await;
    assert!(!out.status.success());
    let reports = outcomes(&out);
    assert_eq!(reports[0].1, "failed");
    assert!(reports[0].2.contains("550") && !reports[0].2.contains("queued"), "{reports:?}");
    site.make_retries_due().await;
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty(), "not retried");
}

#[tokio::test]
async fn smtp_authentication_uses_the_configured_credentials() {
    let smtp = SmtpServer::start(None, Some("mailer:s3cret-pw"));
    let site = Site::ruled(
        FAILED,
        "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [a@example.com] }] }\n",
    )
    .await;
    site.top(&format!(
        "email: {{ host: 127.0.0.1, port: {}, security: none, username: mailer, password: s3cret-pw, from: n@example.org }}",
        smtp.port
    ));
    let out = site.run(&["once", "--json", "-vv"]).await;
    assert_eq!(outcomes(&out)[0].1, "done", "{}", text(&out.stderr));
    assert_eq!(smtp.wait_for(1).await[0]["authenticated"], true);
    assert!(!text(&out.stderr).contains("s3cret-pw") && !text(&out.stdout).contains("s3cret-pw"));
}

#[tokio::test]
async fn a_username_with_cr_lf_cannot_add_headers() {
    let smtp = SmtpServer::start(None, None);
    let scenario =
        "jobs:\n  - { id: jx, username: \"eve\\r\\nBcc: victim@example.com\", start: -1h, runs: 1m, ends: failed }\n";
    let site = Site::ruled(
        scenario,
        "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [sec@example.com], subject: 'Job of {{ job.username }}' }] }\n",
    )
    .await;
    site.top(&smtp_config(smtp.port));
    let out = site.run(&["once"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let message = &smtp.wait_for(1).await[0];
    assert_eq!(message["subject"], "Job of eve  Bcc: victim@example.com");
    assert_eq!(to(message), ["sec@example.com"]);
    let names: Vec<&str> = message["header_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(!names.contains(&"bcc"), "{names:?}");
    let subject_lines: Vec<&str> =
        message["raw_head"].as_str().unwrap().lines().filter(|l| l.to_ascii_lowercase().contains("victim")).collect();
    assert_eq!(subject_lines.len(), 1, "the subject stays one header: {subject_lines:?}");
    assert!(subject_lines[0].starts_with("Subject: "), "{subject_lines:?}");
}

#[tokio::test]
async fn the_file_transport_writes_a_parseable_eml_with_an_html_alternative() {
    let site = Site::ruled(
        FAILED,
        "rules:
  - name: f
    match: { status: failed, username: jane }
    actions:
      - { type: email, to: [owner], html: '<p>{{ job.id }} &amp; {{ \"<b>\" }}</p>' }
",
    )
    .await;
    site.top("email: { transport: file, dir: outbox, from: nbwarden@example.org }");
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(outcomes(&out)[0].1, "done", "{}", text(&out.stderr));
    let files: Vec<_> = std::fs::read_dir(site.dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let message = parse_eml(&files[0]);
    assert_eq!(message["to"], "jane@example.com");
    assert_eq!(message["content_type"], "multipart/alternative");
    assert!(message["text"].as_str().unwrap().contains("jf3"));
    assert_eq!(message["html"].as_str().unwrap().trim_end(), "<p>jf3 &amp; &lt;b&gt;</p>", "values are escaped");
}

#[tokio::test]
async fn a_rule_that_mails_without_an_email_section_is_a_check_error() {
    let site = Site::ruled(
        FAILED,
        "rules:\n  - { name: f, match: { status: failed }, actions: [{ type: email, to: [owner] }] }\n",
    )
    .await;
    let out = site.run(&["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("rule(s) f send e-mail, but there is no `email:` section"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn the_shipped_failure_email_reaches_each_owner_with_their_jobs() {
    let smtp = SmtpServer::start(None, None);
    let scenario = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
  - { username: joe, password: joe, email: joe@example.com, admin: false }
  - { username: jane, password: jane, email: jane@example.com, admin: false }
  - { username: svc_etl, password: etl, admin: false }
items:
  - { id: 9a1e0c55, title: Parcels import, owner: joe }
  - { id: 5e7c0001, title: Nightly ETL, owner: svc_etl }
jobs:
  - { id: ja, username: joe, start: -20m, item_id: 9a1e0c55 }
  - { id: jb, username: joe, start: -10m }
  - { id: jc, username: jane, start: -5m }
  - { id: jd, username: svc_etl, start: -5m, item_id: 5e7c0001 }
";
    let shipped = include_str!("../../rules/failure-email-owner.yaml");
    let site = Site::ruled(scenario, shipped).await;
    site.top(&smtp_config(smtp.port));
    site.top("owners: { fallback: gis-admins@example.com, contact: gis-admins@example.com }");
    assert!(outcomes(&site.run(&["once", "--json"]).await).is_empty(), "baseline: no events");
    for id in ["ja", "jb", "jc", "jd"] {
        site.sim.end_job(id, nbwarden::simulator::Ending::Failed);
    }
    let out = site.run(&["once", "--json"]).await;
    assert_eq!(
        outcomes(&out)[0].2,
        "to joe@example.com, jane@example.com, gis-admins@example.com (jd: svc_etl has no e-mail address in Portal)",
        "{}",
        text(&out.stderr)
    );
    let messages = smtp.wait_for(3).await;
    let joe = for_recipient(&messages, "joe@example.com");
    assert_eq!(joe["subject"], "[nbwarden] failure-email-to-owner on sim: 2 notebook jobs");
    let body = joe["text"].as_str().unwrap();
    assert!(body.starts_with("You receive this as the owner: nbwarden, which watches the notebook jobs of target \"sim\", sent it by its rule \"failure-email-to-owner\". Questions: gis-admins@example.com."), "{body}");
    // The title, read once from Portal; the job resource, read as the job failed, gives the
    // messages; a job without an item says why its notebook is not known.
    assert!(body.contains("Your notebook 'Parcels import' failed at "), "{body}");
    let item = format!("notebook: {}/home/item.html?id=9a1e0c55", site.sim.portal_url());
    assert!(body.contains(&item), "{body}");
    assert!(body.contains("Your notebook (title not known) failed"), "{body}");
    assert!(
        body.contains("notebook: not known (this site's job list gives no item id; turn on `poll.details`)"),
        "jb has no item: {body}"
    );
    assert!(body.contains("> KeyError: 'PARCEL_ID'"), "the error is quoted: {body}");
    assert!(!body.contains("/notebooks/jobs/"), "no admin URL for the owner: {body}");
    assert!(!body.contains("jc") && !body.contains("(not known)\n"), "{body}");
    let jane = for_recipient(&messages, "jane@example.com");
    assert_eq!(jane["subject"], "Notebook job jc failed (failure-email-to-owner on sim)");
    let fallback = for_recipient(&messages, "gis-admins@example.com");
    assert_eq!(fallback["subject"], "Notebook 'Nightly ETL' failed (failure-email-to-owner on sim)");
    let body = fallback["text"].as_str().unwrap();
    assert!(
        body.starts_with("You receive this because svc_etl has no e-mail address in Portal (owners.fallback)."),
        "{body}"
    );
    assert!(body.contains("svc_etl's notebook 'Nightly ETL' failed at "), "{body}");
    assert!(body.contains("/notebooks/jobs/jd"), "the administrators get the admin URL: {body}");
    assert_eq!(site.sim.stats().item_reads, 2, "each item read once");
    site.run(&["once", "--json"]).await;
    assert_eq!(site.sim.stats().item_reads, 2, "and kept");
}
