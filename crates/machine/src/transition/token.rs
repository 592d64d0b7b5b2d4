//! `Finalized(Issued)`: the access token's sub-lifecycle. Active, rotating (`POST` on the manage
//! URL, not idempotent: re-sent once after an ambiguous outcome) or revoking (`DELETE` on the
//! manage URL, idempotent: retried until answered).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_protocol::GnapErrorCode;
use grantflow_protocol::grant::{AccessToken, IssuedGrant};

use super::call::{CallOutcome, LostEdges, RetryEdges, classify, resend_once, retry, send_due};
use super::canceling::cancel;
use super::{Cx, Transition, add, finalized, refusal};
use crate::effect::{Change, Effect, Effects};
use crate::error::MachineError;
use crate::event::{Answer, Event};
use crate::kind::{CallKind, StateKind};
use crate::state::{Call, CancelGoal, GrantState, Issued, Lost, LostReason, Outcome, TokenState};
use crate::table::Edge;

const ROTATE_RETRY: RetryEdges = RetryEdges {
    not_sent: Edge::RotateNotSent,
    too_fast: Edge::RotateTooFast,
    throttled: Edge::RotateThrottled,
    server_error: Edge::RotateServerError,
    ambiguous: Edge::RotateAmbiguous,
    resumed: Edge::RotateResumed,
};

const ROTATE_LOST: LostEdges = LostEdges {
    server_error: Edge::RotateServerErrorTwice,
    ambiguous: Edge::RotateAmbiguousTwice,
    resumed: Edge::RotateResumedTwice,
};

const REVOKE_RETRY: RetryEdges = RetryEdges {
    not_sent: Edge::RevokeNotSent,
    too_fast: Edge::RevokeTooFast,
    throttled: Edge::RevokeServerTrouble,
    server_error: Edge::RevokeServerTrouble,
    ambiguous: Edge::RevokeAmbiguous,
    resumed: Edge::RevokeResumed,
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
        (TokenState::Rotating { call }, event) => rotating(i, *call, event, cx, &with_token_state),
        (TokenState::Revoking { call }, event) => revoking(i, *call, event, cx, &with_token_state),
        (TokenState::Active { .. }, event) => Err(refusal(StateKind::Issued, None, &event)),
    }
}

fn rotating(
    i: &Issued,
    call: Call,
    event: Event,
    cx: Cx<'_>,
    with_token_state: &dyn Fn(Edge, TokenState) -> Transition,
) -> Result<Transition, MachineError> {
    let lose = |edge: Edge, lost: Lost| cancel(edge, &i.continuation, CancelGoal::Lost(lost), cx);
    if let Event::Wake = event {
        if !call.in_flight() {
            let call = send_due(call, cx)?;
            return Ok(with_token_state(
                Edge::RotateDue,
                TokenState::Rotating { call },
            ));
        }
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
            let (edge, reason) = if call.resent_after_ambiguity {
                let reason = LostReason::RefusedAfterResend { status, error };
                (Edge::RotateRefusedResent, reason)
            } else {
                let reason = LostReason::RotationRefused { status, error };
                (Edge::RotationRefused, reason)
            };
            let lost = Lost {
                call: CallKind::Rotate,
                reason,
            };
            Ok(lose(edge, lost))
        }
        Ok(CallOutcome::Trouble(t)) => Ok(
            match resend_once(call, t, &ROTATE_RETRY, &ROTATE_LOST, cx) {
                (edge, Ok(call)) => with_token_state(edge, TokenState::Rotating { call }),
                (edge, Err(lost)) => lose(edge, lost),
            },
        ),
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
    call: Call,
    event: Event,
    cx: Cx<'_>,
    with_token_state: &dyn Fn(Edge, TokenState) -> Transition,
) -> Result<Transition, MachineError> {
    if let Event::Wake = event {
        if !call.in_flight() {
            let call = send_due(call, cx)?;
            return Ok(with_token_state(
                Edge::RevokeDue,
                TokenState::Revoking { call },
            ));
        }
    }
    match classify(event) {
        Ok(CallOutcome::Answer(Answer::NoContent)) => Ok(finalized(
            Edge::TokenRevoked,
            Outcome::Revoked { at: cx.now },
            Change::Revoked,
        )),
        // 401 invalid_client: the manage URL is unknown or the token already revoked.
        Ok(CallOutcome::Refusal { error, .. })
            if error.code == Some(GnapErrorCode::InvalidClient) =>
        {
            Ok(finalized(
                Edge::TokenAlreadyRevoked,
                Outcome::Revoked { at: cx.now },
                Change::Revoked,
            ))
        }
        // Any other refusal: revoke the whole grant instead (revokes all its tokens).
        Ok(CallOutcome::Refusal { .. }) => Ok(cancel(
            Edge::RevokeRefused,
            &i.continuation,
            CancelGoal::Revoked,
            cx,
        )),
        Ok(CallOutcome::Trouble(t)) => {
            let (edge, call) = retry(call, t, &REVOKE_RETRY, cx);
            Ok(with_token_state(edge, TokenState::Revoking { call }))
        }
        Ok(CallOutcome::Answer(answer)) => Err(refusal(
            StateKind::Revoking,
            call.in_flight_kind(),
            &Event::Answered { answer },
        )),
        Err(event) => Err(refusal(StateKind::Revoking, call.in_flight_kind(), &event)),
    }
}
