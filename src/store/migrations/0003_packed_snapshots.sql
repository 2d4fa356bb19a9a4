-- nbwarden state, version 3. A target's last snapshot is its listed jobs packed (store/packed.rs)
-- in one `packed_jobs` row as of history row `packed_through`, completed by the `pending` history
-- rows after it; they are folded in once they are a quarter of it. The packed value has a table of
-- its own: SQLite rewrites a whole row when one of its columns changes. Every change a poll saw is a
-- history row (the job as then listed, or `listed = 0` for a job gone with its final status), kept
-- until `state.retention` passes: writes are proportional to change, and loading reads one row.
CREATE TABLE job_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL, target TEXT NOT NULL, at_ms BIGINT NOT NULL, job_id TEXT NOT NULL,
    job TEXT NOT NULL, listed BIGINT NOT NULL);
CREATE INDEX job_history_time ON job_history (scope, target, at_ms);
CREATE TABLE snapshots (
    scope TEXT NOT NULL, target TEXT NOT NULL, packed_through BIGINT NOT NULL, pending BIGINT NOT NULL,
    PRIMARY KEY (scope, target));
CREATE TABLE packed_jobs (
    scope TEXT NOT NULL, target TEXT NOT NULL, jobs BLOB NOT NULL,
    PRIMARY KEY (scope, target));
-- Version 2's rows: gone jobs first, so that replaying them (in id order) leaves the listed ones.
INSERT INTO job_history (scope, target, at_ms, job_id, job, listed)
    SELECT scope, target, updated_ms, job_id, job, listed FROM jobs ORDER BY listed, updated_ms, job_id;
INSERT INTO snapshots (scope, target, packed_through, pending)
    SELECT scope, target, 0, (SELECT COUNT(*) FROM job_history h WHERE h.scope = t.scope AND h.target = t.target)
    FROM targets t;
INSERT INTO packed_jobs (scope, target, jobs) SELECT scope, target, X'' FROM targets;
DROP TABLE jobs;
