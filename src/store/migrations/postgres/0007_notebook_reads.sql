-- nbwarden state, version 7 (SQLite's version 9). The reads of the open notebooks
-- (store/sql/notebooks.rs): each read that differs from the one before, with every open notebook
-- as JSON, for `backtest`; pruned with the history.
CREATE TABLE notebook_reads (
    scope TEXT NOT NULL, target TEXT NOT NULL, at_ms BIGINT NOT NULL, notebooks TEXT NOT NULL,
    PRIMARY KEY (scope, target, at_ms));
