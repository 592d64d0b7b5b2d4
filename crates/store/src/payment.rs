//! Payments made under grants: their rows, events, leases and ledger entries (the values the
//! payment methods of [`GrantStore`](crate::GrantStore) take and return).
//!
//! A payment is a workflow like a grant, in its own table (`grantflow_payments`, migration
//! `20261203000004_payments.sql`) with the same row shape: an opaque state, a version, a wake-up,
//! a lease fenced on a token that increases with every claim. Its events go to
//! `grantflow_payment_events`, which shares the grant events' `seq` (one sequence on PostgreSQL,
//! one counter on SQLite), so the change feed reads both tables as one log (the view
//! `grantflow_feed_events`).
//!
//! Why a table of its own rather than grant rows with a kind column: every reader of grants
//! (listing, retention, the gauge, re-sealing, reindexing) would have had to learn to skip
//! payments, and a payment needs two things a grant does not: the grant it is made under with an
//! idempotency key unique per grant, and a ledger entry. The claim loop, the fence rules and the
//! feed are shared; only the table differs.
//!
//! The **ledger entry** is what the payment may have debited under its grant: an instant (which
//! picks the limit window) and the driver's JSON text of the amounts. The store indexes it by
//! `(grant, instant)` so the limit check reads one window's entries.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Fence, GrantId, LeaseInfo, LeaseToken, NewLease, RefusedReason};

/// The identifier of a payment: a random (v4) uuid chosen by the engine when it is ordered.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(pub Uuid);

impl PaymentId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentId({})", self.0)
    }
}

impl FromStr for PaymentId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// What a payment may have debited under its grant, as the store keeps it beside the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    /// The instant that picks the limit window (the payment's creation at the RS, or when the
    /// create was first sent).
    pub at: DateTime<Utc>,
    /// The amounts, as the driver's JSON text (opaque to the store; not secret).
    pub entry: String,
}

/// A payment to insert: its first state and the event that ordered it (version 1).
#[derive(Clone, Debug)]
pub struct NewPayment {
    /// The new payment's id.
    pub id: PaymentId,
    /// The grant it is made under.
    pub grant: GrantId,
    /// The application's idempotency key, unique per grant: a second create with the same grant
    /// and key returns the first payment and inserts nothing.
    pub idempotency_key: String,
    /// The state after the ordering transition, as JSON text.
    pub state: String,
    /// The ordering event, as JSON text.
    pub event: String,
    /// When the payment first needs attention (`None`: final). Ignored while created leased.
    pub next_wake_at: Option<DateTime<Utc>>,
    /// Create it leased to its creator (which then makes the first call itself).
    pub lease: Option<NewLease>,
    /// The state's kind (`Quoting`, `Sent`, ...), a queryable column.
    pub state_kind: String,
    /// Its ledger entry, if it may already have debited anything.
    pub ledger: Option<LedgerRow>,
    /// What the change feed says about the creating transition (never a secret).
    pub change_summary: Option<String>,
}

/// A payment row as read from the store.
#[derive(Clone, Debug)]
pub struct PaymentRecord {
    /// The payment's id.
    pub id: PaymentId,
    /// The grant it is made under.
    pub grant: GrantId,
    /// The application's idempotency key.
    pub idempotency_key: String,
    /// The state as JSON text.
    pub state: String,
    /// The number of transitions written; the creating one is version 1.
    pub version: i64,
    /// When it next needs attention; while leased, the end of the lease.
    pub next_wake_at: Option<DateTime<Utc>>,
    /// The current lease, if any.
    pub lease: Option<LeaseInfo>,
    /// The state's kind.
    pub state_kind: String,
    /// When it was ordered.
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

/// A lease held on one payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentLease {
    /// The payment leased.
    pub payment: PaymentId,
    /// Who holds it.
    pub owner: String,
    /// The fencing token of this claim.
    pub token: LeaseToken,
    /// When it lapses unless renewed.
    pub until: DateTime<Utc>,
}

/// A payment claimed by a worker, with the lease that fences its writes.
#[derive(Clone, Debug)]
pub struct ClaimedPayment {
    /// The payment as it was when claimed.
    pub payment: PaymentRecord,
    /// The lease this claim took.
    pub lease: PaymentLease,
    /// When the payment had asked to be woken (or its previous lease lapsed).
    pub due_at: Option<DateTime<Utc>>,
}

/// The outcome of [`GrantStore::create_payment`](crate::GrantStore::create_payment).
#[derive(Clone, Debug)]
pub struct CreatedPayment {
    /// The payment as stored.
    pub payment: PaymentRecord,
    /// `false` when the grant's idempotency key was taken: `payment` is the earlier one.
    pub inserted: bool,
    /// The lease taken at creation, when asked for and inserted.
    pub lease: Option<PaymentLease>,
}

/// One transition of a payment, fenced on the version read and the lease.
#[derive(Clone, Debug)]
pub struct PaymentWrite {
    /// The payment written.
    pub id: PaymentId,
    /// The version the transition was computed from.
    pub expected_version: i64,
    /// The lease fence ([`Fence::Lease`] with the payment's lease token, or [`Fence::Unleased`]).
    pub fence: Fence,
    /// The state after the transition.
    pub state: String,
    /// The event, appended as one event row.
    pub event: String,
    /// When the transition was computed (the event row's time).
    pub at: DateTime<Utc>,
    /// When the payment next needs attention once unleased (`None`: final).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// The new state's kind.
    pub state_kind: String,
    /// The ledger entry after the transition (`None` removes it: nothing may have been paid).
    pub ledger: Option<LedgerRow>,
    /// What the change feed says about the transition (never a secret).
    pub change_summary: Option<String>,
}

/// The result of a payment write: its new version, or why its fence refused it.
pub type PaymentWriteResult = Result<i64, RefusedReason>;

/// One event row of a payment.
#[derive(Clone, Debug)]
pub struct PaymentEventRecord {
    /// The payment it belongs to.
    pub payment: PaymentId,
    /// Its position in the store's log (shared with grant events).
    pub seq: i64,
    /// The payment's version after this event.
    pub version: i64,
    /// The event as JSON text.
    pub event: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// The record of a payment just inserted, built from what was written.
pub(crate) fn created_payment(
    p: NewPayment,
    now: DateTime<Utc>,
    next_wake_at: Option<DateTime<Utc>>,
) -> CreatedPayment {
    let lease = p.lease.map(|l| PaymentLease {
        payment: p.id,
        owner: l.owner,
        token: LeaseToken(1),
        until: l.until,
    });
    CreatedPayment {
        payment: PaymentRecord {
            id: p.id,
            grant: p.grant,
            idempotency_key: p.idempotency_key,
            state: p.state,
            version: 1,
            next_wake_at,
            lease: lease.as_ref().map(|l| LeaseInfo {
                owner: l.owner.clone(),
                until: l.until,
            }),
            state_kind: p.state_kind,
            created_at: now,
            updated_at: now,
        },
        inserted: true,
        lease,
    }
}

/// A payment row's fencing columns: version, lease token, lease owner, lease end.
pub(crate) type FenceColumns = (i64, i64, Option<String>, Option<DateTime<Utc>>);

/// Why a payment write was refused, from the row as it is now, by the same rules as a grant's.
pub(crate) fn payment_refusal(
    write: &PaymentWrite,
    current: Option<FenceColumns>,
    now: DateTime<Utc>,
) -> RefusedReason {
    crate::store::fence_refusal(
        &write.fence,
        write.expected_version,
        current.map(|(version, token, owner, until)| crate::store::FenceRow {
            version,
            owner,
            token,
            until,
        }),
        now,
    )
}
