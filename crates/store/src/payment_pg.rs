//! Payments on PostgreSQL: the same statements as grants' (one-statement claims with
//! `FOR UPDATE SKIP LOCKED`, one-statement fenced writes with their event row), on
//! `grantflow_payments` and `grantflow_payment_events`. Wake-ups and feed notifications come from
//! the migration's triggers, as for grants.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use uuid::Uuid;

use crate::error::StoreError;
use crate::model::{AfterWrite, ClaimRequest, Fence, GrantId, LeaseInfo, LeaseToken};
use crate::payment::{
    ClaimedPayment, CreatedPayment, FenceColumns, LedgerRow, NewPayment, PaymentEventRecord,
    PaymentId, PaymentLease, PaymentRecord, PaymentWrite, PaymentWriteResult, created_payment,
    payment_refusal,
};

const COLUMNS: &str = "p.id, p.grant_id, p.idempotency_key, p.state::text AS state, p.version, \
     p.next_wake_at, p.lease_owner, p.lease_token, p.lease_until, p.state_kind, p.created_at, \
     p.updated_at";

fn corrupt(id: Option<PaymentId>) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        grant: None,
        detail: format!(
            "payment {}: {e}",
            id.map_or_else(|| "?".to_owned(), |i| i.to_string())
        ),
    }
}

fn record(row: &PgRow) -> Result<PaymentRecord, StoreError> {
    let id = row.try_get::<Uuid, _>("id").ok().map(PaymentId);
    let decode = corrupt(id);
    let owner: Option<String> = row.try_get("lease_owner").map_err(&decode)?;
    let until: Option<DateTime<Utc>> = row.try_get("lease_until").map_err(&decode)?;
    Ok(PaymentRecord {
        id: PaymentId(row.try_get("id").map_err(&decode)?),
        grant: GrantId(row.try_get("grant_id").map_err(&decode)?),
        idempotency_key: row.try_get("idempotency_key").map_err(&decode)?,
        state: row.try_get("state").map_err(&decode)?,
        version: row.try_get("version").map_err(&decode)?,
        next_wake_at: row.try_get("next_wake_at").map_err(&decode)?,
        lease: match (owner, until) {
            (Some(owner), Some(until)) => Some(LeaseInfo { owner, until }),
            _ => None,
        },
        state_kind: row.try_get("state_kind").map_err(&decode)?,
        created_at: row.try_get("created_at").map_err(&decode)?,
        updated_at: row.try_get("updated_at").map_err(&decode)?,
    })
}

fn claimed(row: &PgRow) -> Result<ClaimedPayment, StoreError> {
    let payment = record(row)?;
    let decode = corrupt(Some(payment.id));
    let token: i64 = row.try_get("lease_token").map_err(&decode)?;
    let due_at: Option<DateTime<Utc>> = row.try_get("due_at").map_err(&decode)?;
    let info = payment.lease.clone().ok_or_else(|| StoreError::Corrupt {
        grant: None,
        detail: format!("claimed payment {} has no lease", payment.id),
    })?;
    Ok(ClaimedPayment {
        lease: PaymentLease {
            payment: payment.id,
            owner: info.owner,
            token: LeaseToken(token),
            until: info.until,
        },
        payment,
        due_at,
    })
}

pub(crate) async fn create(
    pool: &PgPool,
    p: NewPayment,
    now: DateTime<Utc>,
) -> Result<CreatedPayment, StoreError> {
    let (owner, until) = match &p.lease {
        Some(l) => (Some(l.owner.as_str()), Some(l.until)),
        None => (None, None),
    };
    let next_wake_at = until.or(p.next_wake_at);
    let token: i64 = i64::from(p.lease.is_some());
    let inserted: i64 = sqlx::query_scalar(
        "WITH ins AS (
             INSERT INTO grantflow_payments
                 (id, grant_id, idempotency_key, state, version, next_wake_at,
                  lease_owner, lease_token, lease_until, state_kind, ledger_at, ledger,
                  created_at, updated_at)
             VALUES ($1, $2, $3, $4::jsonb, 1, $5, $6, $7, $8, $9, $10, $11, $12, $12)
             ON CONFLICT (grant_id, idempotency_key) DO NOTHING
             RETURNING id
         ), ev AS (
             INSERT INTO grantflow_payment_events (payment_id, version, event, at, change_summary)
             SELECT id, 1, $13::jsonb, $12, $14 FROM ins
         )
         SELECT count(*) FROM ins",
    )
    .bind(p.id.0)
    .bind(p.grant.0)
    .bind(&p.idempotency_key)
    .bind(&p.state)
    .bind(next_wake_at)
    .bind(owner)
    .bind(token)
    .bind(until)
    .bind(&p.state_kind)
    .bind(p.ledger.as_ref().map(|l| l.at))
    .bind(p.ledger.as_ref().map(|l| l.entry.as_str()))
    .bind(now)
    .bind(&p.event)
    .bind(&p.change_summary)
    .fetch_one(pool)
    .await
    .map_err(StoreError::db("create a payment"))?;
    if inserted == 1 {
        return Ok(created_payment(p, now, next_wake_at));
    }
    let existing = by_key(pool, p.grant, &p.idempotency_key)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            grant: Some(p.grant),
            detail: format!(
                "payment idempotency key {:?} conflicted but no payment holds it",
                p.idempotency_key
            ),
        })?;
    Ok(CreatedPayment {
        payment: existing,
        inserted: false,
        lease: None,
    })
}

pub(crate) async fn get(pool: &PgPool, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grantflow_payments p WHERE p.id = $1"
    ))
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("read a payment"))?;
    row.as_ref().map(record).transpose()
}

pub(crate) async fn by_key(
    pool: &PgPool,
    grant: GrantId,
    key: &str,
) -> Result<Option<PaymentRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grantflow_payments p
         WHERE p.grant_id = $1 AND p.idempotency_key = $2"
    ))
    .bind(grant.0)
    .bind(key)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("read a payment by idempotency key"))?;
    row.as_ref().map(record).transpose()
}

pub(crate) async fn list(
    pool: &PgPool,
    grant: GrantId,
    limit: u32,
) -> Result<Vec<PaymentRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grantflow_payments p WHERE p.grant_id = $1
         ORDER BY p.created_at, p.id LIMIT $2"
    ))
    .bind(grant.0)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list a grant's payments"))?;
    rows.iter().map(record).collect()
}

pub(crate) async fn history(
    pool: &PgPool,
    id: PaymentId,
) -> Result<Vec<PaymentEventRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, version, event::text AS event, at FROM grantflow_payment_events
         WHERE payment_id = $1 ORDER BY version",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("read a payment's events"))?;
    let decode = corrupt(Some(id));
    rows.iter()
        .map(|row| {
            Ok(PaymentEventRecord {
                payment: id,
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
) -> Result<Vec<ClaimedPayment>, StoreError> {
    let rows = sqlx::query(&format!(
        "WITH due AS (
             SELECT id, next_wake_at AS due_at FROM grantflow_payments
             WHERE next_wake_at IS NOT NULL AND next_wake_at <= $1
             ORDER BY next_wake_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE grantflow_payments p
         SET lease_owner = $3, lease_token = p.lease_token + 1,
             lease_until = $4, next_wake_at = $4, updated_at = $1
         FROM due WHERE p.id = due.id
         RETURNING {COLUMNS}, due.due_at"
    ))
    .bind(request.now)
    .bind(i64::from(request.limit))
    .bind(&request.owner)
    .bind(request.lease_until)
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("claim due payments"))?;
    rows.iter().map(claimed).collect()
}

pub(crate) async fn claim_one(
    pool: &PgPool,
    id: PaymentId,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<ClaimedPayment>, StoreError> {
    let row = sqlx::query(&format!(
        "WITH cur AS (
             SELECT id, next_wake_at AS due_at FROM grantflow_payments
             WHERE id = $1 AND (lease_until IS NULL OR lease_until <= $3)
             FOR UPDATE
         )
         UPDATE grantflow_payments p
         SET lease_owner = $2, lease_token = p.lease_token + 1,
             lease_until = $4, next_wake_at = $4, updated_at = $3
         FROM cur WHERE p.id = cur.id
         RETURNING {COLUMNS}, cur.due_at"
    ))
    .bind(id.0)
    .bind(owner)
    .bind(now)
    .bind(lease_until)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("claim a payment"))?;
    row.as_ref().map(claimed).transpose()
}

pub(crate) async fn commit(
    pool: &PgPool,
    w: PaymentWrite,
    now: DateTime<Utc>,
) -> Result<PaymentWriteResult, StoreError> {
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
             UPDATE grantflow_payments p
             SET state = $4::jsonb,
                 version = p.version + 1,
                 next_wake_at = COALESCE($5, $6),
                 lease_owner = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE p.lease_owner END,
                 lease_until = $5,
                 updated_at = $7,
                 state_kind = $8,
                 ledger_at = $9,
                 ledger = $10
             WHERE p.id = $1 AND p.version = $2
               AND CASE WHEN $3::bigint IS NULL
                        THEN p.lease_until IS NULL OR p.lease_until <= $7
                        ELSE p.lease_until IS NOT NULL AND p.lease_token = $3
                   END
             RETURNING p.id, p.version
         ), ev AS (
             INSERT INTO grantflow_payment_events (payment_id, version, event, at, change_summary)
             SELECT u.id, u.version, $11::jsonb, $12, $13 FROM updated u
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
    .bind(w.ledger.as_ref().map(|l| l.at))
    .bind(w.ledger.as_ref().map(|l| l.entry.as_str()))
    .bind(&w.event)
    .bind(w.at)
    .bind(&w.change_summary)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("commit a payment transition"))?;
    if let Some(version) = version {
        return Ok(Ok(version));
    }
    let row: Option<FenceColumns> = sqlx::query_as(
        "SELECT version, lease_token, lease_owner, lease_until FROM grantflow_payments
         WHERE id = $1",
    )
    .bind(w.id.0)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("read a refused payment"))?;
    Ok(Err(payment_refusal(&w, row, now)))
}

pub(crate) async fn renew(
    pool: &PgPool,
    lease: &PaymentLease,
    until: DateTime<Utc>,
) -> Result<PaymentLease, StoreError> {
    let done = sqlx::query(
        "UPDATE grantflow_payments SET lease_until = $3, next_wake_at = $3
         WHERE id = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
    )
    .bind(lease.payment.0)
    .bind(lease.token.0)
    .bind(until)
    .execute(pool)
    .await
    .map_err(StoreError::db("renew a payment's lease"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::PaymentLeaseLost(lease.payment));
    }
    Ok(PaymentLease {
        until,
        ..lease.clone()
    })
}

pub(crate) async fn release(
    pool: &PgPool,
    lease: &PaymentLease,
    next_wake_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE grantflow_payments
         SET lease_owner = NULL, lease_until = NULL, next_wake_at = $3, updated_at = $4
         WHERE id = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
    )
    .bind(lease.payment.0)
    .bind(lease.token.0)
    .bind(next_wake_at)
    .bind(now)
    .execute(pool)
    .await
    .map_err(StoreError::db("release a payment's lease"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::PaymentLeaseLost(lease.payment));
    }
    Ok(())
}

pub(crate) async fn ledger(
    pool: &PgPool,
    grant: GrantId,
    from: Option<DateTime<Utc>>,
    except: Option<PaymentId>,
) -> Result<Vec<LedgerRow>, StoreError> {
    let rows: Vec<(DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT ledger_at, ledger FROM grantflow_payments
         WHERE grant_id = $1 AND ledger_at IS NOT NULL
           AND ($2::timestamptz IS NULL OR ledger_at >= $2)
           AND ($3::uuid IS NULL OR id <> $3)",
    )
    .bind(grant.0)
    .bind(from)
    .bind(except.map(|e| e.0))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("read a grant's payment ledger"))?;
    Ok(rows
        .into_iter()
        .map(|(at, entry)| LedgerRow { at, entry })
        .collect())
}

pub(crate) async fn next_wake_at(pool: &PgPool) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar("SELECT min(next_wake_at) FROM grantflow_payments")
        .fetch_one(pool)
        .await
        .map_err(StoreError::db("read the next payment wake-up"))
}
