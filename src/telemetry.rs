//! The names of the Prometheus series nbwarden exports: a leaf, so that every layer can count
//! without knowing the `/metrics` endpoint.

/// Polls per target (counter).
pub const POLLS: &str = "nbwarden_polls_total";
/// Failed polls per target (counter).
pub const POLL_ERRORS: &str = "nbwarden_poll_errors_total";
/// Seconds per poll, list call to commit, per target (histogram).
pub const POLL_SECONDS: &str = "nbwarden_poll_duration_seconds";
/// Jobs listed by the last poll, per target and phase (gauge).
pub const JOBS: &str = "nbwarden_jobs";
/// Events per target and kind (counter).
pub const EVENTS: &str = "nbwarden_events_total";
/// Firings per target and rule (counter).
pub const FIRINGS: &str = "nbwarden_firings_total";
/// Action outcomes per target, rule, action and outcome (counter).
pub const ACTIONS: &str = "nbwarden_actions_total";
/// Unix time of the last successful poll, per target (gauge).
pub const LAST_SUCCESS: &str = "nbwarden_last_successful_poll_timestamp_seconds";
/// Sign-ins that produced a token, per target (counter).
pub const TOKEN_REFRESHES: &str = "nbwarden_token_refreshes_total";
/// While sign-in waits to protect the account: Unix time of the next safe try; 0 otherwise (gauge).
pub const SIGN_IN_PAUSED_UNTIL: &str = "nbwarden_sign_in_paused_until_timestamp_seconds";
/// Gauge per target: 1 while this replica holds the target's lease (replicas only).
pub const LEASE_HELD: &str = "nbwarden_lease_held";
/// Counter: leases this replica took from another holder (or from an earlier run of itself).
pub const LEASE_TAKEOVERS: &str = "nbwarden_lease_takeovers_total";
/// Gauge: 1 when the last configuration reload succeeded (or none was asked), 0 when it was refused.
pub const RELOAD_OK: &str = "nbwarden_config_last_reload_successful";
/// Gauge: Unix time of the last successful configuration load (the start, or a reload).
pub const RELOAD_OK_AT: &str = "nbwarden_config_last_reload_success_timestamp_seconds";
/// Gauge: a scheduled task's failures in a row, as last read (`target`, `task`: its id).
pub const TASK_FAILURES: &str = "nbwarden_task_consecutive_failures";
/// Gauge: the scheduled tasks as last read, by `state`.
pub const TASKS: &str = "nbwarden_tasks";
/// Gauge: the open notebooks as last read (`notebooks:`), by `runtime`.
pub const OPEN_NOTEBOOKS: &str = "nbwarden_open_notebooks";
/// Counter: notebooks nbwarden closed (`close_notebook` done).
pub const NOTEBOOKS_CLOSED: &str = "nbwarden_notebooks_closed_total";
/// Gauge: silences in force (`state="active"`) and ended within the last day (`"expired"`).
pub const SILENCES: &str = "nbwarden_silences";
