//! `mode: shadow` (SPEC §3): a shadow rule is evaluated, planned, recorded and reported as
//! `planned`, and never executed, while the rules beside it act; its firings are kept apart, so
//! that removing `mode` acts on the jobs that still match; its cancels have a budget of their own.

use crate::util::{action_lines, text, Site};
use nbwarden::config::Flavor;

const SCENARIO: &str = "users:
  - { username: admin, password: simulator, email: gis-admins@example.com }
jobs:
  - { id: runaway1, username: admin, start: -100m }
  - { id: runaway2, username: admin, start: -95m }
  - { id: broken, username: admin, start: -10m, runs: 1m, ends: failed }
";

fn rules(shadow: bool, limited_real: bool) -> String {
    let mode = if shadow { "    mode: shadow\n" } else { "" };
    let real = if limited_real {
        "  - name: real-cancel\n    match: { status: running, runtime_over: 92m }\n    actions: [{ type: cancel }]\n"
    } else {
        ""
    };
    format!(
        "rules:\n  - name: strict\n{mode}    match: {{ status: running, runtime_over: 90m }}\n    actions: [{{ type: cancel }}]\n  - name: tell\n    match: {{ status: failed }}\n    actions: [{{ type: email, to: [gis-admins@example.com], subject: failed, body: x }}]\n{real}"
    )
}

#[tokio::test]
async fn a_shadow_cancel_sends_nothing_while_the_email_rule_beside_it_sends_and_promotion_acts() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    site.top("email: { transport: file, dir: outbox, from: n@example.org }");
    site.target_key("limits", "{ max_cancel_fraction: 1.0 }");
    site.rules(&rules(true, false));
    let out = site.run(&["once", "--json"]).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let lines = action_lines(&out);
    let strict: Vec<_> = lines.iter().filter(|l| l["rule"] == "strict").collect();
    assert_eq!(strict.len(), 2, "a planned cancel per runaway job: {lines:?}");
    for line in &strict {
        assert_eq!((line["outcome"].as_str(), line["shadow"].as_bool()), (Some("planned"), Some(true)), "{line}");
        assert!(line["detail"].as_str().unwrap().contains("would cancel"), "{line}");
    }
    let tell: Vec<_> = lines.iter().filter(|l| l["rule"] == "tell").collect();
    assert_eq!(tell.len(), 1);
    assert_eq!(tell[0]["outcome"], "done", "the e-mail rule acts: {lines:?}");
    assert!(tell[0].get("shadow").is_none());
    assert!(site.sim.stats().cancels.is_empty(), "no cancel reached the site");
    assert_eq!(std::fs::read_dir(site.dir.path().join("outbox")).unwrap().count(), 1, "the e-mail was written");

    let again = site.run(&["once", "--json"]).await;
    assert!(action_lines(&again).is_empty(), "shadow firings are recorded: not planned twice");
    let human = site.run(&["explain", "runaway1"]).await;
    assert!(text(&human.stdout).contains("planned"), "{}", text(&human.stdout));

    // Promoted: the jobs that still match are cancelled now.
    site.rules(&rules(false, false));
    let promoted = site.run(&["once", "--json"]).await;
    let cancels: Vec<_> = action_lines(&promoted).into_iter().filter(|l| l["rule"] == "strict").collect();
    assert!(!cancels.is_empty() && cancels.iter().all(|l| l["outcome"] == "done"), "{cancels:?}");
    assert_eq!(site.sim.stats().cancels.len(), 2, "both runaway jobs cancelled once: {:?}", site.sim.stats().cancels);
}

#[tokio::test]
async fn shadow_cancels_have_a_budget_of_their_own() {
    let site = Site::simple(SCENARIO, Flavor::Enterprise).await;
    site.top("email: { transport: file, dir: outbox, from: n@example.org }");
    site.target_key("limits", "{ max_cancels_per_poll: 1 }");
    site.rules(&rules(true, true));
    let out = site.run(&["once", "--json"]).await;
    let lines = action_lines(&out);
    let count =
        |rule: &str, outcome: &str| lines.iter().filter(|l| l["rule"] == rule && l["outcome"] == outcome).count();
    assert_eq!(count("real-cancel", "done"), 1, "the real rule's one cancel: {lines:?}");
    assert_eq!(count("strict", "planned"), 1, "and the shadow rule's one, apart: {lines:?}");
    assert_eq!(count("real-cancel", "suppressed") + count("strict", "suppressed"), 2, "{lines:?}");
    assert_eq!(site.sim.stats().cancels.len(), 1, "only the real cancel reached the site");
}
