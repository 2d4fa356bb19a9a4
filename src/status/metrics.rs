//! The Prometheus series nbwarden exports, and the recorder behind `/metrics`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub use crate::telemetry::*;

/// Installs the process-wide recorder once; later calls return the same handle.
pub fn recorder() -> Result<PrometheusHandle, RecorderError> {
    static HANDLE: OnceLock<Result<PrometheusHandle, RecorderError>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(POLL_SECONDS.into()), &buckets)
                .map_err(|e| RecorderError(e.to_string()))?;
            let handle = builder.install_recorder().map_err(|e| RecorderError(e.to_string()))?;
            describe();
            Ok(handle)
        })
        .clone()
}

/// The process-wide metrics recorder could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct RecorderError(String);

fn describe() {
    metrics::describe_counter!(POLLS, "Polls per target.");
    metrics::describe_counter!(POLL_ERRORS, "Failed polls per target.");
    metrics::describe_histogram!(POLL_SECONDS, metrics::Unit::Seconds, "Time per poll, list call to commit.");
    metrics::describe_gauge!(JOBS, "Jobs listed by the last poll, by phase.");
    metrics::describe_counter!(EVENTS, "Job events (appeared, status_changed, disappeared).");
    metrics::describe_counter!(FIRINGS, "Rule firings recorded in the ledger.");
    metrics::describe_counter!(ACTIONS, "Action outcomes (done, planned, failed, suppressed, skipped).");
    metrics::describe_gauge!(LAST_SUCCESS, metrics::Unit::Seconds, "Unix time of the last successful poll.");
    metrics::describe_counter!(TOKEN_REFRESHES, "Sign-ins that produced a token.");
    metrics::describe_gauge!(RELOAD_OK, "1 when the last configuration reload succeeded, 0 when it was refused.");
    metrics::describe_gauge!(
        RELOAD_OK_AT,
        metrics::Unit::Seconds,
        "Unix time of the last successful configuration load (the start or a reload)."
    );
    metrics::describe_gauge!(TASK_FAILURES, "A scheduled task's failures in a row, as last read.");
    metrics::describe_gauge!(TASKS, "The scheduled tasks as last read, by state.");
    metrics::describe_gauge!(OPEN_NOTEBOOKS, "The open interactive notebooks as last read, by runtime.");
    metrics::describe_counter!(NOTEBOOKS_CLOSED, "Open notebooks nbwarden closed.");
    metrics::describe_gauge!(SILENCES, "Silences in force (active) and ended within the last day (expired).");
    metrics::describe_gauge!(
        SIGN_IN_PAUSED_UNTIL,
        metrics::Unit::Seconds,
        "While sign-in waits to protect the account from lockout: Unix time of the next safe try (0: not waiting)."
    );
}
