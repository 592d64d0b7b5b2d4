//! `Initial` and `Requested`: the grant request, re-sendable (an orphan grant at the AS grants
//! nothing: its continuation token never reached us).

use std::sync::Arc;

use grantflow_protocol::grant::GrantResponse;

use super::call::{CallOutcome, RetryEdges, Woken, classify, fail, wake};
use super::{Cx, Transition, failed, finalized, refusal, token};
use crate::effect::{Change, Effect, Effects};
use crate::error::MachineError;
use crate::event::{Answer, Event};
use crate::kind::{AnswerKind, CallKind, StateKind};
use crate::state::{
    AwaitingInteraction, Call, ContinueMode, Continuing, Failure, GrantState, Outcome, Requested,
};
use crate::table::Edge;

const RETRY: RetryEdges = RetryEdges {
    not_sent: Edge::RequestNotSent,
    too_fast: Edge::RequestTooFast,
    server_trouble: Edge::RequestServerTrouble,
    ambiguous: Edge::RequestAmbiguous,
};

/// `Initial --request--> Requested`.
pub(super) fn request(event: Event, cx: Cx<'_>) -> Result<Transition, MachineError> {
    let Event::Request { intent } = event else {
        return Err(refusal(StateKind::Initial, None, &event));
    };
    let call = Call::start(CallKind::GrantRequest, cx.now, 1, cx.config);
    Ok(Transition::new(
        Edge::RequestSent,
        GrantState::Requested(Requested {
            intent: intent.clone(),
            call,
        }),
        Effects::call(Effect::SendGrantRequest { intent }),
    ))
}

pub(super) fn requested(
    s: &Requested,
    event: Event,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    let with_call = |edge: Edge, call: Call| {
        let effects = if call.in_flight() {
            Effects::call(Effect::SendGrantRequest {
                intent: s.intent.clone(),
            })
        } else {
            Effects::NONE
        };
        let state = GrantState::Requested(Requested {
            intent: s.intent.clone(),
            call,
        });
        Transition::new(edge, state, effects)
    };
    if let Event::Cancel = event {
        if s.call.in_flight() {
            return Err(MachineError::CallInFlight {
                call: s.call.kind,
                event: event.kind(),
            });
        }
        // Nothing reached the AS that we know of: no continuation to cancel.
        return Ok(finalized(
            Edge::RequestCanceled,
            Outcome::Canceled { at: cx.now },
            Change::Canceled,
        ));
    }
    if let Event::Wake = event {
        return Ok(match wake(&s.call, cx)? {
            Woken::Send(call) => with_call(Edge::RequestDue, call),
            Woken::Resend(call) => with_call(Edge::RequestResumed, call),
            Woken::GiveUp(give_up) => failed(Edge::RequestGaveUp, give_up.failure()),
        });
    }
    match classify(event) {
        Ok(CallOutcome::Answer(Answer::Grant(GrantResponse::Pending(p)))) => {
            let continuation = Arc::new(p.continue_);
            let interaction = Arc::new(p.interact);
            let deadline = cx.after(cx.config.interaction_deadline);
            let (edge, state) = if s.intent.finish_nonce().is_some() {
                let awaiting = AwaitingInteraction {
                    intent: s.intent.clone(),
                    interaction,
                    answered_at: cx.now,
                    deadline,
                    continuation,
                };
                (
                    Edge::PendingWithFinish,
                    GrantState::AwaitingInteraction(awaiting),
                )
            } else {
                let wait = cx.config.wait(continuation.wait);
                let polling = Continuing {
                    intent: s.intent.clone(),
                    interaction,
                    continuation,
                    mode: ContinueMode::Poll { deadline },
                    answered_at: cx.now,
                    too_fast: 0,
                    call: Call::due(CallKind::Poll, cx.after(wait)),
                };
                (Edge::PendingToPoll, GrantState::Continuing(polling))
            };
            Ok(Transition::new(
                edge,
                state,
                Effects::notify(Change::InteractionRequired),
            ))
        }
        Ok(CallOutcome::Answer(Answer::Grant(GrantResponse::Issued(g)))) => {
            Ok(token::issue(Edge::IssuedAtOnce, g, cx))
        }
        Ok(CallOutcome::Answer(Answer::Grant(GrantResponse::Continuation(_)))) => Ok(failed(
            Edge::RequestAnsweredWrongly,
            Failure::UnexpectedAnswer {
                call: CallKind::GrantRequest,
                answer: AnswerKind::Continuation,
            },
        )),
        Ok(CallOutcome::Refusal { status, error }) => Ok(failed(
            Edge::RequestRefused,
            Failure::Refused {
                call: CallKind::GrantRequest,
                status,
                error,
            },
        )),
        Ok(CallOutcome::Malformed {
            status,
            error,
            body_start,
        }) => Ok(failed(
            Edge::RequestMalformed,
            Failure::MalformedAnswer {
                call: CallKind::GrantRequest,
                status,
                error,
                body_start,
            },
        )),
        Ok(CallOutcome::Trouble(t)) => {
            let (edge, call) = fail(&s.call, t, cx.config.default_wait, &RETRY, cx);
            Ok(with_call(edge, call))
        }
        Ok(CallOutcome::Answer(answer)) => Err(refusal(
            StateKind::Requested,
            s.call.in_flight_kind(),
            &Event::Answered { answer },
        )),
        Err(event) => Err(refusal(
            StateKind::Requested,
            s.call.in_flight_kind(),
            &event,
        )),
    }
}
