//! The transition function: `(state, event, now) -> Result<Transition { edge, state, effects }>`.
//!
//! [`transition`] refuses every `(state, event)` pair the table has no edge for (one place,
//! [`refusal`], picks the typed error), then hands the event to the function of the state's
//! family, which names the [`Edge`] it follows:
//!
//! - `requested.rs`: the grant request.
//! - `interaction.rs`: waiting for the user, then continuing or polling.
//! - `canceling.rs`: the `DELETE` on the continuation URI and the goal it leads to.
//! - `token.rs`: an issued grant's token (active, rotating, revoking).
//! - `call.rs`: what all of them share: a call's life (send, wait, retry, re-send once) and the
//!   classification of its outcome.

mod call;
mod canceling;
mod interaction;
mod requested;
mod token;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::Config;
use crate::effect::{Change, Effects};
use crate::error::MachineError;
use crate::event::Event;
use crate::kind::{CallKind, StateKind};
use crate::state::{Failure, GrantState, Outcome};
use crate::table::{self, Edge};

/// The result of a transition: the edge followed, the new state and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The edge of [`TRANSITIONS`](crate::TRANSITIONS) this transition followed: its `from`,
    /// `event` and `to` are the kinds of the old state, the event and [`Transition::state`].
    pub edge: Edge,
    /// The new state. Commit it (with the event) before running the effects.
    pub state: GrantState,
    /// The call to make (already marked in flight in `state`) and the notification, if any.
    pub effects: Effects,
}

impl Transition {
    pub(crate) fn new(edge: Edge, state: GrantState, effects: Effects) -> Self {
        Self {
            edge,
            state,
            effects,
        }
    }

    /// When the grant next needs a [`Event::Wake`] (see [`GrantState::next_wake_at`]).
    pub fn next_wake_at(&self) -> Option<DateTime<Utc>> {
        self.state.next_wake_at()
    }
}

/// Applies `event` to `state` at `now`.
///
/// Pure and total: no I/O, no clock, no panics; the same inputs always give the same output. An
/// invalid event gives a [`MachineError`] and changes nothing.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use grantflow_machine::{transition, Config, Edge, Effect, Event, GrantIntent, GrantState, MachineError};
/// # let request = serde_json::from_str(r#"{"access_token":{"access":[{"type":"quote","actions":["create"]}]},"client":"https://wallet.example/c"}"#).unwrap();
/// let now = Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap();
/// let cfg = Config::default();
///
/// let intent = GrantIntent::new("https://auth.example/tenant", request);
/// let t = transition(&GrantState::Initial, Event::Request { intent: std::sync::Arc::new(intent) }, now, &cfg)?;
/// assert_eq!(t.edge, Edge::RequestSent);
/// assert!(matches!(t.effects.call_effect(), Some(Effect::SendGrantRequest { .. })));
/// assert_eq!(t.next_wake_at(), Some(now + cfg.call_timeout));
///
/// // A finish callback now is refused, and changes nothing.
/// let cb = grantflow_machine::FinishCallback::from_query_pairs([("result", "grant_rejected")]).unwrap();
/// let err = transition(&t.state, Event::FinishCallback { callback: cb }, now, &cfg).unwrap_err();
/// assert!(matches!(err, MachineError::CallbackForGrantNotWaiting { .. }));
/// # Ok::<(), MachineError>(())
/// ```
pub fn transition(
    state: &GrantState,
    event: Event,
    now: DateTime<Utc>,
    config: &Config,
) -> Result<Transition, MachineError> {
    let state_kind = state.kind();
    let event_kind = event.kind();
    if !table::accepts(state_kind, event_kind) {
        return Err(refusal(state_kind, state.call_in_flight(), &event));
    }
    // An outcome answers the call in flight; without one it is stale or duplicated.
    if event.is_call_outcome() && state.call_in_flight().is_none() {
        return Err(MachineError::NoCallInFlight {
            state: state_kind,
            event: event_kind,
        });
    }
    let cx = Cx { now, config };
    let t = match state {
        GrantState::Initial => requested::request(event, cx),
        GrantState::Requested(s) => requested::requested(s, event, cx),
        GrantState::AwaitingInteraction(s) => interaction::awaiting(s, event, cx),
        GrantState::Continuing(s) => interaction::continuing(s, event, cx),
        GrantState::Canceling(s) => canceling::canceling(s, event, cx),
        GrantState::Finalized(Outcome::Issued(i)) => token::issued(i, event, cx),
        GrantState::Finalized(_) | GrantState::Expired(_) => Err(refusal(state_kind, None, &event)),
    }?;
    debug_assert!(
        t.edge.connects(state_kind, event_kind, t.state.kind()),
        "{state_kind} --{event_kind}--> {} is not the edge {}",
        t.state.kind(),
        t.edge
    );
    Ok(t)
}

/// The typed error for an event the table has no edge for in this state (or that a state function
/// does not handle). The order matters: a second `Request` is named as such even on a final
/// grant, and a finish callback anywhere but `AwaitingInteraction` is
/// [`MachineError::CallbackForGrantNotWaiting`].
fn refusal(state_kind: StateKind, call_in_flight: Option<CallKind>, event: &Event) -> MachineError {
    let event_kind = event.kind();
    match event {
        Event::Request { .. } => return MachineError::AlreadyRequested { state: state_kind },
        _ if state_kind == StateKind::Initial => {
            return MachineError::NotRequested { event: event_kind };
        }
        Event::FinishCallback { .. } => {
            return MachineError::CallbackForGrantNotWaiting { state: state_kind };
        }
        _ if state_kind.is_final() => {
            return MachineError::Final {
                state: state_kind,
                event: event_kind,
            };
        }
        _ => {}
    }
    match event {
        Event::Answered { answer } => match call_in_flight {
            Some(call) => MachineError::AnswerDoesNotMatchCall {
                call,
                answer: answer.kind(),
            },
            None => MachineError::NoCallInFlight {
                state: state_kind,
                event: event_kind,
            },
        },
        Event::Cancel | Event::RotateNow | Event::Revoke => match state_kind {
            StateKind::Canceling => MachineError::AlreadyCanceling { event: event_kind },
            StateKind::Rotating | StateKind::Revoking => MachineError::TokenBusy {
                state: state_kind,
                event: event_kind,
            },
            _ => MachineError::NotIssued {
                state: state_kind,
                event: event_kind,
            },
        },
        Event::Malformed { .. } => match call_in_flight {
            Some(call) => MachineError::MalformedAnswerToDelete { call },
            None => MachineError::NoCallInFlight {
                state: state_kind,
                event: event_kind,
            },
        },
        Event::Wake => MachineError::NothingScheduled { state: state_kind },
        _ => MachineError::NoCallInFlight {
            state: state_kind,
            event: event_kind,
        },
    }
}

/// What every state function needs besides the state and the event.
#[derive(Clone, Copy)]
struct Cx<'a> {
    now: DateTime<Utc>,
    config: &'a Config,
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

/// A final outcome reached along `edge`, with its notification.
fn finalized(edge: Edge, outcome: Outcome, change: Change) -> Transition {
    Transition::new(
        edge,
        GrantState::Finalized(outcome),
        Effects::notify(change),
    )
}

/// `Finalized(Failed)` along `edge`.
fn failed(edge: Edge, failure: Failure) -> Transition {
    finalized(edge, Outcome::Failed(failure), Change::Failed)
}
