//! Payments on SQLite: the grants' rules on `grantflow_payments` (one transaction per operation on
//! the single connection, in-process wake-ups).
//!
//! An event's `seq` is taken from the grant events' AUTOINCREMENT counter (`sqlite_sequence`) in
//! the same transaction ([`next_seq`]), so grant and payment events share one sequence of feed
//! positions, in commit order (one writer).

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::error::StoreError;
use crate::model::{AfterWrite, ClaimRequest, Fence, GrantId, LeaseInfo, LeaseToken};
use crate::payment::{
    ClaimedPayment, CreatedPayment, LedgerRow, NewPayment, PaymentEventRecord, PaymentId,
    PaymentLease, PaymentRecord, PaymentWrite, PaymentWriteResult, created_payment,
    payment_refusal,
};
use crate::sqlite::{SqliteStore, micros, time};

const COLUMNS: &str = "id, grant_id, idempotency_key, state, version, next_wake_at, \
     lease_owner, lease_token, lease_until, state_kind, created_at, updated_at";

fn corrupt(id: Option<PaymentId>) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        grant: None,
        detail: format!(
            "payment {}: {e}",
            id.map_or_else(|| "?".to_owned(), |i| i.to_string())
        ),
    }
}

fn at(m: i64) -> Result<DateTime<Utc>, StoreError> {
    time(None, m)
}

fn record(row: &SqliteRow) -> Result<PaymentRecord, StoreError> {
    let id = row.try_get::<Uuid, _>("id").ok().map(PaymentId);
    let decode = corrupt(id);
    let owner: Option<String> = row.try_get("lease_owner").map_err(&decode)?;
    let until: Option<i64> = row.try_get("lease_until").map_err(&decode)?;
    let next: Option<i64> = row.try_get("next_wake_at").map_err(&decode)?;
    Ok(PaymentRecord {
        id: PaymentId(row.try_get("id").map_err(&decode)?),
        grant: GrantId(row.try_get("grant_id").map_err(&decode)?),
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

/// Takes the next event `seq` from the grant events' counter (creating it if no grant event
/// was ever written), inside `tx`.
pub(crate) async fn next_seq(tx: &mut Transaction<'static, Sqlite>) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO sqlite_sequence (name, seq)
         SELECT 'grantflow_grant_events', coalesce((SELECT max(seq) FROM grantflow_grant_events), 0)
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'grantflow_grant_events')",
    )
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("start the event counter"))?;
    sqlx::query_scalar(
        "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'grantflow_grant_events'
         RETURNING seq",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("take an event position"))
}

async fn append_event(
    tx: &mut Transaction<'static, Sqlite>,
    id: PaymentId,
    version: i64,
    event: &str,
    event_at: DateTime<Utc>,
    change_summary: Option<&str>,
) -> Result<(), StoreError> {
    let seq = next_seq(tx).await?;
    sqlx::query(
        "INSERT INTO grantflow_payment_events (seq, payment_id, version, event, at, change_summary)
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
    .map_err(StoreError::db("append a payment event"))?;
    Ok(())
}

/// Leases one payment inside `tx` and returns it as claimed.
async fn claim_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: Uuid,
    due_at: Option<i64>,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<ClaimedPayment, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE grantflow_payments
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
    .map_err(StoreError::db("claim a payment"))?;
    let payment = record(&row)?;
    let token: i64 = row
        .try_get("lease_token")
        .map_err(corrupt(Some(payment.id)))?;
    Ok(ClaimedPayment {
        lease: PaymentLease {
            payment: payment.id,
            owner: owner.to_owned(),
            token: LeaseToken(token),
            until,
        },
        payment,
        due_at: due_at.map(at).transpose()?,
    })
}

impl SqliteStore {
    pub(crate) async fn payment_create(
        &self,
        p: NewPayment,
        now: DateTime<Utc>,
    ) -> Result<CreatedPayment, StoreError> {
        let (owner, until) = match &p.lease {
            Some(l) => (Some(l.owner.clone()), Some(l.until)),
            None => (None, None),
        };
        let next_wake_at = until.or(p.next_wake_at);
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "INSERT INTO grantflow_payments
                 (id, grant_id, idempotency_key, state, version, next_wake_at,
                  lease_owner, lease_token, lease_until, state_kind, ledger_at, ledger,
                  created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
             ON CONFLICT (grant_id, idempotency_key) DO NOTHING",
        )
        .bind(p.id.0)
        .bind(p.grant.0)
        .bind(&p.idempotency_key)
        .bind(&p.state)
        .bind(next_wake_at.map(micros))
        .bind(owner)
        .bind(i64::from(p.lease.is_some()))
        .bind(until.map(micros))
        .bind(&p.state_kind)
        .bind(p.ledger.as_ref().map(|l| micros(l.at)))
        .bind(p.ledger.as_ref().map(|l| l.entry.as_str()))
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("create a payment"))?;
        if done.rows_affected() == 0 {
            tx.rollback()
                .await
                .map_err(StoreError::db("roll back a payment create"))?;
            let existing = self
                .payment_by_key(p.grant, &p.idempotency_key)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    grant: Some(p.grant),
                    detail: format!(
                        "payment idempotency key {:?} conflicted but no payment holds it",
                        p.idempotency_key
                    ),
                })?;
            return Ok(CreatedPayment {
                payment: existing,
                inserted: false,
                lease: None,
            });
        }
        append_event(&mut tx, p.id, 1, &p.event, now, p.change_summary.as_deref()).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("commit a payment create"))?;
        if p.lease.is_none() && next_wake_at.is_some() {
            self.waker.wake();
        }
        self.feed_waker.wake();
        Ok(created_payment(p, now, next_wake_at))
    }

    pub(crate) async fn payment_get(
        &self,
        id: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grantflow_payments WHERE id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a payment"))?;
        row.as_ref().map(record).transpose()
    }

    pub(crate) async fn payment_by_key(
        &self,
        grant: GrantId,
        key: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grantflow_payments WHERE grant_id = ?1 AND idempotency_key = ?2"
        ))
        .bind(grant.0)
        .bind(key)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a payment by idempotency key"))?;
        row.as_ref().map(record).transpose()
    }

    pub(crate) async fn payment_list(
        &self,
        grant: GrantId,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grantflow_payments WHERE grant_id = ?1
             ORDER BY created_at, id LIMIT ?2"
        ))
        .bind(grant.0)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list a grant's payments"))?;
        rows.iter().map(record).collect()
    }

    pub(crate) async fn payment_events(
        &self,
        id: PaymentId,
    ) -> Result<Vec<PaymentEventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, version, event, at FROM grantflow_payment_events
             WHERE payment_id = ?1 ORDER BY version",
        )
        .bind(id.0)
        .fetch_all(self.pool())
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
                    at: at(row.try_get("at").map_err(&decode)?)?,
                })
            })
            .collect()
    }

    pub(crate) async fn payment_claim_due(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedPayment>, StoreError> {
        let mut tx = self.begin().await?;
        let due: Vec<(Uuid, Option<i64>)> = sqlx::query_as(
            "SELECT id, next_wake_at FROM grantflow_payments
             WHERE next_wake_at IS NOT NULL AND next_wake_at <= ?1
             ORDER BY next_wake_at LIMIT ?2",
        )
        .bind(micros(request.now))
        .bind(i64::from(request.limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("find due payments"))?;
        let mut claimed = Vec::with_capacity(due.len());
        for (id, due_at) in due {
            claimed.push(
                claim_in(
                    &mut tx,
                    id,
                    due_at,
                    &request.owner,
                    request.now,
                    request.lease_until,
                )
                .await?,
            );
        }
        tx.commit()
            .await
            .map_err(StoreError::db("commit a payment claim"))?;
        Ok(claimed)
    }

    pub(crate) async fn payment_claim(
        &self,
        id: PaymentId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedPayment>, StoreError> {
        let mut tx = self.begin().await?;
        let due: Option<(Uuid, Option<i64>)> = sqlx::query_as(
            "SELECT id, next_wake_at FROM grantflow_payments
             WHERE id = ?1 AND (lease_until IS NULL OR lease_until <= ?2)",
        )
        .bind(id.0)
        .bind(micros(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("find a payment to claim"))?;
        let Some((id, due_at)) = due else {
            return Ok(None);
        };
        let claimed = claim_in(&mut tx, id, due_at, owner, now, lease_until).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("commit a payment claim"))?;
        Ok(Some(claimed))
    }

    pub(crate) async fn payment_commit(
        &self,
        w: PaymentWrite,
        now: DateTime<Utc>,
    ) -> Result<PaymentWriteResult, StoreError> {
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
            "UPDATE grantflow_payments
             SET state = ?4,
                 version = version + 1,
                 next_wake_at = COALESCE(?5, ?6),
                 lease_owner = CASE WHEN ?5 IS NULL THEN NULL ELSE lease_owner END,
                 lease_until = ?5,
                 updated_at = ?7,
                 state_kind = ?8, ledger_at = ?9, ledger = ?10
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
        .bind(w.ledger.as_ref().map(|l| micros(l.at)))
        .bind(w.ledger.as_ref().map(|l| l.entry.as_str()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("commit a payment transition"))?;
        let Some(version) = version else {
            let row: Option<(i64, i64, Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT version, lease_token, lease_owner, lease_until FROM grantflow_payments
                 WHERE id = ?1",
            )
            .bind(w.id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("read a refused payment"))?;
            tx.rollback()
                .await
                .map_err(StoreError::db("roll back a refused payment write"))?;
            let row = match row {
                Some((v, t, o, u)) => Some((v, t, o, u.map(at).transpose()?)),
                None => None,
            };
            return Ok(Err(payment_refusal(&w, row, now)));
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
            .map_err(StoreError::db("commit a payment transition"))?;
        if keep.is_none() && w.next_wake_at.is_some() {
            self.waker.wake();
        }
        self.feed_waker.wake();
        Ok(Ok(version))
    }

    pub(crate) async fn payment_renew(
        &self,
        lease: &PaymentLease,
        until: DateTime<Utc>,
    ) -> Result<PaymentLease, StoreError> {
        let done = sqlx::query(
            "UPDATE grantflow_payments SET lease_until = ?3, next_wake_at = ?3
             WHERE id = ?1 AND lease_token = ?2 AND lease_until IS NOT NULL",
        )
        .bind(lease.payment.0)
        .bind(lease.token.0)
        .bind(micros(until))
        .execute(self.pool())
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

    pub(crate) async fn payment_release(
        &self,
        lease: &PaymentLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE grantflow_payments
             SET lease_owner = NULL, lease_until = NULL, next_wake_at = ?3, updated_at = ?4
             WHERE id = ?1 AND lease_token = ?2 AND lease_until IS NOT NULL",
        )
        .bind(lease.payment.0)
        .bind(lease.token.0)
        .bind(next_wake_at.map(micros))
        .bind(micros(now))
        .execute(self.pool())
        .await
        .map_err(StoreError::db("release a payment's lease"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::PaymentLeaseLost(lease.payment));
        }
        if next_wake_at.is_some() {
            self.waker.wake();
        }
        Ok(())
    }

    pub(crate) async fn payment_ledger_rows(
        &self,
        grant: GrantId,
        from: Option<DateTime<Utc>>,
        except: Option<PaymentId>,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT ledger_at, ledger FROM grantflow_payments
             WHERE grant_id = ?1 AND ledger_at IS NOT NULL
               AND (?2 IS NULL OR ledger_at >= ?2)
               AND (?3 IS NULL OR id <> ?3)",
        )
        .bind(grant.0)
        .bind(from.map(micros))
        .bind(except.map(|e| e.0))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("read a grant's payment ledger"))?;
        rows.into_iter()
            .map(|(m, entry)| Ok(LedgerRow { at: at(m)?, entry }))
            .collect()
    }

    pub(crate) async fn payment_next_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let m: Option<i64> = sqlx::query_scalar("SELECT min(next_wake_at) FROM grantflow_payments")
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::db("read the next payment wake-up"))?;
        m.map(at).transpose()
    }
}
