//! The transition function: `(state, event, now) -> Result<(state, effects), error>`.
//!
//! One `match` per state; the edges it can take are listed in [`TRANSITIONS`](crate::TRANSITIONS)
//! and a property test checks that every transition it makes is one of them.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_protocol::finish_hash::{FinishHashError, verify_finish_hash};
use grantflow_protocol::grant::{GrantResponse, IssuedGrant};
use grantflow_protocol::{GnapError, GnapErrorCode};

use crate::config::Config;
use crate::effect::{Change, Effect, Effects};
use crate::event::{Answer, AnswerKind, Event, FinishCallback};
use crate::state::{
    AwaitingInteraction, Call, CallKind, CallStatus, CancelGoal, Canceling, ContinueMode,
    Continuing, ExpiredGrant, Failure, GrantState, Issued, Lost, LostReason, Outcome, Requested,
    TokenState,
};
use crate::table::{EventKind, StateKind};

/// The result of a transition: the new state and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new state. Commit it (with the event) before running the effects.
    pub state: GrantState,
    /// The call to make (already marked in flight in `state`) and the notification, if any.
    pub effects: Effects,
}

impl Transition {
    /// When the grant next needs a [`Event::Wake`] (see [`GrantState::next_wake_at`]).
    pub fn next_wake_at(&self) -> Option<DateTime<Utc>> {
        self.state.next_wake_at()
    }
}

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
    #[error("the grant is final ({state}) and absorbs every event: `{event}` changed nothing")]
    Final {
        /// The final state.
        state: StateKind,
        /// The event.
        event: EventKind,
    },
}

/// Applies `event` to `state` at `now`.
///
/// Pure and total: no I/O, no clock, no panics; the same inputs always give the same output. An
/// invalid event gives a [`MachineError`] and changes nothing.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use grantflow_machine::{transition, Config, Effect, Event, GrantIntent, GrantState, MachineError};
/// # let request = serde_json::from_str(r#"{"access_token":{"access":[{"type":"quote","actions":["create"]}]},"client":"https://wallet.example/c"}"#).unwrap();
/// let now = Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap();
/// let cfg = Config::default();
///
/// let intent = GrantIntent::new("https://auth.example/tenant", request);
/// let t = transition(&GrantState::Initial, Event::Request { intent: std::sync::Arc::new(intent) }, now, &cfg)?;
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
    let cx = Cx { now, config };
    let event_kind = event.kind();
    match (&event, state) {
        (Event::Request { .. }, GrantState::Initial) => {}
        (Event::Request { .. }, _) => {
            return Err(MachineError::AlreadyRequested {
                state: state.kind(),
            });
        }
        (_, GrantState::Initial) => return Err(MachineError::NotRequested { event: event_kind }),
        (Event::FinishCallback { .. }, GrantState::AwaitingInteraction(_)) => {}
        (Event::FinishCallback { .. }, _) => {
            return Err(MachineError::CallbackForGrantNotWaiting {
                state: state.kind(),
            });
        }
        _ => {}
    }
    if state.is_final() {
        return Err(MachineError::Final {
            state: state.kind(),
            event: event_kind,
        });
    }
    let is_outcome = matches!(
        event,
        Event::Answered { .. }
            | Event::Refused { .. }
            | Event::NotSent { .. }
            | Event::Ambiguous { .. }
    );
    if is_outcome && state.call_in_flight().is_none() {
        return Err(MachineError::NoCallInFlight {
            state: state.kind(),
            event: event_kind,
        });
    }
    match state {
        GrantState::Initial => match event {
            Event::Request { intent } => {
                let call = Call::start(CallKind::GrantRequest, cx.now, 1, cx.config);
                Ok(Transition {
                    effects: Effects::call(Effect::SendGrantRequest {
                        intent: intent.clone(),
                    }),
                    state: GrantState::Requested(Requested { intent, call }),
                })
            }
            _ => Err(MachineError::NotRequested { event: event_kind }),
        },
        GrantState::Requested(s) => requested(s, event, event_kind, cx),
        GrantState::AwaitingInteraction(s) => awaiting(s, event, event_kind, cx),
        GrantState::Continuing(s) => continuing(s, event, event_kind, cx),
        GrantState::Canceling(s) => canceling(s, event, event_kind, cx),
        GrantState::Finalized(Outcome::Issued(i)) => issued(i, event, event_kind, cx),
        GrantState::Finalized(_) | GrantState::Expired(_) => Err(MachineError::Final {
            state: state.kind(),
            event: event_kind,
        }),
    }
}

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

impl Call {
    fn start(kind: CallKind, now: DateTime<Utc>, attempts: u32, config: &Config) -> Self {
        Self {
            kind,
            status: CallStatus::InFlight {
                since: now,
                wake_at: add(now, config.call_timeout),
            },
            attempts,
            failures: 0,
            resent_after_ambiguity: false,
        }
    }

    fn due(kind: CallKind, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            status: CallStatus::Due { at },
            attempts: 0,
            failures: 0,
            resent_after_ambiguity: false,
        }
    }

    fn send(self, now: DateTime<Utc>, config: &Config) -> Self {
        Self {
            status: CallStatus::InFlight {
                since: now,
                wake_at: add(now, config.call_timeout),
            },
            attempts: self.attempts.saturating_add(1),
            ..self
        }
    }

    fn later(self, at: DateTime<Utc>) -> Self {
        Self {
            status: CallStatus::Due { at },
            ..self
        }
    }

    fn retry_later(self, cx: Cx<'_>) -> Self {
        let failures = self.failures.saturating_add(1);
        Self {
            failures,
            ..self.later(cx.after(cx.config.retry_delay(failures)))
        }
    }
}

/// What went wrong with a call, short of a definite refusal.
enum Trouble {
    /// Never sent.
    NotSent,
    /// 429, or `too_fast` on a call that has no `wait` semantics.
    Throttled,
    /// A 5xx: the server may have acted before failing.
    ServerError { status: u16, error: GnapError },
    /// Timeout after sending, reset connection, unparseable answer.
    Ambiguous { detail: String },
    /// `Wake` with the call in flight: the caller lost it (crash, lapsed lease).
    Resumed,
}

/// What happens to a call after [`Trouble`].
enum Fate {
    /// Send it again now (the state marks it in flight).
    Resend(Call),
    /// Send it at the call's new `Due` instant.
    Later(Call),
    /// A non-idempotent call whose outcome can no longer be known.
    Lost(Lost),
}

fn on_trouble(call: Call, trouble: Trouble, cx: Cx<'_>) -> Fate {
    let detail = match trouble {
        Trouble::NotSent | Trouble::Throttled => return Fate::Later(call.retry_later(cx)),
        Trouble::ServerError { .. } | Trouble::Ambiguous { .. }
            if !call.kind.is_non_idempotent() =>
        {
            return Fate::Later(call.retry_later(cx));
        }
        Trouble::Resumed if !call.kind.is_non_idempotent() => {
            return Fate::Resend(call.send(cx.now, cx.config));
        }
        Trouble::ServerError { status, error } => format!("HTTP {status}, {error}"),
        Trouble::Ambiguous { detail } => detail,
        Trouble::Resumed => {
            "the call was in flight when the grant was resumed (crash or lapsed lease)".to_owned()
        }
    };
    if call.resent_after_ambiguity {
        Fate::Lost(Lost {
            call: call.kind,
            reason: LostReason::AmbiguousTwice { detail },
        })
    } else {
        Fate::Resend(Call {
            resent_after_ambiguity: true,
            ..call.send(cx.now, cx.config)
        })
    }
}

/// A call outcome, classified.
enum Outcome_ {
    Answer(Answer),
    Refusal { status: u16, error: GnapError },
    TooFast,
    Trouble(Trouble),
}

fn classify(event: Event) -> Option<Outcome_> {
    Some(match event {
        Event::Answered { answer } => Outcome_::Answer(answer),
        Event::Refused { status, error } => {
            if error.code == Some(GnapErrorCode::TooFast) {
                Outcome_::TooFast
            } else if status == 429 {
                Outcome_::Trouble(Trouble::Throttled)
            } else if status >= 500 {
                Outcome_::Trouble(Trouble::ServerError { status, error })
            } else {
                Outcome_::Refusal { status, error }
            }
        }
        Event::NotSent { .. } => Outcome_::Trouble(Trouble::NotSent),
        Event::Ambiguous { detail } => Outcome_::Trouble(Trouble::Ambiguous { detail }),
        _ => return None,
    })
}

fn finalized(outcome: Outcome, change: Change) -> Transition {
    Transition {
        state: GrantState::Finalized(outcome),
        effects: Effects::notify(change),
    }
}

fn failed(failure: Failure) -> Transition {
    finalized(Outcome::Failed(failure), Change::Failed)
}

/// Starts canceling the grant at the AS.
fn cancel(
    continuation: &Arc<grantflow_protocol::grant::Continuation>,
    then: CancelGoal,
    cx: Cx<'_>,
) -> Transition {
    Transition {
        effects: Effects::call(Effect::Cancel {
            continuation: continuation.clone(),
        }),
        state: GrantState::Canceling(Canceling {
            continuation: continuation.clone(),
            then,
            call: Call::start(CallKind::Cancel, cx.now, 1, cx.config),
        }),
    }
}

/// The answer to a wake-up of a state whose only scheduled work is `call`.
enum WakeCall {
    Send(Call),
    Resumed(Call),
}

fn wake_call(call: Call, cx: Cx<'_>) -> Result<WakeCall, MachineError> {
    match call.status {
        CallStatus::InFlight { .. } => Ok(WakeCall::Resumed(call)),
        CallStatus::Due { at } if cx.now >= at => Ok(WakeCall::Send(call.send(cx.now, cx.config))),
        CallStatus::Due { at } => Err(MachineError::NotDue { at }),
    }
}

fn issue(grant: IssuedGrant, cx: Cx<'_>) -> Transition {
    let IssuedGrant {
        access_token,
        continue_,
        subject,
    } = grant;
    let token = Arc::new(access_token);
    let (expires_at, rotate_at) = expiry(&token, cx);
    finalized(
        Outcome::Issued(Issued {
            continuation: Arc::new(continue_),
            token,
            subject: subject.map(Arc::new),
            token_received_at: cx.now,
            expires_at,
            token_state: TokenState::Active { rotate_at },
        }),
        Change::Issued,
    )
}

/// `(expires_at, rotate_at)` of a token received at `cx.now`.
fn expiry(
    token: &grantflow_protocol::grant::AccessToken,
    cx: Cx<'_>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let Some(secs) = token.expires_in else {
        return (None, None);
    };
    let lifetime = TimeDelta::seconds(i64::try_from(secs.min(10 * 365 * 86_400)).unwrap_or(0));
    let expires_at = cx.after(lifetime);
    let rotate_at = cx.config.auto_rotate.then(|| {
        // Expiry minus the margin, but never sooner than half the lifetime nor than the retry
        // base delay, so a tiny `expires_in` cannot make the grant rotate in a tight loop.
        let by_margin = add(expires_at, -cx.config.rotate_before_expiry);
        by_margin
            .max(cx.after(lifetime / 2))
            .max(cx.after(cx.config.retry_base_delay))
    });
    (Some(expires_at), rotate_at)
}

fn requested(
    s: &Requested,
    event: Event,
    event_kind: EventKind,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    let with_call = |call: Call, send: bool| Transition {
        effects: if send {
            Effects::call(Effect::SendGrantRequest {
                intent: s.intent.clone(),
            })
        } else {
            Effects::NONE
        },
        state: GrantState::Requested(Requested {
            intent: s.intent.clone(),
            call,
        }),
    };
    match event {
        Event::Wake => match wake_call(s.call, cx)? {
            WakeCall::Send(call) => Ok(with_call(call, true)),
            WakeCall::Resumed(call) => on_requested_trouble(call, Trouble::Resumed, cx, with_call),
        },
        Event::Cancel => {
            if s.call.in_flight() {
                return Err(MachineError::CallInFlight {
                    call: s.call.kind,
                    event: event_kind,
                });
            }
            // Nothing reached the AS that we know of: no continuation to cancel.
            Ok(finalized(
                Outcome::Canceled { at: cx.now },
                Change::Canceled,
            ))
        }
        Event::RotateNow | Event::Revoke => Err(MachineError::NotIssued {
            state: StateKind::Requested,
            event: event_kind,
        }),
        other => match classify(other) {
            Some(Outcome_::Answer(Answer::Grant(GrantResponse::Pending(p)))) => {
                let continuation = Arc::new(p.continue_);
                let interaction = Arc::new(p.interact);
                let deadline = cx.after(cx.config.interaction_deadline);
                let state = if s.intent.finish_nonce().is_some() {
                    GrantState::AwaitingInteraction(AwaitingInteraction {
                        intent: s.intent.clone(),
                        interaction,
                        answered_at: cx.now,
                        deadline,
                        continuation,
                    })
                } else {
                    let wait = cx.config.wait(continuation.wait);
                    GrantState::Continuing(Continuing {
                        intent: s.intent.clone(),
                        interaction,
                        continuation,
                        mode: ContinueMode::Poll { deadline },
                        answered_at: cx.now,
                        too_fast: 0,
                        call: Call::due(CallKind::Poll, cx.after(wait)),
                    })
                };
                Ok(Transition {
                    state,
                    effects: Effects::notify(Change::InteractionRequired),
                })
            }
            Some(Outcome_::Answer(Answer::Grant(GrantResponse::Issued(g)))) => Ok(issue(g, cx)),
            Some(Outcome_::Answer(Answer::Grant(GrantResponse::Continuation(_)))) => {
                Ok(failed(Failure::UnexpectedAnswer {
                    call: CallKind::GrantRequest,
                    answer: AnswerKind::Continuation,
                }))
            }
            Some(Outcome_::Answer(a)) => Err(MachineError::AnswerDoesNotMatchCall {
                call: CallKind::GrantRequest,
                answer: a.kind(),
            }),
            Some(Outcome_::Refusal { status, error }) => Ok(failed(Failure::Refused {
                call: CallKind::GrantRequest,
                status,
                error,
            })),
            Some(Outcome_::TooFast) => {
                on_requested_trouble(s.call, Trouble::Throttled, cx, with_call)
            }
            Some(Outcome_::Trouble(t)) => on_requested_trouble(s.call, t, cx, with_call),
            None => Err(MachineError::NoCallInFlight {
                state: StateKind::Requested,
                event: event_kind,
            }),
        },
    }
}

fn on_requested_trouble(
    call: Call,
    trouble: Trouble,
    cx: Cx<'_>,
    with_call: impl Fn(Call, bool) -> Transition,
) -> Result<Transition, MachineError> {
    Ok(match on_trouble(call, trouble, cx) {
        Fate::Resend(call) => with_call(call, true),
        Fate::Later(call) => with_call(call, false),
        // The grant request is re-sendable, so this does not happen; if it did, there is no
        // continuation to cancel.
        Fate::Lost(lost) => finalized(Outcome::Lost(lost), Change::Lost),
    })
}

fn awaiting(
    s: &AwaitingInteraction,
    event: Event,
    event_kind: EventKind,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    match event {
        Event::FinishCallback {
            callback: FinishCallback::Approved { hash, interact_ref },
        } => {
            let client_nonce = s.intent.finish_nonce().ok_or(MachineError::NoFinishNonce)?;
            verify_finish_hash(
                &hash,
                client_nonce.expose(),
                s.interaction.finish.expose(),
                interact_ref.expose(),
                &s.intent.grant_endpoint,
            )
            .map_err(MachineError::FinishHashRejected)?;
            // Verified: only now may the interact_ref be sent, and not before `wait` has passed
            // since the AS's continuation answer.
            let interact_ref = Arc::new(interact_ref);
            let not_before = add(s.answered_at, cx.config.wait(s.continuation.wait));
            let (call, effects) = if cx.now >= not_before {
                (
                    Call::start(CallKind::Continue, cx.now, 1, cx.config),
                    Effects::call(Effect::Continue {
                        continuation: s.continuation.clone(),
                        interact_ref: interact_ref.clone(),
                    }),
                )
            } else {
                (Call::due(CallKind::Continue, not_before), Effects::NONE)
            };
            Ok(Transition {
                state: GrantState::Continuing(Continuing {
                    intent: s.intent.clone(),
                    interaction: s.interaction.clone(),
                    continuation: s.continuation.clone(),
                    mode: ContinueMode::Finish { interact_ref },
                    answered_at: s.answered_at,
                    too_fast: 0,
                    call,
                }),
                effects: effects.with_notify(Change::InteractionFinished),
            })
        }
        Event::FinishCallback {
            callback: FinishCallback::Result { result, message },
        } => {
            if result == "grant_rejected" {
                // The AS already finalized the grant as rejected: nothing to cancel.
                Ok(finalized(
                    Outcome::Rejected { at: cx.now },
                    Change::Rejected,
                ))
            } else {
                Ok(cancel(
                    &s.continuation,
                    CancelGoal::Failed(Failure::InteractionFailed { result, message }),
                    cx,
                ))
            }
        }
        Event::Wake if cx.now >= s.deadline => Ok(cancel(
            &s.continuation,
            CancelGoal::Expired {
                deadline: s.deadline,
            },
            cx,
        )),
        Event::Wake => Err(MachineError::NotDue { at: s.deadline }),
        Event::Cancel => Ok(cancel(&s.continuation, CancelGoal::Canceled, cx)),
        Event::RotateNow | Event::Revoke => Err(MachineError::NotIssued {
            state: StateKind::AwaitingInteraction,
            event: event_kind,
        }),
        _ => Err(MachineError::NoCallInFlight {
            state: StateKind::AwaitingInteraction,
            event: event_kind,
        }),
    }
}

fn continuing(
    s: &Continuing,
    event: Event,
    event_kind: EventKind,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    let with_call = |call: Call| {
        let effects = if call.in_flight() {
            Effects::call(match &s.mode {
                ContinueMode::Finish { interact_ref } => Effect::Continue {
                    continuation: s.continuation.clone(),
                    interact_ref: interact_ref.clone(),
                },
                ContinueMode::Poll { .. } => Effect::Poll {
                    continuation: s.continuation.clone(),
                },
            })
        } else {
            Effects::NONE
        };
        Transition {
            state: GrantState::Continuing(Continuing { call, ..s.clone() }),
            effects,
        }
    };
    let on_fate = |fate: Fate| match fate {
        Fate::Resend(call) | Fate::Later(call) => with_call(call),
        Fate::Lost(lost) => cancel(&s.continuation, CancelGoal::Lost(lost), cx),
    };
    let poll_deadline = match s.mode {
        ContinueMode::Poll { deadline } => Some(deadline),
        ContinueMode::Finish { .. } => None,
    };
    match event {
        Event::Wake => match s.call.status {
            CallStatus::InFlight { .. } => Ok(on_fate(on_trouble(s.call, Trouble::Resumed, cx))),
            CallStatus::Due { .. } => match poll_deadline {
                Some(deadline) if cx.now >= deadline => Ok(cancel(
                    &s.continuation,
                    CancelGoal::Expired { deadline },
                    cx,
                )),
                _ => match wake_call(s.call, cx) {
                    Ok(WakeCall::Send(call) | WakeCall::Resumed(call)) => Ok(with_call(call)),
                    Err(MachineError::NotDue { at }) => Err(MachineError::NotDue {
                        at: poll_deadline.map_or(at, |d| at.min(d)),
                    }),
                    Err(e) => Err(e),
                },
            },
        },
        Event::Cancel => {
            if s.call.in_flight() {
                return Err(MachineError::CallInFlight {
                    call: s.call.kind,
                    event: event_kind,
                });
            }
            Ok(cancel(&s.continuation, CancelGoal::Canceled, cx))
        }
        Event::RotateNow | Event::Revoke => Err(MachineError::NotIssued {
            state: StateKind::Continuing,
            event: event_kind,
        }),
        other => match classify(other) {
            Some(Outcome_::Answer(Answer::Grant(GrantResponse::Issued(g)))) => Ok(issue(g, cx)),
            Some(Outcome_::Answer(Answer::Grant(GrantResponse::Continuation(c)))) => {
                // Still pending. A definite answer: it also settles any earlier ambiguity (had
                // the lost call issued the token, the AS would now refuse).
                let continuation = Arc::new(c.continue_);
                let next = cx.after(cx.config.wait(continuation.wait));
                Ok(Transition {
                    state: GrantState::Continuing(Continuing {
                        continuation,
                        answered_at: cx.now,
                        too_fast: 0,
                        call: Call::due(s.call.kind, next),
                        ..s.clone()
                    }),
                    effects: Effects::NONE,
                })
            }
            Some(Outcome_::Answer(Answer::Grant(GrantResponse::Pending(_)))) => {
                Ok(failed(Failure::UnexpectedAnswer {
                    call: s.call.kind,
                    answer: AnswerKind::Pending,
                }))
            }
            Some(Outcome_::Answer(a)) => Err(MachineError::AnswerDoesNotMatchCall {
                call: s.call.kind,
                answer: a.kind(),
            }),
            Some(Outcome_::TooFast) => {
                let too_fast = s.too_fast.saturating_add(1);
                let delay = cx
                    .config
                    .too_fast_delay(cx.config.wait(s.continuation.wait), too_fast);
                Ok(Transition {
                    state: GrantState::Continuing(Continuing {
                        too_fast,
                        call: s.call.later(cx.after(delay)),
                        ..s.clone()
                    }),
                    effects: Effects::NONE,
                })
            }
            Some(Outcome_::Refusal { status, error }) => {
                if s.call.resent_after_ambiguity {
                    let lost = Lost {
                        call: s.call.kind,
                        reason: LostReason::RefusedAfterResend { status, error },
                    };
                    return Ok(cancel(&s.continuation, CancelGoal::Lost(lost), cx));
                }
                let rejected = match error.code {
                    Some(GnapErrorCode::UserDenied) => true,
                    // A poll of a finalized grant: the reference server answers
                    // `request_denied` "grant cannot be continued". Without an ambiguous poll of
                    // ours (handled above) the grant cannot have been issued, so it was rejected.
                    Some(GnapErrorCode::RequestDenied) => s.call.kind == CallKind::Poll,
                    _ => false,
                };
                if rejected {
                    Ok(finalized(
                        Outcome::Rejected { at: cx.now },
                        Change::Rejected,
                    ))
                } else {
                    Ok(failed(Failure::Refused {
                        call: s.call.kind,
                        status,
                        error,
                    }))
                }
            }
            Some(Outcome_::Trouble(t)) => Ok(on_fate(on_trouble(s.call, t, cx))),
            None => Err(MachineError::NoCallInFlight {
                state: StateKind::Continuing,
                event: event_kind,
            }),
        },
    }
}

fn canceling(
    s: &Canceling,
    event: Event,
    event_kind: EventKind,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    let with_call = |call: Call| Transition {
        effects: if call.in_flight() {
            Effects::call(Effect::Cancel {
                continuation: s.continuation.clone(),
            })
        } else {
            Effects::NONE
        },
        state: GrantState::Canceling(Canceling {
            continuation: s.continuation.clone(),
            then: s.then.clone(),
            call,
        }),
    };
    let done = || match &s.then {
        CancelGoal::Canceled => finalized(Outcome::Canceled { at: cx.now }, Change::Canceled),
        CancelGoal::Expired { deadline } => Transition {
            state: GrantState::Expired(ExpiredGrant {
                deadline: *deadline,
                at: cx.now,
            }),
            effects: Effects::notify(Change::Expired),
        },
        CancelGoal::Lost(lost) => finalized(Outcome::Lost(lost.clone()), Change::Lost),
        CancelGoal::Failed(f) => failed(f.clone()),
        CancelGoal::Revoked => finalized(Outcome::Revoked { at: cx.now }, Change::Revoked),
    };
    match event {
        Event::Wake => Ok(match wake_call(s.call, cx)? {
            WakeCall::Send(call) => with_call(call),
            WakeCall::Resumed(call) => match on_trouble(call, Trouble::Resumed, cx) {
                Fate::Resend(call) | Fate::Later(call) => with_call(call),
                Fate::Lost(_) => done(),
            },
        }),
        Event::Cancel | Event::RotateNow | Event::Revoke => {
            Err(MachineError::AlreadyCanceling { event: event_kind })
        }
        other => match classify(other) {
            Some(Outcome_::Answer(Answer::NoContent)) => Ok(done()),
            Some(Outcome_::Answer(a)) => Err(MachineError::AnswerDoesNotMatchCall {
                call: CallKind::Cancel,
                answer: a.kind(),
            }),
            // 401 invalid_continuation / 404 invalid_request: the AS no longer knows the
            // continuation (already canceled or revoked). Nothing more can be done from here.
            Some(Outcome_::Refusal { .. }) => Ok(done()),
            Some(Outcome_::TooFast) => Ok(with_call(s.call.retry_later(cx))),
            Some(Outcome_::Trouble(t)) => Ok(match on_trouble(s.call, t, cx) {
                Fate::Resend(call) | Fate::Later(call) => with_call(call),
                Fate::Lost(_) => done(),
            }),
            None => Err(MachineError::NoCallInFlight {
                state: StateKind::Canceling,
                event: event_kind,
            }),
        },
    }
}

fn issued(
    i: &Issued,
    event: Event,
    event_kind: EventKind,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    let with_token_state = |token_state: TokenState| {
        let effects = match &token_state {
            TokenState::Rotating { call } if call.in_flight() => Effects::call(Effect::Rotate {
                token: i.token.clone(),
            }),
            TokenState::Revoking { call } if call.in_flight() => {
                Effects::call(Effect::RevokeToken {
                    token: i.token.clone(),
                })
            }
            _ => Effects::NONE,
        };
        Transition {
            state: GrantState::Finalized(Outcome::Issued(Issued {
                token_state,
                ..i.clone()
            })),
            effects,
        }
    };
    let rotate = || {
        with_token_state(TokenState::Rotating {
            call: Call::start(CallKind::Rotate, cx.now, 1, cx.config),
        })
    };
    let revoke = || {
        with_token_state(TokenState::Revoking {
            call: Call::start(CallKind::RevokeToken, cx.now, 1, cx.config),
        })
    };
    let state_kind = match i.token_state {
        TokenState::Active { .. } => StateKind::Issued,
        TokenState::Rotating { .. } => StateKind::Rotating,
        TokenState::Revoking { .. } => StateKind::Revoking,
    };
    match (&i.token_state, event) {
        (TokenState::Active { rotate_at }, Event::Wake) => match rotate_at {
            Some(at) if cx.now >= *at => Ok(rotate()),
            Some(at) => Err(MachineError::NotDue { at: *at }),
            None => Err(MachineError::NothingScheduled { state: state_kind }),
        },
        (TokenState::Active { .. }, Event::RotateNow) => Ok(rotate()),
        (TokenState::Active { .. }, Event::Revoke) => Ok(revoke()),
        (TokenState::Active { .. }, Event::Cancel) => {
            Ok(cancel(&i.continuation, CancelGoal::Canceled, cx))
        }
        (TokenState::Active { .. }, _) => Err(MachineError::NoCallInFlight {
            state: state_kind,
            event: event_kind,
        }),
        (TokenState::Rotating { call } | TokenState::Revoking { call }, Event::Cancel) => {
            if call.in_flight() {
                Err(MachineError::CallInFlight {
                    call: call.kind,
                    event: event_kind,
                })
            } else {
                Ok(cancel(&i.continuation, CancelGoal::Canceled, cx))
            }
        }
        (TokenState::Rotating { call }, Event::Revoke) if !call.in_flight() => Ok(revoke()),
        (
            TokenState::Rotating { .. } | TokenState::Revoking { .. },
            Event::RotateNow | Event::Revoke,
        ) => Err(MachineError::TokenBusy {
            state: state_kind,
            event: event_kind,
        }),
        (TokenState::Rotating { call }, event) => {
            let call = *call;
            let on_fate = |fate: Fate| match fate {
                Fate::Resend(call) | Fate::Later(call) => {
                    with_token_state(TokenState::Rotating { call })
                }
                Fate::Lost(lost) => cancel(&i.continuation, CancelGoal::Lost(lost), cx),
            };
            if let Event::Wake = event {
                return Ok(match wake_call(call, cx)? {
                    WakeCall::Send(call) => with_token_state(TokenState::Rotating { call }),
                    WakeCall::Resumed(call) => on_fate(on_trouble(call, Trouble::Resumed, cx)),
                });
            }
            match classify(event) {
                Some(Outcome_::Answer(Answer::Rotated(r))) => {
                    let token = Arc::new(r.access_token);
                    let (expires_at, rotate_at) = expiry(&token, cx);
                    Ok(Transition {
                        state: GrantState::Finalized(Outcome::Issued(Issued {
                            continuation: i.continuation.clone(),
                            token,
                            subject: i.subject.clone(),
                            token_received_at: cx.now,
                            expires_at,
                            token_state: TokenState::Active { rotate_at },
                        })),
                        effects: Effects::notify(Change::TokenRotated),
                    })
                }
                Some(Outcome_::Answer(a)) => Err(MachineError::AnswerDoesNotMatchCall {
                    call: CallKind::Rotate,
                    answer: a.kind(),
                }),
                Some(Outcome_::Refusal { status, error }) => {
                    let reason = if call.resent_after_ambiguity {
                        LostReason::RefusedAfterResend { status, error }
                    } else {
                        LostReason::RotationRefused { status, error }
                    };
                    let lost = Lost {
                        call: CallKind::Rotate,
                        reason,
                    };
                    Ok(cancel(&i.continuation, CancelGoal::Lost(lost), cx))
                }
                Some(Outcome_::TooFast) => Ok(on_fate(on_trouble(call, Trouble::Throttled, cx))),
                Some(Outcome_::Trouble(t)) => Ok(on_fate(on_trouble(call, t, cx))),
                None => Err(MachineError::NoCallInFlight {
                    state: state_kind,
                    event: event_kind,
                }),
            }
        }
        (TokenState::Revoking { call }, event) => {
            let call = *call;
            let on_fate = |fate: Fate| match fate {
                Fate::Resend(call) | Fate::Later(call) => {
                    with_token_state(TokenState::Revoking { call })
                }
                Fate::Lost(_) => cancel(&i.continuation, CancelGoal::Revoked, cx),
            };
            if let Event::Wake = event {
                return Ok(match wake_call(call, cx)? {
                    WakeCall::Send(call) => with_token_state(TokenState::Revoking { call }),
                    WakeCall::Resumed(call) => on_fate(on_trouble(call, Trouble::Resumed, cx)),
                });
            }
            match classify(event) {
                Some(Outcome_::Answer(Answer::NoContent)) => {
                    Ok(finalized(Outcome::Revoked { at: cx.now }, Change::Revoked))
                }
                Some(Outcome_::Answer(a)) => Err(MachineError::AnswerDoesNotMatchCall {
                    call: CallKind::RevokeToken,
                    answer: a.kind(),
                }),
                // 401 invalid_client: the manage URL is unknown or the token already revoked.
                Some(Outcome_::Refusal { error, .. })
                    if error.code == Some(GnapErrorCode::InvalidClient) =>
                {
                    Ok(finalized(Outcome::Revoked { at: cx.now }, Change::Revoked))
                }
                // Any other refusal: revoke the whole grant instead (revokes all its tokens).
                Some(Outcome_::Refusal { .. }) => {
                    Ok(cancel(&i.continuation, CancelGoal::Revoked, cx))
                }
                Some(Outcome_::TooFast) => Ok(on_fate(on_trouble(call, Trouble::Throttled, cx))),
                Some(Outcome_::Trouble(t)) => Ok(on_fate(on_trouble(call, t, cx))),
                None => Err(MachineError::NoCallInFlight {
                    state: state_kind,
                    event: event_kind,
                }),
            }
        }
    }
}
