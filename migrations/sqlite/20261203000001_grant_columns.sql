-- A non-secret summary of each grant beside its opaque (sealed) state, for operators' queries.
-- Same columns and indexes as PostgreSQL's (see migrations/postgres); `access_types` is a JSON
-- array of strings here. Rows written before this migration keep NULL columns until the grant's
-- next write or `grantflow grant reindex`.
ALTER TABLE grantflow_grants ADD COLUMN state_kind TEXT;
ALTER TABLE grantflow_grants ADD COLUMN access_types TEXT;
ALTER TABLE grantflow_grants ADD COLUMN wallet_address TEXT;
ALTER TABLE grantflow_grants ADD COLUMN last_error TEXT;

CREATE INDEX grantflow_grants_created ON grantflow_grants (created_at, id);
CREATE INDEX grantflow_grants_state_created ON grantflow_grants (state_kind, created_at, id);
CREATE INDEX grantflow_grants_wallet_created ON grantflow_grants (wallet_address, created_at, id)
    WHERE wallet_address IS NOT NULL;
