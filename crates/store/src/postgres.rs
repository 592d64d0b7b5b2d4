//! The PostgreSQL store: many workers in many processes share one database.
//!
//! Claims are one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)` statement; a batch of
//! transitions is one statement too (`unnest` of the batch, the fenced `UPDATE`, the event
//! `INSERT` in data-modifying CTEs), so it is atomic without an explicit transaction and costs
//! one round trip and one commit for the whole batch.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::StoreError;
use crate::feed::{ConsumerLease, FeedPage, FeedPosition};
use crate::list::{GrantSummary, ListCursor, ListFilter, ListPage, fetch_limit, page};
use crate::model::{
    AfterWrite, ClaimRequest, Claimed, Committed, Created, EventRecord, Fence, GrantId,
    GrantRecord, Lease, LeaseInfo, LeaseToken, NewGrant, Refused, Rewrite, StateWrite, WriteResult,
    created_record,
};
use crate::payment::{
    ClaimedPayment, CreatedPayment, LedgerRow, NewPayment, PaymentEventRecord, PaymentId,
    PaymentLease, PaymentRecord, PaymentWrite, PaymentWriteResult,
};
use crate::payment_pg;
use crate::postgres_feed;
use crate::schedule::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, ScheduleEventRecord, ScheduleId, ScheduleLease,
    ScheduleRecord, ScheduleWrite,
};
use crate::schedule_pg;
use crate::store::{FenceRow, GrantStore, check_batch, missing_migrations, refusal_reason};
use crate::wake::{WakeSignal, Waker};

type FenceTime = Option<DateTime<Utc>>;

/// The PostgreSQL migrations (`migrations/postgres`), embedded. [`PgStore::connect`] applies
/// them; `sqlx migrate run --source migrations/postgres` applies the same files.
pub static PG_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The notification channel the migration's trigger notifies on.
pub const DUE_CHANNEL: &str = "grantflow_due";

/// The notification channel the change feed's trigger notifies on after events are appended.
pub const FEED_CHANNEL: &str = "grantflow_feed";

const GRANT_COLUMNS: &str = "g.id, g.idempotency_key, g.state::text AS state, g.version, g.next_wake_at, \
     g.lease_owner, g.lease_token, g.lease_until, g.created_at, g.updated_at, \
     g.state_kind, g.access_types, g.wallet_address, g.last_error";

/// The PostgreSQL implementation of [`GrantStore`]. Cheap to clone (the pool and the `LISTEN`
/// task are shared by clones).
///
/// The first [`GrantStore::wake_signal`] starts a task that holds one connection of the pool for
/// `LISTEN grantflow_due`: size the pool one larger than the work needs. Build one store per
/// pool and clone it, rather than calling [`PgStore::from_pool`] again, to share that connection.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    waker: Waker,
    /// Woken by `grantflow_feed` notifications (the same `LISTEN` task).
    pub(crate) feed_waker: Waker,
    /// The `LISTEN` task, started by the first [`GrantStore::wake_signal`] and stopped when the
    /// last clone of the store is dropped.
    listener: Arc<OnceLock<ListenerTask>>,
}

#[derive(Debug)]
struct ListenerTask(tokio::task::JoinHandle<()>);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PgStore {
    /// Connects with a pool of up to `max_connections`, applies the migrations, and returns the
    /// store.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await
            .map_err(StoreError::db("connect to PostgreSQL"))?;
        PG_MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: "postgres",
                source,
            })?;
        Ok(Self::from_pool(pool))
    }

    /// Wraps a pool whose database is already migrated (e.g. by `#[sqlx::test]`).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            waker: Waker::new(),
            feed_waker: Waker::new(),
            listener: Arc::new(OnceLock::new()),
        }
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The plan PostgreSQL runs for [`GrantStore::list_page`] with these arguments, executed
    /// (`EXPLAIN (ANALYZE, BUFFERS)`), one line per row: for operators checking that a filter
    /// uses its index on their data, and for the scale benchmark.
    pub async fn explain_list_page(
        &self,
        filter: &ListFilter,
        after: Option<ListCursor>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        list_query("EXPLAIN (ANALYZE, BUFFERS) ", filter, after, limit)
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("explain a page of grants"))
    }

    /// Starts the `LISTEN` task once (for wake-ups and the feed alike).
    pub(crate) fn ensure_listener(&self) {
        self.listener.get_or_init(|| self.start_listener());
    }

    fn start_listener(&self) -> ListenerTask {
        let pool = self.pool.clone();
        let waker = self.waker.clone();
        let feed_waker = self.feed_waker.clone();
        ListenerTask(tokio::spawn(async move {
            // Whether the last attempt failed: while the database is down, one line when the
            // connection is lost and one when it is back, not one per retry.
            let mut failing = false;
            loop {
                match PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        match listener.listen_all([DUE_CHANNEL, FEED_CHANNEL]).await {
                            Ok(()) => {
                                if std::mem::take(&mut failing) {
                                    tracing::info!(
                                        "LISTEN {DUE_CHANNEL}, {FEED_CHANNEL} connection back"
                                    );
                                }
                                // Anything may have become due or been appended while we were not
                                // listening.
                                waker.wake();
                                feed_waker.wake();
                                loop {
                                    match listener.recv().await {
                                        Ok(n) if n.channel() == FEED_CHANNEL => feed_waker.wake(),
                                        Ok(_) => waker.wake(),
                                        Err(error) => {
                                            tracing::warn!(%error, "LISTEN connection lost; reconnecting (workers poll meanwhile)");
                                            failing = true;
                                            break;
                                        }
                                    }
                                }
                            }
                            Err(error) => {
                                if !std::mem::replace(&mut failing, true) {
                                    tracing::warn!(%error, "LISTEN {DUE_CHANNEL}, {FEED_CHANNEL} failed; retrying");
                                }
                            }
                        }
                    }
                    Err(error) => {
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(%error, "cannot open the LISTEN connection; retrying");
                        } else {
                            tracing::debug!(%error, "cannot open the LISTEN connection; retrying");
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }))
    }
}

fn grant_from_row(row: &PgRow) -> Result<GrantRecord, StoreError> {
    let decode = |e: sqlx::Error| StoreError::Corrupt {
        grant: row.try_get::<Uuid, _>("id").ok().map(GrantId),
        detail: e.to_string(),
    };
    let owner: Option<String> = row.try_get("lease_owner").map_err(decode)?;
    let until: Option<DateTime<Utc>> = row.try_get("lease_until").map_err(decode)?;
    Ok(GrantRecord {
        id: GrantId(row.try_get("id").map_err(decode)?),
        idempotency_key: row.try_get("idempotency_key").map_err(decode)?,
        state: row.try_get("state").map_err(decode)?,
        version: row.try_get("version").map_err(decode)?,
        next_wake_at: row.try_get("next_wake_at").map_err(decode)?,
        lease: match (owner, until) {
            (Some(owner), Some(until)) => Some(LeaseInfo { owner, until }),
            _ => None,
        },
        created_at: row.try_get("created_at").map_err(decode)?,
        updated_at: row.try_get("updated_at").map_err(decode)?,
        summary: GrantSummary {
            state_kind: row.try_get("state_kind").map_err(decode)?,
            access_types: row
                .try_get::<Option<Vec<String>>, _>("access_types")
                .map_err(decode)?
                .unwrap_or_default(),
            wallet_address: row.try_get("wallet_address").map_err(decode)?,
            last_error: row.try_get("last_error").map_err(decode)?,
        },
    })
}

fn claimed_from_row(row: &PgRow) -> Result<Claimed, StoreError> {
    let grant = grant_from_row(row)?;
    let corrupt = |detail: String| StoreError::Corrupt {
        grant: Some(grant.id),
        detail,
    };
    let token: i64 = row
        .try_get("lease_token")
        .map_err(|e| corrupt(e.to_string()))?;
    let due_at: Option<DateTime<Utc>> =
        row.try_get("due_at").map_err(|e| corrupt(e.to_string()))?;
    let info = grant
        .lease
        .clone()
        .ok_or_else(|| corrupt("claimed grant has no lease".into()))?;
    Ok(Claimed {
        lease: Lease {
            grant: grant.id,
            owner: info.owner,
            token: LeaseToken(token),
            until: info.until,
        },
        grant,
        due_at,
    })
}

impl GrantStore for PgStore {
    async fn create(&self, grant: NewGrant, now: DateTime<Utc>) -> Result<Created, StoreError> {
        let (owner, until) = match &grant.lease {
            Some(l) => (Some(l.owner.as_str()), Some(l.until)),
            None => (None, None),
        };
        let next_wake_at = until.or(grant.next_wake_at);
        let token: i64 = if grant.lease.is_some() { 1 } else { 0 };
        let inserted: i64 = sqlx::query_scalar(
            "WITH ins AS (
                 INSERT INTO grantflow_grants
                     (id, idempotency_key, state, version, next_wake_at,
                      lease_owner, lease_token, lease_until, created_at, updated_at,
                      state_kind, access_types, wallet_address, last_error)
                 VALUES ($1, $2, $3::jsonb, 1, $4, $7, $8, $9, $5, $5, $10, $11, $12, $13)
                 ON CONFLICT (idempotency_key) DO NOTHING
                 RETURNING id
             ), ev AS (
                 INSERT INTO grantflow_grant_events (grant_id, version, event, at, change_summary)
                 SELECT id, 1, $6::jsonb, $5, $14 FROM ins
             )
             SELECT count(*) FROM ins",
        )
        .bind(grant.id.0)
        .bind(&grant.idempotency_key)
        .bind(&grant.state)
        .bind(next_wake_at)
        .bind(now)
        .bind(&grant.event)
        .bind(owner)
        .bind(token)
        .bind(until)
        .bind(&grant.summary.state_kind)
        .bind(access_column(&grant.summary))
        .bind(&grant.summary.wallet_address)
        .bind(&grant.summary.last_error)
        .bind(&grant.change_summary)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("create a grant"))?;
        if inserted == 1 {
            return Ok(created_record(grant, now, next_wake_at));
        }
        let key = grant.idempotency_key.as_deref().unwrap_or_default();
        let existing =
            self.get_by_idempotency_key(key)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    grant: Some(grant.id),
                    detail: format!("idempotency key {key:?} conflicted but no grant holds it"),
                })?;
        Ok(Created {
            grant: existing,
            inserted: false,
            lease: None,
        })
    }

    async fn get(&self, id: GrantId) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grantflow_grants g WHERE g.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read a grant"))?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grantflow_grants g WHERE g.idempotency_key = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read a grant by idempotency key"))?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn list(&self, limit: u32, offset: u64) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grantflow_grants g
             ORDER BY g.created_at DESC, g.id DESC LIMIT $1 OFFSET $2"
        ))
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("list grants"))?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn history(&self, id: GrantId) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, version, event::text AS event, at FROM grantflow_grant_events
             WHERE grant_id = $1 ORDER BY version",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("read a grant's events"))?;
        rows.iter().map(|row| event_record(id, row)).collect()
    }

    async fn first_event(&self, id: GrantId) -> Result<Option<EventRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT seq, version, event::text AS event, at FROM grantflow_grant_events
             WHERE grant_id = $1 AND version = 1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read a grant's first event"))?;
        row.map(|row| event_record(id, &row)).transpose()
    }

    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<Claimed>, StoreError> {
        let rows = sqlx::query(&format!(
            "WITH due AS (
                 SELECT id, next_wake_at AS due_at FROM grantflow_grants
                 WHERE next_wake_at IS NOT NULL AND next_wake_at <= $1
                 ORDER BY next_wake_at
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE grantflow_grants g
             SET lease_owner = $3, lease_token = g.lease_token + 1,
                 lease_until = $4, next_wake_at = $4, updated_at = $1
             FROM due WHERE g.id = due.id
             RETURNING {GRANT_COLUMNS}, due.due_at"
        ))
        .bind(request.now)
        .bind(i64::from(request.limit))
        .bind(&request.owner)
        .bind(request.lease_until)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("claim due grants"))?;
        rows.iter().map(claimed_from_row).collect()
    }

    async fn claim_grant(
        &self,
        id: GrantId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claimed>, StoreError> {
        let row = sqlx::query(&format!(
            "WITH cur AS (
                 SELECT id, next_wake_at AS due_at FROM grantflow_grants
                 WHERE id = $1 AND (lease_until IS NULL OR lease_until <= $3)
                 FOR UPDATE
             )
             UPDATE grantflow_grants g
             SET lease_owner = $2, lease_token = g.lease_token + 1,
                 lease_until = $4, next_wake_at = $4, updated_at = $3
             FROM cur WHERE g.id = cur.id
             RETURNING {GRANT_COLUMNS}, cur.due_at"
        ))
        .bind(id.0)
        .bind(owner)
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("claim a grant"))?;
        row.as_ref().map(claimed_from_row).transpose()
    }

    async fn renew(&self, lease: &Lease, until: DateTime<Utc>) -> Result<Lease, StoreError> {
        let done = sqlx::query(
            "UPDATE grantflow_grants SET lease_until = $3, next_wake_at = $3
             WHERE id = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
        )
        .bind(lease.grant.0)
        .bind(lease.token.0)
        .bind(until)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("renew a lease"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(lease.grant));
        }
        Ok(Lease {
            until,
            ..lease.clone()
        })
    }

    async fn release(
        &self,
        lease: &Lease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE grantflow_grants
             SET lease_owner = NULL, lease_until = NULL, next_wake_at = $3, updated_at = $4
             WHERE id = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
        )
        .bind(lease.grant.0)
        .bind(lease.token.0)
        .bind(next_wake_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("release a lease"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(lease.grant));
        }
        Ok(())
    }

    async fn commit(
        &self,
        writes: Vec<StateWrite>,
        now: DateTime<Utc>,
    ) -> Result<Vec<WriteResult>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        check_batch(&writes)?;
        let n = writes.len();
        let mut ids = Vec::with_capacity(n);
        let mut expected = Vec::with_capacity(n);
        let mut tokens: Vec<Option<i64>> = Vec::with_capacity(n);
        let mut keep: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(n);
        let mut states = Vec::with_capacity(n);
        let mut events = Vec::with_capacity(n);
        let mut wakes = Vec::with_capacity(n);
        let mut ats = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut access: Vec<Option<String>> = Vec::with_capacity(n);
        let mut wallets = Vec::with_capacity(n);
        let mut errors = Vec::with_capacity(n);
        let mut summaries = Vec::with_capacity(n);
        for w in &writes {
            ids.push(w.id.0);
            expected.push(w.expected_version);
            match &w.fence {
                Fence::Lease { token, then } => {
                    tokens.push(Some(token.0));
                    keep.push(match then {
                        AfterWrite::Keep { until } => Some(*until),
                        AfterWrite::Release => None,
                    });
                }
                Fence::Unleased => {
                    tokens.push(None);
                    keep.push(None);
                }
            }
            states.push(&w.state);
            events.push(&w.event);
            wakes.push(w.next_wake_at);
            ats.push(w.at);
            kinds.push(w.summary.state_kind.as_deref());
            // A text[] per row cannot be unnested from a 2-D array (rows differ in length):
            // each row's access types travel as one JSON array.
            access.push(access_column(&w.summary).map(|a| serde_json::Value::from(a).to_string()));
            wallets.push(w.summary.wallet_address.as_deref());
            errors.push(w.summary.last_error.as_deref());
            summaries.push(w.change_summary.as_deref());
        }
        let applied: Vec<(Uuid, i64)> = sqlx::query_as(
            "WITH input AS (
                 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::timestamptz[],
                                      $5::text[], $6::text[], $7::timestamptz[],
                                      $9::timestamptz[], $10::text[], $11::text[], $12::text[],
                                      $13::text[], $14::text[])
                     AS t(id, expected_version, lease_token, keep_until, state, event,
                          next_wake_at, at, state_kind, access_types, wallet_address, last_error,
                          change_summary)
             ), updated AS (
                 UPDATE grantflow_grants g
                 SET state = i.state::jsonb,
                     version = g.version + 1,
                     next_wake_at = COALESCE(i.keep_until, i.next_wake_at),
                     lease_owner = CASE WHEN i.keep_until IS NULL THEN NULL ELSE g.lease_owner END,
                     lease_until = i.keep_until,
                     updated_at = $8,
                     state_kind = i.state_kind,
                     access_types = CASE WHEN i.access_types IS NULL THEN NULL ELSE
                         ARRAY(SELECT jsonb_array_elements_text(i.access_types::jsonb)) END,
                     wallet_address = i.wallet_address,
                     last_error = i.last_error
                 FROM input i
                 WHERE g.id = i.id AND g.version = i.expected_version
                   AND CASE WHEN i.lease_token IS NULL
                            THEN g.lease_until IS NULL OR g.lease_until <= $8
                            ELSE g.lease_until IS NOT NULL AND g.lease_token = i.lease_token
                       END
                 RETURNING g.id, g.version
             ), ev AS (
                 INSERT INTO grantflow_grant_events (grant_id, version, event, at, change_summary)
                 SELECT u.id, u.version, i.event::jsonb, i.at, i.change_summary
                 FROM updated u JOIN input i ON i.id = u.id
             )
             SELECT id, version FROM updated",
        )
        .bind(&ids)
        .bind(&expected)
        .bind(&tokens)
        .bind(&keep)
        .bind(&states)
        .bind(&events)
        .bind(&wakes)
        .bind(now)
        .bind(&ats)
        .bind(&kinds)
        .bind(&access)
        .bind(&wallets)
        .bind(&errors)
        .bind(&summaries)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("commit transitions"))?;

        let applied: std::collections::HashMap<Uuid, i64> = applied.into_iter().collect();
        let refused: Vec<Uuid> = ids
            .iter()
            .filter(|id| !applied.contains_key(id))
            .copied()
            .collect();
        let mut current = std::collections::HashMap::new();
        if !refused.is_empty() {
            let rows: Vec<(Uuid, i64, Option<String>, i64, FenceTime)> = sqlx::query_as(
                "SELECT id, version, lease_owner, lease_token, lease_until
                     FROM grantflow_grants WHERE id = ANY($1)",
            )
            .bind(&refused)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("read refused grants"))?;
            for (id, version, owner, token, until) in rows {
                current.insert(
                    id,
                    FenceRow {
                        version,
                        owner,
                        token,
                        until,
                    },
                );
            }
        }
        Ok(writes
            .iter()
            .map(|w| match applied.get(&w.id.0) {
                Some(&version) => Ok(Committed { id: w.id, version }),
                None => Err(Refused {
                    id: w.id,
                    reason: refusal_reason(w, current.remove(&w.id.0), now),
                }),
            })
            .collect())
    }

    async fn rewrite(&self, rewrite: Rewrite) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("begin a transaction"))?;
        let done = sqlx::query(
            "UPDATE grantflow_grants SET state = $1::jsonb
             WHERE id = $2 AND version = $3 AND state = $4::jsonb",
        )
        .bind(&rewrite.state)
        .bind(rewrite.id.0)
        .bind(rewrite.version)
        .bind(&rewrite.old_state)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("rewrite a grant's state"))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for e in &rewrite.events {
            let done = sqlx::query(
                "UPDATE grantflow_grant_events SET event = $1::jsonb
                 WHERE seq = $2 AND grant_id = $3 AND event = $4::jsonb",
            )
            .bind(&e.event)
            .bind(e.seq)
            .bind(rewrite.id.0)
            .bind(&e.old_event)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("rewrite a grant's events"))?;
            if done.rows_affected() == 0 {
                // Dropping the transaction rolls the state back too: never a partial rewrite.
                return Ok(false);
            }
        }
        tx.commit()
            .await
            .map_err(StoreError::db("commit a rewrite"))?;
        Ok(true)
    }

    async fn next_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        sqlx::query_scalar(
            "SELECT min(next_wake_at) FROM grantflow_grants WHERE next_wake_at IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("read the next wake-up"))
    }

    fn wake_signal(&self) -> WakeSignal {
        self.ensure_listener();
        self.waker.signal()
    }

    async fn list_page(
        &self,
        filter: &ListFilter,
        after: Option<ListCursor>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        let rows = list_query("", filter, after, limit)
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("list a page of grants"))?;
        let grants = rows.iter().map(grant_from_row).collect::<Result<_, _>>()?;
        Ok(page(grants, limit))
    }

    async fn write_summary(
        &self,
        id: GrantId,
        version: i64,
        summary: &GrantSummary,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE grantflow_grants
             SET state_kind = $3, access_types = $4, wallet_address = $5, last_error = $6
             WHERE id = $1 AND version = $2",
        )
        .bind(id.0)
        .bind(version)
        .bind(&summary.state_kind)
        .bind(access_column(summary))
        .bind(&summary.wallet_address)
        .bind(&summary.last_error)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("write a grant's summary"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn check_schema(&self) -> Result<(), StoreError> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("read the applied migrations"))?;
        missing_migrations(&PG_MIGRATOR, &applied)
    }

    async fn prune_final(&self, older_than: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        crate::retention::pg_prune(&self.pool, older_than, batch).await
    }

    async fn count_by_state(&self) -> Result<crate::StateCounts, StoreError> {
        crate::retention::pg_count(&self.pool).await
    }

    async fn changes_after(
        &self,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> Result<FeedPage, StoreError> {
        postgres_feed::changes_after(&self.pool, after, limit).await
    }

    async fn feed_head(&self) -> Result<Option<FeedPosition>, StoreError> {
        postgres_feed::feed_head(&self.pool).await
    }

    fn feed_signal(&self) -> WakeSignal {
        self.ensure_listener();
        self.feed_waker.signal()
    }

    async fn claim_consumer(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<ConsumerLease>, StoreError> {
        postgres_feed::claim_consumer(&self.pool, name, owner, now, until).await
    }

    async fn advance_consumer(
        &self,
        lease: &ConsumerLease,
        position: Option<FeedPosition>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ConsumerLease, StoreError> {
        postgres_feed::advance_consumer(&self.pool, lease, position, now, until).await
    }

    async fn release_consumer(&self, lease: &ConsumerLease) -> Result<(), StoreError> {
        postgres_feed::release_consumer(&self.pool, lease).await
    }

    async fn create_payment(
        &self,
        payment: NewPayment,
        now: DateTime<Utc>,
    ) -> Result<CreatedPayment, StoreError> {
        payment_pg::create(&self.pool, payment, now).await
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        payment_pg::get(&self.pool, id).await
    }

    async fn get_payment_by_key(
        &self,
        grant: GrantId,
        key: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        payment_pg::by_key(&self.pool, grant, key).await
    }

    async fn list_payments(
        &self,
        grant: GrantId,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        payment_pg::list(&self.pool, grant, limit).await
    }

    async fn payment_history(&self, id: PaymentId) -> Result<Vec<PaymentEventRecord>, StoreError> {
        payment_pg::history(&self.pool, id).await
    }

    async fn claim_due_payments(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedPayment>, StoreError> {
        payment_pg::claim_due(&self.pool, request).await
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedPayment>, StoreError> {
        payment_pg::claim_one(&self.pool, id, owner, now, lease_until).await
    }

    async fn commit_payment(
        &self,
        write: PaymentWrite,
        now: DateTime<Utc>,
    ) -> Result<PaymentWriteResult, StoreError> {
        payment_pg::commit(&self.pool, write, now).await
    }

    async fn renew_payment(
        &self,
        lease: &PaymentLease,
        until: DateTime<Utc>,
    ) -> Result<PaymentLease, StoreError> {
        payment_pg::renew(&self.pool, lease, until).await
    }

    async fn release_payment(
        &self,
        lease: &PaymentLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        payment_pg::release(&self.pool, lease, next_wake_at, now).await
    }

    async fn payment_ledger(
        &self,
        grant: GrantId,
        from: Option<DateTime<Utc>>,
        except: Option<PaymentId>,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        payment_pg::ledger(&self.pool, grant, from, except).await
    }

    async fn next_payment_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        payment_pg::next_wake_at(&self.pool).await
    }

    async fn create_schedule(
        &self,
        schedule: NewSchedule,
        now: DateTime<Utc>,
    ) -> Result<CreatedSchedule, StoreError> {
        schedule_pg::create(&self.pool, schedule, now).await
    }

    async fn get_schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        schedule_pg::get(&self.pool, id).await
    }

    async fn list_schedules(&self, limit: u32) -> Result<Vec<ScheduleRecord>, StoreError> {
        schedule_pg::list(&self.pool, limit).await
    }

    async fn schedule_history(
        &self,
        id: ScheduleId,
    ) -> Result<Vec<ScheduleEventRecord>, StoreError> {
        schedule_pg::history(&self.pool, id).await
    }

    async fn claim_due_schedules(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedSchedule>, StoreError> {
        schedule_pg::claim_due(&self.pool, request).await
    }

    async fn claim_schedule(
        &self,
        id: ScheduleId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedSchedule>, StoreError> {
        schedule_pg::claim_one(&self.pool, id, owner, now, lease_until).await
    }

    async fn commit_schedule(
        &self,
        write: ScheduleWrite,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, crate::model::RefusedReason>, StoreError> {
        schedule_pg::commit(&self.pool, write, now).await
    }

    async fn release_schedule(
        &self,
        lease: &ScheduleLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        schedule_pg::release(&self.pool, lease, next_wake_at, now).await
    }

    async fn next_schedule_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        schedule_pg::next_wake_at(&self.pool).await
    }
}

/// The statement of [`GrantStore::list_page`], after `prefix` (`EXPLAIN ...` or nothing).
fn list_query(
    prefix: &str,
    filter: &ListFilter,
    after: Option<ListCursor>,
    limit: u32,
) -> QueryBuilder<'static, Postgres> {
    // Only the predicates in use are in the statement, so each combination gets the plan
    // of its own index (no `$1 IS NULL OR ...` that a generic plan cannot index).
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "{prefix}SELECT {GRANT_COLUMNS} FROM grantflow_grants g WHERE true"
    ));
    if let Some(kind) = &filter.state_kind {
        q.push(" AND g.state_kind = ").push_bind(kind.clone());
    }
    if let Some(wallet) = &filter.wallet_address {
        q.push(" AND g.wallet_address = ").push_bind(wallet.clone());
    }
    if let Some(access) = &filter.access_type {
        q.push(" AND g.access_types @> ARRAY[")
            .push_bind(access.clone())
            .push("]::text[]");
    }
    if let Some(t) = filter.created_after {
        q.push(" AND g.created_at >= ").push_bind(t);
    }
    if let Some(t) = filter.created_before {
        q.push(" AND g.created_at < ").push_bind(t);
    }
    if let Some(c) = after {
        q.push(" AND (g.created_at, g.id) < (")
            .push_bind(c.created_at)
            .push(", ")
            .push_bind(c.id.0)
            .push(")");
    }
    q.push(" ORDER BY g.created_at DESC, g.id DESC LIMIT ")
        .push_bind(fetch_limit(limit));
    q
}

/// The `access_types` column of a summary: NULL when no access type is known.
fn access_column(summary: &GrantSummary) -> Option<&[String]> {
    Some(summary.access_types.as_slice()).filter(|a| !a.is_empty())
}

/// An event row (`seq, version, event, at`) of grant `id`.
fn event_record(id: GrantId, row: &sqlx::postgres::PgRow) -> Result<EventRecord, StoreError> {
    let decode = |e: sqlx::Error| StoreError::Corrupt {
        grant: Some(id),
        detail: e.to_string(),
    };
    Ok(EventRecord {
        grant: id,
        seq: row.try_get("seq").map_err(decode)?,
        version: row.try_get("version").map_err(decode)?,
        event: row.try_get("event").map_err(decode)?,
        at: row.try_get("at").map_err(decode)?,
    })
}
