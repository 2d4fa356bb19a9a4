//! Debian's Chromium, headless: the DOM a page builds, or a screenshot of it.

use std::time::Duration;

/// Where Chromium is installed, if it is.
pub fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

/// The page as the browser built it (`--dump-dom`), or with `screenshot` a PNG of it.
pub async fn browser(binary: &str, url: &str, screenshot: Option<&std::path::Path>) -> String {
    browser_at(binary, url, screenshot, (1500, 1800)).await
}

/// The same in a window of `size` (width, height).
pub async fn browser_at(binary: &str, url: &str, screenshot: Option<&std::path::Path>, size: (u32, u32)) -> String {
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
        Some(path) => command.arg(format!("--screenshot={}", path.display())),
        None => command.arg("--dump-dom"),
    };
    command.arg(format!("--window-size={},{}", size.0, size.1));
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

/// How the page at `url` (served as HTML) lays out in a viewport `width` CSS pixels wide: the
/// width of the document (wider than the viewport when the page scrolls sideways), the
/// viewport's, and the chart's. Measured by Chromium itself: the page is shown in a frame of that
/// width (Chromium's own windows are at least 500 pixels wide), measured by a script of the
/// page around it.
pub async fn layout(binary: &str, url: &str, width: u32) -> Layout {
    let html =
        reqwest::Client::new().get(url).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    let html = html.replace("<meta http-equiv=\"refresh\" content=\"15\">", "");
    let escaped = html.replace('&', "&amp;").replace('"', "&quot;");
    let probe = format!(
        "<!doctype html><html><body style=\"margin:0\"><iframe id=\"page\" style=\"border:0;width:{width}px;height:900px\" srcdoc=\"{escaped}\"></iframe>
<script>addEventListener('load', () => {{
  const d = document.getElementById('page').contentDocument, chart = d.querySelector('#activity-chart svg');
  document.body.dataset.page = d.documentElement.scrollWidth;
  document.body.dataset.window = d.documentElement.clientWidth;
  document.body.dataset.chart = chart ? Math.ceil(chart.getBoundingClientRect().width) : -1;
}});</script></body></html>"
    );
    let copy = tempfile::Builder::new().suffix(".html").tempfile().unwrap();
    std::fs::write(copy.path(), probe).unwrap();
    let url = format!("file://{}", copy.path().display());
    let dom = browser_at(binary, &url, None, (width.max(500) + 40, 1000)).await;
    let read = |name: &str| -> i64 {
        let at = dom.find(&format!("data-{name}=\"")).unwrap_or_else(|| panic!("no {name} measured in\n{dom}"));
        dom[at + name.len() + 7..].split('"').next().unwrap().parse().unwrap()
    };
    Layout { page: read("page"), window: read("window"), chart: read("chart") }
}

/// Widths in CSS pixels, as measured by [`layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub page: i64,
    pub window: i64,
    pub chart: i64,
}
