-- nbwarden state, version 9. The reads of the open notebooks (store/sql/notebooks.rs): each read
-- that differs from the one before (a notebook opened, closed, used; a title or runtime learned),
-- with every open notebook as JSON, for `backtest`; pruned with the history.
CREATE TABLE notebook_reads (
    scope TEXT NOT NULL, target TEXT NOT NULL, at_ms BIGINT NOT NULL, notebooks TEXT NOT NULL,
    PRIMARY KEY (scope, target, at_ms));
