//! `nbwarden test`: every rule file shipped in `rules/` has a test in `rules/tests/`, and they all
//! pass through the real binary; a wrong expectation fails with a readable diff and exit 1; a typo
//! in a test file is an error naming the file and the line.

use crate::util::{nbwarden, text};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_shipped_rule_file_has_a_test_and_every_test_passes() {
    let tests = yaml_files(&root().join("rules/tests"));
    let texts: Vec<String> = tests.iter().map(|t| std::fs::read_to_string(t).unwrap()).collect();
    for rules in yaml_files(&root().join("rules")).into_iter().chain(yaml_files(&root().join("rules/optional"))) {
        let relative = rules.strip_prefix(root().join("rules")).unwrap().display().to_string();
        assert!(
            texts.iter().any(|t| t.contains(&format!("../{relative}"))),
            "no test in rules/tests/ loads rules/{relative}"
        );
    }
    let mut args = vec!["test".to_string()];
    args.extend(tests.iter().map(|t| t.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = nbwarden(&args, &[]).await;
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert_eq!(said.lines().filter(|l| l.ends_with(": ok")).count(), tests.len(), "{said}");
}

#[tokio::test]
async fn a_wrong_expectation_fails_with_a_diff_and_a_typo_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let right = std::fs::read_to_string(root().join("rules/tests/failure-email-owner.test.yaml")).unwrap();
    let rules = root().join("rules/failure-email-owner.yaml").display().to_string();
    let wrong = right
        .replace("../failure-email-owner.yaml", &rules)
        .replace(
            "subject: \"Notebook 'Parcels import' failed (failure-email-to-owner on test)\"",
            "subject: \"Job failed\"",
        )
        .replace("trigger: \"none->FAILED\"", "trigger: \"EXECUTING->FAILED\"");
    let path = dir.path().join("wrong.test.yaml");
    std::fs::write(&path, wrong).unwrap();
    let out = nbwarden(&["test", path.to_str().unwrap()], &[]).await;
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    for line in [
        "wrong.test.yaml: FAILED",
        "~ poll 2: rule failure-email-to-owner job j1 trigger EXECUTING->FAILED: subject \"Notebook 'Parcels import' failed (failure-email-to-owner on test)\", expected \"Job failed\"",
        "- poll 2: rule failure-email-to-owner job quick trigger EXECUTING->FAILED   (expected; it did not fire)",
        "+ poll 2: rule failure-email-to-owner job quick trigger none->FAILED   (fired; not expected)",
    ] {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }
    let typo = dir.path().join("typo.test.yaml");
    std::fs::write(&typo, format!("rules: ['{rules}']\npolls:\n  - at: 0s\n    jobz: []\n")).unwrap();
    let out = nbwarden(&["test", typo.to_str().unwrap()], &[]).await;
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("typo.test.yaml:4") && said.contains("jobz"), "{said}");
}
