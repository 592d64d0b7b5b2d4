//! Recurring schedules: their rows, events and leases (the values the schedule methods of
//! [`GrantStore`](crate::GrantStore) take and return).
//!
//! A schedule is a workflow like a grant or a payment, in its own table (`grantflow_schedules`,
//! migration `20261203000005_schedules.sql`) with the same row shape: an opaque state, a version,
//! a wake-up, a lease fenced on a token that increases with every claim. Its events go to
//! `grantflow_schedule_events`, which shares the grant events' `seq`, so the change feed reads it
//! with the others (the view `grantflow_feed_events`). The statements are the payments' on
//! another table, without the grant, the per-grant key and the ledger.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Fence, LeaseInfo, LeaseToken, RefusedReason};

/// The identifier of a schedule: a random (v4) uuid chosen by the engine.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScheduleId(pub Uuid);

impl ScheduleId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScheduleId({})", self.0)
    }
}

impl FromStr for ScheduleId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// A schedule to insert: its first state and the event that ordered it (version 1). It is
/// created unleased: a worker (or a command) claims it when it is due.
#[derive(Clone, Debug)]
pub struct NewSchedule {
    /// The new schedule's id.
    pub id: ScheduleId,
    /// The application's key: a second create with the same key returns the first schedule and
    /// inserts nothing.
    pub idempotency_key: String,
    /// The state after the ordering transition, as JSON text.
    pub state: String,
    /// The ordering event, as JSON text.
    pub event: String,
    /// When the schedule first needs attention (`None`: final).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// The state's kind (`Waiting`, `Completed`, ...), a queryable column.
    pub state_kind: String,
    /// What the change feed says about the creating transition (never a secret).
    pub change_summary: Option<String>,
}

/// A schedule row as read from the store.
#[derive(Clone, Debug)]
pub struct ScheduleRecord {
    /// The schedule's id.
    pub id: ScheduleId,
    /// The application's key.
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
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

/// A lease held on one schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleLease {
    /// The schedule leased.
    pub schedule: ScheduleId,
    /// Who holds it.
    pub owner: String,
    /// The fencing token of this claim.
    pub token: LeaseToken,
    /// When it lapses.
    pub until: DateTime<Utc>,
}

/// A schedule claimed by a worker or a command, with the lease that fences its writes.
#[derive(Clone, Debug)]
pub struct ClaimedSchedule {
    /// The schedule as it was when claimed.
    pub schedule: ScheduleRecord,
    /// The lease this claim took.
    pub lease: ScheduleLease,
    /// When the schedule had asked to be woken (restored when the claim changes nothing).
    pub due_at: Option<DateTime<Utc>>,
}

/// The outcome of [`GrantStore::create_schedule`](crate::GrantStore::create_schedule).
#[derive(Clone, Debug)]
pub struct CreatedSchedule {
    /// The schedule as stored.
    pub schedule: ScheduleRecord,
    /// `false` when the idempotency key was taken: `schedule` is the earlier one.
    pub inserted: bool,
}

/// One transition of a schedule, fenced on the version read and the lease.
#[derive(Clone, Debug)]
pub struct ScheduleWrite {
    /// The schedule written.
    pub id: ScheduleId,
    /// The version the transition was computed from.
    pub expected_version: i64,
    /// The lease fence ([`Fence::Lease`] with the schedule's lease token, or [`Fence::Unleased`]).
    pub fence: Fence,
    /// The state after the transition.
    pub state: String,
    /// The event, appended as one event row.
    pub event: String,
    /// When the transition was computed (the event row's time).
    pub at: DateTime<Utc>,
    /// When the schedule next needs attention once unleased (`None`: final).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// The new state's kind.
    pub state_kind: String,
    /// What the change feed says about the transition (never a secret).
    pub change_summary: Option<String>,
}

/// One event row of a schedule.
#[derive(Clone, Debug)]
pub struct ScheduleEventRecord {
    /// The schedule it belongs to.
    pub schedule: ScheduleId,
    /// Its position in the store's log (shared with grant and payment events).
    pub seq: i64,
    /// The schedule's version after this event.
    pub version: i64,
    /// The event as JSON text.
    pub event: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// The record of a schedule just inserted, built from what was written.
pub(crate) fn created_schedule(s: NewSchedule, now: DateTime<Utc>) -> CreatedSchedule {
    CreatedSchedule {
        schedule: ScheduleRecord {
            id: s.id,
            idempotency_key: s.idempotency_key,
            state: s.state,
            version: 1,
            next_wake_at: s.next_wake_at,
            lease: None,
            state_kind: s.state_kind,
            created_at: now,
            updated_at: now,
        },
        inserted: true,
    }
}

/// Why a schedule write was refused, from the row's fencing columns as they are now (version,
/// lease token, lease owner, lease end), by the same rules as a grant's.
pub(crate) fn schedule_refusal(
    write: &ScheduleWrite,
    current: Option<crate::payment::FenceColumns>,
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
