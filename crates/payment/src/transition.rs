//! The transition function: `(state, event, now) -> Result<Transition { edge, state, effect, change }>`.
//!
//! [`transition`] refuses every `(state, event)` pair the table has no edge for, then hands the
//! event to the function of the state, which names the [`Edge`] it follows:
//!
//! - `quoting.rs`: the order and `POST /quotes`.
//! - `sending.rs`: `POST /outgoing-payments` from the quote.
//! - `confirming.rs`: `GET` of the outgoing payment by the quote's id, after any doubt.
//! - `call.rs`: what they share: a call's life (send, fail, back off, give up, lost in flight).

mod call;
mod confirming;
mod quoting;
mod sending;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::PaymentConfig;
use crate::effect::{Effect, PaymentChange};
use crate::error::PaymentError;
use crate::event::PaymentEvent;
use crate::kind::{PaymentEventKind, PaymentStateKind};
use crate::order::PaymentOrder;
use crate::state::{Call, Failed, Failure, PaymentState, QuoteInfo};
use crate::table::{self, Edge};

/// The result of a transition: the edge followed, the new state, the call to make and the
/// notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The edge of [`TRANSITIONS`](crate::TRANSITIONS) followed.
    pub edge: Edge,
    /// The new state. Commit it (with the event) before making the call.
    pub state: PaymentState,
    /// The call to make, already marked in flight in `state`.
    pub effect: Option<Effect>,
    /// What to tell the application.
    pub change: Option<PaymentChange>,
}

impl Transition {
    fn new(edge: Edge, state: PaymentState) -> Self {
        Self {
            edge,
            state,
            effect: None,
            change: None,
        }
    }

    fn call(mut self, effect: Effect) -> Self {
        self.effect = Some(effect);
        self
    }

    fn notify(mut self, change: PaymentChange) -> Self {
        self.change = Some(change);
        self
    }

    /// When the payment next needs a [`PaymentEvent::Wake`].
    pub fn next_wake_at(&self) -> Option<DateTime<Utc>> {
        self.state.next_wake_at()
    }
}

/// Applies `event` to `state` at `now`.
///
/// Pure and total: no I/O, no clock, no panics; the same inputs always give the same output. An
/// invalid event gives a [`PaymentError`] and changes nothing.
///
/// ```
/// use std::sync::Arc;
/// use chrono::{TimeZone, Utc};
/// use grantflow_interval::Amount;
/// use grantflow_payment::{transition, Edge, Headroom, PaymentAmount, PaymentCall, PaymentConfig, PaymentEvent, PaymentOrder, PaymentState};
///
/// let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
/// let order = Arc::new(PaymentOrder {
///     wallet_address: "https://rs.example/alice".into(),
///     receiver: "https://rs.example/bob/incoming-payments/1".into(),
///     amount: PaymentAmount::Debit(Amount::new(500, "USD", 2)),
///     metadata: None,
/// });
/// let t = transition(&PaymentState::Initial, PaymentEvent::Order { order, headroom: Headroom::unlimited() }, now, &PaymentConfig::default())?;
/// assert_eq!(t.edge, Edge::Ordered);
/// assert!(matches!(t.effect.map(|e| e.call), Some(PaymentCall::CreateQuote { .. })));
/// # Ok::<(), grantflow_payment::PaymentError>(())
/// ```
pub fn transition(
    state: &PaymentState,
    event: PaymentEvent,
    now: DateTime<Utc>,
    config: &PaymentConfig,
) -> Result<Transition, PaymentError> {
    let state_kind = state.kind();
    let event_kind = event.kind();
    if !table::accepts(state_kind, event_kind) {
        return Err(refusal(state, event_kind));
    }
    if event_kind.is_call_outcome() && state.call_in_flight().is_none() {
        return Err(PaymentError::NoCallInFlight {
            state: state_kind,
            event: event_kind,
        });
    }
    let cx = Cx { now, config };
    let t = match state {
        PaymentState::Initial => quoting::order(event, cx),
        PaymentState::Quoting(s) => quoting::quoting(s, event, cx),
        PaymentState::Sending(s) => sending::sending(s, event, cx),
        PaymentState::Confirming(s) => confirming::confirming(s, event, cx),
        PaymentState::Sent(_) | PaymentState::Failed(_) => Err(refusal(state, event_kind)),
    }?;
    debug_assert!(
        t.edge.connects(state_kind, event_kind, t.state.kind()),
        "{state_kind} --{event_kind}--> {} is not the edge {}",
        t.state.kind(),
        t.edge
    );
    Ok(t)
}

/// The typed error for an event the table has no edge for in this state.
fn refusal(state: &PaymentState, event: PaymentEventKind) -> PaymentError {
    let kind = state.kind();
    if event == PaymentEventKind::Order {
        return PaymentError::AlreadyOrdered { state: kind };
    }
    if kind == PaymentStateKind::Initial {
        return PaymentError::NotOrdered { event };
    }
    if kind.is_final() {
        return PaymentError::Final { state: kind, event };
    }
    match state.call_in_flight() {
        Some(call) if event.is_call_outcome() => {
            PaymentError::OutcomeDoesNotMatchCall { call, event }
        }
        _ => PaymentError::NoCallInFlight { state: kind, event },
    }
}

/// What every state function needs besides the state and the event.
#[derive(Clone, Copy)]
struct Cx<'a> {
    now: DateTime<Utc>,
    config: &'a PaymentConfig,
}

impl Cx<'_> {
    fn after(&self, delta: TimeDelta) -> DateTime<Utc> {
        add(self.now, delta)
    }
}

/// Saturating `instant + delta`: time arithmetic never panics.
fn add(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `Failed` along `edge`, with its notification.
fn failed(
    edge: Edge,
    order: &Arc<PaymentOrder>,
    quote: Option<&QuoteInfo>,
    failure: Failure,
) -> Transition {
    Transition::new(
        edge,
        PaymentState::Failed(Failed {
            order: Some(Arc::clone(order)),
            quote: quote.cloned(),
            failure,
        }),
    )
    .notify(PaymentChange::Failed)
}

/// The event did not match the state function's expectations although the table accepted it: the
/// table and the function disagree. Refused like an unlisted event (never a panic).
fn unexpected(state_kind: PaymentStateKind, call: &Call, event: &PaymentEvent) -> PaymentError {
    if event.kind().is_call_outcome() {
        PaymentError::OutcomeDoesNotMatchCall {
            call: call.kind,
            event: event.kind(),
        }
    } else {
        PaymentError::NoCallInFlight {
            state: state_kind,
            event: event.kind(),
        }
    }
}
