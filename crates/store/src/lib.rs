//! Durable persistence of grants and their event log: PostgreSQL, and SQLite as the embedded
//! default.
//!
//! A grant is one row: its machine state (JSON text the store never looks into; PostgreSQL keeps
//! it as `jsonb`, so operators can query it), a version, the time
//! it next needs attention (`next_wake_at`), a lease (owner, fencing token, until) and the
//! application's idempotency key. Every transition appends one event row in the same transaction
//! as the state. Workers claim due grants in batches under a lease; every write is fenced on the
//! version and the lease token, so a worker whose lease lapsed cannot overwrite newer work.
//! Beside the state, each row keeps the non-secret [`GrantSummary`] its writer computed (state
//! kind, access types, wallet address, last error) in indexed columns, so operators' listings
//! ([`GrantStore::list_page`]: filtered keyset pages) never open a state.
//! The guarantees are written down on [`GrantStore`]; the contract tests in `tests/contract.rs`
//! (and `tests/list.rs` for summaries and pages) run the same scenarios against both backends.
//!
//! # Layout
//!
//! - `store.rs`: the [`GrantStore`] trait and its contract (what crash recovery relies on).
//! - `model.rs`: the values: [`GrantRecord`], [`EventRecord`], [`Lease`], [`StateWrite`] and its
//!   [`Fence`], the write results [`Committed`] / [`Refused`], and [`Rewrite`] (re-encoding
//!   stored texts without a transition).
//! - `list.rs`: what operators query by: [`GrantSummary`] (the non-secret columns beside the
//!   state), [`ListFilter`], keyset pages ([`ListCursor`], [`ListPage`]).
//! - `postgres.rs`: [`PgStore`]: `FOR UPDATE SKIP LOCKED` batch claims, one-statement batch
//!   commits, `LISTEN grantflow_due` wake-ups; [`PG_MIGRATOR`].
//! - `sqlite.rs`: [`SqliteStore`]: one connection (the single writer), in-process wake-ups;
//!   [`SQLITE_MIGRATOR`], run under the write lock (`BEGIN IMMEDIATE`) so processes opening a
//!   new file at once migrate one after the other (and the open retried on `SQLITE_BUSY`).
//! - `any.rs`: [`AnyStore`], the backend picked from a URL at run time.
//! - `retention.rs`: [`GrantStore::prune_final`] and [`GrantStore::count_by_state`] on both
//!   backends; [`FINAL_STATE_KINDS`].
//! - `payment.rs`: payments made under grants, a workflow like a grant in its own table (why:
//!   its module docs): [`PaymentId`], [`NewPayment`], [`PaymentRecord`], [`PaymentWrite`],
//!   [`PaymentLease`], [`LedgerRow`] (what a payment may have debited, for the limit check);
//!   `payment_pg.rs` and `payment_sqlite.rs` are the two backends' queries.
//! - `schedule.rs`: recurring schedules, a workflow like a payment in its own table:
//!   [`ScheduleId`], [`NewSchedule`], [`ScheduleRecord`], [`ScheduleWrite`], [`ScheduleLease`];
//!   `schedule_pg.rs` and `schedule_sqlite.rs` are the two backends' queries.
//! - `wake.rs`: [`WakeSignal`], what a sleeping worker (or feed consumer) waits on.
//! - `feed.rs`: the change feed's values: [`FeedPosition`], [`FeedRecord`], [`FeedPage`],
//!   [`ConsumerLease`]. `postgres_feed.rs` and `sqlite_feed.rs` read and lease it.
//! - `error.rs`: [`StoreError`]. Fence refusals are not errors but per-write results.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeDelta, Utc};
//! use grantflow_store::*;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), StoreError> {
//! let store = SqliteStore::connect("sqlite::memory:").await?;
//! let now = Utc::now();
//! let id = GrantId::new_random();
//! store.create(NewGrant {
//!     id,
//!     idempotency_key: Some("order-42".into()),
//!     state: serde_json::json!({"state": "requested"}).to_string(),
//!     event: serde_json::json!({"event": "request"}).to_string(),
//!     next_wake_at: Some(now),
//!     lease: None,
//!     summary: GrantSummary::default(),
//!     change_summary: None,
//! }, now).await?;
//!
//! // A worker claims it, and writes the next state under its lease.
//! let claimed = store.claim_due(ClaimRequest {
//!     owner: "worker-1".into(), now, lease_until: now + TimeDelta::seconds(30), limit: 10,
//! }).await?;
//! let results = store.commit(vec![StateWrite {
//!     id,
//!     expected_version: claimed[0].grant.version,
//!     fence: Fence::Lease { token: claimed[0].lease.token, then: AfterWrite::Release },
//!     state: serde_json::json!({"state": "final"}).to_string(),
//!     event: serde_json::json!({"event": "done"}).to_string(),
//!     at: now,
//!     next_wake_at: None,
//!     summary: GrantSummary { state_kind: Some("Final".into()), ..GrantSummary::default() },
//!     change_summary: None,
//! }], now).await?;
//! assert_eq!(results[0].as_ref().map(|c| c.version), Ok(2));
//! assert_eq!(store.history(id).await?.len(), 2);
//! assert_eq!(store.get(id).await?.map(|g| g.state), Some(r#"{"state":"final"}"#.to_owned()));
//! # Ok(()) }
//! ```

// Without a backend feature the crate is the trait and its model only (what the driver and the
// sealing layer are written against); `AnyStore` needs at least one backend, and the helpers the
// backends share go unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports)
)]

#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod any;
mod error;
mod feed;
mod list;
mod model;
mod payment;
#[cfg(feature = "postgres")]
mod payment_pg;
#[cfg(feature = "sqlite")]
mod payment_sqlite;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_feed;
mod retention;
mod schedule;
#[cfg(feature = "postgres")]
mod schedule_pg;
#[cfg(feature = "sqlite")]
mod schedule_sqlite;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_feed;
mod store;
mod wake;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use any::AnyStore;
pub use error::StoreError;
pub use feed::{BadFeedPosition, ConsumerLease, FeedPage, FeedPosition, FeedRecord};
pub use list::{GrantSummary, ListCursor, ListFilter, ListPage, MAX_PAGE, MalformedCursor};
pub use model::{
    AfterWrite, ClaimRequest, Claimed, Committed, Created, EventRecord, EventRewrite, Fence,
    GrantId, GrantRecord, Lease, LeaseInfo, LeaseToken, NewGrant, NewLease, Refused, RefusedReason,
    Rewrite, StateWrite, WriteResult,
};
pub use payment::{
    ClaimedPayment, CreatedPayment, LedgerRow, NewPayment, PaymentEventRecord, PaymentId,
    PaymentLease, PaymentRecord, PaymentWrite, PaymentWriteResult,
};
#[cfg(feature = "postgres")]
pub use postgres::{DUE_CHANNEL, FEED_CHANNEL, PG_MIGRATOR, PgStore};
pub use retention::{FINAL_STATE_KINDS, StateCounts};
pub use schedule::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, ScheduleEventRecord, ScheduleId, ScheduleLease,
    ScheduleRecord, ScheduleWrite,
};
#[cfg(feature = "sqlite")]
pub use sqlite::{SQLITE_MIGRATOR, SqliteStore};
pub use store::GrantStore;
pub use wake::WakeSignal;
