-- The change feed: every committed transition, readable by every process in commit order per
-- grant, after a position the consumer keeps.
--
-- Why not just `seq > cursor`: an identity value is taken when the row is inserted, not when its
-- transaction commits, so a transaction holding seq 10 may commit after another holding seq 11;
-- a reader that saw 11 and stored it as its cursor would never see 10.
--
-- The technique (the one transactional outboxes use on PostgreSQL): every event row records the
-- id of the transaction that wrote it (`xid`, a 64-bit `xid8` that never wraps). A reader reads
-- only rows whose `xid` is below the oldest transaction still running in its snapshot
-- (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction below that horizon has ended, so
-- no row can ever appear below it again. Rows are read in `(xid, seq)` order; the position a
-- consumer stores is that pair. Per grant the order is the commit order: a transition is fenced
-- on the grant's version, so it is computed from, and its statement starts after, the commit of
-- the previous one, and a transaction's id is assigned at its first write (a one-statement
-- commit takes it after the predecessor committed). The price: a long-running writing
-- transaction anywhere in the cluster holds the feed back until it ends (read-only transactions
-- take no id and hold nothing back).
--
-- Adding the column rewrites the table once; rows written before it carry this migration's
-- transaction id, so they come first, in `seq` order.
ALTER TABLE grantflow_grant_events
    ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    -- What the feed says about the transition: a short JSON text the engine writes (state kind,
    -- event kind, the application-facing change); never a secret. NULL on rows written before
    -- the feed existed.
    ADD COLUMN change_summary text;

CREATE INDEX grantflow_grant_events_feed ON grantflow_grant_events (xid, seq);

-- Wake consumers (`LISTEN grantflow_feed`) when a statement appended events. The notification
-- is delivered at commit; a consumer that finds the rows still held back by an older running
-- transaction retries shortly, and polls anyway (a notification may be lost).
CREATE FUNCTION grantflow_notify_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM grantflow_new_events) THEN
        PERFORM pg_notify('grantflow_feed', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER grantflow_grant_events_feed
    AFTER INSERT ON grantflow_grant_events
    REFERENCING NEW TABLE AS grantflow_new_events
    FOR EACH STATEMENT EXECUTE FUNCTION grantflow_notify_feed();

-- Named consumers of the feed (a webhook, an application's projector): the position each one
-- has handled, and a lease so that one process at a time consumes under a name (fenced on
-- `lease_token`, which increases on every claim, like a grant's).
CREATE TABLE grantflow_feed_consumers (
    name        text        PRIMARY KEY,
    position    text,
    lease_owner text,
    lease_token bigint      NOT NULL DEFAULT 0,
    lease_until timestamptz,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT grantflow_feed_consumers_lease_complete
        CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
);
