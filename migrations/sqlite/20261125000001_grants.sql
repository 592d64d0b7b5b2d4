-- grantflow: grants and their event log (SQLite, the embedded default).
--
-- Same shape as the PostgreSQL schema. Times are INTEGER microseconds since the Unix epoch (so
-- they compare as numbers), ids are 16-byte BLOB uuids, JSON is TEXT. While a grant is leased,
-- `next_wake_at` equals `lease_until`, so a lapsed lease makes it due again by itself.
CREATE TABLE grantflow_grants (
    id              BLOB    PRIMARY KEY NOT NULL,
    idempotency_key TEXT    UNIQUE,
    state           TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    next_wake_at    INTEGER,
    lease_owner     TEXT,
    lease_token     INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CHECK (lease_until IS NULL OR next_wake_at = lease_until)
) WITHOUT ROWID;

-- Only grants that need attention are indexed: final grants cost a claim nothing.
CREATE INDEX grantflow_grants_due ON grantflow_grants (next_wake_at) WHERE next_wake_at IS NOT NULL;

CREATE TABLE grantflow_grant_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    grant_id BLOB    NOT NULL REFERENCES grantflow_grants (id) ON DELETE CASCADE,
    version  INTEGER NOT NULL,
    event    TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    UNIQUE (grant_id, version)
);
