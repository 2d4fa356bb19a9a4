//! Notebook rules: each match key, once per rule, notebook and last activity, `for_polls`, and
//! the rule errors a notebook rule can make.

use super::*;
use crate::arcgis::notebooks::Host;

const MINUTE: i64 = 60_000;

fn notebook(id: &str, owner: &str, idle_minutes: i64, runtime: &str) -> OpenNotebook {
    OpenNotebook {
        id: id.into(),
        item_id: Some(format!("item-{id}")),
        title: Some(format!("Notebook {id}")),
        username: owner.into(),
        host: Some(Host::Container("c1".into())),
        last_activity: Some(ServerMs(1_000 * MINUTE - idle_minutes * MINUTE)),
        opened: Some(ServerMs(0)),
        runtime: Some(runtime.into()),
    }
}

fn rules(yaml: &str) -> RuleSet {
    RuleSet::parse(std::path::Path::new("r.yaml"), yaml, &[]).unwrap_or_else(|e| panic!("{e:?}"))
}

fn errors(yaml: &str) -> String {
    let errors = RuleSet::parse(std::path::Path::new("r.yaml"), yaml, &[]).unwrap_err();
    errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

fn fire(set: &RuleSet, notebooks: &[OpenNotebook], ledger: &LedgerIndex, streaks: &Streaks) -> (Vec<String>, Streaks) {
    let notebooks: BTreeMap<String, OpenNotebook> = notebooks.iter().map(|n| (n.id.clone(), n.clone())).collect();
    let input = NotebookInput { target: "prod", now: ServerMs(1_000 * MINUTE), notebooks: &notebooks, ledger, streaks };
    let (firings, streaks) = set.evaluate_notebooks(&input);
    (firings.iter().map(|f| format!("{}:{}", set.rules[f.rule].name, f.job.id)).collect(), streaks)
}

#[test]
fn each_key_matches_and_an_unknown_activity_never_counts_as_idle() {
    let set = rules(
        "rules:
  - { name: gpu, on: notebook, match: { idle_over: 2h, runtime: '*Advanced*' }, actions: [{ type: close_notebook }] }
  - { name: others, on: notebook, match: { idle_over: 8h, runtime: { not: '*Advanced*' }, username: { not: svc_* } }, actions: [{ type: log }] }
  - { name: long-open, on: notebook, match: { open_over: 16h, title: 'Notebook n*', item_id: item-n4 }, actions: [{ type: log }] }
",
    );
    let mut unknown = notebook("n5", "joe", 600, "Standard");
    unknown.last_activity = None;
    let open = [
        notebook("n1", "joe", 150, "ArcGIS Notebook Python 3 Advanced"),
        notebook("n2", "joe", 90, "ArcGIS Notebook Python 3 Advanced"),
        notebook("n3", "svc_etl", 600, "Standard"),
        notebook("n4", "ann", 600, "Standard"),
        unknown,
    ];
    let (fired, _) = fire(&set, &open, &LedgerIndex::default(), &Streaks::new());
    assert_eq!(fired, ["gpu:n1", "others:n4", "long-open:n4"]);
}

#[test]
fn idle_and_open_limits_are_strict_and_each_condition_reads_as_written() {
    let set = rules(
        "rules:\n  - { name: a, on: notebook, match: { idle_over: 2h, open_over: 16h40m, runtime: { not: '*Advanced*' } }, actions: [{ type: log }] }\n",
    );
    let conditions = &set.rules[0].notebook_conditions;
    let at = |idle_minutes| notebook("n1", "joe", idle_minutes, "Standard");
    let now = ServerMs(1_000 * MINUTE);
    assert_eq!(conditions[0].holds(&at(120), now), Some(false), "exactly 2 hours idle is not over 2 hours");
    assert_eq!(conditions[0].holds(&at(121), now), Some(true));
    let opened = |minutes| OpenNotebook { opened: Some(ServerMs(now.0 - minutes * MINUTE)), ..at(121) };
    assert_eq!(conditions[1].holds(&opened(1_000), now), Some(false), "exactly the limit open is not over it");
    assert_eq!(conditions[1].holds(&opened(1_001), now), Some(true));
    let written: Vec<String> = conditions.iter().map(ToString::to_string).collect();
    assert_eq!(written, ["idle_over: 2h", "open_over: 16h40m", "runtime: not *Advanced*"]);
}

#[test]
fn a_notebook_fires_once_per_last_activity_and_again_once_used_and_idle_again() {
    let set = rules(
        "rules:\n  - { name: close, on: notebook, match: { idle_over: 2h }, actions: [{ type: close_notebook }] }\n",
    );
    let idle = notebook("n1", "joe", 150, "Standard");
    let mut ledger = LedgerIndex::default();
    let (fired, _) = fire(&set, std::slice::from_ref(&idle), &ledger, &Streaks::new());
    assert_eq!(fired, ["close:n1"]);
    ledger.record("close", "n1", &activity_cause(&idle), ServerMs(1_000 * MINUTE));
    assert!(fire(&set, std::slice::from_ref(&idle), &ledger, &Streaks::new()).0.is_empty(), "once");
    let again = notebook("n1", "joe", 130, "Standard");
    assert_eq!(fire(&set, &[again], &ledger, &Streaks::new()).0, ["close:n1"], "used, then idle again");
}

#[test]
fn for_polls_waits_for_that_many_matching_reads_in_a_row() {
    let set = rules("rules:\n  - { name: close, on: notebook, for_polls: 2, match: { idle_over: 2h }, actions: [{ type: close_notebook }] }\n");
    let idle = [notebook("n1", "joe", 150, "Standard")];
    let ledger = LedgerIndex::default();
    let (fired, streaks) = fire(&set, &idle, &ledger, &Streaks::new());
    assert!(fired.is_empty(), "first matching read");
    assert_eq!(fire(&set, &idle, &ledger, &streaks).0, ["close:n1"], "second");
    let (_, broken) = fire(&set, &[notebook("n1", "joe", 10, "Standard")], &ledger, &streaks);
    assert!(fire(&set, &idle, &ledger, &broken).0.is_empty(), "a read without a match starts the count again");
}

#[test]
fn notebook_rules_close_and_job_rules_cancel_each_in_its_own_kind_of_rule() {
    let close_in_job_rule =
        errors("rules:\n  - { name: a, match: { runtime_over: 1h }, actions: [{ type: close_notebook }] }\n");
    assert!(close_in_job_rule.contains("only applies to `on: notebook` rules"), "{close_in_job_rule}");
    let cancel_in_notebook_rule =
        errors("rules:\n  - { name: a, on: notebook, match: { idle_over: 1h }, actions: [{ type: cancel }] }\n");
    assert!(cancel_in_notebook_rule.contains("use `close_notebook`"), "{cancel_in_notebook_rule}");
    let typo = errors("rules:\n  - { name: a, on: notebook, match: { idle_ovr: 1h }, actions: [{ type: log }] }\n");
    assert!(typo.contains("idle_over"), "{typo}");
    let template =
        errors("rules:\n  - { name: a, on: notebook, actions: [{ type: log, message: '{{ notebook.titel }}' }] }\n");
    assert!(template.contains("notebook.title"), "{template}");
    rules("rules:\n  - { name: a, on: notebook, actions: [{ type: log, message: '{{ notebook.title }} idle {{ notebook.idle }}' }] }\n");
}
