//! The `/status` page for browsers: one self-contained HTML document (no scripts, no external
//! assets), every value HTML-escaped by the template engine.

use super::StatusView;

const PAGE: &str = include_str!("page.html");

#[derive(serde::Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    view: &'a StatusView,
    activity_chart: String,
}

/// The page for `view`: its tables, and the chart of the last 24 hours (or why it is missing).
pub fn render(view: &StatusView) -> Result<String, crate::page::PageError> {
    let targets: Vec<(&str, &crate::activity::Activity)> = view.activity.iter().map(|(n, a)| (n.as_str(), a)).collect();
    let activity_chart = super::chart::running(&targets, view.now_at).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the status page's chart");
        String::new()
    });
    crate::page::render(PAGE, &Page { view, activity_chart })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arcgis::{Scope, SiteInfo};
    use crate::diff::snapshot;
    use crate::engine::Line;
    use crate::plan::ActionReport;
    use crate::status::Board;

    fn event(kind: &str, from: Option<&str>, to: Option<&str>) -> Line {
        let (from, to) = (from.map(String::from), to.map(String::from));
        Line::Event { target: "prod".into(), job_id: format!("j-{kind}"), event: kind.into(), from, to }
    }

    /// Every kind of line the board keeps, every kind of target state: the strict template renders.
    #[test]
    fn the_page_renders_every_kind_of_event_action_and_target() {
        let board = Board::default();
        board.set_targets(&[("prod".into(), std::time::Duration::from_secs(90)), ("dev".into(), Default::default())]);
        let site = SiteInfo {
            version: Some("11.4".into()),
            scope: Some(Scope::Own),
            user: Some("joe".into()),
            role: Some("org_user".into()),
            max_execute_minutes: Some(120),
            portal_id: None,
        };
        let mut job = crate::arcgis::Job::new("j1", crate::arcgis::Status::Executing);
        job.started_at = Some(crate::clock::ServerMs(0));
        let source = crate::arcgis::fake::FakeSource::scripted(Vec::new());
        board.polled("prod", &snapshot(vec![job]), Some(&site), crate::clock::ServerMs(60_000), &source);
        board.failed("prod", "the site answered 502");
        board.failed("dev", "sign-in was refused");
        let text = "rules:\n  - { name: r, mode: shadow, match: { runtime_over: 1h }, actions: [{ type: cancel }] }\n";
        board.set_rules(&crate::rules::RuleSet::parse(std::path::Path::new("r.yaml"), text, &[]).unwrap());
        let task = crate::arcgis::tasks::Task {
            id: "t1".into(),
            title: "Nightly <b>load</b>".into(),
            owner: "joe".into(),
            item_id: None,
            cron: None,
            interval_seconds: Some(3600),
            start_ms: Some(crate::clock::ServerMs(0)),
            last_start_ms: Some(crate::clock::ServerMs(0)),
            active: false,
            state: Some("Paused".into()),
        };
        let seen = crate::task_diff::Seen {
            task,
            consecutive_failures: 3,
            last_result: Some("failed".into()),
            unfinished_run: None,
        };
        board.tasks("prod", vec![crate::status::TaskView::of("prod", &seen, chrono_tz::UTC, None, None)]);
        board.tasks_failed("prod", "Portal answered 500");
        board.sign_in_wait("dev", Some(crate::clock::LocalMs(i64::MAX / 2)));
        board.record(&event("appeared", None, Some("FAILED")));
        board.record(&event("status_changed", Some("EXECUTING"), Some("FAILED")));
        board.record(&event("disappeared", Some("EXECUTING"), Some("unknown")));
        for outcome in crate::plan::Outcome::ALL {
            board.record(&Line::Action(ActionReport {
                target: "prod".into(),
                rule: "r".into(),
                action: "cancel".into(),
                job_ids: vec!["j1".into()],
                outcome,
                detail: format!("{outcome} <b>detail</b>"),
                shadow: outcome == crate::plan::Outcome::Planned,
            }));
        }
        let page = render(&board.view(crate::clock::LocalMs(60_000), &Default::default()));
        let page = page.unwrap_or_else(|e| panic!("{e}"));
        for text in [
            "stale: jobs as of 20",
            "prod: its last poll failed; these jobs are as of",
            "Nightly &lt;b&gt;load",
            "paused",
            "Portal answered 500",
            "\">shadow</td>",
            "href=\"fake&#x2f;j1\"",
            "j-appeared",
            "→ FAILED",
            "EXECUTING → FAILED",
            "suppressed",
            "only its own jobs (joe, org_user)",
            "ends at 120 min",
            "sign-in paused until",
            "&lt;b&gt;detail",
        ] {
            assert!(page.contains(text), "{text} missing in the page");
        }
    }
}
