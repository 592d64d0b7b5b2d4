-- Retention: the task that prunes final grants finds the oldest candidates through this index.
--
-- Final grants have no wake-up (`next_wake_at IS NULL`, as do issued grants whose token never
-- expires, which the prune query tells apart by `state_kind`); ordering them by `updated_at`
-- (their final transition, or later) lets a prune batch read only the rows it deletes, instead
-- of every final grant of a kind.
CREATE INDEX grantflow_grants_sleeping_updated ON grantflow_grants (updated_at)
    WHERE next_wake_at IS NULL;
