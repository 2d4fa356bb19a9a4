-- nbwarden state, version 1. `scope` is 'real' or 'dry': dry-run state never mixes with real state.
CREATE TABLE targets (
    scope TEXT NOT NULL, target TEXT NOT NULL,
    baseline_ms BIGINT NOT NULL, last_poll_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, target));
-- Every job seen: `listed` ones form the last snapshot; the others are the history of jobs gone
-- (with their final status), kept for digests and `explain` until `state.retention` passes.
CREATE TABLE jobs (
    scope TEXT NOT NULL, target TEXT NOT NULL, job_id TEXT NOT NULL, job TEXT NOT NULL,
    listed BIGINT NOT NULL, first_seen_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, target, job_id));
CREATE INDEX jobs_updated ON jobs (scope, target, updated_ms);
CREATE TABLE ledger (
    scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, job_id TEXT NOT NULL, trig TEXT NOT NULL,
    fired_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, target, rule, job_id, trig));
CREATE TABLE streaks (
    scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, job_id TEXT NOT NULL, count BIGINT NOT NULL,
    PRIMARY KEY (scope, target, rule, job_id));
CREATE TABLE actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, kind TEXT NOT NULL,
    job_ids TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, attempts BIGINT NOT NULL, next_attempt_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX actions_pending ON actions (status, next_attempt_ms);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms BIGINT NOT NULL, scope TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, action TEXT NOT NULL,
    job_ids TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX audit_time ON audit (scope, target, action, at_ms);
CREATE TABLE cancel_checks (
    scope TEXT NOT NULL, target TEXT NOT NULL, job_id TEXT NOT NULL, rule TEXT NOT NULL, polls_left BIGINT NOT NULL,
    PRIMARY KEY (scope, target, job_id));
