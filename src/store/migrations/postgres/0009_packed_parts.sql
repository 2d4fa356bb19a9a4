-- nbwarden state, version 9 (SQLite's version 11). A packed snapshot is kept in parts of at most
-- 1,024 jobs, in order (store/sql/commit.rs), each part a packed value of its own: neither the
-- server nor the driver then ever holds a copy of the whole snapshot, when it is written or read.
CREATE TABLE packed_parts (
    scope TEXT NOT NULL, target TEXT NOT NULL, part BIGINT NOT NULL, jobs BYTEA NOT NULL,
    PRIMARY KEY (scope, target, part));
INSERT INTO packed_parts (scope, target, part, jobs) SELECT scope, target, 0, jobs FROM packed_jobs;
DROP TABLE packed_jobs;
