-- nbwarden state, version 8 (SQLite's version 10). What the list read knows of the body the
-- stored snapshot was read from (arcgis::ListedBody, as JSON; NULL: nothing), so that a fresh
-- process (`once`) knows the same body again without scanning it.
ALTER TABLE targets ADD COLUMN listed_body TEXT;
