-- The change feed (see the PostgreSQL migration of the same name for the general design).
--
-- SQLite has one writer (the store's one connection) and an event's `seq` is taken inside the
-- transaction that commits it, with no other writer in between: `seq` order is commit order, so
-- the feed reads `seq > position` and needs no transaction ids.
ALTER TABLE grantflow_grant_events ADD COLUMN change_summary TEXT;

CREATE TABLE grantflow_feed_consumers (
    name        TEXT    PRIMARY KEY NOT NULL,
    position    TEXT,
    lease_owner TEXT,
    lease_token INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER,
    updated_at  INTEGER NOT NULL,
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
) WITHOUT ROWID;
