//! `Canceling`: the `DELETE` on the continuation URI (idempotent: retried until answered), then
//! the final state the cancel was for ([`CancelGoal`]).

use std::sync::Arc;

use grantflow_protocol::grant::Continuation;

use super::call::{CallOutcome, RetryEdges, classify, retry, send_due};
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
    throttled: Edge::CancelServerTrouble,
    server_error: Edge::CancelServerTrouble,
    ambiguous: Edge::CancelAmbiguous,
    resumed: Edge::CancelResumed,
};

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
        if !s.call.in_flight() {
            return Ok(with_call(Edge::CancelDue, send_due(s.call, cx)?));
        }
    }
    match classify(event) {
        Ok(CallOutcome::Answer(Answer::NoContent)) => Ok(reach_goal(&s.then, true, cx)),
        // 401 invalid_continuation / 404 invalid_request: the AS no longer knows the
        // continuation (already canceled or revoked). Nothing more can be done from here.
        Ok(CallOutcome::Refusal { .. }) => Ok(reach_goal(&s.then, false, cx)),
        Ok(CallOutcome::Trouble(t)) => {
            let (edge, call) = retry(s.call, t, &RETRY, cx);
            Ok(with_call(edge, call))
        }
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

/// The final state of a cancel, confirmed by the AS (`204`) or not known to it any more (4xx).
fn reach_goal(goal: &CancelGoal, confirmed: bool, cx: Cx<'_>) -> Transition {
    let edge = |at_as: Edge, unknown: Edge| if confirmed { at_as } else { unknown };
    match goal {
        CancelGoal::Canceled => finalized(
            edge(Edge::CanceledAtAs, Edge::CanceledUnknownToAs),
            Outcome::Canceled { at: cx.now },
            Change::Canceled,
        ),
        CancelGoal::Expired { deadline } => Transition::new(
            edge(Edge::ExpiredAtAs, Edge::ExpiredUnknownToAs),
            GrantState::Expired(ExpiredGrant {
                deadline: *deadline,
                at: cx.now,
            }),
            Effects::notify(Change::Expired),
        ),
        CancelGoal::Lost(lost) => finalized(
            edge(Edge::LostAtAs, Edge::LostUnknownToAs),
            Outcome::Lost(lost.clone()),
            Change::Lost,
        ),
        CancelGoal::Failed(f) => failed(edge(Edge::FailedAtAs, Edge::FailedUnknownToAs), f.clone()),
        CancelGoal::Revoked => finalized(
            edge(Edge::RevokedAtAs, Edge::RevokedUnknownToAs),
            Outcome::Revoked { at: cx.now },
            Change::Revoked,
        ),
    }
}
