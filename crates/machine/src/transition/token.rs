//! `Finalized(Issued)`: the access token's sub-lifecycle. Active, rotating (`POST` on the manage
//! URL, not idempotent: re-sent once after an ambiguous outcome) or revoking (`DELETE` on the
//! manage URL, idempotent: retried until answered).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_protocol::GnapErrorCode;
use grantflow_protocol::grant::{AccessToken, IssuedGrant};

use super::call::{CallOutcome, RetryEdges, Woken, classify, fail, wake};
use super::canceling::cancel;
use super::{Cx, Transition, add, finalized, refusal};
use crate::config::Rotation;
use crate::effect::{Change, Effect, Effects};
use crate::error::MachineError;
use crate::event::{Answer, Event};
use crate::kind::{CallKind, StateKind};
use crate::state::{
    Call, CancelGoal, Failure, GrantState, Issued, Lost, LostReason, Outcome, TokenState,
};
use crate::table::Edge;

const ROTATE_RETRY: RetryEdges = RetryEdges {
    not_sent: Edge::RotateNotSent,
    too_fast: Edge::RotateTooFast,
    server_trouble: Edge::RotateServerTrouble,
    ambiguous: Edge::RotateAmbiguous,
};

const REVOKE_RETRY: RetryEdges = RetryEdges {
    not_sent: Edge::RevokeNotSent,
    too_fast: Edge::RevokeTooFast,
    server_trouble: Edge::RevokeServerTrouble,
    ambiguous: Edge::RevokeAmbiguous,
};

/// The grant is issued (along `edge`): its token becomes active.
pub(super) fn issue(edge: Edge, grant: IssuedGrant, cx: Cx<'_>) -> Transition {
    let IssuedGrant {
        access_token,
        continue_,
        subject,
    } = grant;
    let token = Arc::new(access_token);
    let (expires_at, rotate_at) = expiry(&token, cx);
    let issued = Issued {
        continuation: Arc::new(continue_),
        token,
        subject: subject.map(Arc::new),
        token_received_at: cx.now,
        expires_at,
        token_state: TokenState::Active { rotate_at },
    };
    finalized(edge, Outcome::Issued(issued), Change::Issued)
}

/// `(expires_at, rotate_at)` of a token received at `cx.now`.
fn expiry(token: &AccessToken, cx: Cx<'_>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let Some(secs) = token.expires_in else {
        return (None, None);
    };
    let lifetime = TimeDelta::seconds(i64::try_from(secs.min(10 * 365 * 86_400)).unwrap_or(0));
    let expires_at = cx.after(lifetime);
    let rotate_at = match cx.config.rotation {
        // Before the AS could forget the expired token.
        Rotation::OnDemand => add(expires_at, cx.config.keep_alive),
        // Expiry minus the margin (at most half the lifetime), and never sooner than the retry
        // base delay, so a tiny `expires_in` cannot make the grant rotate in a tight loop.
        Rotation::KeepWarm => add(expires_at, -cx.config.margin_for(lifetime))
            .max(cx.after(cx.config.retry_base_delay)),
    };
    (Some(expires_at), Some(rotate_at))
}

pub(super) fn issued(i: &Issued, event: Event, cx: Cx<'_>) -> Result<Transition, MachineError> {
    let with_token_state = |edge: Edge, token_state: TokenState| {
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
        let issued = Issued {
            token_state,
            ..i.clone()
        };
        Transition::new(
            edge,
            GrantState::Finalized(Outcome::Issued(issued)),
            effects,
        )
    };
    let rotate = |edge: Edge| {
        let call = Call::start(CallKind::Rotate, cx.now, 1, cx.config);
        with_token_state(edge, TokenState::Rotating { call })
    };
    let revoke = |edge: Edge| {
        let call = Call::start(CallKind::RevokeToken, cx.now, 1, cx.config);
        with_token_state(edge, TokenState::Revoking { call })
    };
    let cancel_grant = |edge: Edge, call: Option<&Call>, event: &Event| match call {
        Some(call) if call.in_flight() => Err(MachineError::CallInFlight {
            call: call.kind,
            event: event.kind(),
        }),
        _ => Ok(cancel(edge, &i.continuation, CancelGoal::Canceled, cx)),
    };
    match (&i.token_state, event) {
        (TokenState::Active { rotate_at }, Event::Wake) => match rotate_at {
            Some(at) if cx.now >= *at => Ok(rotate(Edge::RotationDue)),
            Some(at) => Err(MachineError::NotDue { at: *at }),
            None => Err(MachineError::NothingScheduled {
                state: StateKind::Issued,
            }),
        },
        (TokenState::Active { .. }, Event::RotateNow) => Ok(rotate(Edge::RotateOnCommand)),
        (TokenState::Active { .. }, Event::Revoke) => Ok(revoke(Edge::RevokeOnCommand)),
        (TokenState::Active { .. }, event @ Event::Cancel) => {
            cancel_grant(Edge::IssuedCanceled, None, &event)
        }
        (TokenState::Rotating { call }, event @ Event::Cancel) => {
            cancel_grant(Edge::RotatingCanceled, Some(call), &event)
        }
        (TokenState::Revoking { call }, event @ Event::Cancel) => {
            cancel_grant(Edge::RevokingCanceled, Some(call), &event)
        }
        (TokenState::Rotating { call }, Event::Revoke) if !call.in_flight() => {
            Ok(revoke(Edge::RotatingRevoked))
        }
        (TokenState::Rotating { call }, event) => rotating(i, call, event, cx, &with_token_state),
        (TokenState::Revoking { call }, event) => revoking(i, call, event, cx, &with_token_state),
        (TokenState::Active { .. }, event) => Err(refusal(StateKind::Issued, None, &event)),
    }
}

fn rotating(
    i: &Issued,
    call: &Call,
    event: Event,
    cx: Cx<'_>,
    with_token_state: &dyn Fn(Edge, TokenState) -> Transition,
) -> Result<Transition, MachineError> {
    let cancel_then = |edge: Edge, goal: CancelGoal| cancel(edge, &i.continuation, goal, cx);
    if let Event::Wake = event {
        return Ok(match wake(call, cx)? {
            Woken::Send(call) => with_token_state(Edge::RotateDue, TokenState::Rotating { call }),
            Woken::Resend(call) => {
                with_token_state(Edge::RotateResumed, TokenState::Rotating { call })
            }
            Woken::GiveUp(give_up) if give_up.outcome_unknown => {
                cancel_then(Edge::RotateLost, give_up.goal())
            }
            // No attempt reached the AS: the old token is as good as before. Try again later.
            Woken::GiveUp(_) => {
                let (_, rotate_at) = expiry(&i.token, cx);
                let later = cx.after(cx.config.max_retry_delay);
                let rotate_at = rotate_at.map(|at| at.max(later));
                with_token_state(Edge::RotateGaveUp, TokenState::Active { rotate_at })
            }
        });
    }
    match classify(event) {
        Ok(CallOutcome::Answer(Answer::Rotated(r))) => {
            let token = Arc::new(r.access_token);
            let (expires_at, rotate_at) = expiry(&token, cx);
            let issued = Issued {
                continuation: i.continuation.clone(),
                token,
                subject: i.subject.clone(),
                token_received_at: cx.now,
                expires_at,
                token_state: TokenState::Active { rotate_at },
            };
            Ok(Transition::new(
                Edge::Rotated,
                GrantState::Finalized(Outcome::Issued(issued)),
                Effects::notify(Change::TokenRotated),
            ))
        }
        Ok(CallOutcome::Refusal { status, error }) => {
            if call.resent_after_ambiguity && error.code == Some(GnapErrorCode::InvalidClient) {
                // Proof: an earlier attempt whose answer we never saw rotated the token (the old
                // value is now unknown to the AS).
                let lost = Lost {
                    call: CallKind::Rotate,
                    reason: LostReason::RefusedAfterResend { status, error },
                };
                return Ok(cancel_then(Edge::RotationConsumed, CancelGoal::Lost(lost)));
            }
            let failure = Failure::Refused {
                call: CallKind::Rotate,
                status,
                error,
            };
            Ok(cancel_then(
                Edge::RotationRefused,
                CancelGoal::Failed(failure),
            ))
        }
        Ok(CallOutcome::Malformed {
            status,
            error,
            body_start,
        }) => {
            // The AS rotated (the old token is gone) and the new one is unreadable.
            let failure = Failure::MalformedAnswer {
                call: CallKind::Rotate,
                status,
                error,
                body_start,
            };
            Ok(cancel_then(
                Edge::RotateMalformed,
                CancelGoal::Failed(failure),
            ))
        }
        Ok(CallOutcome::Trouble(t)) => {
            let (edge, call) = fail(call, t, cx.config.default_wait, &ROTATE_RETRY, cx);
            Ok(with_token_state(edge, TokenState::Rotating { call }))
        }
        Ok(CallOutcome::Answer(answer)) => Err(refusal(
            StateKind::Rotating,
            call.in_flight_kind(),
            &Event::Answered { answer },
        )),
        Err(event) => Err(refusal(StateKind::Rotating, call.in_flight_kind(), &event)),
    }
}

fn revoking(
    i: &Issued,
    call: &Call,
    event: Event,
    cx: Cx<'_>,
    with_token_state: &dyn Fn(Edge, TokenState) -> Transition,
) -> Result<Transition, MachineError> {
    // Whatever happens to the token, the grant is deleted next: `revoke` leaves nothing usable
    // at the AS.
    let delete_grant = |edge: Edge| cancel(edge, &i.continuation, CancelGoal::Revoked, cx);
    if let Event::Wake = event {
        return Ok(match wake(call, cx)? {
            Woken::Send(call) => with_token_state(Edge::RevokeDue, TokenState::Revoking { call }),
            Woken::Resend(call) => {
                with_token_state(Edge::RevokeResumed, TokenState::Revoking { call })
            }
            Woken::GiveUp(_) => delete_grant(Edge::RevokeGaveUp),
        });
    }
    match classify(event) {
        Ok(CallOutcome::Answer(Answer::NoContent)) => Ok(delete_grant(Edge::TokenRevoked)),
        // 401 invalid_client: the manage URL is unknown or the token already revoked.
        Ok(CallOutcome::Refusal { error, .. })
            if error.code == Some(GnapErrorCode::InvalidClient) =>
        {
            Ok(delete_grant(Edge::TokenAlreadyRevoked))
        }
        // Any other refusal: deleting the grant revokes all its tokens.
        Ok(CallOutcome::Refusal { .. }) => Ok(delete_grant(Edge::RevokeRefused)),
        Ok(CallOutcome::Trouble(t)) => {
            let (edge, call) = fail(call, t, cx.config.default_wait, &REVOKE_RETRY, cx);
            Ok(with_token_state(edge, TokenState::Revoking { call }))
        }
        Ok(CallOutcome::Malformed { .. }) => Err(MachineError::MalformedAnswerToDelete {
            call: CallKind::RevokeToken,
        }),
        Ok(CallOutcome::Answer(answer)) => Err(refusal(
            StateKind::Revoking,
            call.in_flight_kind(),
            &Event::Answered { answer },
        )),
        Err(event) => Err(refusal(StateKind::Revoking, call.in_flight_kind(), &event)),
    }
}
