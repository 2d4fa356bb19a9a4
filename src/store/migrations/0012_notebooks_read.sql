-- nbwarden state, version 12. When the open notebooks were last read (every read, changed or not;
-- NULL: never, or before this version), so that `backtest` replays no read after the daemon's
-- last one: the reads themselves are recorded only when they differ from the one before.
ALTER TABLE targets ADD COLUMN notebooks_read_ms BIGINT;
