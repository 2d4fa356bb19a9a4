//! The lease keeper of a replica (SPEC §4.12): a round of heartbeat, renewal, give-back and
//! takeover every `lease_ttl/3` (sooner when a lease it may take runs out), shown on the board.

use super::Context;
use crate::store::lease::Leases;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Pause after a round the database refused (it is restarting, say).
const RETRY: Duration = Duration::from_secs(1);

/// Keeps the leases of `targets` until told to stop; then gives them all back.
pub async fn keep(cx: Arc<Context>, leases: Arc<Leases>, targets: Vec<String>, mut stop: watch::Receiver<bool>) {
    let mut logged = false;
    loop {
        let wait = match leases.round(&targets).await {
            Ok(next) => {
                logged = false;
                next
            }
            Err(e) => {
                if !logged {
                    tracing::error!(error = %e, "cannot reach the state store to renew leases; held targets stop when their lease runs out here");
                    logged = true;
                }
                RETRY
            }
        };
        match leases.view(&targets).await {
            Ok(view) => cx.board.leases(&view, cx.now()),
            Err(e) => tracing::debug!(error = %e, "cannot read the leases for /status"),
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    leases.release_all().await;
    tracing::info!(replica = leases.replica(), "gave every lease back");
}
