-- Recurring schedules (see the PostgreSQL migration of the same name for the design).
-- Times are INTEGER microseconds, ids 16-byte BLOB uuids, as for grants and payments.
CREATE TABLE grantflow_schedules (
    id              BLOB    PRIMARY KEY NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    next_wake_at    INTEGER,
    lease_owner     TEXT,
    lease_token     INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    state_kind      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CHECK (lease_until IS NULL OR next_wake_at = lease_until)
) WITHOUT ROWID;

CREATE INDEX grantflow_schedules_due ON grantflow_schedules (next_wake_at) WHERE next_wake_at IS NOT NULL;
CREATE INDEX grantflow_schedules_created ON grantflow_schedules (created_at, id);

-- `seq` comes from the grant events' counter, as for payment events.
CREATE TABLE grantflow_schedule_events (
    seq            INTEGER PRIMARY KEY NOT NULL,
    schedule_id    BLOB    NOT NULL REFERENCES grantflow_schedules (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    event          TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    change_summary TEXT,
    UNIQUE (schedule_id, version)
);

DROP VIEW grantflow_feed_events;
CREATE VIEW grantflow_feed_events AS
    SELECT seq, grant_id, version, at, change_summary FROM grantflow_grant_events
    UNION ALL
    SELECT seq, payment_id AS grant_id, version, at, change_summary FROM grantflow_payment_events
    UNION ALL
    SELECT seq, schedule_id AS grant_id, version, at, change_summary FROM grantflow_schedule_events;
