//! The SQLite store: the embedded default, for one process.
//!
//! One connection does all the work, so claims and writes are serialised in-process (a single
//! writer, which is how SQLite wants to be written anyway); each operation is one transaction.
//! Wake-ups are in-process. Times are stored as microseconds since the Unix epoch.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, Transaction};
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
use crate::schedule::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, ScheduleEventRecord, ScheduleId, ScheduleLease,
    ScheduleRecord, ScheduleWrite,
};
use crate::sqlite_feed;
use crate::store::{FenceRow, GrantStore, check_batch, missing_migrations, refusal_reason};
use crate::wake::{WakeSignal, Waker};

/// How long an operation waits for another connection's lock (SQLite's busy timeout).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite migrations (`migrations/sqlite`), embedded. [`SqliteStore::connect`] applies them.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

const GRANT_COLUMNS: &str = "id, idempotency_key, state, version, next_wake_at, \
     lease_owner, lease_token, lease_until, created_at, updated_at, \
     state_kind, access_types, wallet_address, last_error";

/// The SQLite implementation of [`GrantStore`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    pub(crate) waker: Waker,
    /// Woken after every write that appended events (one process: in-process is enough).
    pub(crate) feed_waker: Waker,
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn time(grant: Option<GrantId>, m: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(m).ok_or_else(|| StoreError::Corrupt {
        grant,
        detail: format!("time {m} out of range"),
    })
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite:path/to/file.db`, or
    /// `sqlite::memory:` for a database that lives as long as the store), applies the migrations,
    /// and returns the store.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::db("parse the SQLite URL"))?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = open(options).await?;
        migrate(&pool).await?;
        Ok(Self {
            pool,
            waker: Waker::new(),
            feed_waker: Waker::new(),
        })
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(StoreError::db("begin a transaction"))
    }
}

/// Opens the pool: one connection, never closed (the single writer, and what keeps `:memory:`
/// alive). Switching a new file to WAL takes an exclusive lock that SQLite does not wait for
/// (the busy timeout does not apply), so a process opening the file while another does gets
/// `SQLITE_BUSY` ("database is locked", about 1 try in 100 in the race test): that is retried
/// for up to the busy timeout.
async fn open(options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    let deadline = tokio::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(10);
    loop {
        let opened = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await;
        match opened {
            Err(error) if is_busy(&error) && tokio::time::Instant::now() < deadline => {
                tracing::debug!(%error, "the SQLite file is being opened by another process; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            opened => return opened.map_err(StoreError::db("open the SQLite database")),
        }
    }
}

/// Whether SQLite answered `SQLITE_BUSY` (or one of its extended codes).
fn is_busy(error: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_BUSY)
}

/// Applies the migrations under SQLite's write lock, so processes opening a new file at once
/// migrate one after the other. sqlx's migrator takes no lock on SQLite: each process saw no
/// migration applied, and the second to create the tables failed ("table grantflow_grants
/// already exists", 3 tries in 10). `BEGIN IMMEDIATE` takes the write lock first (waiting up to
/// the busy timeout for another migrator); the migrator then runs inside that transaction (its
/// own transactions become savepoints) and finds what the other process applied.
async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(StoreError::db("open the SQLite database"))?;
    let mut locked = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::db("lock the SQLite database to migrate it"))?;
    // `run_direct` is `run` on a connection already held (sqlx's own way around `run`'s
    // "`Acquire` is not general enough" in a `Send` future).
    SQLITE_MIGRATOR
        .run_direct(&mut *locked)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: "sqlite",
            source,
        })?;
    locked
        .commit()
        .await
        .map_err(StoreError::db("commit the SQLite migrations"))
}

fn grant_from_row(row: &SqliteRow) -> Result<GrantRecord, StoreError> {
    let id = row.try_get::<Uuid, _>("id").ok().map(GrantId);
    let decode = |e: sqlx::Error| StoreError::Corrupt {
        grant: id,
        detail: e.to_string(),
    };

    let owner: Option<String> = row.try_get("lease_owner").map_err(decode)?;
    let until: Option<i64> = row.try_get("lease_until").map_err(decode)?;
    let wake: Option<i64> = row.try_get("next_wake_at").map_err(decode)?;
    Ok(GrantRecord {
        id: GrantId(row.try_get("id").map_err(decode)?),
        idempotency_key: row.try_get("idempotency_key").map_err(decode)?,
        state: row.try_get("state").map_err(decode)?,
        version: row.try_get("version").map_err(decode)?,
        next_wake_at: wake.map(|m| time(id, m)).transpose()?,
        lease: match (owner, until) {
            (Some(owner), Some(until)) => Some(LeaseInfo {
                owner,
                until: time(id, until)?,
            }),
            _ => None,
        },
        created_at: time(id, row.try_get("created_at").map_err(decode)?)?,
        updated_at: time(id, row.try_get("updated_at").map_err(decode)?)?,
        summary: GrantSummary {
            state_kind: row.try_get("state_kind").map_err(decode)?,
            access_types: match row
                .try_get::<Option<String>, _>("access_types")
                .map_err(decode)?
            {
                Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    grant: id,
                    detail: format!("access_types is not a JSON array of strings: {e}"),
                })?,
                None => Vec::new(),
            },
            wallet_address: row.try_get("wallet_address").map_err(decode)?,
            last_error: row.try_get("last_error").map_err(decode)?,
        },
    })
}

/// The `access_types` column of a summary: a JSON array of strings, NULL when none is known.
fn access_column(summary: &GrantSummary) -> Option<String> {
    (!summary.access_types.is_empty())
        .then(|| serde_json::Value::from(summary.access_types.as_slice()).to_string())
}

async fn claim_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: Uuid,
    due_at: Option<i64>,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Claimed, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE grantflow_grants
         SET lease_owner = ?2, lease_token = lease_token + 1,
             lease_until = ?3, next_wake_at = ?3, updated_at = ?4
         WHERE id = ?1
         RETURNING {GRANT_COLUMNS}"
    ))
    .bind(id)
    .bind(owner)
    .bind(micros(lease_until))
    .bind(micros(now))
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("claim a grant"))?;
    let grant = grant_from_row(&row)?;
    let token: i64 = row
        .try_get("lease_token")
        .map_err(StoreError::db("read a lease token"))?;
    Ok(Claimed {
        lease: Lease {
            grant: grant.id,
            owner: owner.to_owned(),
            token: LeaseToken(token),
            until: lease_until,
        },
        due_at: due_at.map(|m| time(Some(grant.id), m)).transpose()?,
        grant,
    })
}

impl GrantStore for SqliteStore {
    async fn create(&self, grant: NewGrant, now: DateTime<Utc>) -> Result<Created, StoreError> {
        let (owner, until) = match &grant.lease {
            Some(l) => (Some(l.owner.clone()), Some(l.until)),
            None => (None, None),
        };
        let next_wake_at = until.or(grant.next_wake_at);
        let token: i64 = if grant.lease.is_some() { 1 } else { 0 };
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "INSERT INTO grantflow_grants
                 (id, idempotency_key, state, version, next_wake_at,
                  lease_owner, lease_token, lease_until, created_at, updated_at,
                  state_kind, access_types, wallet_address, last_error)
             VALUES (?1, ?2, ?3, 1, ?4, ?6, ?7, ?8, ?5, ?5, ?9, ?10, ?11, ?12)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(grant.id.0)
        .bind(&grant.idempotency_key)
        .bind(&grant.state)
        .bind(next_wake_at.map(micros))
        .bind(micros(now))
        .bind(owner)
        .bind(token)
        .bind(until.map(micros))
        .bind(&grant.summary.state_kind)
        .bind(access_column(&grant.summary))
        .bind(&grant.summary.wallet_address)
        .bind(&grant.summary.last_error)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("create a grant"))?;
        if done.rows_affected() == 0 {
            tx.rollback()
                .await
                .map_err(StoreError::db("roll back a create"))?;
            let key = grant.idempotency_key.as_deref().unwrap_or_default();
            let existing =
                self.get_by_idempotency_key(key)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt {
                        grant: Some(grant.id),
                        detail: format!("idempotency key {key:?} conflicted but no grant holds it"),
                    })?;
            return Ok(Created {
                grant: existing,
                inserted: false,
                lease: None,
            });
        }
        sqlx::query(
            "INSERT INTO grantflow_grant_events (grant_id, version, event, at, change_summary)
             VALUES (?1, 1, ?2, ?3, ?4)",
        )
        .bind(grant.id.0)
        .bind(&grant.event)
        .bind(micros(now))
        .bind(&grant.change_summary)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("append the creating event"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("commit a create"))?;
        if grant.lease.is_none() && next_wake_at.is_some() {
            self.waker.wake();
        }
        self.feed_waker.wake();
        Ok(created_record(grant, now, next_wake_at))
    }

    async fn get(&self, id: GrantId) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grantflow_grants WHERE id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read a grant"))?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grantflow_grants WHERE idempotency_key = ?1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read a grant by idempotency key"))?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn list(&self, limit: u32, offset: u64) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grantflow_grants
             ORDER BY created_at DESC, id DESC LIMIT ?1 OFFSET ?2"
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
            "SELECT seq, version, event, at FROM grantflow_grant_events
             WHERE grant_id = ?1 ORDER BY version",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("read a grant's events"))?;
        rows.iter().map(|row| event_record(id, row)).collect()
    }

    async fn first_event(&self, id: GrantId) -> Result<Option<EventRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT seq, version, event, at FROM grantflow_grant_events
             WHERE grant_id = ?1 AND version = 1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read a grant's first event"))?;
        row.map(|row| event_record(id, &row)).transpose()
    }

    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<Claimed>, StoreError> {
        let mut tx = self.begin().await?;
        let due: Vec<(Uuid, Option<i64>)> = sqlx::query_as(
            "SELECT id, next_wake_at FROM grantflow_grants
             WHERE next_wake_at IS NOT NULL AND next_wake_at <= ?1
             ORDER BY next_wake_at LIMIT ?2",
        )
        .bind(micros(request.now))
        .bind(i64::from(request.limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("find due grants"))?;
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
            .map_err(StoreError::db("commit a claim"))?;
        Ok(claimed)
    }

    async fn claim_grant(
        &self,
        id: GrantId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claimed>, StoreError> {
        let mut tx = self.begin().await?;
        let due: Option<(Uuid, Option<i64>)> = sqlx::query_as(
            "SELECT id, next_wake_at FROM grantflow_grants
             WHERE id = ?1 AND (lease_until IS NULL OR lease_until <= ?2)",
        )
        .bind(id.0)
        .bind(micros(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("find a grant to claim"))?;
        let Some((id, due_at)) = due else {
            return Ok(None);
        };
        let claimed = claim_in(&mut tx, id, due_at, owner, now, lease_until).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("commit a claim"))?;
        Ok(Some(claimed))
    }

    async fn renew(&self, lease: &Lease, until: DateTime<Utc>) -> Result<Lease, StoreError> {
        let done = sqlx::query(
            "UPDATE grantflow_grants SET lease_until = ?3, next_wake_at = ?3
             WHERE id = ?1 AND lease_token = ?2 AND lease_until IS NOT NULL",
        )
        .bind(lease.grant.0)
        .bind(lease.token.0)
        .bind(micros(until))
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
             SET lease_owner = NULL, lease_until = NULL, next_wake_at = ?3, updated_at = ?4
             WHERE id = ?1 AND lease_token = ?2 AND lease_until IS NOT NULL",
        )
        .bind(lease.grant.0)
        .bind(lease.token.0)
        .bind(next_wake_at.map(micros))
        .bind(micros(now))
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("release a lease"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(lease.grant));
        }
        if next_wake_at.is_some() {
            self.waker.wake();
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
        let mut tx = self.begin().await?;
        let mut results = Vec::with_capacity(writes.len());
        let mut wake = false;
        for w in &writes {
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
            let version: Option<i64> = sqlx::query_scalar(
                "UPDATE grantflow_grants
                 SET state = ?4,
                     version = version + 1,
                     next_wake_at = COALESCE(?5, ?6),
                     lease_owner = CASE WHEN ?5 IS NULL THEN NULL ELSE lease_owner END,
                     lease_until = ?5,
                     updated_at = ?7,
                     state_kind = ?8, access_types = ?9, wallet_address = ?10, last_error = ?11
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
            .bind(&w.summary.state_kind)
            .bind(access_column(&w.summary))
            .bind(&w.summary.wallet_address)
            .bind(&w.summary.last_error)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("commit a transition"))?;
            match version {
                Some(version) => {
                    sqlx::query(
                        "INSERT INTO grantflow_grant_events
                             (grant_id, version, event, at, change_summary)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .bind(w.id.0)
                    .bind(version)
                    .bind(&w.event)
                    .bind(micros(w.at))
                    .bind(&w.change_summary)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db("append an event"))?;
                    wake |= keep.is_none() && w.next_wake_at.is_some();
                    results.push(Ok(Committed { id: w.id, version }));
                }
                None => {
                    let row: Option<(i64, Option<String>, i64, Option<i64>)> = sqlx::query_as(
                        "SELECT version, lease_owner, lease_token, lease_until
                         FROM grantflow_grants WHERE id = ?1",
                    )
                    .bind(w.id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::db("read a refused grant"))?;
                    let current = match row {
                        Some((version, owner, token, until)) => Some(FenceRow {
                            version,
                            owner,
                            token,
                            until: until.map(|m| time(Some(w.id), m)).transpose()?,
                        }),
                        None => None,
                    };
                    results.push(Err(Refused {
                        id: w.id,
                        reason: refusal_reason(w, current, now),
                    }));
                }
            }
        }
        tx.commit()
            .await
            .map_err(StoreError::db("commit transitions"))?;
        if wake {
            self.waker.wake();
        }
        if results.iter().any(Result::is_ok) {
            self.feed_waker.wake();
        }
        Ok(results)
    }

    async fn rewrite(&self, rewrite: Rewrite) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE grantflow_grants SET state = ?1
             WHERE id = ?2 AND version = ?3 AND state = ?4",
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
                "UPDATE grantflow_grant_events SET event = ?1
                 WHERE seq = ?2 AND grant_id = ?3 AND event = ?4",
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
        let m: Option<i64> = sqlx::query_scalar(
            "SELECT min(next_wake_at) FROM grantflow_grants WHERE next_wake_at IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("read the next wake-up"))?;
        m.map(|m| time(None, m)).transpose()
    }

    fn wake_signal(&self) -> WakeSignal {
        self.waker.signal()
    }

    async fn list_page(
        &self,
        filter: &ListFilter,
        after: Option<ListCursor>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {GRANT_COLUMNS} FROM grantflow_grants WHERE 1"
        ));
        if let Some(kind) = &filter.state_kind {
            q.push(" AND state_kind = ").push_bind(kind.clone());
        }
        if let Some(wallet) = &filter.wallet_address {
            q.push(" AND wallet_address = ").push_bind(wallet.clone());
        }
        if let Some(access) = &filter.access_type {
            q.push(" AND EXISTS (SELECT 1 FROM json_each(access_types) WHERE value = ")
                .push_bind(access.clone())
                .push(")");
        }
        if let Some(t) = filter.created_after {
            q.push(" AND created_at >= ").push_bind(micros(t));
        }
        if let Some(t) = filter.created_before {
            q.push(" AND created_at < ").push_bind(micros(t));
        }
        if let Some(c) = after {
            q.push(" AND (created_at, id) < (")
                .push_bind(micros(c.created_at))
                .push(", ")
                .push_bind(c.id.0)
                .push(")");
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(fetch_limit(limit));
        let rows = q
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
             SET state_kind = ?3, access_types = ?4, wallet_address = ?5, last_error = ?6
             WHERE id = ?1 AND version = ?2",
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
        missing_migrations(&SQLITE_MIGRATOR, &applied)
    }

    async fn prune_final(&self, older_than: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        crate::retention::sqlite_prune(&self.pool, older_than, batch).await
    }

    async fn count_by_state(&self) -> Result<crate::StateCounts, StoreError> {
        crate::retention::sqlite_count(&self.pool).await
    }

    async fn changes_after(
        &self,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> Result<FeedPage, StoreError> {
        sqlite_feed::changes_after(&self.pool, after, limit).await
    }

    async fn feed_head(&self) -> Result<Option<FeedPosition>, StoreError> {
        sqlite_feed::feed_head(&self.pool).await
    }

    fn feed_signal(&self) -> WakeSignal {
        self.feed_waker.signal()
    }

    async fn claim_consumer(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<ConsumerLease>, StoreError> {
        sqlite_feed::claim_consumer(&self.pool, name, owner, now, until).await
    }

    async fn advance_consumer(
        &self,
        lease: &ConsumerLease,
        position: Option<FeedPosition>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ConsumerLease, StoreError> {
        sqlite_feed::advance_consumer(&self.pool, lease, position, now, until).await
    }

    async fn release_consumer(&self, lease: &ConsumerLease) -> Result<(), StoreError> {
        sqlite_feed::release_consumer(&self.pool, lease).await
    }

    async fn create_payment(
        &self,
        payment: NewPayment,
        now: DateTime<Utc>,
    ) -> Result<CreatedPayment, StoreError> {
        self.payment_create(payment, now).await
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        self.payment_get(id).await
    }

    async fn get_payment_by_key(
        &self,
        grant: GrantId,
        key: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        self.payment_by_key(grant, key).await
    }

    async fn list_payments(
        &self,
        grant: GrantId,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        self.payment_list(grant, limit).await
    }

    async fn payment_history(&self, id: PaymentId) -> Result<Vec<PaymentEventRecord>, StoreError> {
        self.payment_events(id).await
    }

    async fn claim_due_payments(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedPayment>, StoreError> {
        self.payment_claim_due(request).await
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedPayment>, StoreError> {
        self.payment_claim(id, owner, now, lease_until).await
    }

    async fn commit_payment(
        &self,
        write: PaymentWrite,
        now: DateTime<Utc>,
    ) -> Result<PaymentWriteResult, StoreError> {
        self.payment_commit(write, now).await
    }

    async fn renew_payment(
        &self,
        lease: &PaymentLease,
        until: DateTime<Utc>,
    ) -> Result<PaymentLease, StoreError> {
        self.payment_renew(lease, until).await
    }

    async fn release_payment(
        &self,
        lease: &PaymentLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.payment_release(lease, next_wake_at, now).await
    }

    async fn payment_ledger(
        &self,
        grant: GrantId,
        from: Option<DateTime<Utc>>,
        except: Option<PaymentId>,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        self.payment_ledger_rows(grant, from, except).await
    }

    async fn next_payment_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.payment_next_wake_at().await
    }

    async fn create_schedule(
        &self,
        schedule: NewSchedule,
        now: DateTime<Utc>,
    ) -> Result<CreatedSchedule, StoreError> {
        self.schedule_create(schedule, now).await
    }

    async fn get_schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        self.schedule_get(id).await
    }

    async fn list_schedules(&self, limit: u32) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.schedule_list(limit).await
    }

    async fn schedule_history(
        &self,
        id: ScheduleId,
    ) -> Result<Vec<ScheduleEventRecord>, StoreError> {
        self.schedule_events(id).await
    }

    async fn claim_due_schedules(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedSchedule>, StoreError> {
        self.schedule_claim_due(request).await
    }

    async fn claim_schedule(
        &self,
        id: ScheduleId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedSchedule>, StoreError> {
        self.schedule_claim(id, owner, now, lease_until).await
    }

    async fn commit_schedule(
        &self,
        write: ScheduleWrite,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, crate::model::RefusedReason>, StoreError> {
        self.schedule_commit(write, now).await
    }

    async fn release_schedule(
        &self,
        lease: &ScheduleLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.schedule_release(lease, next_wake_at, now).await
    }

    async fn next_schedule_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.schedule_next_wake_at().await
    }
}

/// An event row (`seq, version, event, at`) of grant `id`.
fn event_record(id: GrantId, row: &sqlx::sqlite::SqliteRow) -> Result<EventRecord, StoreError> {
    let decode = |e: sqlx::Error| StoreError::Corrupt {
        grant: Some(id),
        detail: e.to_string(),
    };
    Ok(EventRecord {
        grant: id,
        seq: row.try_get("seq").map_err(decode)?,
        version: row.try_get("version").map_err(decode)?,
        event: row.try_get("event").map_err(decode)?,
        at: time(Some(id), row.try_get("at").map_err(decode)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: two processes opening a new SQLite file at once failed on migrations (3 of 10
    /// tries: both saw no migration applied, and the second to create the tables failed). Two
    /// stores, each with its own connection as two processes would have, open the same new file
    /// at once, 50 times; both must open it, with each migration applied once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_opening_a_new_file_at_once_both_migrate() {
        let dir = tempfile::tempdir().unwrap();
        for attempt in 0..50 {
            let path = dir.path().join(format!("race-{attempt}.db"));
            let url = format!("sqlite:{}", path.display());
            let first = tokio::spawn({
                let url = url.clone();
                async move { SqliteStore::connect(&url).await }
            });
            let second = tokio::spawn(async move { SqliteStore::connect(&url).await });
            let (first, second) = (first.await.unwrap(), second.await.unwrap());
            let stores = [first, second].map(|opened| match opened {
                Ok(store) => store,
                Err(error) => panic!("attempt {attempt}: {error}"),
            });
            for store in &stores {
                let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
                assert_eq!(
                    usize::try_from(applied).unwrap(),
                    SQLITE_MIGRATOR.iter().count(),
                    "attempt {attempt}: each migration applied once"
                );
            }
            for store in stores {
                store.pool().close().await;
            }
        }
    }
}
