//! Pruning final grants and counting grants by state: the SQL of both backends for
//! [`GrantStore::prune_final`](crate::GrantStore::prune_final) and
//! [`GrantStore::count_by_state`](crate::GrantStore::count_by_state) (rule 12 of the contract).
//!
//! A grant is final for the store when its summary's state kind is one of
//! [`FINAL_STATE_KINDS`] (the machine's absorbing states, written by the driver: its tests check
//! the list against the machine), it has no wake-up and no lease. An issued grant whose token
//! never expires also has no wake-up, which is why the wake-up alone is not enough; a row whose
//! summary was never written (before the summary columns) is never pruned.

use chrono::{DateTime, Utc};
#[cfg(feature = "postgres")]
use sqlx::PgPool;
#[cfg(feature = "sqlite")]
use sqlx::SqlitePool;

use crate::error::StoreError;

/// The state kinds of the summary that mark a grant final: the machine's absorbing states,
/// which take no event any more (`Issued` and its token states are not among them).
pub const FINAL_STATE_KINDS: [&str; 6] = [
    "Rejected", "Canceled", "Revoked", "Failed", "Lost", "Expired",
];

/// How many grants there are of each state kind (`None`: rows whose summary was never written).
pub type StateCounts = Vec<(Option<String>, u64)>;

const COUNT: &str = "SELECT state_kind, count(*) FROM grantflow_grants GROUP BY state_kind";

fn counts(rows: Vec<(Option<String>, i64)>) -> StateCounts {
    rows.into_iter()
        .map(|(kind, n)| (kind, u64::try_from(n).unwrap_or(0)))
        .collect()
}

#[cfg(feature = "postgres")]
pub(crate) async fn pg_count(pool: &PgPool) -> Result<StateCounts, StoreError> {
    let rows = sqlx::query_as(COUNT)
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("count grants by state"))?;
    Ok(counts(rows))
}

#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite_count(pool: &SqlitePool) -> Result<StateCounts, StoreError> {
    let rows = sqlx::query_as(COUNT)
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("count grants by state"))?;
    Ok(counts(rows))
}

/// Deletes up to `batch` final grants last changed before `older_than` (events go with them:
/// `ON DELETE CASCADE`), oldest first, skipping rows another transaction holds; how many.
#[cfg(feature = "postgres")]
pub(crate) async fn pg_prune(
    pool: &PgPool,
    older_than: DateTime<Utc>,
    batch: u32,
) -> Result<u64, StoreError> {
    // `FOR UPDATE` re-checks the conditions on the row as committed when it locks it, so a
    // grant claimed or written meanwhile is left alone.
    let done = sqlx::query(
        "WITH doomed AS (
             SELECT id FROM grantflow_grants
             WHERE next_wake_at IS NULL AND lease_until IS NULL
               AND state_kind = ANY($2) AND updated_at < $1
             ORDER BY updated_at
             LIMIT $3
             FOR UPDATE SKIP LOCKED
         )
         DELETE FROM grantflow_grants g USING doomed WHERE g.id = doomed.id",
    )
    .bind(older_than)
    .bind(FINAL_STATE_KINDS.as_slice())
    .bind(i64::from(batch))
    .execute(pool)
    .await
    .map_err(StoreError::db("prune final grants"))?;
    Ok(done.rows_affected())
}

#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite_prune(
    pool: &SqlitePool,
    older_than: DateTime<Utc>,
    batch: u32,
) -> Result<u64, StoreError> {
    // One statement: atomic, and the single connection serialises it with every write.
    let done = sqlx::query(
        "DELETE FROM grantflow_grants WHERE id IN (
             SELECT id FROM grantflow_grants
             WHERE next_wake_at IS NULL AND lease_until IS NULL
               AND state_kind IN (?, ?, ?, ?, ?, ?) AND updated_at < ?
             ORDER BY updated_at
             LIMIT ?
         )",
    )
    .bind(FINAL_STATE_KINDS[0])
    .bind(FINAL_STATE_KINDS[1])
    .bind(FINAL_STATE_KINDS[2])
    .bind(FINAL_STATE_KINDS[3])
    .bind(FINAL_STATE_KINDS[4])
    .bind(FINAL_STATE_KINDS[5])
    .bind(older_than.timestamp_micros())
    .bind(i64::from(batch))
    .execute(pool)
    .await
    .map_err(StoreError::db("prune final grants"))?;
    Ok(done.rows_affected())
}
