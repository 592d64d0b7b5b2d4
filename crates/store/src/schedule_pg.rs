//! Schedules on PostgreSQL: the payments' statements (`payment_pg.rs`: one-statement claims with
//! `FOR UPDATE SKIP LOCKED`, one-statement fenced writes with their event row) on
//! `grantflow_schedules` and `grantflow_schedule_events`. Wake-ups and feed notifications come
//! from the migration's triggers.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use uuid::Uuid;

use crate::error::StoreError;
use crate::model::{AfterWrite, ClaimRequest, Fence, LeaseInfo, LeaseToken, RefusedReason};
use crate::schedule::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, ScheduleEventRecord, ScheduleId, ScheduleLease,
    ScheduleRecord, ScheduleWrite, created_schedule, schedule_refusal,
};

const COLUMNS: &str = "s.id, s.idempotency_key, s.state::text AS state, s.version, \
     s.next_wake_at, s.lease_owner, s.lease_token, s.lease_until, s.state_kind, s.created_at, \
     s.updated_at";

fn corrupt(id: Option<ScheduleId>) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        grant: None,
        detail: format!(
            "schedule {}: {e}",
            id.map_or_else(|| "?".to_owned(), |i| i.to_string())
        ),
    }
}

fn record(row: &PgRow) -> Result<ScheduleRecord, StoreError> {
    let decode = corrupt(row.try_get::<Uuid, _>("id").ok().map(ScheduleId));
    let owner: Option<String> = row.try_get("lease_owner").map_err(&decode)?;
    let until: Option<DateTime<Utc>> = row.try_get("lease_until").map_err(&decode)?;
    Ok(ScheduleRecord {
        id: ScheduleId(row.try_get("id").map_err(&decode)?),
        idempotency_key: row.try_get("idempotency_key").map_err(&decode)?,
        state: row.try_get("state").map_err(&decode)?,
        version: row.try_get("version").map_err(&decode)?,
        next_wake_at: row.try_get("next_wake_at").map_err(&decode)?,
        lease: owner
            .zip(until)
            .map(|(owner, until)| LeaseInfo { owner, until }),
        state_kind: row.try_get("state_kind").map_err(&decode)?,
        created_at: row.try_get("created_at").map_err(&decode)?,
        updated_at: row.try_get("updated_at").map_err(&decode)?,
    })
}

fn claimed(row: &PgRow) -> Result<ClaimedSchedule, StoreError> {
    let schedule = record(row)?;
    let decode = corrupt(Some(schedule.id));
    let token: i64 = row.try_get("lease_token").map_err(&decode)?;
    let due_at: Option<DateTime<Utc>> = row.try_get("due_at").map_err(&decode)?;
    let info = schedule.lease.clone().ok_or_else(|| StoreError::Corrupt {
        grant: None,
        detail: format!("claimed schedule {} has no lease", schedule.id),
    })?;
    Ok(ClaimedSchedule {
        lease: ScheduleLease {
            schedule: schedule.id,
            owner: info.owner,
            token: LeaseToken(token),
            until: info.until,
        },
        schedule,
        due_at,
    })
}

pub(crate) async fn create(
    pool: &PgPool,
    s: NewSchedule,
    now: DateTime<Utc>,
) -> Result<CreatedSchedule, StoreError> {
    let inserted: i64 = sqlx::query_scalar(
        "WITH ins AS (
             INSERT INTO grantflow_schedules
                 (id, idempotency_key, state, version, next_wake_at, state_kind, created_at,
                  updated_at)
             VALUES ($1, $2, $3::jsonb, 1, $4, $5, $6, $6)
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING id
         ), ev AS (
             INSERT INTO grantflow_schedule_events (schedule_id, version, event, at, change_summary)
             SELECT id, 1, $7::jsonb, $6, $8 FROM ins
         )
         SELECT count(*) FROM ins",
    )
    .bind(s.id.0)
    .bind(&s.idempotency_key)
    .bind(&s.state)
    .bind(s.next_wake_at)
    .bind(&s.state_kind)
    .bind(now)
    .bind(&s.event)
    .bind(&s.change_summary)
    .fetch_one(pool)
    .await
    .map_err(StoreError::db("create a schedule"))?;
    if inserted == 1 {
        return Ok(created_schedule(s, now));
    }
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grantflow_schedules s WHERE s.idempotency_key = $1"
    ))
    .bind(&s.idempotency_key)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("read a schedule by idempotency key"))?;
    let existing = row
        .as_ref()
        .map(record)
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt {
            grant: None,
            detail: format!(
                "schedule idempotency key {:?} conflicted but no schedule holds it",
                s.idempotency_key
            ),
        })?;
    Ok(CreatedSchedule {
        schedule: existing,
        inserted: false,
    })
}

pub(crate) async fn get(
    pool: &PgPool,
    id: ScheduleId,
) -> Result<Option<ScheduleRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grantflow_schedules s WHERE s.id = $1"
    ))
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("read a schedule"))?;
    row.as_ref().map(record).transpose()
}

pub(crate) async fn list(pool: &PgPool, limit: u32) -> Result<Vec<ScheduleRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grantflow_schedules s ORDER BY s.created_at DESC, s.id DESC LIMIT $1"
    ))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list schedules"))?;
    rows.iter().map(record).collect()
}

pub(crate) async fn history(
    pool: &PgPool,
    id: ScheduleId,
) -> Result<Vec<ScheduleEventRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, version, event::text AS event, at FROM grantflow_schedule_events
         WHERE schedule_id = $1 ORDER BY version",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("read a schedule's events"))?;
    let decode = corrupt(Some(id));
    rows.iter()
        .map(|row| {
            Ok(ScheduleEventRecord {
                schedule: id,
                seq: row.try_get("seq").map_err(&decode)?,
                version: row.try_get("version").map_err(&decode)?,
                event: row.try_get("event").map_err(&decode)?,
                at: row.try_get("at").map_err(&decode)?,
            })
        })
        .collect()
}

pub(crate) async fn claim_due(
    pool: &PgPool,
    request: ClaimRequest,
) -> Result<Vec<ClaimedSchedule>, StoreError> {
    let rows = sqlx::query(&format!(
        "WITH due AS (
             SELECT id, next_wake_at AS due_at FROM grantflow_schedules
             WHERE next_wake_at IS NOT NULL AND next_wake_at <= $1
             ORDER BY next_wake_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE grantflow_schedules s
         SET lease_owner = $3, lease_token = s.lease_token + 1,
             lease_until = $4, next_wake_at = $4, updated_at = $1
         FROM due WHERE s.id = due.id
         RETURNING {COLUMNS}, due.due_at"
    ))
    .bind(request.now)
    .bind(i64::from(request.limit))
    .bind(&request.owner)
    .bind(request.lease_until)
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("claim due schedules"))?;
    rows.iter().map(claimed).collect()
}

pub(crate) async fn claim_one(
    pool: &PgPool,
    id: ScheduleId,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<ClaimedSchedule>, StoreError> {
    let row = sqlx::query(&format!(
        "WITH cur AS (
             SELECT id, next_wake_at AS due_at FROM grantflow_schedules
             WHERE id = $1 AND (lease_until IS NULL OR lease_until <= $3)
             FOR UPDATE
         )
         UPDATE grantflow_schedules s
         SET lease_owner = $2, lease_token = s.lease_token + 1,
             lease_until = $4, next_wake_at = $4, updated_at = $3
         FROM cur WHERE s.id = cur.id
         RETURNING {COLUMNS}, cur.due_at"
    ))
    .bind(id.0)
    .bind(owner)
    .bind(now)
    .bind(lease_until)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("claim a schedule"))?;
    row.as_ref().map(claimed).transpose()
}

pub(crate) async fn commit(
    pool: &PgPool,
    w: ScheduleWrite,
    now: DateTime<Utc>,
) -> Result<Result<i64, RefusedReason>, StoreError> {
    let (token, keep) = match &w.fence {
        Fence::Lease { token, then } => (
            Some(token.0),
            match then {
                AfterWrite::Keep { until } => Some(*until),
                AfterWrite::Release => None,
            },
        ),
        Fence::Unleased => (None, None),
    };
    let version: Option<i64> = sqlx::query_scalar(
        "WITH updated AS (
             UPDATE grantflow_schedules s
             SET state = $4::jsonb,
                 version = s.version + 1,
                 next_wake_at = COALESCE($5, $6),
                 lease_owner = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE s.lease_owner END,
                 lease_until = $5,
                 updated_at = $7,
                 state_kind = $8
             WHERE s.id = $1 AND s.version = $2
               AND CASE WHEN $3::bigint IS NULL
                        THEN s.lease_until IS NULL OR s.lease_until <= $7
                        ELSE s.lease_until IS NOT NULL AND s.lease_token = $3
                   END
             RETURNING s.id, s.version
         ), ev AS (
             INSERT INTO grantflow_schedule_events (schedule_id, version, event, at, change_summary)
             SELECT u.id, u.version, $9::jsonb, $10, $11 FROM updated u
         )
         SELECT version FROM updated",
    )
    .bind(w.id.0)
    .bind(w.expected_version)
    .bind(token)
    .bind(&w.state)
    .bind(keep)
    .bind(w.next_wake_at)
    .bind(now)
    .bind(&w.state_kind)
    .bind(&w.event)
    .bind(w.at)
    .bind(&w.change_summary)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("commit a schedule transition"))?;
    if let Some(version) = version {
        return Ok(Ok(version));
    }
    let row: Option<crate::payment::FenceColumns> = sqlx::query_as(
        "SELECT version, lease_token, lease_owner, lease_until FROM grantflow_schedules
         WHERE id = $1",
    )
    .bind(w.id.0)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("read a refused schedule"))?;
    Ok(Err(schedule_refusal(&w, row, now)))
}

pub(crate) async fn release(
    pool: &PgPool,
    lease: &ScheduleLease,
    next_wake_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE grantflow_schedules
         SET lease_owner = NULL, lease_until = NULL, next_wake_at = $3, updated_at = $4
         WHERE id = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
    )
    .bind(lease.schedule.0)
    .bind(lease.token.0)
    .bind(next_wake_at)
    .bind(now)
    .execute(pool)
    .await
    .map_err(StoreError::db("release a schedule's lease"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::ScheduleLeaseLost(lease.schedule));
    }
    Ok(())
}

pub(crate) async fn next_wake_at(pool: &PgPool) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar("SELECT min(next_wake_at) FROM grantflow_schedules")
        .fetch_one(pool)
        .await
        .map_err(StoreError::db("read the next schedule wake-up"))
}
