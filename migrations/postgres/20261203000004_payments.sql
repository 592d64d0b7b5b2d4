-- Payments made under grants (issue 16): a workflow like a grant, in its own table with the same
-- row shape (opaque state, version, wake-up, lease fenced on a token), its own event table, and
-- the ledger entry the limit check reads.
--
-- Why not grant rows with a kind column: every reader of grants (listings, retention, the gauge,
-- re-sealing, reindexing) would have to skip payments, and a payment needs what a grant does not
-- (the grant it is made under, an idempotency key unique per grant, a ledger entry). The claim
-- loop, the fence rules, the wake-up notifications and the change feed are shared.
CREATE TABLE grantflow_payments (
    id              uuid        PRIMARY KEY,
    -- The grant the payment is made under. No foreign key: a grant may be pruned after it ended,
    -- its payments (and the ledger they form) are kept.
    grant_id        uuid        NOT NULL,
    idempotency_key text        NOT NULL,
    state           jsonb       NOT NULL,
    version         bigint      NOT NULL CHECK (version >= 1),
    next_wake_at    timestamptz,
    lease_owner     text,
    lease_token     bigint      NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    state_kind      text        NOT NULL,
    -- The ledger entry: what the payment may have debited (`ledger`, the driver's JSON text of
    -- the amounts), and the instant that picks its limit window. NULL while nothing may have
    -- been paid (quoting, or proven absent, or failed before any create).
    ledger_at       timestamptz,
    ledger          text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT grantflow_payments_key UNIQUE (grant_id, idempotency_key),
    CONSTRAINT grantflow_payments_lease_complete CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CONSTRAINT grantflow_payments_leased_is_due CHECK (lease_until IS NULL OR next_wake_at = lease_until),
    CONSTRAINT grantflow_payments_ledger_complete CHECK ((ledger_at IS NULL) = (ledger IS NULL))
);

-- Claims read only payments that need attention (final ones have no wake-up).
CREATE INDEX grantflow_payments_due ON grantflow_payments (next_wake_at) WHERE next_wake_at IS NOT NULL;

-- The limit check reads one grant's entries in one window.
CREATE INDEX grantflow_payments_ledger ON grantflow_payments (grant_id, ledger_at)
    WHERE ledger_at IS NOT NULL;

-- A grant's payments, oldest first.
CREATE INDEX grantflow_payments_grant_created ON grantflow_payments (grant_id, created_at, id);

-- One row per transition, written with the state. `seq` is taken from the grant events' own
-- sequence, so a position in the change feed names one event of either table.
CREATE TABLE grantflow_payment_events (
    seq            bigint      PRIMARY KEY DEFAULT nextval('grantflow_grant_events_seq_seq'),
    payment_id     uuid        NOT NULL REFERENCES grantflow_payments (id) ON DELETE CASCADE,
    version        bigint      NOT NULL,
    event          jsonb       NOT NULL,
    at             timestamptz NOT NULL,
    xid            xid8        NOT NULL DEFAULT pg_current_xact_id(),
    change_summary text,
    CONSTRAINT grantflow_payment_events_one_per_version UNIQUE (payment_id, version)
);

CREATE INDEX grantflow_payment_events_feed ON grantflow_payment_events (xid, seq);

CREATE TRIGGER grantflow_payment_events_feed
    AFTER INSERT ON grantflow_payment_events
    REFERENCING NEW TABLE AS grantflow_new_events
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_feed();

-- Wake workers when a payment becomes due soon (the grants' function: same column names).
CREATE TRIGGER grantflow_payments_due_insert
    AFTER INSERT ON grantflow_payments
    REFERENCING NEW TABLE AS grantflow_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_due();

CREATE TRIGGER grantflow_payments_due_update
    AFTER UPDATE ON grantflow_payments
    REFERENCING NEW TABLE AS grantflow_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_due();

-- The change feed reads every workflow's events as one log, in `(xid, seq)` order (see
-- `20261203000002_change_feed.sql`); `grant_id` is the workflow's id (a grant's or a payment's).
CREATE VIEW grantflow_feed_events AS
    SELECT seq, grant_id, version, at, xid, change_summary FROM grantflow_grant_events
    UNION ALL
    SELECT seq, payment_id AS grant_id, version, at, xid, change_summary FROM grantflow_payment_events;
