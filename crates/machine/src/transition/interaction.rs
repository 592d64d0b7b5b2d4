//! `AwaitingInteraction` and `Continuing`: the user at the AS, the finish callback (verified
//! before its `interact_ref` is stored), then the continue with the `interact_ref` or the polls of
//! a grant requested without a finish URI. Continue and poll are not idempotent.

use std::sync::Arc;

use grantflow_protocol::GnapErrorCode;
use grantflow_protocol::finish_hash::verify_finish_hash;
use grantflow_protocol::grant::GrantResponse;

use super::call::{CallOutcome, RetryEdges, Trouble, Woken, classify, fail, wake};
use super::canceling::cancel;
use super::{Cx, Transition, add, failed, finalized, refusal, token};
use crate::effect::{Change, Effect, Effects};
use crate::error::MachineError;
use crate::event::{Answer, Event, FinishCallback};
use crate::kind::{AnswerKind, CallKind, StateKind};
use crate::state::{
    AwaitingInteraction, Call, CallStatus, CancelGoal, ContinueMode, Continuing, Failure,
    GrantState, Lost, LostReason, Outcome,
};
use crate::table::Edge;

const RETRY: RetryEdges = RetryEdges {
    not_sent: Edge::ContinueNotSent,
    too_fast: Edge::ContinueTooFast,
    server_trouble: Edge::ContinueServerTrouble,
    ambiguous: Edge::ContinueAmbiguous,
};

pub(super) fn awaiting(
    s: &AwaitingInteraction,
    event: Event,
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
            let continuing = Continuing {
                intent: s.intent.clone(),
                interaction: s.interaction.clone(),
                continuation: s.continuation.clone(),
                mode: ContinueMode::Finish { interact_ref },
                answered_at: s.answered_at,
                too_fast: 0,
                call,
            };
            Ok(Transition::new(
                Edge::FinishVerified,
                GrantState::Continuing(continuing),
                effects.with_notify(Change::InteractionFinished),
            ))
        }
        Event::FinishCallback {
            callback: FinishCallback::Result { result, message },
        } => {
            if result == "grant_rejected" {
                // The AS finalized the grant as rejected; the DELETE makes sure both sides agree
                // (best effort: any refusal still ends Rejected).
                Ok(cancel(
                    Edge::FinishRejected,
                    &s.continuation,
                    CancelGoal::Rejected,
                    cx,
                ))
            } else if result == "grant_invalid" {
                // The user reached the finish step before deciding; the reference keeps the
                // interaction pending, so the grant keeps waiting until its deadline.
                Ok(Transition::new(
                    Edge::FinishTooEarly,
                    GrantState::AwaitingInteraction(s.clone()),
                    Effects::NONE,
                ))
            } else {
                let failure = Failure::InteractionFailed { result, message };
                Ok(cancel(
                    Edge::FinishFailed,
                    &s.continuation,
                    CancelGoal::Failed(failure),
                    cx,
                ))
            }
        }
        Event::Wake if cx.now >= s.deadline => Ok(cancel(
            Edge::InteractionExpired,
            &s.continuation,
            CancelGoal::Expired {
                deadline: s.deadline,
            },
            cx,
        )),
        Event::Wake => Err(MachineError::NotDue { at: s.deadline }),
        Event::Cancel => Ok(cancel(
            Edge::AwaitingCanceled,
            &s.continuation,
            CancelGoal::Canceled,
            cx,
        )),
        other => Err(refusal(StateKind::AwaitingInteraction, None, &other)),
    }
}

pub(super) fn continuing(
    s: &Continuing,
    event: Event,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    let with_call = |edge: Edge, call: Call| {
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
        let state = GrantState::Continuing(Continuing { call, ..s.clone() });
        Transition::new(edge, state, effects)
    };
    let cancel_then = |edge: Edge, goal: CancelGoal| cancel(edge, &s.continuation, goal, cx);
    match event {
        Event::Wake => {
            if let (ContinueMode::Poll { deadline }, CallStatus::Due { at }) =
                (&s.mode, &s.call.status)
            {
                if cx.now >= *deadline {
                    let goal = CancelGoal::Expired {
                        deadline: *deadline,
                    };
                    return Ok(cancel_then(Edge::PollExpired, goal));
                }
                if cx.now < *at {
                    return Err(MachineError::NotDue {
                        at: (*at).min(*deadline),
                    });
                }
            }
            return Ok(match wake(&s.call, cx)? {
                Woken::Send(call) => with_call(Edge::ContinueDue, call),
                Woken::Resend(call) => with_call(Edge::ContinueResumed, call),
                Woken::GiveUp(give_up) => cancel_then(Edge::ContinueGaveUp, give_up.goal()),
            });
        }
        Event::Cancel => {
            if s.call.in_flight() {
                return Err(MachineError::CallInFlight {
                    call: s.call.kind,
                    event: event.kind(),
                });
            }
            return Ok(cancel_then(Edge::ContinuingCanceled, CancelGoal::Canceled));
        }
        _ => {}
    }
    match classify(event) {
        Ok(CallOutcome::Answer(Answer::Grant(GrantResponse::Issued(g)))) => {
            Ok(token::issue(Edge::ContinueIssued, g, cx))
        }
        Ok(CallOutcome::Answer(Answer::Grant(GrantResponse::Continuation(c)))) => {
            // Still pending. A definite answer: it also settles any earlier unknown outcome (had
            // the lost call issued the token, the AS would now refuse).
            let continuation = Arc::new(c.continue_);
            let next = cx.after(cx.config.wait(continuation.wait));
            let continuing = Continuing {
                continuation,
                answered_at: cx.now,
                too_fast: 0,
                call: Call::due(s.call.kind, next),
                ..s.clone()
            };
            Ok(Transition::new(
                Edge::StillPending,
                GrantState::Continuing(continuing),
                Effects::NONE,
            ))
        }
        Ok(CallOutcome::Answer(Answer::Grant(GrantResponse::Pending(_)))) => Ok(failed(
            Edge::ContinueAnsweredWrongly,
            Failure::UnexpectedAnswer {
                call: s.call.kind,
                answer: AnswerKind::Pending,
            },
        )),
        Ok(CallOutcome::Malformed {
            status,
            error,
            body_start,
        }) => {
            // The AS acted (it may have issued the token we cannot read): cancel so both sides
            // agree, then Failed.
            let failure = Failure::MalformedAnswer {
                call: s.call.kind,
                status,
                error,
                body_start,
            };
            Ok(cancel_then(
                Edge::ContinueMalformed,
                CancelGoal::Failed(failure),
            ))
        }
        Ok(CallOutcome::Trouble(t @ Trouble::TooFast { .. })) => {
            let wait = cx.config.wait(s.continuation.wait);
            let (edge, call) = fail(&s.call, t, wait, &RETRY, cx);
            let continuing = Continuing {
                too_fast: s.too_fast.saturating_add(1),
                call,
                ..s.clone()
            };
            Ok(Transition::new(
                edge,
                GrantState::Continuing(continuing),
                Effects::NONE,
            ))
        }
        Ok(CallOutcome::Refusal { status, error }) => {
            let denied = error.code == Some(GnapErrorCode::RequestDenied);
            if denied && s.call.resent_after_ambiguity {
                // Proof: an earlier attempt whose answer we never saw consumed the interaction
                // (the reference answers a second continue, or a poll of a finalized grant,
                // with `request_denied`).
                let lost = Lost {
                    call: s.call.kind,
                    reason: LostReason::RefusedAfterResend { status, error },
                };
                return Ok(cancel_then(Edge::ContinueConsumed, CancelGoal::Lost(lost)));
            }
            let rejected = match error.code {
                Some(GnapErrorCode::UserDenied) => true,
                // A poll of a finalized grant: the reference server answers `request_denied`
                // "grant cannot be continued". Without an earlier poll of unknown outcome
                // (handled above) the grant cannot have been issued, so it was rejected.
                Some(GnapErrorCode::RequestDenied) => s.call.kind == CallKind::Poll,
                _ => false,
            };
            if rejected {
                Ok(finalized(
                    Edge::ContinueDenied,
                    Outcome::Rejected { at: cx.now },
                    Change::Rejected,
                ))
            } else {
                let failure = Failure::Refused {
                    call: s.call.kind,
                    status,
                    error,
                };
                Ok(failed(Edge::ContinueRefused, failure))
            }
        }
        Ok(CallOutcome::Trouble(t)) => {
            let (edge, call) = fail(&s.call, t, cx.config.default_wait, &RETRY, cx);
            Ok(with_call(edge, call))
        }
        Ok(CallOutcome::Answer(answer)) => Err(refusal(
            StateKind::Continuing,
            s.call.in_flight_kind(),
            &Event::Answered { answer },
        )),
        Err(event) => Err(refusal(
            StateKind::Continuing,
            s.call.in_flight_kind(),
            &event,
        )),
    }
}
