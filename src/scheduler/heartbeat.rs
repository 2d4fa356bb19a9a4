//! The dead-man heartbeat (`heartbeat: { url, every }`), in the convention of Healthchecks.io and
//! Cronitor: every `every`, a GET on `url` when a poll succeeded since the last beat, on
//! `<url>/fail` when polls failed and none succeeded, nothing when no poll came at all (then the
//! service raises the alarm, as it does when the host is down). The URL is a secret: it is shown
//! by its host only.

use super::{stopped_and_grace_over, Context};
use crate::config::HeartbeatConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Beats until the stop.
pub async fn beat(cx: Arc<Context>, config: HeartbeatConfig, mut stop: watch::Receiver<bool>) {
    let mut last = cx.board.polls();
    let mut tick = tokio::time::interval(config.every.0);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = cx.board.polls();
        let (ok, failed) = (now.0 - last.0, now.1 - last.1);
        last = now;
        if ok > 0 || failed > 0 {
            let beat = ping(&cx.shared.dispatch.services, &config.url, ok > 0);
            tokio::select! {
                _ = beat => {}
                _ = stopped_and_grace_over(stop.clone(), cx.grace) => return,
            }
        }
    }
}

/// One GET: on `url`, or on `<url>/fail`; a failure is logged, never fatal.
pub async fn ping(services: &crate::actions::Services, url: &str, alive: bool) {
    let url = match alive {
        true => url.to_string(),
        false => format!("{}/fail", url.trim_end_matches('/')),
    };
    let shown = crate::actions::host_only(&url);
    let client = match services.http() {
        Ok(client) => client,
        Err(e) => return tracing::warn!(error = %e, "cannot send the heartbeat"),
    };
    match client.get(&url).timeout(TIMEOUT).send().await {
        Ok(answer) if answer.status().is_success() => tracing::debug!(url = %shown, alive, "heartbeat sent"),
        Ok(answer) => tracing::warn!(url = %shown, status = answer.status().as_u16(), "the heartbeat was refused"),
        Err(e) => tracing::warn!(url = %shown, error = %e.without_url(), "cannot send the heartbeat"),
    }
}

/// Bound on one ping.
const TIMEOUT: Duration = Duration::from_secs(10);
