//! A call's life, shared by every state: send it (marking it in flight), take a failure (back off,
//! keep the first failing instant and the last error), notice it was lost in flight, give up when
//! the recovery budget is spent.

use chrono::TimeDelta;

use super::Cx;
use crate::effect::{Effect, PaymentCall};
use crate::error::PaymentError;
use crate::kind::CallKind;
use crate::state::{Call, TokenUse};

/// Marks `call` in flight now and gives the effect that makes it.
pub(super) fn send(call: &Call, what: PaymentCall, cx: Cx<'_>) -> (Call, Effect) {
    let refresh_token = call.token == TokenUse::RefreshFirst;
    let sent = Call {
        attempts: call.attempts.saturating_add(1),
        in_flight: true,
        wake_at: cx.after(cx.config.call_timeout),
        token: if refresh_token {
            TokenUse::Refreshed
        } else {
            call.token
        },
        ..call.clone()
    };
    (
        sent,
        Effect {
            call: what,
            refresh_token,
        },
    )
}

/// A new call of `kind`, sent now, that continues the trouble of `before` (its first failing
/// instant, last error and token) when there is one.
pub(super) fn follow_up(
    before: &Call,
    kind: CallKind,
    what: PaymentCall,
    cx: Cx<'_>,
) -> (Call, Effect) {
    let due = Call {
        failing_since: before.failing_since,
        last_error: before.last_error.clone(),
        token: TokenUse::Current,
        ..Call::due(kind, cx.now)
    };
    send(&due, what, cx)
}

/// The attempt failed with `error` (not acted, or acted in a way the state handles): due again
/// after the back-off, or after `delay` when given.
pub(super) fn retry(call: &Call, error: String, delay: Option<TimeDelta>, cx: Cx<'_>) -> Call {
    let delay = delay.unwrap_or_else(|| backoff(call, cx));
    Call {
        in_flight: false,
        wake_at: cx.after(delay),
        failing_since: Some(call.failing_since.unwrap_or(cx.now)),
        last_error: Some(error),
        token: TokenUse::Current,
        ..call.clone()
    }
}

/// The RS answered 403 "Inactive Token": rotate the token and send again now, or, when the attempt
/// already ran with a rotated token, `None` (the caller decides).
pub(super) fn refresh(call: &Call, error: String, cx: Cx<'_>) -> Option<Call> {
    (call.token != TokenUse::Refreshed).then(|| Call {
        token: TokenUse::RefreshFirst,
        ..retry(call, error, Some(TimeDelta::zero()), cx)
    })
}

/// What a `Wake` finds.
pub(super) enum Woken {
    /// The call is due: send it.
    Due,
    /// The call was in flight and its caller lost it (crash, lapsed lease): its outcome is unknown.
    /// The call, with the loss recorded as a failure, is due now.
    Lost(Call),
    /// The call kept failing for the whole recovery budget (the loss, if any, recorded).
    GiveUp(Call),
}

/// What a `Wake` at `cx.now` means for `call`.
pub(super) fn woken(call: &Call, cx: Cx<'_>) -> Result<Woken, PaymentError> {
    if call.in_flight {
        let lost = Call {
            in_flight: false,
            wake_at: cx.now,
            failing_since: Some(call.failing_since.unwrap_or(cx.now)),
            last_error: Some(format!(
                "the answer to attempt {} was lost (crash or lapsed lease)",
                call.attempts
            )),
            ..call.clone()
        };
        return Ok(if budget_spent(&lost, cx) {
            Woken::GiveUp(lost)
        } else {
            Woken::Lost(lost)
        });
    }
    if cx.now < call.wake_at {
        return Err(PaymentError::NotDue {
            wake_at: call.wake_at,
        });
    }
    Ok(if budget_spent(call, cx) {
        Woken::GiveUp(call.clone())
    } else {
        Woken::Due
    })
}

fn budget_spent(call: &Call, cx: Cx<'_>) -> bool {
    call.failing_since
        .is_some_and(|since| cx.now >= super::add(since, cx.config.recovery_budget))
}

/// `retry_base_delay · 2^(attempts−1)`, capped at `max_retry_delay`, jittered into its upper half
/// by a value derived from the instant and the attempt (deterministic: replay reproduces it).
fn backoff(call: &Call, cx: Cx<'_>) -> TimeDelta {
    let base = cx.config.retry_base_delay.num_milliseconds().max(1);
    let max = cx.config.max_retry_delay.num_milliseconds().max(base);
    let exp = call.attempts.saturating_sub(1).min(30);
    let full = base.saturating_mul(1i64 << exp).min(max);
    let half = full / 2;
    let nanos = cx
        .now
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .unsigned_abs();
    let jitter = (nanos ^ (u64::from(call.attempts) << 40)) % (half.unsigned_abs() + 1);
    TimeDelta::milliseconds(half + i64::try_from(jitter).unwrap_or(0))
}
