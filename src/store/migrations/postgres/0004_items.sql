-- nbwarden state, version 4 (SQLite's version 6). The notebook items read from Portal
-- (store/sql/items.rs): each item's title and owner, or why they are not known, read once per
-- item and kept with the target.
CREATE TABLE items (
    scope TEXT NOT NULL, target TEXT NOT NULL, item_id TEXT NOT NULL, item TEXT NOT NULL,
    PRIMARY KEY (scope, target, item_id));
