-- nbwarden state, version 6 (SQLite's version 8). The status page's activity
-- (store/sql/activity.rs): per target, the most jobs running and the failures in each 10-minute
-- slot of the last 24 hours (this machine's clock), so that a restart keeps the chart.
CREATE TABLE activity (
    scope TEXT NOT NULL, target TEXT NOT NULL, start_ms BIGINT NOT NULL,
    running BIGINT NOT NULL, failures BIGINT NOT NULL,
    PRIMARY KEY (scope, target, start_ms));
