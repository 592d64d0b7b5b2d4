//! The values the store reads and writes: grant rows, event rows, leases and state writes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::list::GrantSummary;

/// The identifier of a grant: a random (v4) uuid chosen by the engine when the grant is requested.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(pub Uuid);

impl GrantId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantId({})", self.0)
    }
}

impl FromStr for GrantId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// The fencing token of one claim of one grant.
///
/// It increases by one each time the grant is claimed, so a worker holding an older token (its
/// lease lapsed and another worker claimed the grant) is refused on every write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseToken(pub i64);

/// A lease held by this worker on one grant: proof of the claim, needed for every leased write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The grant leased.
    pub grant: GrantId,
    /// Who holds it (the worker id given to the claim).
    pub owner: String,
    /// The fencing token of this claim.
    pub token: LeaseToken,
    /// When the lease lapses unless renewed; after it another worker may claim the grant.
    pub until: DateTime<Utc>,
}

/// A lease as seen by a reader of the grant row (without the token, which only its holder needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The worker holding the lease.
    pub owner: String,
    /// When it lapses.
    pub until: DateTime<Utc>,
}

/// A grant to insert: its first state and the event that created it (version 1).
#[derive(Clone)]
pub struct NewGrant {
    /// The new grant's id.
    pub id: GrantId,
    /// The application's idempotency key: a second create with the same key returns the first
    /// grant and inserts nothing.
    pub idempotency_key: Option<String>,
    /// The machine state after the creating transition, as JSON text.
    pub state: String,
    /// The creating event, appended as the grant's first event row, as JSON text.
    pub event: String,
    /// When the grant first needs attention (`None`: never, it is final). Ignored while the
    /// grant is created leased: it wakes at the lease's end.
    pub next_wake_at: Option<DateTime<Utc>>,
    /// Create the grant already leased to its creator (which then makes the first call itself);
    /// the lease is only taken if the grant is inserted.
    pub lease: Option<NewLease>,
    /// The non-secret summary of `state`, written to the queryable columns beside it.
    pub summary: GrantSummary,
    /// What the change feed says about the creating transition (see
    /// [`StateWrite::change_summary`]).
    pub change_summary: Option<String>,
}

/// A lease to take at creation (see [`NewGrant::lease`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLease {
    /// The creator's worker id.
    pub owner: String,
    /// When the lease lapses.
    pub until: DateTime<Utc>,
}

impl fmt::Debug for NewGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewGrant")
            .field("id", &self.id)
            .field("idempotency_key", &self.idempotency_key)
            .field("state", &Redacted)
            .field("event", &Redacted)
            .field("next_wake_at", &self.next_wake_at)
            .field("lease", &self.lease)
            .field("summary", &self.summary)
            .field("change_summary", &self.change_summary)
            .finish()
    }
}

/// The outcome of [`crate::GrantStore::create`].
#[derive(Clone, Debug)]
pub struct Created {
    /// The grant as stored.
    pub grant: GrantRecord,
    /// `false` when the idempotency key was already taken: `grant` is the earlier grant and
    /// nothing was written.
    pub inserted: bool,
    /// The lease taken at creation, when one was asked for and the grant was inserted.
    pub lease: Option<Lease>,
}

/// A grant row as read from the store.
#[derive(Clone)]
pub struct GrantRecord {
    /// The grant's id.
    pub id: GrantId,
    /// The application's idempotency key, if it gave one.
    pub idempotency_key: Option<String>,
    /// The machine state as JSON text (opaque to the store; it holds secrets, so `Debug` hides
    /// it).
    pub state: String,
    /// The number of transitions written so far; the creating one is version 1.
    pub version: i64,
    /// When the grant next needs attention; while leased, the end of the lease.
    pub next_wake_at: Option<DateTime<Utc>>,
    /// The current lease, if a worker holds (or held, and it has not been taken over) one.
    pub lease: Option<LeaseInfo>,
    /// When the grant was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
    /// The summary written with the last write (empty for a row written before the summary
    /// columns existed and not written since).
    pub summary: GrantSummary,
}

impl fmt::Debug for GrantRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantRecord")
            .field("id", &self.id)
            .field("idempotency_key", &self.idempotency_key)
            .field("state", &Redacted)
            .field("version", &self.version)
            .field("next_wake_at", &self.next_wake_at)
            .field("lease", &self.lease)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("summary", &self.summary)
            .finish()
    }
}

/// A grant claimed by a worker, with the lease that fences its writes.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The grant as it was when claimed (its `next_wake_at` is now the lease's end).
    pub grant: GrantRecord,
    /// The lease this claim took.
    pub lease: Lease,
    /// When the grant had asked to be woken (or its previous lease lapsed).
    pub due_at: Option<DateTime<Utc>>,
}

/// One event row: the audit trail of a grant.
#[derive(Clone)]
pub struct EventRecord {
    /// The grant it belongs to.
    pub grant: GrantId,
    /// Its position in the whole store's log (increasing in insertion order).
    pub seq: i64,
    /// The grant's version after this event.
    pub version: i64,
    /// The event as JSON text (opaque to the store; `Debug` hides it).
    pub event: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

impl fmt::Debug for EventRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRecord")
            .field("grant", &self.grant)
            .field("seq", &self.seq)
            .field("version", &self.version)
            .field("event", &Redacted)
            .field("at", &self.at)
            .finish()
    }
}

/// What fences a [`StateWrite`] besides the expected version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fence {
    /// A worker's write: refused unless the grant is still leased under this token.
    Lease {
        /// The token of the writer's claim.
        token: LeaseToken,
        /// What happens to the lease once the write is in.
        then: AfterWrite,
    },
    /// A write from outside any lease (an application command, a finish callback): refused
    /// while a worker holds a live lease on the grant; clears a lapsed one (fencing out its
    /// holder). The grant is left unleased.
    Unleased,
}

/// What a leased write does with the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterWrite {
    /// Keep holding the lease, extended to `until` (an "in flight" write before a call).
    Keep {
        /// The new end of the lease.
        until: DateTime<Utc>,
    },
    /// Give the lease up: the grant sleeps until the write's `next_wake_at`.
    Release,
}

/// One transition to write: the new state and its event, fenced on the version read.
#[derive(Clone)]
pub struct StateWrite {
    /// The grant written.
    pub id: GrantId,
    /// The version the transition was computed from; the write gives `expected_version + 1`.
    pub expected_version: i64,
    /// The lease fence.
    pub fence: Fence,
    /// The state after the transition, as JSON text.
    pub state: String,
    /// The event that caused it, appended as one event row, as JSON text.
    pub event: String,
    /// When the transition was computed (the machine's `now`): the event row's time, so a replay
    /// of the log feeds the machine the same instants.
    pub at: DateTime<Utc>,
    /// When the grant next needs attention once unleased (`None`: never, it is final).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// The non-secret summary of `state`, replacing the grant's previous one.
    pub summary: GrantSummary,
    /// What the change feed says about this transition: a short text the engine writes beside
    /// the event (the store keeps it as it is and hands it to feed readers in
    /// [`FeedRecord::summary`](crate::FeedRecord::summary)). It must hold no secret: it is never
    /// sealed and every feed consumer reads it.
    pub change_summary: Option<String>,
}

impl fmt::Debug for StateWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateWrite")
            .field("id", &self.id)
            .field("expected_version", &self.expected_version)
            .field("fence", &self.fence)
            .field("state", &Redacted)
            .field("event", &Redacted)
            .field("at", &self.at)
            .field("next_wake_at", &self.next_wake_at)
            .field("summary", &self.summary)
            .field("change_summary", &self.change_summary)
            .finish()
    }
}

/// A re-encoding of a grant's stored texts that is not a transition: its state and some of its
/// event rows get new text with the same meaning (re-sealing their secrets under a new key).
/// Applied by [`crate::GrantStore::rewrite`] only if nothing changed since they were read.
#[derive(Clone)]
pub struct Rewrite {
    /// The grant rewritten.
    pub id: GrantId,
    /// The version read; the rewrite is refused if the grant moved on.
    pub version: i64,
    /// The state text read (compared as JSON where the column is JSON).
    pub old_state: String,
    /// The state text to store instead.
    pub state: String,
    /// The event rows to rewrite.
    pub events: Vec<EventRewrite>,
}

/// One event row of a [`Rewrite`].
#[derive(Clone)]
pub struct EventRewrite {
    /// The row's position in the log ([`EventRecord::seq`]).
    pub seq: i64,
    /// The event text read.
    pub old_event: String,
    /// The event text to store instead.
    pub event: String,
}

impl fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rewrite")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("state", &Redacted)
            .field("events", &self.events.len())
            .finish()
    }
}

impl fmt::Debug for EventRewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRewrite")
            .field("seq", &self.seq)
            .field("event", &Redacted)
            .finish()
    }
}

/// A write that was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The grant written.
    pub id: GrantId,
    /// Its version now.
    pub version: i64,
}

/// A write that its fence refused; nothing of it was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("write to grant {id} refused: {reason}")]
pub struct Refused {
    /// The grant the write was for.
    pub id: GrantId,
    /// Why.
    pub reason: RefusedReason,
}

/// Why a write was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefusedReason {
    /// There is no such grant.
    #[error("no such grant")]
    NotFound,
    /// Another transition was written since the state was read: re-read and recompute.
    #[error("stale version: the write expected version {expected}, the grant is at {current}")]
    StaleVersion {
        /// The version the write expected.
        expected: i64,
        /// The version in the store.
        current: i64,
    },
    /// The writer's lease is gone: it was released, or it lapsed and another worker claimed the
    /// grant. The writer must drop the grant.
    #[error("lease lost: the grant is no longer leased under this token")]
    LeaseLost,
    /// An unleased write while a worker holds a live lease: retry once the lease is released.
    #[error("the grant is leased by {owner} until {until}")]
    Leased {
        /// The worker holding the lease.
        owner: String,
        /// When that lease lapses.
        until: DateTime<Utc>,
    },
}

/// The result of one write in a batch.
pub type WriteResult = Result<Committed, Refused>;

/// What a claim asks for.
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    /// The claiming worker's id (recorded as the lease owner).
    pub owner: String,
    /// The claimer's clock: grants with `next_wake_at <= now` are due.
    pub now: DateTime<Utc>,
    /// The end of the leases taken.
    pub lease_until: DateTime<Utc>,
    /// At most this many grants.
    pub limit: u32,
}

struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The record of a grant just inserted, built from what was written (no read back).
pub(crate) fn created_record(
    grant: NewGrant,
    now: DateTime<Utc>,
    next_wake_at: Option<DateTime<Utc>>,
) -> Created {
    let lease = grant.lease.map(|l| Lease {
        grant: grant.id,
        owner: l.owner,
        token: LeaseToken(1),
        until: l.until,
    });
    Created {
        grant: GrantRecord {
            id: grant.id,
            idempotency_key: grant.idempotency_key,
            state: grant.state,
            version: 1,
            next_wake_at,
            lease: lease.as_ref().map(|l| LeaseInfo {
                owner: l.owner.clone(),
                until: l.until,
            }),
            created_at: now,
            updated_at: now,
            summary: grant.summary,
        },
        inserted: true,
        lease,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_state_and_event() {
        let w = StateWrite {
            id: GrantId::new_random(),
            expected_version: 1,
            fence: Fence::Unleased,
            state: r#"{"access_token": "SECRET-TOKEN"}"#.into(),
            event: r#"{"nonce": "SECRET-NONCE"}"#.into(),
            at: chrono::DateTime::UNIX_EPOCH,
            next_wake_at: None,
            summary: GrantSummary::default(),
            change_summary: None,
        };
        let shown = format!("{w:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn grant_id_round_trips_through_text() {
        let id = GrantId::new_random();
        assert_eq!(id.to_string().parse::<GrantId>().unwrap(), id);
        assert!("not-a-uuid".parse::<GrantId>().is_err());
    }
}
