//! Why an event was refused. A refused event changes nothing.

use chrono::{DateTime, Utc};

use crate::kind::{CallKind, PaymentEventKind, PaymentStateKind};

/// Why the payment machine refused an event; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// A second order for a payment that was already ordered: each order is its own payment.
    #[error("the payment was already ordered (it is {state}); order another payment instead")]
    AlreadyOrdered {
        /// The payment's state.
        state: PaymentStateKind,
    },
    /// An event before the order: give the payment its [`PaymentEvent::Order`](crate::PaymentEvent) first.
    #[error("{event} before the payment was ordered")]
    NotOrdered {
        /// The event.
        event: PaymentEventKind,
    },
    /// The payment is final and absorbs every event.
    #[error("the payment is {state} (final); {event} changes nothing")]
    Final {
        /// The final state.
        state: PaymentStateKind,
        /// The event.
        event: PaymentEventKind,
    },
    /// A call outcome with no call in flight: stale or duplicated; drop it.
    #[error(
        "{event} while no call is in flight (the payment is {state}); a stale or duplicated outcome"
    )]
    NoCallInFlight {
        /// The payment's state.
        state: PaymentStateKind,
        /// The event.
        event: PaymentEventKind,
    },
    /// An outcome of another shape than the call in flight can have (e.g. a quote for a `GET`):
    /// the caller mixed up its calls.
    #[error("{event} cannot answer the {call} call in flight")]
    OutcomeDoesNotMatchCall {
        /// The call in flight.
        call: CallKind,
        /// The event.
        event: PaymentEventKind,
    },
    /// A `Wake` before the payment's `next_wake_at`: wake it then.
    #[error("nothing is due before {}", wake_at.to_rfc3339())]
    NotDue {
        /// When the payment next needs attention.
        wake_at: DateTime<Utc>,
    },
}
