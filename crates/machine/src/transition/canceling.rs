//! `Canceling`: the `DELETE` on the continuation URI (idempotent: retried until answered), then
//! the final state the cancel was for ([`CancelGoal`]).

use std::sync::Arc;

use grantflow_protocol::grant::Continuation;

use super::call::{CallOutcome, RetryEdges, Woken, classify, fail, wake};
use super::{Cx, Transition, failed, finalized, refusal};
use crate::effect::{Change, Effect, Effects};
use crate::error::MachineError;
use crate::event::{Answer, Event};
use crate::kind::{CallKind, StateKind};
use crate::state::{Call, CancelGoal, Canceling, ExpiredGrant, GrantState, Outcome};
use crate::table::Edge;

const RETRY: RetryEdges = RetryEdges {
    not_sent: Edge::CancelNotSent,
    too_fast: Edge::CancelTooFast,
    server_trouble: Edge::CancelServerTrouble,
    ambiguous: Edge::CancelAmbiguous,
};

/// How a cancel ended.
#[derive(Clone, Copy)]
enum Ending {
    /// `204`: the AS deleted the grant.
    Confirmed,
    /// 4xx: the AS no longer knows the continuation (already canceled, revoked or finalized).
    UnknownToAs,
    /// The recovery budget ran out: the grant is finalized here; the AS may still hold it.
    GaveUp,
}

/// Starts canceling the grant at the AS, along `edge`, on the way to `then`.
pub(super) fn cancel(
    edge: Edge,
    continuation: &Arc<Continuation>,
    then: CancelGoal,
    cx: Cx<'_>,
) -> Transition {
    let canceling = Canceling {
        continuation: continuation.clone(),
        then,
        call: Call::start(CallKind::Cancel, cx.now, 1, cx.config),
    };
    Transition::new(
        edge,
        GrantState::Canceling(canceling),
        Effects::call(Effect::Cancel {
            continuation: continuation.clone(),
        }),
    )
}

pub(super) fn canceling(
    s: &Canceling,
    event: Event,
    cx: Cx<'_>,
) -> Result<Transition, MachineError> {
    let with_call = |edge: Edge, call: Call| {
        let effects = if call.in_flight() {
            Effects::call(Effect::Cancel {
                continuation: s.continuation.clone(),
            })
        } else {
            Effects::NONE
        };
        let canceling = Canceling {
            continuation: s.continuation.clone(),
            then: s.then.clone(),
            call,
        };
        Transition::new(edge, GrantState::Canceling(canceling), effects)
    };
    if let Event::Wake = event {
        return Ok(match wake(&s.call, cx)? {
            Woken::Send(call) => with_call(Edge::CancelDue, call),
            Woken::Resend(call) => with_call(Edge::CancelResumed, call),
            Woken::GiveUp(_) => reach_goal(&s.then, Ending::GaveUp, cx),
        });
    }
    match classify(event) {
        Ok(CallOutcome::Answer(Answer::NoContent)) => {
            Ok(reach_goal(&s.then, Ending::Confirmed, cx))
        }
        // 401 invalid_continuation / 404 invalid_request: the AS no longer knows the
        // continuation (already canceled or revoked). Nothing more can be done from here.
        Ok(CallOutcome::Refusal { .. }) => Ok(reach_goal(&s.then, Ending::UnknownToAs, cx)),
        Ok(CallOutcome::Trouble(t)) => {
            let (edge, call) = fail(&s.call, t, cx.config.default_wait, &RETRY, cx);
            Ok(with_call(edge, call))
        }
        Ok(CallOutcome::Malformed { .. }) => Err(MachineError::MalformedAnswerToDelete {
            call: CallKind::Cancel,
        }),
        Ok(CallOutcome::Answer(answer)) => Err(refusal(
            StateKind::Canceling,
            s.call.in_flight_kind(),
            &Event::Answered { answer },
        )),
        Err(event) => Err(refusal(
            StateKind::Canceling,
            s.call.in_flight_kind(),
            &event,
        )),
    }
}

/// The final state a cancel was for.
fn reach_goal(goal: &CancelGoal, ending: Ending, cx: Cx<'_>) -> Transition {
    let edge = |[confirmed, unknown, gave_up]: [Edge; 3]| match ending {
        Ending::Confirmed => confirmed,
        Ending::UnknownToAs => unknown,
        Ending::GaveUp => gave_up,
    };
    match goal {
        CancelGoal::Canceled => finalized(
            edge([
                Edge::CanceledAtAs,
                Edge::CanceledUnknownToAs,
                Edge::CanceledGaveUp,
            ]),
            Outcome::Canceled { at: cx.now },
            Change::Canceled,
        ),
        CancelGoal::Expired { deadline } => Transition::new(
            edge([
                Edge::ExpiredAtAs,
                Edge::ExpiredUnknownToAs,
                Edge::ExpiredGaveUp,
            ]),
            GrantState::Expired(ExpiredGrant {
                deadline: *deadline,
                at: cx.now,
            }),
            Effects::notify(Change::Expired),
        ),
        CancelGoal::Lost(lost) => finalized(
            edge([Edge::LostAtAs, Edge::LostUnknownToAs, Edge::LostGaveUp]),
            Outcome::Lost(lost.clone()),
            Change::Lost,
        ),
        CancelGoal::Failed(f) => failed(
            edge([
                Edge::FailedAtAs,
                Edge::FailedUnknownToAs,
                Edge::FailedGaveUp,
            ]),
            f.clone(),
        ),
        CancelGoal::Revoked => finalized(
            edge([
                Edge::RevokedAtAs,
                Edge::RevokedUnknownToAs,
                Edge::RevokedGaveUp,
            ]),
            Outcome::Revoked { at: cx.now },
            Change::Revoked,
        ),
        CancelGoal::Rejected => finalized(
            edge([
                Edge::RejectedAtAs,
                Edge::RejectedUnknownToAs,
                Edge::RejectedGaveUp,
            ]),
            Outcome::Rejected { at: cx.now },
            Change::Rejected,
        ),
    }
}
