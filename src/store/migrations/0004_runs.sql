-- nbwarden state, version 4. The completed runs of each notebook item (its runtime and when it
-- ended), which `runtime_over_usual` compares a job with: one row per run, written by the poll that
-- saw it complete; the newest 100 of each item are kept (store/sql/runs.rs).
CREATE TABLE runs (
    scope TEXT NOT NULL, target TEXT NOT NULL, job_id TEXT NOT NULL, item_id TEXT NOT NULL,
    ended_ms BIGINT NOT NULL, runtime_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, target, job_id));
CREATE INDEX runs_item ON runs (scope, target, item_id, ended_ms);
