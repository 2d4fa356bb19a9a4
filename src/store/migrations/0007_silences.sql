-- nbwarden state, version 7. Silences (store/sql/silences.rs): matchers (JSON), the span on this
-- machine's clock, who set it and why; written by `nbwarden silence`, read by the daemon at each poll.
CREATE TABLE silences (
    id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_ms BIGINT NOT NULL, ends_ms BIGINT NOT NULL,
    comment TEXT NOT NULL, author TEXT NOT NULL);
