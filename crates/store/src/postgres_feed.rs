//! The change feed on PostgreSQL: reading events below the snapshot's horizon in
//! `(xid, seq)` order, and the named consumers' leases.
//!
//! Why the horizon: see the migration `20261203000002_change_feed.sql`. In one statement,
//! `pg_current_snapshot()` is the statement's own snapshot, so the rows read and the horizon they
//! are cut at come from the same instant: every transaction below `pg_snapshot_xmin` has ended
//! and its rows (if it committed) are visible; no row can appear below the horizon later.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use crate::error::StoreError;
use crate::feed::{ConsumerLease, FeedPage, FeedPosition, FeedRecord, parse_position};
use crate::model::GrantId;

/// The start of the feed: before every transaction id and every `seq`.
const START: FeedPosition = FeedPosition { xid: 0, seq: 0 };

fn position_from_row(row: &PgRow) -> Result<FeedPosition, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        grant: None,
        detail,
    };
    let xid: String = row.try_get("xid").map_err(|e| corrupt(e.to_string()))?;
    Ok(FeedPosition {
        xid: xid
            .parse()
            .map_err(|_| corrupt(format!("event xid {xid:?} is not a number")))?,
        seq: row.try_get("seq").map_err(|e| corrupt(e.to_string()))?,
    })
}

pub(crate) async fn changes_after(
    pool: &PgPool,
    after: Option<FeedPosition>,
    limit: u32,
) -> Result<FeedPage, StoreError> {
    let after = after.unwrap_or(START);
    // One statement, one snapshot: the rows, the horizon and `held_back` (rows past the horizon,
    // committed or not: a reader cannot tell, so it reads again soon) agree. The left join keeps
    // one row (of NULLs) when the page is empty, to carry `held_back`.
    let rows = sqlx::query(
        "WITH horizon AS (
             SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
         ), held AS (
             SELECT EXISTS (
                 SELECT 1 FROM grantflow_feed_events e, horizon h
                 WHERE (e.xid, e.seq) > ($1::text::xid8, $2::bigint) AND e.xid >= h.xmin
             ) AS held_back
         ), page AS (
             SELECT e.xid AS xid8, e.seq, e.grant_id, e.version, e.at, e.change_summary
             FROM grantflow_feed_events e, horizon h
             WHERE (e.xid, e.seq) > ($1::text::xid8, $2::bigint) AND e.xid < h.xmin
             ORDER BY e.xid, e.seq
             LIMIT $3
         )
         SELECT p.xid8::text AS xid, p.seq, p.grant_id, p.version, p.at, p.change_summary,
                held.held_back
         FROM held LEFT JOIN page p ON true
         ORDER BY p.xid8, p.seq",
    )
    .bind(after.xid.to_string())
    .bind(after.seq)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("read the change feed"))?;
    let corrupt = |e: sqlx::Error| StoreError::Corrupt {
        grant: None,
        detail: e.to_string(),
    };
    let mut held_back = false;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        held_back = row.try_get("held_back").map_err(corrupt)?;
        let Some(grant) = row
            .try_get::<Option<uuid::Uuid>, _>("grant_id")
            .map_err(corrupt)?
        else {
            continue; // the empty page's row
        };
        let grant = GrantId(grant);
        let decode = |e: sqlx::Error| StoreError::Corrupt {
            grant: Some(grant),
            detail: e.to_string(),
        };
        changes.push(FeedRecord {
            position: position_from_row(row)?,
            grant,
            version: row.try_get("version").map_err(decode)?,
            at: row.try_get("at").map_err(decode)?,
            summary: row.try_get("change_summary").map_err(decode)?,
        });
    }
    // A full page says nothing about what lies past it: the reader reads on anyway.
    let held_back = held_back && changes.len() < limit as usize;
    Ok(FeedPage { changes, held_back })
}

pub(crate) async fn feed_head(pool: &PgPool) -> Result<Option<FeedPosition>, StoreError> {
    let row = sqlx::query(
        "SELECT xid::text AS xid, seq FROM grantflow_feed_events
         WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY xid DESC, seq DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("read the change feed's head"))?;
    row.as_ref().map(position_from_row).transpose()
}

pub(crate) async fn claim_consumer(
    pool: &PgPool,
    name: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<ConsumerLease>, StoreError> {
    let row: Option<(Option<String>, i64)> = sqlx::query_as(
        "INSERT INTO grantflow_feed_consumers AS c
             (name, position, lease_owner, lease_token, lease_until, updated_at)
         VALUES ($1, NULL, $2, 1, $4, $3)
         ON CONFLICT (name) DO UPDATE
             SET lease_owner = $2, lease_token = c.lease_token + 1, lease_until = $4,
                 updated_at = $3
             WHERE c.lease_until IS NULL OR c.lease_until <= $3
         RETURNING c.position, c.lease_token",
    )
    .bind(name)
    .bind(owner)
    .bind(now)
    .bind(until)
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
    pool: &PgPool,
    lease: &ConsumerLease,
    position: Option<FeedPosition>,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<ConsumerLease, StoreError> {
    let done = sqlx::query(
        "UPDATE grantflow_feed_consumers
         SET position = $3, lease_until = $4, updated_at = $5
         WHERE name = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
    )
    .bind(&lease.name)
    .bind(lease.token)
    .bind(position.map(|p| p.to_string()))
    .bind(until)
    .bind(now)
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
    pool: &PgPool,
    lease: &ConsumerLease,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE grantflow_feed_consumers SET lease_owner = NULL, lease_until = NULL
         WHERE name = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
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
