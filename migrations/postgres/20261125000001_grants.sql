-- grantflow: grants and their event log (PostgreSQL).
--
-- One row per grant. `state` is the machine state as JSON; the store never looks inside it.
-- `version` counts the transitions written (the creating one is version 1); every write is fenced
-- on it and, for a worker, on `lease_token`. A grant is claimable when `next_wake_at <= now`:
-- while it is leased, `next_wake_at` equals `lease_until`, so a lapsed lease makes the grant due
-- again by itself and a crashed worker's grants are picked up by the same claim query.
CREATE TABLE grantflow_grants (
    id              uuid        PRIMARY KEY,
    idempotency_key text        UNIQUE,
    state           jsonb       NOT NULL,
    version         bigint      NOT NULL CHECK (version >= 1),
    next_wake_at    timestamptz,
    -- The lease: `lease_token` increases by one on every claim (a fencing token) and is kept after
    -- release; the grant is leased exactly when `lease_until` is set.
    lease_owner     text,
    lease_token     bigint      NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT grantflow_grants_lease_complete CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CONSTRAINT grantflow_grants_leased_is_due CHECK (lease_until IS NULL OR next_wake_at = lease_until)
);

-- Claims read only grants that need attention: final grants (next_wake_at NULL) are not in the
-- index, so millions of them cost nothing to a claim.
CREATE INDEX grantflow_grants_due ON grantflow_grants (next_wake_at) WHERE next_wake_at IS NOT NULL;

-- The audit trail: one row per transition, written in the same transaction as the state.
CREATE TABLE grantflow_grant_events (
    seq      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_id uuid        NOT NULL REFERENCES grantflow_grants (id) ON DELETE CASCADE,
    version  bigint      NOT NULL,
    event    jsonb       NOT NULL,
    at       timestamptz NOT NULL,
    CONSTRAINT grantflow_grant_events_one_per_version UNIQUE (grant_id, version)
);

-- Wake sleeping workers when a statement leaves unleased grants with a wake-up time: they
-- re-read the earliest due time (polling remains the fallback if a notification is lost).
CREATE FUNCTION grantflow_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM grantflow_new_rows
               WHERE lease_until IS NULL AND next_wake_at IS NOT NULL) THEN
        PERFORM pg_notify('grantflow_due', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER grantflow_grants_due_insert
    AFTER INSERT ON grantflow_grants
    REFERENCING NEW TABLE AS grantflow_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_due();

CREATE TRIGGER grantflow_grants_due_update
    AFTER UPDATE ON grantflow_grants
    REFERENCING NEW TABLE AS grantflow_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_due();
