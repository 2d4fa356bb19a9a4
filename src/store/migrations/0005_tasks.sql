-- nbwarden state, version 5. The scheduled tasks of targets with `tasks:` (store/sql/tasks.rs):
-- when a target's tasks were last read (no row: the next read is a silent baseline), each task as
-- last seen with its failures in a row (JSON), and the runs read, the newest 100 of each task kept.
CREATE TABLE task_reads (
    scope TEXT NOT NULL, target TEXT NOT NULL, read_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, target));
CREATE TABLE tasks (
    scope TEXT NOT NULL, target TEXT NOT NULL, task_id TEXT NOT NULL, seen TEXT NOT NULL,
    PRIMARY KEY (scope, target, task_id));
CREATE TABLE task_runs (
    scope TEXT NOT NULL, target TEXT NOT NULL, task_id TEXT NOT NULL, run_id TEXT NOT NULL,
    status TEXT NOT NULL, created_ms BIGINT, modified_ms BIGINT,
    PRIMARY KEY (scope, target, task_id, run_id));
