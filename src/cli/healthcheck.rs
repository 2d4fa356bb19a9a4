//! `nbwarden healthcheck`: exit 0 when `/healthz` answers 200, 1 otherwise (with why), so that a
//! container image gets a `HEALTHCHECK` without curl.

use crate::config::Config;
use std::time::Duration;

/// Asks `url`, or the configured `http.listen`'s `/healthz`.
pub async fn run(config: Option<&Config>, url: Option<String>) -> anyhow::Result<bool> {
    let url = match (url, config) {
        (Some(url), _) => url,
        (None, Some(config)) if !config.http.listen.trim().is_empty() => {
            format!("http://{}/healthz", config.http.listen.trim())
        }
        _ => anyhow::bail!("no /healthz to ask: give --url, or a configuration whose http.listen is set"),
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    match client.get(&url).send().await {
        Ok(answer) if answer.status().is_success() => Ok(true),
        Ok(answer) => {
            let status = answer.status().as_u16();
            let body = answer.text().await.unwrap_or_default();
            eprintln!("unhealthy ({status}): {}", crate::text::sanitize(body.trim()));
            Ok(false)
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {}", e.without_url());
            Ok(false)
        }
    }
}
