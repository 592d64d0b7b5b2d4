//! The store interface and the contract every implementation keeps.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::feed::{ConsumerLease, FeedPage, FeedPosition};
use crate::list::{GrantSummary, ListCursor, ListFilter, ListPage};
use crate::model::{
    ClaimRequest, Claimed, Created, EventRecord, Fence, GrantId, GrantRecord, Lease, NewGrant,
    RefusedReason, Rewrite, StateWrite, WriteResult,
};
use crate::payment::{
    ClaimedPayment, CreatedPayment, LedgerRow, NewPayment, PaymentEventRecord, PaymentId,
    PaymentLease, PaymentRecord, PaymentWrite, PaymentWriteResult,
};
use crate::schedule::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, ScheduleEventRecord, ScheduleId, ScheduleLease,
    ScheduleRecord, ScheduleWrite,
};
use crate::wake::WakeSignal;

/// Durable storage of grants, their event log and their leases.
///
/// # The contract (what crash recovery relies on)
///
/// An implementation is correct when all of the following hold, whatever the interleaving of
/// callers across processes and whatever crashes (of a caller or of the database) happen:
///
/// 1. **Atomic transitions.** A [`StateWrite`] is applied entirely or not at all: the new state,
///    `version + 1`, the new `next_wake_at`, the lease change and exactly one event row (with the
///    new version) become visible together, durably, when [`commit`](Self::commit) returns
///    `Ok(Committed)`. A write whose result is `Err(Refused)` or whose batch returned
///    `Err(StoreError)` left no trace. (Writes of one batch succeed or fail one by one, but a
///    batch that returns `Err(StoreError)` wrote none of them.)
/// 2. **Fencing.** A write is applied only if the grant is still at `expected_version` and, for
///    [`Fence::Lease`](crate::Fence::Lease), still leased under that token; an
///    [`Fence::Unleased`](crate::Fence::Unleased) write is refused while any lease on the grant is
///    live (at the write's `now`). So a worker whose lease lapsed and was taken over can never
///    overwrite the newer state, and every state in the store was computed from its predecessor.
///    Fencing does not depend on clocks; leases lapsing does.
/// 3. **Exclusive claims.** Claiming takes a lease and increases the grant's fencing token in the
///    same atomic step; two claims never both return the same grant with a live lease. A grant is
///    claimable when its `next_wake_at` is at or before the claimer's `now`. While a grant is
///    leased its `next_wake_at` is the lease's end, so a lapsed lease makes it claimable again
///    with no other bookkeeping: a crashed worker's grants are resumed by the ordinary claim.
/// 4. **Final grants sleep.** A grant whose `next_wake_at` is `None` is never returned by a claim
///    (and costs a claim nothing: implementations index only grants that have a wake-up time).
/// 5. **Idempotent creation.** [`create`](Self::create) with an idempotency key already used
///    writes nothing and returns the grant created first.
/// 6. **The log replays.** The event rows of a grant have versions `1..=version` with no gap, in
///    order; the state is what the machine gives when the events are applied in that order.
/// 7. **The first event stays first.** [`first_event`](Self::first_event) returns the event row
///    of version 1 (the one written by [`create`](Self::create)), whatever was committed since,
///    reading that one row only: later transitions never change it, so an idempotency check can
///    compare a repeated request with it at a cost that does not grow with the grant's history.
/// 8. **Rewrites are invisible to transitions.** [`rewrite`](Self::rewrite) replaces a grant's
///    state text and some of its event texts in one transaction, only if the grant is still at
///    the version read with the state read (as JSON) and every event row still holds the text
///    read; otherwise it writes nothing and answers `false`. It changes no version, lease,
///    wake-up or event count, so a worker's fenced write computed before it still applies
///    (and overwrites the rewritten state with its own, which is how it must be: the writer's
///    state is newer). It is for re-encoding the same meaning (re-sealing under a new key).
/// 9. **Wake-ups.** After a write that leaves an unleased grant due within the next 5 seconds,
///    every [`WakeSignal`] of the store (in any process for a shared database) is eventually
///    woken; workers must still poll (at least every 5 s), since a wake-up may be lost and
///    later wake-ups are not signalled.
/// 10. **Summaries go with their state.** The [`GrantSummary`] of a [`NewGrant`] or a
///     [`StateWrite`] is stored in the same atomic step as its state, replacing the previous
///     one, exactly as given; [`write_summary`](Self::write_summary) replaces it without a
///     transition, only if the grant is still at the version it was computed from.
/// 11. **Keyset pages are exact.** [`list_page`](Self::list_page) returns grants newest first by
///     (`created_at`, `id`), only those matching its [`ListFilter`] and strictly after its
///     [`ListCursor`]; following `next` from the first page returns every grant that matched
///     and existed when the first page was read exactly once, whatever is inserted meanwhile
///     (grants created at a later `now` sort before every cursor). Grants with an empty summary
///     are listed by a filter that sets no summary field.
/// 12. **Pruning touches only final grants.** [`prune_final`](Self::prune_final) deletes, with
///     all their events, at most `batch` grants whose summary's state kind is one of
///     [`FINAL_STATE_KINDS`](crate::FINAL_STATE_KINDS), that have no wake-up and no lease, and
///     whose row last changed before `older_than` (a final grant's last change is its final
///     transition, or later); a live grant, an issued one, a grant changed since `older_than` or
///     one without a summary is never deleted, whatever runs at the same time.
/// 13. **The change feed misses nothing.** [`changes_after`](Self::changes_after) hands out
///     every committed event row exactly once in a walk from any position (a consumer resuming
///     from a stored position sees everything after it: at-least-once overall, deduplicated by
///     position), in an order that is the commit order for the events of one grant (versions
///     ascending). A change is never handed out after a change with a greater position has been:
///     a reader that moved past a position can never miss a change committed later.
///     [`feed_signal`](Self::feed_signal) is eventually woken after events are committed (by any
///     process on a shared database); readers must still poll, as for wake-ups.
/// 14. **One consumer per name.** [`claim_consumer`](Self::claim_consumer) takes a name's lease
///     only when no live lease is held on it, increasing its token; the position is written only
///     under the current token ([`advance_consumer`](Self::advance_consumer)), so a consumer
///     whose lease lapsed and was taken over cannot move the position back or forward.
/// 15. **Payments are workflows like grants.** Payments (their own table) keep rules 1, 2, 3, 4,
///     6 and 9 with [`create_payment`](Self::create_payment),
///     [`commit_payment`](Self::commit_payment), [`claim_due_payments`](Self::claim_due_payments),
///     [`claim_payment`](Self::claim_payment), [`renew_payment`](Self::renew_payment) and
///     [`release_payment`](Self::release_payment) in place of the grant methods; their events
///     take positions in the same change feed as grants' (rule 13), keyed by the payment id.
///     An idempotency key is unique per grant: a second
///     [`create_payment`](Self::create_payment) with the same grant and key writes nothing and
///     returns the first payment.
/// 16. **The ledger goes with its state.** A payment's [`LedgerRow`] is written in the same
///     atomic step as the state it was computed from (created, replaced or removed), so
///     [`payment_ledger`](Self::payment_ledger) never misses a payment whose committed state
///     says it may have debited, and never counts one whose committed state says it did not.
///     Payments are never pruned: the ledger of a grant is complete for the grant's life.
/// 17. **Schedules are workflows like grants.** Schedules (their own table) keep rules 1, 2, 3,
///     4, 6 and 9 with [`create_schedule`](Self::create_schedule),
///     [`commit_schedule`](Self::commit_schedule),
///     [`claim_due_schedules`](Self::claim_due_schedules),
///     [`claim_schedule`](Self::claim_schedule) and [`release_schedule`](Self::release_schedule);
///     their events take positions in the same change feed (rule 13), keyed by the schedule id.
///     An idempotency key is unique among schedules: a second
///     [`create_schedule`](Self::create_schedule) with it writes nothing and returns the first.
///
/// Times passed in (`now`, lease ends, wake-ups) come from the caller's clock; the store reads
/// no clock of its own for the grant data.
pub trait GrantStore: Clone + Send + Sync + 'static {
    /// Inserts a grant at version 1 with its creating event, or returns the grant created
    /// earlier under the same idempotency key.
    fn create(
        &self,
        grant: NewGrant,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Reads one grant.
    fn get(
        &self,
        id: GrantId,
    ) -> impl Future<Output = Result<Option<GrantRecord>, StoreError>> + Send;

    /// Reads the grant created under an idempotency key.
    fn get_by_idempotency_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<GrantRecord>, StoreError>> + Send;

    /// Lists grants, newest first (by creation time, then id), skipping `offset`: for operators
    /// and command lines, not for workers.
    fn list(
        &self,
        limit: u32,
        offset: u64,
    ) -> impl Future<Output = Result<Vec<GrantRecord>, StoreError>> + Send;

    /// Reads a grant's event log, oldest first.
    fn history(
        &self,
        id: GrantId,
    ) -> impl Future<Output = Result<Vec<EventRecord>, StoreError>> + Send;

    /// Reads a grant's first event (version 1, written by [`create`](Self::create)), and only
    /// that row; `None` if there is no such grant. See rule 7 of the contract.
    fn first_event(
        &self,
        id: GrantId,
    ) -> impl Future<Output = Result<Option<EventRecord>, StoreError>> + Send;

    /// Claims up to `limit` due grants (`next_wake_at <= now`, earliest first), skipping those
    /// another claim is taking at this moment, under a lease ending at `lease_until`.
    fn claim_due(
        &self,
        request: ClaimRequest,
    ) -> impl Future<Output = Result<Vec<Claimed>, StoreError>> + Send;

    /// Claims one grant whether due or not, unless a live lease is held on it (then `None`).
    /// For commands that must run now (rotate on demand) and must not run twice at once.
    fn claim_grant(
        &self,
        id: GrantId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Claimed>, StoreError>> + Send;

    /// Extends a lease to `until`. Fails with [`StoreError::LeaseLost`] if the grant is no
    /// longer leased under this token. Renewing a lapsed lease nobody took over succeeds.
    fn renew(
        &self,
        lease: &Lease,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Lease, StoreError>> + Send;

    /// Gives a lease up without a transition; the grant sleeps until `next_wake_at`.
    /// Fails with [`StoreError::LeaseLost`] if the lease is gone.
    fn release(
        &self,
        lease: &Lease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Applies a batch of transitions (at most one per grant), each fenced on its own, and
    /// returns one result per write in the order given.
    fn commit(
        &self,
        writes: Vec<StateWrite>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<WriteResult>, StoreError>> + Send;

    /// Replaces a grant's stored texts with others of the same meaning, if unchanged since read
    /// (contract point 8); `Ok(false)` when the grant moved on or is gone.
    fn rewrite(&self, rewrite: Rewrite) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The earliest wake-up time of any grant (leased ones count with their lease's end).
    fn next_wake_at(
        &self,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// A handle to wait for grants becoming due.
    fn wake_signal(&self) -> WakeSignal;

    /// One keyset page of the grants matching `filter`, newest first, after `after` (from the
    /// newest when `None`), at most `limit` (1 to [`MAX_PAGE`](crate::MAX_PAGE)) of them, with
    /// the cursor of the next page. Rule 11 of the contract. Uses the summary columns' indexes.
    fn list_page(
        &self,
        filter: &ListFilter,
        after: Option<ListCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<ListPage, StoreError>> + Send;

    /// Replaces a grant's summary (rule 10), if the grant is still at `version`; `Ok(false)`
    /// when it moved on (its writer wrote a newer summary) or is gone. For filling the summary
    /// of rows written before the summary columns existed (`grantflow grant reindex`).
    fn write_summary(
        &self,
        id: GrantId,
        version: i64,
        summary: &GrantSummary,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Checks that the database answers and has every migration this build embeds applied
    /// ([`StoreError::MigrationsMissing`] otherwise): one cheap read, for readiness probes.
    /// Callers bound its time themselves (a pool waiting for a connection may take long).
    fn check_schema(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes up to `batch` final grants (and their events) last changed before `older_than`,
    /// oldest first, in one transaction; how many it deleted (fewer than `batch`: no more to
    /// prune now). Rule 12 of the contract. For the retention task.
    fn prune_final(
        &self,
        older_than: DateTime<Utc>,
        batch: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// How many grants there are of each summary state kind (`None`: rows without a summary):
    /// one aggregate over the state kind index, for the grants-by-state gauge.
    fn count_by_state(&self)
    -> impl Future<Output = Result<crate::StateCounts, StoreError>> + Send;
    /// Reads up to `limit` committed changes after `after` (from the start of the feed when
    /// `None`), in feed order (contract point 13).
    fn changes_after(
        &self,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> impl Future<Output = Result<FeedPage, StoreError>> + Send;

    /// The position of the last change a reader can be handed now (`None`: none yet): where a
    /// consumer that wants only changes from now on starts.
    fn feed_head(&self) -> impl Future<Output = Result<Option<FeedPosition>, StoreError>> + Send;

    /// A handle to wait for new changes in the feed (contract point 13).
    fn feed_signal(&self) -> WakeSignal;

    /// Takes the lease on the named feed consumer until `until` (creating the consumer at the
    /// start of the feed if new), unless a live lease is held on it (then `None`).
    fn claim_consumer(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<ConsumerLease>, StoreError>> + Send;

    /// Records `position` as the consumer's position and extends its lease to `until`, fenced on
    /// the lease's token; fails with [`StoreError::ConsumerLeaseLost`] when the lease was
    /// released, or lapsed and was taken over.
    fn advance_consumer(
        &self,
        lease: &ConsumerLease,
        position: Option<FeedPosition>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<ConsumerLease, StoreError>> + Send;

    /// Gives a consumer's lease up (its position stays); fails with
    /// [`StoreError::ConsumerLeaseLost`] if it is gone.
    fn release_consumer(
        &self,
        lease: &ConsumerLease,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Inserts a payment at version 1 with its ordering event (and its ledger entry), or returns
    /// the payment created earlier under the same grant and idempotency key (contract point 15).
    fn create_payment(
        &self,
        payment: NewPayment,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<CreatedPayment, StoreError>> + Send;

    /// Reads one payment.
    fn get_payment(
        &self,
        id: PaymentId,
    ) -> impl Future<Output = Result<Option<PaymentRecord>, StoreError>> + Send;

    /// Reads the payment made under `grant` with the application's idempotency key `key`.
    fn get_payment_by_key(
        &self,
        grant: GrantId,
        key: &str,
    ) -> impl Future<Output = Result<Option<PaymentRecord>, StoreError>> + Send;

    /// The payments made under `grant`, oldest first, at most `limit`.
    fn list_payments(
        &self,
        grant: GrantId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<PaymentRecord>, StoreError>> + Send;

    /// Reads a payment's event log, oldest first.
    fn payment_history(
        &self,
        id: PaymentId,
    ) -> impl Future<Output = Result<Vec<PaymentEventRecord>, StoreError>> + Send;

    /// Claims up to `limit` due payments under a lease, as [`claim_due`](Self::claim_due) does
    /// for grants (contract point 3 holds for payments).
    fn claim_due_payments(
        &self,
        request: ClaimRequest,
    ) -> impl Future<Output = Result<Vec<ClaimedPayment>, StoreError>> + Send;

    /// Claims one payment whether due or not, unless a live lease is held on it (then `None`).
    fn claim_payment(
        &self,
        id: PaymentId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<ClaimedPayment>, StoreError>> + Send;

    /// Applies one payment transition (state, event row, ledger entry, lease change) atomically,
    /// fenced as a grant's (contract points 1 and 2).
    fn commit_payment(
        &self,
        write: PaymentWrite,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentWriteResult, StoreError>> + Send;

    /// Extends a payment's lease; [`StoreError::PaymentLeaseLost`] if it is gone.
    fn renew_payment(
        &self,
        lease: &PaymentLease,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentLease, StoreError>> + Send;

    /// Gives a payment's lease up without a transition; it sleeps until `next_wake_at`.
    fn release_payment(
        &self,
        lease: &PaymentLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The ledger entries of the payments under `grant` whose instant is at or after `from`
    /// (all of them when `None`), except `except`'s, in no particular order (contract point 16).
    fn payment_ledger(
        &self,
        grant: GrantId,
        from: Option<DateTime<Utc>>,
        except: Option<PaymentId>,
    ) -> impl Future<Output = Result<Vec<LedgerRow>, StoreError>> + Send;

    /// The earliest wake-up time of any payment (leased ones count with their lease's end).
    fn next_payment_wake_at(
        &self,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// Inserts a schedule at version 1 with its ordering event, unleased, or returns the
    /// schedule created earlier with the same idempotency key (contract point 17).
    fn create_schedule(
        &self,
        schedule: NewSchedule,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<CreatedSchedule, StoreError>> + Send;

    /// Reads one schedule.
    fn get_schedule(
        &self,
        id: ScheduleId,
    ) -> impl Future<Output = Result<Option<ScheduleRecord>, StoreError>> + Send;

    /// The newest schedules first, at most `limit`.
    fn list_schedules(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ScheduleRecord>, StoreError>> + Send;

    /// Reads a schedule's event log, oldest first.
    fn schedule_history(
        &self,
        id: ScheduleId,
    ) -> impl Future<Output = Result<Vec<ScheduleEventRecord>, StoreError>> + Send;

    /// Claims up to `limit` due schedules under a lease, as [`claim_due`](Self::claim_due) does
    /// for grants (contract point 3 holds for schedules).
    fn claim_due_schedules(
        &self,
        request: ClaimRequest,
    ) -> impl Future<Output = Result<Vec<ClaimedSchedule>, StoreError>> + Send;

    /// Claims one schedule whether due or not, unless a live lease is held on it (then `None`).
    fn claim_schedule(
        &self,
        id: ScheduleId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<ClaimedSchedule>, StoreError>> + Send;

    /// Applies one schedule transition (state, event row, lease change) atomically, fenced as a
    /// grant's (contract points 1 and 2): the new version, or why the fence refused it.
    fn commit_schedule(
        &self,
        write: ScheduleWrite,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Result<i64, RefusedReason>, StoreError>> + Send;

    /// Gives a schedule's lease up without a transition; it sleeps until `next_wake_at`.
    fn release_schedule(
        &self,
        lease: &ScheduleLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The earliest wake-up of any schedule.
    fn next_schedule_wake_at(
        &self,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;
}

/// The versions of `migrator` missing from `applied` (the versions a database recorded as
/// applied successfully).
pub(crate) fn missing_migrations(
    migrator: &sqlx::migrate::Migrator,
    applied: &[i64],
) -> Result<(), StoreError> {
    let missing: Vec<i64> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::MigrationsMissing { missing })
    }
}

/// Checks that no grant appears twice in a batch.
pub(crate) fn check_batch(writes: &[StateWrite]) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(writes.len());
    for w in writes {
        if !seen.insert(w.id) {
            return Err(StoreError::DuplicateInBatch(w.id));
        }
    }
    Ok(())
}

/// The fencing columns of a grant row, read after a refused write.
pub(crate) struct FenceRow {
    pub(crate) version: i64,
    pub(crate) owner: Option<String>,
    pub(crate) token: i64,
    pub(crate) until: Option<DateTime<Utc>>,
}

/// Works out why a write was refused from the row as it is now.
pub(crate) fn refusal_reason(
    write: &StateWrite,
    current: Option<FenceRow>,
    now: DateTime<Utc>,
) -> RefusedReason {
    fence_refusal(&write.fence, write.expected_version, current, now)
}

/// Why a write with this fence and expected version was refused, from the row as it is now
/// (grants and payments alike).
pub(crate) fn fence_refusal(
    fence: &Fence,
    expected_version: i64,
    current: Option<FenceRow>,
    now: DateTime<Utc>,
) -> RefusedReason {
    let Some(row) = current else {
        return RefusedReason::NotFound;
    };
    let leased = || RefusedReason::Leased {
        owner: row.owner.clone().unwrap_or_default(),
        until: row.until.unwrap_or(now),
    };
    match fence {
        Fence::Lease { token, .. } if row.until.is_none() || row.token != token.0 => {
            RefusedReason::LeaseLost
        }
        Fence::Unleased if row.until.is_some_and(|u| u > now) => leased(),
        _ if row.version != expected_version => RefusedReason::StaleVersion {
            expected: expected_version,
            current: row.version,
        },
        // The row changed back between the write and this read (a lease came and went).
        Fence::Lease { .. } => RefusedReason::LeaseLost,
        Fence::Unleased => leased(),
    }
}
