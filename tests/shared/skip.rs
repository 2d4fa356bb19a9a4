//! A skip that cannot hide, for the unit tests (`crate::test_support`) and the integration tests
//! (`util`) alike: listed by `scripts/test` at the end, and a failure when `CI=true`.

/// Says loudly that `test` could not run here and why: printed, appended to
/// `target/test-skips.txt`, and a failure under CI.
pub fn skipped(test: &str, reason: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{test} cannot run here ({reason}); CI must run every test");
    println!("SKIPPED {test}: {reason}");
    let log = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-skips.txt");
    let line = format!("{test}: {reason}\n");
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
}
