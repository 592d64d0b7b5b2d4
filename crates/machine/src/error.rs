//! [`MachineError`]: why an event was refused. A refused event changes nothing.

use chrono::{DateTime, Utc};
use grantflow_protocol::finish_hash::FinishHashError;

use crate::kind::{AnswerKind, CallKind, EventKind, StateKind};

/// Why an event was refused. A refused event changes nothing: keep the old state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachineError {
    /// `Request` for a grant that already exists.
    #[error("the grant was already requested (it is {state}): a grant is requested once")]
    AlreadyRequested {
        /// The current state.
        state: StateKind,
    },
    /// Any event but `Request` on the initial state.
    #[error("the grant has not been requested: its first event must be `request`, not `{event}`")]
    NotRequested {
        /// The event.
        event: EventKind,
    },
    /// A finish callback for a grant that is not awaiting interaction (duplicate, late, or
    /// forged). Nothing was changed.
    #[error(
        "a finish callback arrived for a grant that is not waiting for one (it is {state}); nothing was changed"
    )]
    CallbackForGrantNotWaiting {
        /// The current state.
        state: StateKind,
    },
    /// The finish callback's hash did not verify: the `interact_ref` was not used and the grant
    /// still awaits interaction.
    #[error(
        "the finish callback was rejected ({0}); its interact_ref was not used and the grant still awaits interaction"
    )]
    FinishHashRejected(#[source] FinishHashError),
    /// The grant awaits interaction but its request has no `interact.finish.nonce`, so no hash can
    /// be verified (a state not produced by this machine).
    #[error(
        "the grant request has no interact.finish.nonce, so the finish callback cannot be verified"
    )]
    NoFinishNonce,
    /// An HTTP outcome arrived, but the grant has no call in flight (stale or duplicated outcome).
    #[error("`{event}` arrived but the grant ({state}) has no call in flight; nothing was changed")]
    NoCallInFlight {
        /// The current state.
        state: StateKind,
        /// The event.
        event: EventKind,
    },
    /// A successful answer of the wrong type for the call in flight (a driver bug: parse the
    /// answer as the call's response type).
    #[error("a {answer} answer cannot answer the {call} call in flight")]
    AnswerDoesNotMatchCall {
        /// The call in flight.
        call: CallKind,
        /// The answer.
        answer: AnswerKind,
    },
    /// A malformed-answer event for a `DELETE` (a driver bug: a 2xx to a `DELETE` is a success
    /// whatever its body; feed `answered(204)`).
    #[error(
        "a 2xx answer to the {call} call (a DELETE) is a success whatever its body: feed answered(204), not answered(malformed)"
    )]
    MalformedAnswerToDelete {
        /// The call in flight.
        call: CallKind,
    },
    /// A command arrived while a call is in flight; apply it once the outcome is recorded.
    #[error(
        "the {call} call is in flight: apply the `{event}` command again once its outcome is recorded"
    )]
    CallInFlight {
        /// The call in flight.
        call: CallKind,
        /// The command.
        event: EventKind,
    },
    /// A `Wake` before the grant's `next_wake_at`.
    #[error("the grant is not due before {at}")]
    NotDue {
        /// The grant's `next_wake_at`.
        at: DateTime<Utc>,
    },
    /// A `Wake` for a grant that has nothing scheduled (an issued token without expiry, or with
    /// `auto_rotate` off).
    #[error("the grant ({state}) has nothing scheduled; the wake-up changed nothing")]
    NothingScheduled {
        /// The current state.
        state: StateKind,
    },
    /// A token command (`rotate_now`, `revoke`) for a grant that is not issued.
    #[error("`{event}` needs an issued grant, and this one is {state}")]
    NotIssued {
        /// The current state.
        state: StateKind,
        /// The command.
        event: EventKind,
    },
    /// A token command while the token is already rotating or being revoked.
    #[error("the token is {state}: `{event}` must wait until that completes")]
    TokenBusy {
        /// `rotating` or `revoking`.
        state: StateKind,
        /// The command.
        event: EventKind,
    },
    /// A command for a grant that is already being canceled.
    #[error("the grant is already being canceled: `{event}` changed nothing")]
    AlreadyCanceling {
        /// The command.
        event: EventKind,
    },
    /// Any event for a final grant (every outcome but `issued`, and `expired`).
    #[error("the grant has ended ({state}): `{event}` changes nothing; request a new grant")]
    Final {
        /// The final state.
        state: StateKind,
        /// The event.
        event: EventKind,
    },
}
