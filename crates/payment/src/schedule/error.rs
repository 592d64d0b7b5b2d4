//! Why the schedule machine refused an event. A refused event changes nothing.

use chrono::{DateTime, Utc};

use super::kind::{ScheduleEventKind, ScheduleStateKind};

/// Why a schedule order cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderProblem {
    /// A `duration/end` interval counts its windows backwards from its end: write it as
    /// `start/duration`.
    #[error(
        "the cadence {interval} counts its windows backwards (duration/end): write it as start/duration"
    )]
    BackwardCadence {
        /// The interval.
        interval: String,
    },
    /// The interval's windows fall outside the representable years.
    #[error("the cadence {interval} cannot be continued within the years 0001-9999")]
    OutOfRange {
        /// The interval.
        interval: String,
    },
    /// The schedule's id is empty or contains a `/` (its keys would be ambiguous).
    #[error("the schedule id {id:?} is empty or contains a '/'")]
    ScheduleId {
        /// The id.
        id: String,
    },
    /// The schedule ends before it starts.
    #[error("the schedule ends ({}) at or before its start ({})", end.to_rfc3339(), start.to_rfc3339())]
    EndBeforeStart {
        /// The start.
        start: DateTime<Utc>,
        /// The end.
        end: DateTime<Utc>,
    },
}

/// Why the schedule machine refused an event; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The order cannot be followed: fix it and order again.
    #[error("the schedule order cannot be followed: {0}")]
    InvalidOrder(#[from] OrderProblem),
    /// A second order for a schedule that was already ordered: each order is its own schedule.
    #[error("the schedule was already ordered (it is {state}); order another schedule instead")]
    AlreadyOrdered {
        /// The schedule's state.
        state: ScheduleStateKind,
    },
    /// An event before the order: give the schedule its order first.
    #[error("{event} before the schedule was ordered")]
    NotOrdered {
        /// The event.
        event: ScheduleEventKind,
    },
    /// The schedule is final and absorbs every event.
    #[error("the schedule is {state} (final); {event} changes nothing")]
    Final {
        /// The final state.
        state: ScheduleStateKind,
        /// The event.
        event: ScheduleEventKind,
    },
    /// The event means nothing in this state (a resume of a schedule that is not paused, a
    /// payment outcome while no payment is being made, a consent while none is awaited).
    #[error("{event} means nothing while the schedule is {state}")]
    NotNow {
        /// The schedule's state.
        state: ScheduleStateKind,
        /// The event.
        event: ScheduleEventKind,
    },
    /// A payment outcome for another payment than the one being made: stale or duplicated; drop
    /// it.
    #[error("the outcome of payment {got} while the schedule makes payment {expected}")]
    StalePayment {
        /// The idempotency key of the payment being made.
        expected: String,
        /// The idempotency key the outcome is for.
        got: String,
    },
    /// A consent outcome for another grant request than the one awaited: stale; drop it.
    #[error("the outcome of grant request {got} while the schedule awaits {expected}")]
    StaleConsent {
        /// The idempotency key of the grant request awaited.
        expected: String,
        /// The idempotency key the outcome is for.
        got: String,
    },
    /// A `Wake` before the schedule's `next_wake_at`: wake it then.
    #[error("nothing is due before {}", wake_at.to_rfc3339())]
    NotDue {
        /// When the schedule next needs attention.
        wake_at: DateTime<Utc>,
    },
}
