//! A schedule rule whose e-mail attaches the report: the page (both charts) attached as an HTML
//! file, and a summary table in a body that mail clients render, received by a real SMTP server.

use super::smtp_config;
use crate::util::daemon::{poll_until, Daemon};
use crate::util::smtp::SmtpServer;
use crate::util::Site;
use nbwarden::config::Flavor;
use std::time::Duration;

const SCENARIO: &str = "jobs:
  - { id: ann1, username: ann, start: -30m, runs: 30m2s }
  - { id: bob1, username: bob, start: -10m, runs: 10m2s, ends: failed }
";

const RULES: &str = "rules:
  - name: weekly-report
    on: schedule
    cron: '*/3 * * * * *'
    window: 7d
    actions:
      - type: email
        to: [gis-admins@example.com]
        subject: 'Notebook report of {{ target }}'
        report: { since: 7d, by: owner }
";

#[tokio::test]
async fn a_scheduled_report_attaches_the_page_and_puts_a_summary_table_in_the_body() {
    let smtp = SmtpServer::start(None, None);
    let site = Site::start(SCENARIO, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules(RULES);
    site.top(&smtp_config(smtp.port));
    let daemon = Daemon::start(&site.config_path, &[]);
    // The report's summary follows the default body, which says why the letter came.
    let summary = |m: &serde_json::Value| {
        m["text"].as_str().and_then(|t| t.split("Notebook runs by owner").nth(1)).map(str::to_string)
    };
    let with_both = |m: &serde_json::Value| summary(m).is_some_and(|s| s.contains("ann") && s.contains("bob"));
    let arrived = poll_until(Duration::from_secs(25), || smtp.messages().iter().any(with_both)).await;
    assert!(arrived, "{:#?}\n{}", smtp.messages(), daemon.log());
    let messages = smtp.messages();
    let message = messages.iter().find(|m| with_both(m)).unwrap();
    assert_eq!(message["content_type"], "multipart/mixed");
    assert_eq!(message["subject"], "Notebook report of sim");
    let text = summary(message).unwrap();
    let row = |name: &str| {
        text.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or("").split_whitespace().collect::<Vec<_>>()
    };
    assert_eq!(row("ann")[..4], ["ann", "1", "30", "0"], "{text}");
    assert_eq!(row("bob")[..4], ["bob", "1", "10", "1"], "{text}");
    let html = message["html"].as_str().unwrap();
    assert!(html.contains("<td>ann</td>") && html.contains("<td>bob</td>") && !html.contains("<svg"), "{html}");
    let attachments = message["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    let page = &attachments[0];
    assert!(page["filename"].as_str().unwrap().starts_with("nbwarden-report-"), "{page}");
    assert_eq!(page["content_type"], "text/html");
    let content = page["content"].as_str().unwrap();
    assert_eq!(content.matches("<svg").count(), 2, "the page with both charts");
    assert!(content.contains("Compute hours by owner"));
}

/// The report e-mail is the report (issue 30): with 520 jobs of 260 owners in the window, the
/// message lists no job, its summary the 40 owners with the most compute, and stays under 200
/// lines; the attached page has every owner.
#[tokio::test]
async fn a_report_email_over_500_jobs_stays_under_200_lines_and_lists_no_job() {
    let smtp = SmtpServer::start(None, None);
    let mut scenario = String::from("jobs:\n");
    for i in 0..520 {
        scenario.push_str(&format!(
            "  - {{ id: job{i:03}, username: owner{:03}, start: -50m, runs: {}m }}\n",
            i / 2,
            1 + i % 40
        ));
    }
    let site = Site::start(&scenario, Flavor::Enterprise, None, "{ every: 1s, timeout: 5s }").await;
    site.rules(RULES);
    site.top(&smtp_config(smtp.port));
    let daemon = Daemon::start(&site.config_path, &[]);
    let complete =
        |m: &serde_json::Value| m["text"].as_str().is_some_and(|t| t.contains("owner259") || t.contains("220 more"));
    let arrived = poll_until(Duration::from_secs(40), || smtp.messages().iter().any(complete)).await;
    assert!(arrived, "{:#?}\n{}", smtp.messages().len(), daemon.log());
    let messages = smtp.messages();
    let message = messages.iter().find(|m| complete(m)).unwrap();
    let text = message["text"].as_str().unwrap();
    assert!(text.lines().count() < 200, "{} lines:\n{text}", text.lines().count());
    assert!(!text.contains("job0") && !text.contains("JOB "), "no job list: {text}");
    assert!(text.contains("… and 220 more, with less compute, in the attached page."), "{text}");
    let html = message["html"].as_str().unwrap();
    assert!(html.lines().count() < 200 && html.contains("220 more"), "{html}");
    let page = message["attachments"][0]["content"].as_str().unwrap();
    assert!(page.contains("owner000") && page.contains("owner259"), "the page has every owner");
}
