-- A non-secret summary of each grant beside its opaque (sealed) state, for operators' queries.
--
-- The state is opaque to the store (and its secrets sealed), so the driver computes the summary on
-- every write and the store writes it here: the state kind (the transition table's name, e.g.
-- `AwaitingInteraction`, `Issued`, `Lost`), the access types requested, the user's wallet address
-- (the one the grant was requested for) and the last error or reason (already cleaned text, no
-- secret). Rows written before this migration cannot be backfilled in SQL (sealed state): their
-- columns stay NULL until the grant's next write or `grantflow grant reindex`.
ALTER TABLE grantflow_grants
    ADD COLUMN state_kind     text,
    ADD COLUMN access_types   text[],
    ADD COLUMN wallet_address text,
    ADD COLUMN last_error     text;

-- Keyset pagination, newest first: `ORDER BY created_at DESC, id DESC` with
-- `(created_at, id) < (cursor)`, read backwards along these indexes.
CREATE INDEX grantflow_grants_created ON grantflow_grants (created_at, id);

-- Filter by state kind, in the keyset order. Not partial: every kind is worth finding, and a
-- million final grants of one kind are as cheap to page through as a hundred live ones.
CREATE INDEX grantflow_grants_state_created
    ON grantflow_grants (state_kind, created_at, id);

-- Filter by the user's wallet address, in the keyset order. Partial: grants without a wallet
-- address (quote-only access, rows not yet summarised) are never looked up by it.
CREATE INDEX grantflow_grants_wallet_created
    ON grantflow_grants (wallet_address, created_at, id)
    WHERE wallet_address IS NOT NULL;
