//! Schedules on SQLite: the payments' rules (`payment_sqlite.rs`) on `grantflow_schedules`, one
//! transaction per operation on the single connection, in-process wake-ups. An event's `seq` is
//! taken from the grant events' counter in the same transaction, as a payment event's is.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::error::StoreError;
use crate::model::{AfterWrite, ClaimRequest, Fence, LeaseInfo, LeaseToken, RefusedReason};
use crate::payment_sqlite::next_seq;
use crate::schedule::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, ScheduleEventRecord, ScheduleId, ScheduleLease,
    ScheduleRecord, ScheduleWrite, created_schedule, schedule_refusal,
};
use crate::sqlite::{SqliteStore, micros, time};

const COLUMNS: &str = "id, idempotency_key, state, version, next_wake_at, lease_owner, \
     lease_token, lease_until, state_kind, created_at, updated_at";

fn corrupt(id: Option<ScheduleId>) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        grant: None,
        detail: format!(
            "schedule {}: {e}",
            id.map_or_else(|| "?".to_owned(), |i| i.to_string())
        ),
    }
}

fn at(m: i64) -> Result<DateTime<Utc>, StoreError> {
    time(None, m)
}

fn record(row: &SqliteRow) -> Result<ScheduleRecord, StoreError> {
    let decode = corrupt(row.try_get::<Uuid, _>("id").ok().map(ScheduleId));
    let owner: Option<String> = row.try_get("lease_owner").map_err(&decode)?;
    let until: Option<i64> = row.try_get("lease_until").map_err(&decode)?;
    let next: Option<i64> = row.try_get("next_wake_at").map_err(&decode)?;
    Ok(ScheduleRecord {
        id: ScheduleId(row.try_get("id").map_err(&decode)?),
        idempotency_key: row.try_get("idempotency_key").map_err(&decode)?,
        state: row.try_get("state").map_err(&decode)?,
        version: row.try_get("version").map_err(&decode)?,
        next_wake_at: next.map(at).transpose()?,
        lease: match (owner, until) {
            (Some(owner), Some(until)) => Some(LeaseInfo {
                owner,
                until: at(until)?,
            }),
            _ => None,
        },
        state_kind: row.try_get("state_kind").map_err(&decode)?,
        created_at: at(row.try_get("created_at").map_err(&decode)?)?,
        updated_at: at(row.try_get("updated_at").map_err(&decode)?)?,
    })
}

async fn append_event(
    tx: &mut Transaction<'static, Sqlite>,
    id: ScheduleId,
    version: i64,
    event: &str,
    event_at: DateTime<Utc>,
    change_summary: Option<&str>,
) -> Result<(), StoreError> {
    let seq = next_seq(tx).await?;
    sqlx::query(
        "INSERT INTO grantflow_schedule_events (seq, schedule_id, version, event, at, change_summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(seq)
    .bind(id.0)
    .bind(version)
    .bind(event)
    .bind(micros(event_at))
    .bind(change_summary)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("append a schedule event"))?;
    Ok(())
}

async fn claim_in(
    tx: &mut Transaction<'static, Sqlite>,
    (id, due_at): (Uuid, Option<i64>),
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<ClaimedSchedule, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE grantflow_schedules
         SET lease_owner = ?2, lease_token = lease_token + 1, lease_until = ?3,
             next_wake_at = ?3, updated_at = ?4
         WHERE id = ?1
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(owner)
    .bind(micros(until))
    .bind(micros(now))
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("claim a schedule"))?;
    let schedule = record(&row)?;
    let token: i64 = row
        .try_get("lease_token")
        .map_err(corrupt(Some(schedule.id)))?;
    Ok(ClaimedSchedule {
        lease: ScheduleLease {
            schedule: schedule.id,
            owner: owner.to_owned(),
            token: LeaseToken(token),
            until,
        },
        schedule,
        due_at: due_at.map(at).transpose()?,
    })
}

impl SqliteStore {
    pub(crate) async fn schedule_create(
        &self,
        s: NewSchedule,
        now: DateTime<Utc>,
    ) -> Result<CreatedSchedule, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "INSERT INTO grantflow_schedules
                 (id, idempotency_key, state, version, next_wake_at, state_kind, created_at,
                  updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?6)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(s.id.0)
        .bind(&s.idempotency_key)
        .bind(&s.state)
        .bind(s.next_wake_at.map(micros))
        .bind(&s.state_kind)
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("create a schedule"))?;
        if done.rows_affected() == 0 {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM grantflow_schedules WHERE idempotency_key = ?1"
            ))
            .bind(&s.idempotency_key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("read a schedule by idempotency key"))?;
            tx.rollback()
                .await
                .map_err(StoreError::db("roll back a schedule create"))?;
            let existing =
                row.as_ref()
                    .map(record)
                    .transpose()?
                    .ok_or_else(|| StoreError::Corrupt {
                        grant: None,
                        detail: format!(
                            "schedule idempotency key {:?} conflicted but no schedule holds it",
                            s.idempotency_key
                        ),
                    })?;
            return Ok(CreatedSchedule {
                schedule: existing,
                inserted: false,
            });
        }
        append_event(&mut tx, s.id, 1, &s.event, now, s.change_summary.as_deref()).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("commit a schedule create"))?;
        if s.next_wake_at.is_some() {
            self.waker.wake();
        }
        self.feed_waker.wake();
        Ok(created_schedule(s, now))
    }

    pub(crate) async fn schedule_get(
        &self,
        id: ScheduleId,
    ) -> Result<Option<ScheduleRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grantflow_schedules WHERE id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a schedule"))?;
        row.as_ref().map(record).transpose()
    }

    pub(crate) async fn schedule_list(
        &self,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grantflow_schedules ORDER BY created_at DESC, id DESC LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list schedules"))?;
        rows.iter().map(record).collect()
    }

    pub(crate) async fn schedule_events(
        &self,
        id: ScheduleId,
    ) -> Result<Vec<ScheduleEventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, version, event, at FROM grantflow_schedule_events
             WHERE schedule_id = ?1 ORDER BY version",
        )
        .bind(id.0)
        .fetch_all(self.pool())
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
                    at: at(row.try_get("at").map_err(&decode)?)?,
                })
            })
            .collect()
    }

    pub(crate) async fn schedule_claim_due(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedSchedule>, StoreError> {
        let mut tx = self.begin().await?;
        let due: Vec<(Uuid, Option<i64>)> = sqlx::query_as(
            "SELECT id, next_wake_at FROM grantflow_schedules
             WHERE next_wake_at IS NOT NULL AND next_wake_at <= ?1
             ORDER BY next_wake_at LIMIT ?2",
        )
        .bind(micros(request.now))
        .bind(i64::from(request.limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("find due schedules"))?;
        let mut claimed = Vec::with_capacity(due.len());
        for row in due {
            claimed.push(
                claim_in(
                    &mut tx,
                    row,
                    &request.owner,
                    request.now,
                    request.lease_until,
                )
                .await?,
            );
        }
        tx.commit()
            .await
            .map_err(StoreError::db("commit a schedule claim"))?;
        Ok(claimed)
    }

    pub(crate) async fn schedule_claim(
        &self,
        id: ScheduleId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedSchedule>, StoreError> {
        let mut tx = self.begin().await?;
        let due: Option<(Uuid, Option<i64>)> = sqlx::query_as(
            "SELECT id, next_wake_at FROM grantflow_schedules
             WHERE id = ?1 AND (lease_until IS NULL OR lease_until <= ?2)",
        )
        .bind(id.0)
        .bind(micros(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("find a schedule to claim"))?;
        let Some(row) = due else {
            return Ok(None);
        };
        let claimed = claim_in(&mut tx, row, owner, now, lease_until).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("commit a schedule claim"))?;
        Ok(Some(claimed))
    }

    pub(crate) async fn schedule_commit(
        &self,
        w: ScheduleWrite,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, RefusedReason>, StoreError> {
        let (token, keep) = match &w.fence {
            Fence::Lease { token, then } => (
                Some(token.0),
                match then {
                    AfterWrite::Keep { until } => Some(micros(*until)),
                    AfterWrite::Release => None,
                },
            ),
            Fence::Unleased => (None, None),
        };
        let mut tx = self.begin().await?;
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE grantflow_schedules
             SET state = ?4,
                 version = version + 1,
                 next_wake_at = COALESCE(?5, ?6),
                 lease_owner = CASE WHEN ?5 IS NULL THEN NULL ELSE lease_owner END,
                 lease_until = ?5,
                 updated_at = ?7,
                 state_kind = ?8
             WHERE id = ?1 AND version = ?2
               AND CASE WHEN ?3 IS NULL
                        THEN lease_until IS NULL OR lease_until <= ?7
                        ELSE lease_until IS NOT NULL AND lease_token = ?3
                   END
             RETURNING version",
        )
        .bind(w.id.0)
        .bind(w.expected_version)
        .bind(token)
        .bind(&w.state)
        .bind(keep)
        .bind(w.next_wake_at.map(micros))
        .bind(micros(now))
        .bind(&w.state_kind)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("commit a schedule transition"))?;
        let Some(version) = version else {
            let row: Option<(i64, i64, Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT version, lease_token, lease_owner, lease_until FROM grantflow_schedules
                 WHERE id = ?1",
            )
            .bind(w.id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("read a refused schedule"))?;
            tx.rollback()
                .await
                .map_err(StoreError::db("roll back a refused schedule write"))?;
            let row = match row {
                Some((v, t, o, u)) => Some((v, t, o, u.map(at).transpose()?)),
                None => None,
            };
            return Ok(Err(schedule_refusal(&w, row, now)));
        };
        append_event(
            &mut tx,
            w.id,
            version,
            &w.event,
            w.at,
            w.change_summary.as_deref(),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("commit a schedule transition"))?;
        if keep.is_none() && w.next_wake_at.is_some() {
            self.waker.wake();
        }
        self.feed_waker.wake();
        Ok(Ok(version))
    }

    pub(crate) async fn schedule_release(
        &self,
        lease: &ScheduleLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE grantflow_schedules
             SET lease_owner = NULL, lease_until = NULL, next_wake_at = ?3, updated_at = ?4
             WHERE id = ?1 AND lease_token = ?2 AND lease_until IS NOT NULL",
        )
        .bind(lease.schedule.0)
        .bind(lease.token.0)
        .bind(next_wake_at.map(micros))
        .bind(micros(now))
        .execute(self.pool())
        .await
        .map_err(StoreError::db("release a schedule's lease"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::ScheduleLeaseLost(lease.schedule));
        }
        if next_wake_at.is_some() {
            self.waker.wake();
        }
        Ok(())
    }

    pub(crate) async fn schedule_next_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let m: Option<i64> =
            sqlx::query_scalar("SELECT min(next_wake_at) FROM grantflow_schedules")
                .fetch_one(self.pool())
                .await
                .map_err(StoreError::db("read the next schedule wake-up"))?;
        m.map(at).transpose()
    }
}
