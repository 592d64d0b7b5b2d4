-- Notify only when a statement leaves an unleased grant due within the next 5 seconds.
--
-- A worker never sleeps longer than its poll interval (1 s by default) before it looks at the
-- earliest wake-up again, so a grant due later than that is found without a notification.
-- Notifying for every scheduled grant (an issued grant's rotation minutes away, a pending grant's
-- deadline) woke every worker on every commit and serialised commits on the notification queue.
-- Keep poll intervals at or below 5 s for notifications to cover the gap.
CREATE OR REPLACE FUNCTION grantflow_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM grantflow_new_rows
               WHERE lease_until IS NULL
                 AND next_wake_at IS NOT NULL
                 AND next_wake_at <= now() + interval '5 seconds') THEN
        PERFORM pg_notify('grantflow_due', '');
    END IF;
    RETURN NULL;
END
$$;
