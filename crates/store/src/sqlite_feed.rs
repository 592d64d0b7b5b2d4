//! The change feed on SQLite: one writer, so `seq` order is commit order and a position is the
//! event's `seq` (with transaction id 0); the named consumers' leases as on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqlitePool;
use uuid::Uuid;

use crate::error::StoreError;
use crate::feed::{ConsumerLease, FeedPage, FeedPosition, FeedRecord, parse_position};
use crate::model::GrantId;
use crate::sqlite::{micros, time};

fn position(seq: i64) -> FeedPosition {
    FeedPosition { xid: 0, seq }
}

pub(crate) async fn changes_after(
    pool: &SqlitePool,
    after: Option<FeedPosition>,
    limit: u32,
) -> Result<FeedPage, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, grant_id, version, at, change_summary FROM grantflow_feed_events
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )
    .bind(after.map_or(0, |p| p.seq))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("read the change feed"))?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let id = row.try_get::<Uuid, _>("grant_id").ok().map(GrantId);
        let decode = |e: sqlx::Error| StoreError::Corrupt {
            grant: id,
            detail: e.to_string(),
        };
        changes.push(FeedRecord {
            position: position(row.try_get("seq").map_err(decode)?),
            grant: GrantId(row.try_get("grant_id").map_err(decode)?),
            version: row.try_get("version").map_err(decode)?,
            at: time(id, row.try_get("at").map_err(decode)?)?,
            summary: row.try_get("change_summary").map_err(decode)?,
        });
    }
    Ok(FeedPage {
        changes,
        held_back: false,
    })
}

pub(crate) async fn feed_head(pool: &SqlitePool) -> Result<Option<FeedPosition>, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar(
        // Each table's max from its primary key (a max over the union view would scan it).
        // Positions start at 1: 0 is "no event yet".
        "SELECT nullif(max(coalesce((SELECT max(seq) FROM grantflow_grant_events), 0),
                           coalesce((SELECT max(seq) FROM grantflow_payment_events), 0),
                           coalesce((SELECT max(seq) FROM grantflow_schedule_events), 0)), 0)",
    )
    .fetch_one(pool)
    .await
    .map_err(StoreError::db("read the change feed's head"))?;
    Ok(seq.map(position))
}

pub(crate) async fn claim_consumer(
    pool: &SqlitePool,
    name: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<ConsumerLease>, StoreError> {
    let row: Option<(Option<String>, i64)> = sqlx::query_as(
        "INSERT INTO grantflow_feed_consumers
             (name, position, lease_owner, lease_token, lease_until, updated_at)
         VALUES (?1, NULL, ?2, 1, ?4, ?3)
         ON CONFLICT (name) DO UPDATE
             SET lease_owner = ?2, lease_token = lease_token + 1, lease_until = ?4,
                 updated_at = ?3
             WHERE lease_until IS NULL OR lease_until <= ?3
         RETURNING position, lease_token",
    )
    .bind(name)
    .bind(owner)
    .bind(micros(now))
    .bind(micros(until))
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("claim a feed consumer"))?;
    row.map(|(position, token)| {
        Ok(ConsumerLease {
            name: name.to_owned(),
            owner: owner.to_owned(),
            token,
            until,
            position: parse_position(name, position)?,
        })
    })
    .transpose()
}

pub(crate) async fn advance_consumer(
    pool: &SqlitePool,
    lease: &ConsumerLease,
    position: Option<FeedPosition>,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<ConsumerLease, StoreError> {
    let done = sqlx::query(
        "UPDATE grantflow_feed_consumers
         SET position = ?3, lease_until = ?4, updated_at = ?5
         WHERE name = ?1 AND lease_token = ?2 AND lease_until IS NOT NULL",
    )
    .bind(&lease.name)
    .bind(lease.token)
    .bind(position.map(|p| p.to_string()))
    .bind(micros(until))
    .bind(micros(now))
    .execute(pool)
    .await
    .map_err(StoreError::db("advance a feed consumer"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::ConsumerLeaseLost(lease.name.clone()));
    }
    Ok(ConsumerLease {
        position,
        until,
        ..lease.clone()
    })
}

pub(crate) async fn release_consumer(
    pool: &SqlitePool,
    lease: &ConsumerLease,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE grantflow_feed_consumers SET lease_owner = NULL, lease_until = NULL
         WHERE name = ?1 AND lease_token = ?2 AND lease_until IS NOT NULL",
    )
    .bind(&lease.name)
    .bind(lease.token)
    .execute(pool)
    .await
    .map_err(StoreError::db("release a feed consumer"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::ConsumerLeaseLost(lease.name.clone()));
    }
    Ok(())
}
