//! One store type chosen at run time from a database URL.

use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::feed::{ConsumerLease, FeedPage, FeedPosition};
use crate::list::{GrantSummary, ListCursor, ListFilter, ListPage};
use crate::model::{
    ClaimRequest, Claimed, Created, EventRecord, GrantId, GrantRecord, Lease, NewGrant, Rewrite,
    StateWrite, WriteResult,
};
use crate::payment::{
    ClaimedPayment, CreatedPayment, LedgerRow, NewPayment, PaymentEventRecord, PaymentId,
    PaymentLease, PaymentRecord, PaymentWrite, PaymentWriteResult,
};
#[cfg(feature = "postgres")]
use crate::postgres::PgStore;
use crate::schedule::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, ScheduleEventRecord, ScheduleId, ScheduleLease,
    ScheduleRecord, ScheduleWrite,
};
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;
use crate::store::GrantStore;
use crate::wake::WakeSignal;

/// PostgreSQL or SQLite, picked by [`AnyStore::connect`] from the URL's scheme (each variant
/// exists with its crate feature, `postgres` or `sqlite`).
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// A PostgreSQL database shared by many workers.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
    /// An embedded SQLite database used by one process.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
}

impl AnyStore {
    /// Connects to `postgres://...`/`postgresql://...` (a pool of `max_connections`, one of which
    /// the `LISTEN` task takes once a worker runs) or `sqlite:...` (always one connection: the
    /// single writer), and applies that backend's migrations.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), grantflow_store::StoreError> {
    /// let store = grantflow_store::AnyStore::connect("sqlite:grants.db", 8).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A URL whose backend this build leaves out (its feature is off) is
    /// [`StoreError::UnsupportedUrl`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        #[cfg(feature = "postgres")]
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(
                PgStore::connect(url, max_connections).await?,
            ));
        }
        #[cfg(feature = "sqlite")]
        if url.starts_with("sqlite:") {
            return Ok(Self::Sqlite(SqliteStore::connect(url).await?));
        }
        let _ = max_connections;
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($store) => $call,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($store) => $call,
        }
    };
}

impl GrantStore for AnyStore {
    async fn create(&self, grant: NewGrant, now: DateTime<Utc>) -> Result<Created, StoreError> {
        delegate!(self, s => s.create(grant, now).await)
    }

    async fn get(&self, id: GrantId) -> Result<Option<GrantRecord>, StoreError> {
        delegate!(self, s => s.get(id).await)
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<GrantRecord>, StoreError> {
        delegate!(self, s => s.get_by_idempotency_key(key).await)
    }

    async fn list(&self, limit: u32, offset: u64) -> Result<Vec<GrantRecord>, StoreError> {
        delegate!(self, s => s.list(limit, offset).await)
    }

    async fn history(&self, id: GrantId) -> Result<Vec<EventRecord>, StoreError> {
        delegate!(self, s => s.history(id).await)
    }

    async fn first_event(&self, id: GrantId) -> Result<Option<EventRecord>, StoreError> {
        delegate!(self, s => s.first_event(id).await)
    }

    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<Claimed>, StoreError> {
        delegate!(self, s => s.claim_due(request).await)
    }

    async fn claim_grant(
        &self,
        id: GrantId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claimed>, StoreError> {
        delegate!(self, s => s.claim_grant(id, owner, now, lease_until).await)
    }

    async fn renew(&self, lease: &Lease, until: DateTime<Utc>) -> Result<Lease, StoreError> {
        delegate!(self, s => s.renew(lease, until).await)
    }

    async fn release(
        &self,
        lease: &Lease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.release(lease, next_wake_at, now).await)
    }

    async fn commit(
        &self,
        writes: Vec<StateWrite>,
        now: DateTime<Utc>,
    ) -> Result<Vec<WriteResult>, StoreError> {
        delegate!(self, s => s.commit(writes, now).await)
    }

    async fn rewrite(&self, rewrite: Rewrite) -> Result<bool, StoreError> {
        delegate!(self, s => s.rewrite(rewrite).await)
    }

    async fn next_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        delegate!(self, s => s.next_wake_at().await)
    }

    fn wake_signal(&self) -> WakeSignal {
        delegate!(self, s => s.wake_signal())
    }

    async fn list_page(
        &self,
        filter: &ListFilter,
        after: Option<ListCursor>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        delegate!(self, s => s.list_page(filter, after, limit).await)
    }

    async fn write_summary(
        &self,
        id: GrantId,
        version: i64,
        summary: &GrantSummary,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.write_summary(id, version, summary).await)
    }

    async fn check_schema(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.check_schema().await)
    }

    async fn prune_final(&self, older_than: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        delegate!(self, s => s.prune_final(older_than, batch).await)
    }

    async fn count_by_state(&self) -> Result<crate::StateCounts, StoreError> {
        delegate!(self, s => s.count_by_state().await)
    }

    async fn changes_after(
        &self,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> Result<FeedPage, StoreError> {
        delegate!(self, s => s.changes_after(after, limit).await)
    }

    async fn feed_head(&self) -> Result<Option<FeedPosition>, StoreError> {
        delegate!(self, s => s.feed_head().await)
    }

    fn feed_signal(&self) -> WakeSignal {
        delegate!(self, s => s.feed_signal())
    }

    async fn claim_consumer(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<ConsumerLease>, StoreError> {
        delegate!(self, s => s.claim_consumer(name, owner, now, until).await)
    }

    async fn advance_consumer(
        &self,
        lease: &ConsumerLease,
        position: Option<FeedPosition>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ConsumerLease, StoreError> {
        delegate!(self, s => s.advance_consumer(lease, position, now, until).await)
    }

    async fn release_consumer(&self, lease: &ConsumerLease) -> Result<(), StoreError> {
        delegate!(self, s => s.release_consumer(lease).await)
    }

    async fn create_payment(
        &self,
        payment: NewPayment,
        now: DateTime<Utc>,
    ) -> Result<CreatedPayment, StoreError> {
        delegate!(self, s => s.create_payment(payment, now).await)
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        delegate!(self, s => s.get_payment(id).await)
    }

    async fn get_payment_by_key(
        &self,
        grant: GrantId,
        key: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        delegate!(self, s => s.get_payment_by_key(grant, key).await)
    }

    async fn list_payments(
        &self,
        grant: GrantId,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        delegate!(self, s => s.list_payments(grant, limit).await)
    }

    async fn payment_history(&self, id: PaymentId) -> Result<Vec<PaymentEventRecord>, StoreError> {
        delegate!(self, s => s.payment_history(id).await)
    }

    async fn claim_due_payments(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedPayment>, StoreError> {
        delegate!(self, s => s.claim_due_payments(request).await)
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedPayment>, StoreError> {
        delegate!(self, s => s.claim_payment(id, owner, now, lease_until).await)
    }

    async fn commit_payment(
        &self,
        write: PaymentWrite,
        now: DateTime<Utc>,
    ) -> Result<PaymentWriteResult, StoreError> {
        delegate!(self, s => s.commit_payment(write, now).await)
    }

    async fn renew_payment(
        &self,
        lease: &PaymentLease,
        until: DateTime<Utc>,
    ) -> Result<PaymentLease, StoreError> {
        delegate!(self, s => s.renew_payment(lease, until).await)
    }

    async fn release_payment(
        &self,
        lease: &PaymentLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.release_payment(lease, next_wake_at, now).await)
    }

    async fn payment_ledger(
        &self,
        grant: GrantId,
        from: Option<DateTime<Utc>>,
        except: Option<PaymentId>,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        delegate!(self, s => s.payment_ledger(grant, from, except).await)
    }

    async fn next_payment_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        delegate!(self, s => s.next_payment_wake_at().await)
    }

    async fn create_schedule(
        &self,
        schedule: NewSchedule,
        now: DateTime<Utc>,
    ) -> Result<CreatedSchedule, StoreError> {
        delegate!(self, s => s.create_schedule(schedule, now).await)
    }

    async fn get_schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        delegate!(self, s => s.get_schedule(id).await)
    }

    async fn list_schedules(&self, limit: u32) -> Result<Vec<ScheduleRecord>, StoreError> {
        delegate!(self, s => s.list_schedules(limit).await)
    }

    async fn schedule_history(
        &self,
        id: ScheduleId,
    ) -> Result<Vec<ScheduleEventRecord>, StoreError> {
        delegate!(self, s => s.schedule_history(id).await)
    }

    async fn claim_due_schedules(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedSchedule>, StoreError> {
        delegate!(self, s => s.claim_due_schedules(request).await)
    }

    async fn claim_schedule(
        &self,
        id: ScheduleId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedSchedule>, StoreError> {
        delegate!(self, s => s.claim_schedule(id, owner, now, lease_until).await)
    }

    async fn commit_schedule(
        &self,
        write: ScheduleWrite,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, crate::model::RefusedReason>, StoreError> {
        delegate!(self, s => s.commit_schedule(write, now).await)
    }

    async fn release_schedule(
        &self,
        lease: &ScheduleLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.release_schedule(lease, next_wake_at, now).await)
    }

    async fn next_schedule_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        delegate!(self, s => s.next_schedule_wake_at().await)
    }
}
