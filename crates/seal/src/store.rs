//! [`SealingStore`]: any [`GrantStore`] with the secrets of every state and event sealed on the
//! way in and opened on the way out; and re-sealing a whole store under a new key.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantflow_store::{
    ClaimRequest, Claimed, ConsumerLease, Created, EventRecord, EventRewrite, FeedPage,
    FeedPosition, GrantId, GrantRecord, GrantStore, GrantSummary, Lease, ListCursor, ListFilter,
    ListPage, NewGrant, Rewrite, StateWrite, StoreError, WakeSignal, WriteResult,
};
use grantflow_store::{
    ClaimedSchedule, CreatedSchedule, NewSchedule, RefusedReason, ScheduleEventRecord, ScheduleId,
    ScheduleLease, ScheduleRecord, ScheduleWrite,
};
// Payments pass through unsealed: a payment's state and events hold no secret (no token, nonce
// or key: the token is fetched from the grant for each call and never stored with a payment;
// quote and payment URLs, amounts, the receiver and the application's metadata are what the RS
// shows to anyone holding the grant's token, not credentials).
use grantflow_store::{
    ClaimedPayment, CreatedPayment, LedgerRow, NewPayment, PaymentEventRecord, PaymentId,
    PaymentLease, PaymentRecord, PaymentWrite, PaymentWriteResult,
};

use crate::error::SealError;
use crate::keys::KeyRing;
use crate::sealed::{count_sealed_under, is_current, open_text, seal_text};

fn store_error(e: SealError) -> StoreError {
    StoreError::Secrets(Box::new(e))
}

/// A [`GrantStore`](grantflow_store::GrantStore) whose rows hold sealed secrets.
///
/// Writes (`create`, `commit`) seal every secret field of the state and event texts under the
/// ring's sealing key; reads (`get`, `list`, `list_page`, `history`, claims) open them, so the
/// engine sees the same JSON it wrote and the inner store sees only sealed JSON. A row written
/// before sealing (no marker) is read as it is and sealed on its next write. Summaries
/// ([`GrantSummary`]) hold no secret and pass through as they are.
///
/// Without a ring ([`SealingStore::insecure_plaintext`]) texts are written in the clear and
/// sealed rows cannot be read ([`SealError::NoKeyRing`]): for tests only.
#[derive(Clone, Debug)]
pub struct SealingStore<S> {
    inner: S,
    ring: Option<Arc<KeyRing>>,
}

impl<S: GrantStore> SealingStore<S> {
    /// Seals with `ring`.
    pub fn new(inner: S, ring: Arc<KeyRing>) -> Self {
        Self {
            inner,
            ring: Some(ring),
        }
    }

    /// Writes secrets in the clear (reads plain rows only). Callers should say so loudly.
    pub fn insecure_plaintext(inner: S) -> Self {
        Self { inner, ring: None }
    }

    /// The store underneath (its rows hold sealed texts).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The key ring, unless plaintext.
    pub fn key_ring(&self) -> Option<&Arc<KeyRing>> {
        self.ring.as_ref()
    }

    fn seal(&self, grant: GrantId, text: String) -> Result<String, StoreError> {
        match &self.ring {
            Some(ring) => seal_text(ring, grant, &text).map_err(store_error),
            None => Ok(text),
        }
    }

    fn open(&self, grant: GrantId, text: &mut String) -> Result<(), StoreError> {
        *text = open_text(self.ring.as_deref(), grant, text).map_err(store_error)?;
        Ok(())
    }

    fn open_record(&self, mut record: GrantRecord) -> Result<GrantRecord, StoreError> {
        self.open(record.id, &mut record.state)?;
        Ok(record)
    }

    fn open_claimed(&self, mut claimed: Claimed) -> Result<Claimed, StoreError> {
        claimed.grant = self.open_record(claimed.grant)?;
        Ok(claimed)
    }

    /// Re-seals one grant (its state and every event row) under the sealing key, unless all of
    /// it already is. One atomic [`GrantStore::rewrite`], fenced on what was read: a grant that
    /// moved on meanwhile is read again (its new writes are sealed by their writer).
    pub async fn reseal_grant(&self, id: GrantId) -> Result<Resealed, StoreError> {
        let ring = self
            .ring
            .as_deref()
            .ok_or_else(|| StoreError::Secrets(Box::new(SealError::NoKeyRing { grant: id })))?;
        loop {
            let Some(grant) = self.inner.get(id).await? else {
                return Ok(Resealed::Gone);
            };
            let events = self.inner.history(id).await?;
            let current = |text: &str| is_current(ring, id, text).map_err(store_error);
            let mut rewrites = Vec::new();
            for e in &events {
                if !current(&e.event)? {
                    rewrites.push(EventRewrite {
                        seq: e.seq,
                        old_event: e.event.clone(),
                        event: seal_text(ring, id, &e.event).map_err(store_error)?,
                    });
                }
            }
            let state_current = current(&grant.state)?;
            if state_current && rewrites.is_empty() {
                return Ok(Resealed::AlreadyCurrent);
            }
            let state = if state_current {
                grant.state.clone()
            } else {
                seal_text(ring, id, &grant.state).map_err(store_error)?
            };
            let rewrite = Rewrite {
                id,
                version: grant.version,
                old_state: grant.state,
                state,
                events: rewrites,
            };
            if self.inner.rewrite(rewrite).await? {
                return Ok(Resealed::Rewritten);
            }
            tracing::debug!(grant = %id, "grant changed while being re-sealed; reading it again");
        }
    }

    /// Counts the values sealed under the key `key` in every grant's state and event rows, `page`
    /// grants at a time. Opens nothing and needs no key ring (a sealed value names its key).
    /// Zero means the key can be retired without stranding anything, as long as no process
    /// still seals under it.
    pub async fn sealed_under(&self, key: &str, page: u32) -> Result<SealedUnder, StoreError> {
        let mut found = SealedUnder::default();
        let mut offset = 0u64;
        loop {
            let grants = self.inner.list(page.max(1), offset).await?;
            if grants.is_empty() {
                return Ok(found);
            }
            offset += grants.len() as u64;
            for grant in grants {
                let count =
                    |text: &str| count_sealed_under(grant.id, text, key).map_err(store_error);
                let in_state = count(&grant.state)?;
                let mut in_grant = in_state;
                found.states += u64::from(in_state > 0);
                for event in self.inner.history(grant.id).await? {
                    let in_event = count(&event.event)?;
                    found.events += u64::from(in_event > 0);
                    in_grant += in_event;
                }
                found.values += in_grant;
                found.grants += u64::from(in_grant > 0);
            }
        }
    }

    /// Re-seals every grant, `page` at a time, calling `progress` after each one; repeats whole
    /// passes until one finds nothing left to re-seal (grants written meanwhile by a process still
    /// sealing under an older key are caught by the next pass), at most [`MAX_PASSES`]; then
    /// [`ResealReport::complete`] is `false` (some process still seals under an older key: give it
    /// the new key file and run again). Resumable: grants already sealed
    /// under the sealing key are skipped without a write, so a crashed run is finished by running
    /// it again.
    pub async fn reseal_all(
        &self,
        page: u32,
        mut progress: impl FnMut(GrantId, Resealed),
    ) -> Result<ResealReport, StoreError> {
        let mut report = ResealReport::default();
        loop {
            let mut rewritten_this_pass = 0;
            // Keyset pages (not OFFSET, which rereads every earlier page: quadratic over a big
            // store); grants created during the pass are newer than every cursor and are
            // visited by the next pass.
            let mut after = None;
            loop {
                let listed = self
                    .inner
                    .list_page(&ListFilter::default(), after, page)
                    .await?;
                let ids: Vec<GrantId> = listed.grants.iter().map(|g| g.id).collect();
                for id in ids {
                    let outcome = self.reseal_grant(id).await?;
                    match outcome {
                        Resealed::Rewritten => {
                            rewritten_this_pass += 1;
                            report.rewritten += 1;
                        }
                        Resealed::AlreadyCurrent => report.already_current += 1,
                        Resealed::Gone => {}
                    }
                    progress(id, outcome);
                }
                match listed.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            report.passes += 1;
            if rewritten_this_pass == 0 {
                report.complete = true;
                return Ok(report);
            }
            if report.passes >= MAX_PASSES {
                return Ok(report);
            }
        }
    }
}

/// What [`SealingStore::sealed_under`] found: the values still sealed under one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SealedUnder {
    /// Sealed values naming the key, in states and events.
    pub values: u64,
    /// Grant states holding at least one of them.
    pub states: u64,
    /// Event rows holding at least one of them.
    pub events: u64,
    /// Grants holding at least one of them (in the state or an event).
    pub grants: u64,
}

/// What [`SealingStore::reseal_grant`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resealed {
    /// The grant's state and events were sealed again under the sealing key, in one write.
    Rewritten,
    /// Everything was already sealed under the sealing key: nothing written.
    AlreadyCurrent,
    /// No such grant.
    Gone,
}

/// What [`SealingStore::reseal_all`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Grants rewritten.
    pub rewritten: u64,
    /// Grant visits that found nothing to do (a grant can be visited once per pass).
    pub already_current: u64,
    /// Passes over the whole store.
    pub passes: u32,
    /// The last pass rewrote nothing: every grant is sealed under the sealing key.
    pub complete: bool,
}

/// The most passes [`SealingStore::reseal_all`] makes.
pub const MAX_PASSES: u32 = 5;

impl<S: GrantStore> GrantStore for SealingStore<S> {
    async fn create(&self, mut grant: NewGrant, now: DateTime<Utc>) -> Result<Created, StoreError> {
        grant.state = self.seal(grant.id, grant.state)?;
        grant.event = self.seal(grant.id, grant.event)?;
        let mut created = self.inner.create(grant, now).await?;
        created.grant = self.open_record(created.grant)?;
        Ok(created)
    }

    async fn get(&self, id: GrantId) -> Result<Option<GrantRecord>, StoreError> {
        self.inner
            .get(id)
            .await?
            .map(|r| self.open_record(r))
            .transpose()
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<GrantRecord>, StoreError> {
        self.inner
            .get_by_idempotency_key(key)
            .await?
            .map(|r| self.open_record(r))
            .transpose()
    }

    async fn list(&self, limit: u32, offset: u64) -> Result<Vec<GrantRecord>, StoreError> {
        self.inner
            .list(limit, offset)
            .await?
            .into_iter()
            .map(|r| self.open_record(r))
            .collect()
    }

    async fn history(&self, id: GrantId) -> Result<Vec<EventRecord>, StoreError> {
        let mut events = self.inner.history(id).await?;
        for e in &mut events {
            self.open(id, &mut e.event)?;
        }
        Ok(events)
    }

    async fn first_event(&self, id: GrantId) -> Result<Option<EventRecord>, StoreError> {
        let Some(mut event) = self.inner.first_event(id).await? else {
            return Ok(None);
        };
        self.open(id, &mut event.event)?;
        Ok(Some(event))
    }

    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<Claimed>, StoreError> {
        self.inner
            .claim_due(request)
            .await?
            .into_iter()
            .map(|c| self.open_claimed(c))
            .collect()
    }

    async fn claim_grant(
        &self,
        id: GrantId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claimed>, StoreError> {
        self.inner
            .claim_grant(id, owner, now, lease_until)
            .await?
            .map(|c| self.open_claimed(c))
            .transpose()
    }

    async fn renew(&self, lease: &Lease, until: DateTime<Utc>) -> Result<Lease, StoreError> {
        self.inner.renew(lease, until).await
    }

    async fn release(
        &self,
        lease: &Lease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.release(lease, next_wake_at, now).await
    }

    async fn commit(
        &self,
        mut writes: Vec<StateWrite>,
        now: DateTime<Utc>,
    ) -> Result<Vec<WriteResult>, StoreError> {
        for w in &mut writes {
            w.state = self.seal(w.id, std::mem::take(&mut w.state))?;
            w.event = self.seal(w.id, std::mem::take(&mut w.event))?;
        }
        self.inner.commit(writes, now).await
    }

    /// Passes the texts through as they are (a rewrite is already sealed text).
    async fn rewrite(&self, rewrite: Rewrite) -> Result<bool, StoreError> {
        self.inner.rewrite(rewrite).await
    }

    async fn next_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.next_wake_at().await
    }

    fn wake_signal(&self) -> WakeSignal {
        self.inner.wake_signal()
    }

    async fn list_page(
        &self,
        filter: &ListFilter,
        after: Option<ListCursor>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        let mut page = self.inner.list_page(filter, after, limit).await?;
        page.grants = page
            .grants
            .into_iter()
            .map(|r| self.open_record(r))
            .collect::<Result<_, _>>()?;
        Ok(page)
    }

    /// Passes the summary through as it is: it holds no secret (see [`GrantSummary`]).
    async fn write_summary(
        &self,
        id: GrantId,
        version: i64,
        summary: &GrantSummary,
    ) -> Result<bool, StoreError> {
        self.inner.write_summary(id, version, summary).await
    }

    async fn check_schema(&self) -> Result<(), StoreError> {
        self.inner.check_schema().await
    }

    async fn prune_final(&self, older_than: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        self.inner.prune_final(older_than, batch).await
    }

    async fn count_by_state(&self) -> Result<grantflow_store::StateCounts, StoreError> {
        self.inner.count_by_state().await
    }

    /// Passes through: the feed carries the engine's summaries, which are never sealed (they
    /// hold no secret), and never an event text.
    async fn changes_after(
        &self,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> Result<FeedPage, StoreError> {
        self.inner.changes_after(after, limit).await
    }

    async fn feed_head(&self) -> Result<Option<FeedPosition>, StoreError> {
        self.inner.feed_head().await
    }

    fn feed_signal(&self) -> WakeSignal {
        self.inner.feed_signal()
    }

    async fn claim_consumer(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<ConsumerLease>, StoreError> {
        self.inner.claim_consumer(name, owner, now, until).await
    }

    async fn advance_consumer(
        &self,
        lease: &ConsumerLease,
        position: Option<FeedPosition>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ConsumerLease, StoreError> {
        self.inner
            .advance_consumer(lease, position, now, until)
            .await
    }

    async fn release_consumer(&self, lease: &ConsumerLease) -> Result<(), StoreError> {
        self.inner.release_consumer(lease).await
    }

    async fn create_payment(
        &self,
        payment: NewPayment,
        now: DateTime<Utc>,
    ) -> Result<CreatedPayment, StoreError> {
        self.inner.create_payment(payment, now).await
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        self.inner.get_payment(id).await
    }

    async fn get_payment_by_key(
        &self,
        grant: GrantId,
        key: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        self.inner.get_payment_by_key(grant, key).await
    }

    async fn list_payments(
        &self,
        grant: GrantId,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        self.inner.list_payments(grant, limit).await
    }

    async fn payment_history(&self, id: PaymentId) -> Result<Vec<PaymentEventRecord>, StoreError> {
        self.inner.payment_history(id).await
    }

    async fn claim_due_payments(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedPayment>, StoreError> {
        self.inner.claim_due_payments(request).await
    }

    async fn claim_payment(
        &self,
        id: PaymentId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedPayment>, StoreError> {
        self.inner.claim_payment(id, owner, now, lease_until).await
    }

    async fn commit_payment(
        &self,
        write: PaymentWrite,
        now: DateTime<Utc>,
    ) -> Result<PaymentWriteResult, StoreError> {
        self.inner.commit_payment(write, now).await
    }

    async fn renew_payment(
        &self,
        lease: &PaymentLease,
        until: DateTime<Utc>,
    ) -> Result<PaymentLease, StoreError> {
        self.inner.renew_payment(lease, until).await
    }

    async fn release_payment(
        &self,
        lease: &PaymentLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.release_payment(lease, next_wake_at, now).await
    }

    async fn payment_ledger(
        &self,
        grant: GrantId,
        from: Option<DateTime<Utc>>,
        except: Option<PaymentId>,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        self.inner.payment_ledger(grant, from, except).await
    }

    async fn next_payment_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.next_payment_wake_at().await
    }

    async fn create_schedule(
        &self,
        schedule: NewSchedule,
        now: DateTime<Utc>,
    ) -> Result<CreatedSchedule, StoreError> {
        self.inner.create_schedule(schedule, now).await
    }

    async fn get_schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        self.inner.get_schedule(id).await
    }

    async fn list_schedules(&self, limit: u32) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.list_schedules(limit).await
    }

    async fn schedule_history(
        &self,
        id: ScheduleId,
    ) -> Result<Vec<ScheduleEventRecord>, StoreError> {
        self.inner.schedule_history(id).await
    }

    async fn claim_due_schedules(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedSchedule>, StoreError> {
        self.inner.claim_due_schedules(request).await
    }

    async fn claim_schedule(
        &self,
        id: ScheduleId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedSchedule>, StoreError> {
        self.inner.claim_schedule(id, owner, now, lease_until).await
    }

    async fn commit_schedule(
        &self,
        write: ScheduleWrite,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, RefusedReason>, StoreError> {
        self.inner.commit_schedule(write, now).await
    }

    async fn release_schedule(
        &self,
        lease: &ScheduleLease,
        next_wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.release_schedule(lease, next_wake_at, now).await
    }

    async fn next_schedule_wake_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.next_schedule_wake_at().await
    }
}
