-- nbwarden state on PostgreSQL, version 1: the tables of SQLite's version 3 (see ../0001_init.sql
-- to ../0003_packed_snapshots.sql for what each holds), and those of several replicas: a lease
-- per target and a heartbeat per replica (SPEC §4.12). Times are epoch-ms BIGINT, as on SQLite.
CREATE TABLE targets (
    scope TEXT NOT NULL, target TEXT NOT NULL,
    baseline_ms BIGINT NOT NULL, last_poll_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, target));
CREATE TABLE ledger (
    scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, job_id TEXT NOT NULL, trig TEXT NOT NULL,
    fired_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, target, rule, job_id, trig));
CREATE TABLE streaks (
    scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, job_id TEXT NOT NULL, count BIGINT NOT NULL,
    PRIMARY KEY (scope, target, rule, job_id));
-- `status` is also 'running' while a replica has claimed the action (FOR UPDATE SKIP LOCKED);
-- whoever takes the target's lease over puts its running actions back to 'pending'.
CREATE TABLE actions (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, kind TEXT NOT NULL,
    job_ids TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, attempts BIGINT NOT NULL, next_attempt_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX actions_pending ON actions (status, next_attempt_ms);
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL, scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, action TEXT NOT NULL,
    job_ids TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX audit_time ON audit (scope, target, action, at_ms);
CREATE TABLE cancel_checks (
    scope TEXT NOT NULL, target TEXT NOT NULL, job_id TEXT NOT NULL, rule TEXT NOT NULL, polls_left BIGINT NOT NULL,
    PRIMARY KEY (scope, target, job_id));
CREATE TABLE sign_in_refusals (
    account TEXT NOT NULL, at_ms BIGINT NOT NULL, kind TEXT NOT NULL, credentials BIGINT NOT NULL,
    message TEXT NOT NULL);
CREATE INDEX sign_in_refusals_account ON sign_in_refusals (account, at_ms);
CREATE TABLE job_history (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL, target TEXT NOT NULL, at_ms BIGINT NOT NULL, job_id TEXT NOT NULL,
    job TEXT NOT NULL, listed BIGINT NOT NULL);
CREATE INDEX job_history_time ON job_history (scope, target, at_ms);
CREATE INDEX job_history_target ON job_history (scope, target, id);
CREATE TABLE snapshots (
    scope TEXT NOT NULL, target TEXT NOT NULL, packed_through BIGINT NOT NULL, pending BIGINT NOT NULL,
    PRIMARY KEY (scope, target));
CREATE TABLE packed_jobs (
    scope TEXT NOT NULL, target TEXT NOT NULL, jobs BYTEA NOT NULL,
    PRIMARY KEY (scope, target));
-- One row per target: who polls it, since which epoch, until when (the database's clock, epoch ms).
CREATE TABLE leases (
    target TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL, expires_ms BIGINT NOT NULL);
-- One row per replica, renewed with its leases: the live ones share the targets.
CREATE TABLE replicas (
    name TEXT PRIMARY KEY, heartbeat_ms BIGINT NOT NULL, started_ms BIGINT NOT NULL);
