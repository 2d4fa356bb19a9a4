//! Debian's Chromium, headless: the DOM a page builds, or a screenshot of it.

use std::time::Duration;

/// Where Chromium is installed, if it is.
pub fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

/// The page as the browser built it (`--dump-dom`), or with `screenshot` a PNG of it.
pub async fn browser(binary: &str, url: &str, screenshot: Option<&std::path::Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(binary);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        &format!("--user-data-dir={}", profile.path().display()),
    ]);
    match screenshot {
        Some(path) => command.args(["--window-size=1500,1800", &format!("--screenshot={}", path.display())]),
        None => command.arg("--dump-dom"),
    };
    command.arg(url);
    command.kill_on_drop(true).stderr(std::process::Stdio::null());
    let output =
        tokio::time::timeout(Duration::from_secs(90), command.output()).await.expect("chromium answers").unwrap();
    assert!(output.status.success(), "chromium failed: {:?}", output.status);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A screenshot of `url` kept as `target/test-artifacts/<name>`; it must be a real PNG.
pub async fn keep_screenshot(binary: &str, url: &str, name: &str) {
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join(name);
    let _ = std::fs::remove_file(&png);
    browser(binary, url, Some(&png)).await;
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{} bytes", bytes.len());
}
