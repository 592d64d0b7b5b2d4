-- Recurring schedules (issue 16): a workflow like a grant or a payment, in its own table with the
-- same row shape (opaque state, version, wake-up, lease fenced on a token), its own event table
-- sharing the grant events' sequence, and a place in the change feed's view.
--
-- A schedule's state is the pure schedule machine's (`grantflow_payment::schedule`); each of its
-- payments is an ordinary payment row (`grantflow_payments`) whose idempotency key is
-- `schedule/<schedule id>/<occurrence>`: the payments table's unique (grant, key) is what makes an
-- occurrence paid at most once.
CREATE TABLE grantflow_schedules (
    id              uuid        PRIMARY KEY,
    -- The application's key: a second create with the same key returns the first schedule.
    idempotency_key text        NOT NULL UNIQUE,
    state           jsonb       NOT NULL,
    version         bigint      NOT NULL CHECK (version >= 1),
    next_wake_at    timestamptz,
    lease_owner     text,
    lease_token     bigint      NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    state_kind      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT grantflow_schedules_lease_complete CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CONSTRAINT grantflow_schedules_leased_is_due CHECK (lease_until IS NULL OR next_wake_at = lease_until)
);

CREATE INDEX grantflow_schedules_due ON grantflow_schedules (next_wake_at) WHERE next_wake_at IS NOT NULL;
CREATE INDEX grantflow_schedules_created ON grantflow_schedules (created_at, id);

CREATE TABLE grantflow_schedule_events (
    seq            bigint      PRIMARY KEY DEFAULT nextval('grantflow_grant_events_seq_seq'),
    schedule_id    uuid        NOT NULL REFERENCES grantflow_schedules (id) ON DELETE CASCADE,
    version        bigint      NOT NULL,
    event          jsonb       NOT NULL,
    at             timestamptz NOT NULL,
    xid            xid8        NOT NULL DEFAULT pg_current_xact_id(),
    change_summary text,
    CONSTRAINT grantflow_schedule_events_one_per_version UNIQUE (schedule_id, version)
);

CREATE INDEX grantflow_schedule_events_feed ON grantflow_schedule_events (xid, seq);

CREATE TRIGGER grantflow_schedule_events_feed
    AFTER INSERT ON grantflow_schedule_events
    REFERENCING NEW TABLE AS grantflow_new_events
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_feed();

CREATE TRIGGER grantflow_schedules_due_insert
    AFTER INSERT ON grantflow_schedules
    REFERENCING NEW TABLE AS grantflow_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_due();

CREATE TRIGGER grantflow_schedules_due_update
    AFTER UPDATE ON grantflow_schedules
    REFERENCING NEW TABLE AS grantflow_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_due();

-- The change feed reads every workflow's events as one log; `grant_id` is the workflow's id.
CREATE OR REPLACE VIEW grantflow_feed_events AS
    SELECT seq, grant_id, version, at, xid, change_summary FROM grantflow_grant_events
    UNION ALL
    SELECT seq, payment_id AS grant_id, version, at, xid, change_summary FROM grantflow_payment_events
    UNION ALL
    SELECT seq, schedule_id AS grant_id, version, at, xid, change_summary FROM grantflow_schedule_events;
