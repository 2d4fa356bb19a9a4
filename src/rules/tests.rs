//! Rule files: compilation (every error, located) and the shipped examples; the evaluation of
//! every trigger is in `tests/evaluate.rs`.

use super::*;

mod evaluate;

fn load_text(yaml: &str) -> Result<RuleSet, Vec<RuleError>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, yaml).unwrap();
    RuleSet::load(&[dir.path().to_path_buf()], &["prod", "dev"])
}

fn rules(yaml: &str) -> RuleSet {
    load_text(yaml).unwrap_or_else(|e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))
}

/// Issue 27: values that could never match are errors, each with the nearest word.
#[test]
fn values_that_could_never_match_are_errors() {
    let enterprise = [("prod", Some(crate::config::Flavor::Enterprise))];
    let compile = |yaml: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yaml"), yaml).unwrap();
        RuleSet::load_for(&[dir.path().to_path_buf()], &enterprise)
            .map(|_| ())
            .map_err(|errors| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    };
    let table = [
        ("{ status: runing }", "`status: runing` could never match", "(did you mean `running`?)"),
        ("{ status: Running }", "could never match", "(did you mean `running`?)"),
        ("{ status: PROCESSING }", "nor a status ArcGIS documents for enterprise", "EXECUTING"),
        (
            "{ type: executeNotebok }",
            "`type: executeNotebok` is not a job type ArcGIS documents",
            "(did you mean `executeNotebook`?)",
        ),
    ];
    for (matching, error, hint) in table {
        let rule = format!("rules:\n  - {{ name: r, match: {matching}, actions: [{{ type: log }}] }}\n");
        let err = compile(&rule).unwrap_err();
        assert!(err.contains(error) && err.contains(hint), "{matching}: {err}");
    }
    for fine in [
        "{ status: running }",
        "{ status: EXECUTING }",
        "{ status: failed }",
        "{ status: { raw: WEIRD } }",
        "{ status: [running, { raw: WEIRD }] }",
        "{ status: { not: { raw: WEIRD } } }",
        "{ type: EXECUTENOTEBOOK }",
        "{ type: { raw: customJob } }",
    ] {
        let rule = format!("rules:\n  - {{ name: r, match: {fine}, actions: [{{ type: log }}] }}\n");
        compile(&rule).unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
    let on_notebook_server =
        rules("rules:\n  - { name: r, match: { status: PROCESSING }, actions: [{ type: log }] }\n");
    assert_eq!(on_notebook_server.rules.len(), 1, "a flavor that is not known accepts either flavor's statuses");
    for ended in [
        "match: { status: completed }",
        "on: status_changed\n    match: { to: failed }",
        "on: disappeared",
        "match: { status: [FAILED, cancelled] }",
    ] {
        let rule = format!("rules:\n  - name: r\n    {ended}\n    actions: [{{ type: cancel }}]\n");
        let err = compile(&rule).unwrap_err();
        assert!(
            err.contains("can only match jobs that have ended") && err.contains("cannot be cancelled"),
            "{ended}: {err}"
        );
    }
    let err = compile("rules:\n  - { name: r, actions: [{ type: exec, command: [/no/such/notify] }] }\n").unwrap_err();
    assert!(err.contains("the program `/no/such/notify` does not exist"), "{err}");
    let err =
        compile("rules:\n  - { name: r, actions: [{ type: exec, command: [notify-nobody-has] }] }\n").unwrap_err();
    assert!(err.contains("`notify-nobody-has` is not on PATH"), "{err}");
    assert!(compile("rules:\n  - { name: r, actions: [{ type: exec, command: [sh, -c, 'true'] }] }\n").is_ok());
}

#[test]
fn every_error_is_reported_with_its_line() {
    let yaml = "rules:
  - name: cancel-runaway
    match:
      type: executeNotebook
      runtime_ovr: 90m
    actions:
      - type: cancl
  - name: bad-trigger
    on: status_change
    actions: [{ type: log, message: '{{ job.id }' }]
  - name: cancel-runaway
    targets: [prd]
    for_polls: 0
    match: { status: running, from: running }
    actions: [{ type: log, levl: warn }]
";
    let errors = load_text(yaml).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let expect = [
        (5, "cancel-runaway", "unknown key `runtime_ovr` in `match` (did you mean `runtime_over`?)"),
        (7, "cancel-runaway", "unknown action type `cancl` (did you mean `cancel`?)"),
        (9, "bad-trigger", "unknown trigger `status_change` (did you mean `status_changed`?)"),
        (10, "bad-trigger", "template error in message"),
        (12, "cancel-runaway", "no target named `prd` in the configuration (did you mean `prod`?)"),
        (13, "cancel-runaway", "`for_polls` takes a whole number from 1"),
        (14, "cancel-runaway", "`from` only applies to `on: status_changed` rules"),
        (15, "cancel-runaway", "unknown key `levl` in the log action (did you mean `level`?)"),
    ];
    for (line, rule, words) in expect {
        let at = format!("rules.yaml:{line}:");
        let found =
            text.iter().any(|t| t.contains(&at) && t.contains(&format!(": rule \"{rule}\"")) && t.contains(words));
        assert!(found, "missing line {line} {words:?} in:\n{}", text.join("\n"));
    }
    assert_eq!(errors.len(), expect.len(), "{}", text.join("\n"));
}

#[test]
fn an_action_written_as_its_kind_says_how_to_write_it() {
    let yaml = "rules:\n  - name: r\n    actions:\n      - email: { to: [owner] }\n      - { level: warn }\n";
    let text: Vec<String> = load_text(yaml).unwrap_err().iter().map(|e| e.to_string()).collect();
    assert!(text[0].contains("rules.yaml:4:9:") && text[0].contains("write `- type: email`"), "{text:?}");
    assert!(text[1].contains("rules.yaml:5:11:") && text[1].contains("each action needs a `type`"), "{text:?}");
}

#[test]
fn duplicate_names_and_syntax_errors() {
    let errors = load_text(
        "rules:\n  - { name: a, actions: [{ type: cancel }] }\n  - { name: a, actions: [{ type: cancel }] }\n",
    )
    .unwrap_err();
    assert!(errors[0].to_string().contains("already used by the rule at"), "{}", errors[0]);
    let errors = load_text("rules:\n  - name: a\n   actions: [\n").unwrap_err();
    assert!(errors[0].line > 0, "{}", errors[0]);
    let errors = RuleSet::load(&[std::path::PathBuf::from("/nonexistent/rules")], &[]).unwrap_err();
    assert!(errors[0].to_string().contains("no such file or folder"));
}

#[test]
fn the_shipped_examples_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let set = RuleSet::load(&[dir.clone(), dir.join("optional")], &["prod"]).unwrap_or_else(|e| panic!("{e:?}"));
    let names = [
        "cancel-runaway-executions",
        "failure-notice",
        "failure-email-to-owner",
        "failure-chat-webhook",
        "open-session-warning",
        "open-session-cancel",
        "stuck-in-submitted",
        "daily-failure-digest",
    ];
    for name in names {
        assert!(set.get(name).is_some(), "{name}");
    }
}

#[test]
fn every_trigger_compiles() {
    let set = rules(
        "rules:
  - { name: p, actions: [{ type: cancel }] }
  - { name: a, on: appeared, actions: [{ type: log }] }
  - { name: s, on: status_changed, match: { from: running, to: failed }, actions: [{ type: log }] }
  - { name: d, on: disappeared, actions: [{ type: log }] }
  - { name: c, on: schedule, cron: '0 8 * * MON-FRI', window: 24h, timezone: Europe/Berlin, actions: [{ type: log }] }
",
    );
    let triggers: Vec<&str> = set.rules.iter().map(|r| r.trigger.as_str()).collect();
    assert_eq!(triggers, ["poll", "appeared", "status_changed", "disappeared", "schedule"]);
    let Trigger::Schedule(schedule) = &set.rules[4].trigger else { panic!() };
    assert_eq!((schedule.window.as_secs(), schedule.timezone), (86_400, Some(chrono_tz::Europe::Berlin)));
    let errors =
        load_text("rules:\n  - { name: c, on: schedule, cron: '61 * * * *', actions: [{ type: log }] }\n").unwrap_err();
    assert!(errors[0].message.contains("invalid cron"), "{}", errors[0]);
}
