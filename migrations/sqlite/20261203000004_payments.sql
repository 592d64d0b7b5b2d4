-- Payments made under grants (see the PostgreSQL migration of the same name for the design).
-- Times are INTEGER microseconds, ids 16-byte BLOB uuids, as for grants.
CREATE TABLE grantflow_payments (
    id              BLOB    PRIMARY KEY NOT NULL,
    grant_id        BLOB    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    next_wake_at    INTEGER,
    lease_owner     TEXT,
    lease_token     INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    state_kind      TEXT    NOT NULL,
    ledger_at       INTEGER,
    ledger          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (grant_id, idempotency_key),
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CHECK (lease_until IS NULL OR next_wake_at = lease_until),
    CHECK ((ledger_at IS NULL) = (ledger IS NULL))
) WITHOUT ROWID;

CREATE INDEX grantflow_payments_due ON grantflow_payments (next_wake_at) WHERE next_wake_at IS NOT NULL;
CREATE INDEX grantflow_payments_ledger ON grantflow_payments (grant_id, ledger_at)
    WHERE ledger_at IS NOT NULL;
CREATE INDEX grantflow_payments_grant_created ON grantflow_payments (grant_id, created_at, id);

-- `seq` is not AUTOINCREMENT here: the store takes it from the grant events' counter
-- (`sqlite_sequence`), in the same transaction, so one position names one event of either table
-- and `seq` order stays commit order (one writer).
CREATE TABLE grantflow_payment_events (
    seq            INTEGER PRIMARY KEY NOT NULL,
    payment_id     BLOB    NOT NULL REFERENCES grantflow_payments (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    event          TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    change_summary TEXT,
    UNIQUE (payment_id, version)
);

CREATE VIEW grantflow_feed_events AS
    SELECT seq, grant_id, version, at, change_summary FROM grantflow_grant_events
    UNION ALL
    SELECT seq, payment_id AS grant_id, version, at, change_summary FROM grantflow_payment_events;
