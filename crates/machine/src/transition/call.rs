//! A call's life, shared by every state that makes one: start, wait, send when due, and what a
//! failure does to it (idempotent calls retry with back-off; non-idempotent ones are re-sent once
//! after an ambiguous outcome, then lost). Also the classification of a call's outcome.

use chrono::DateTime;
use chrono::Utc;
use grantflow_protocol::{GnapError, GnapErrorCode};

use super::{Cx, add};
use crate::config::Config;
use crate::error::MachineError;
use crate::event::{Answer, Event};
use crate::kind::CallKind;
use crate::state::{Call, CallStatus, Lost, LostReason};
use crate::table::Edge;

impl Call {
    /// A call handed to the driver now (`attempts` sends so far, this one included).
    pub(super) fn start(
        kind: CallKind,
        now: DateTime<Utc>,
        attempts: u32,
        config: &Config,
    ) -> Self {
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

    /// The call's kind, if it is in flight.
    pub(super) fn in_flight_kind(&self) -> Option<CallKind> {
        self.in_flight().then_some(self.kind)
    }

    /// A call to send at `at`.
    pub(super) fn due(kind: CallKind, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            status: CallStatus::Due { at },
            attempts: 0,
            failures: 0,
            resent_after_ambiguity: false,
        }
    }

    /// This call, handed to the driver now.
    pub(super) fn send(self, now: DateTime<Utc>, config: &Config) -> Self {
        Self {
            status: CallStatus::InFlight {
                since: now,
                wake_at: add(now, config.call_timeout),
            },
            attempts: self.attempts.saturating_add(1),
            ..self
        }
    }

    /// This call, to send at `at`.
    pub(super) fn later(self, at: DateTime<Utc>) -> Self {
        Self {
            status: CallStatus::Due { at },
            ..self
        }
    }

    /// This call after one more transient failure: due after the back-off.
    pub(super) fn retry_later(self, cx: Cx<'_>) -> Self {
        let failures = self.failures.saturating_add(1);
        Self {
            failures,
            ..self.later(cx.after(cx.config.retry_delay(failures)))
        }
    }
}

/// A call's outcome, classified by what it means for the grant.
pub(super) enum CallOutcome {
    /// A 2xx, parsed.
    Answer(Answer),
    /// A definite refusal (4xx other than 429 and `too_fast`).
    Refusal { status: u16, error: GnapError },
    /// Anything short of a definite answer.
    Trouble(Trouble),
}

/// What went wrong with a call, short of a definite refusal.
pub(super) enum Trouble {
    /// Never sent.
    NotSent,
    /// `too_fast`.
    TooFast,
    /// 429.
    Throttled,
    /// A 5xx: the server may have acted before failing.
    ServerError { status: u16, error: GnapError },
    /// Timeout after sending, reset connection, unparseable answer.
    Ambiguous { detail: String },
    /// `Wake` with the call in flight: the caller lost it (crash, lapsed lease).
    Resumed,
}

/// Classifies a call outcome event (a `Wake` is a call resumed in flight); any other event is
/// handed back.
// The `Err` is the event itself, moved back to the caller (no copy, no allocation), and only on
// the refusal path.
#[allow(clippy::result_large_err)]
pub(super) fn classify(event: Event) -> Result<CallOutcome, Event> {
    Ok(match event {
        Event::Answered { answer } => CallOutcome::Answer(answer),
        Event::Refused { status, error } => {
            if error.code == Some(GnapErrorCode::TooFast) {
                CallOutcome::Trouble(Trouble::TooFast)
            } else if status == 429 {
                CallOutcome::Trouble(Trouble::Throttled)
            } else if status >= 500 {
                CallOutcome::Trouble(Trouble::ServerError { status, error })
            } else {
                CallOutcome::Refusal { status, error }
            }
        }
        Event::NotSent { .. } => CallOutcome::Trouble(Trouble::NotSent),
        Event::Ambiguous { detail } => CallOutcome::Trouble(Trouble::Ambiguous { detail }),
        Event::Wake => CallOutcome::Trouble(Trouble::Resumed),
        other => return Err(other),
    })
}

/// The edges a call family takes on [`Trouble`] when the call goes on (sent again now, or due
/// later).
pub(super) struct RetryEdges {
    pub(super) not_sent: Edge,
    pub(super) too_fast: Edge,
    pub(super) throttled: Edge,
    pub(super) server_error: Edge,
    pub(super) ambiguous: Edge,
    pub(super) resumed: Edge,
}

/// The edges a non-idempotent call family takes when the second ambiguous outcome loses it.
pub(super) struct LostEdges {
    pub(super) server_error: Edge,
    pub(super) ambiguous: Edge,
    pub(super) resumed: Edge,
}

impl RetryEdges {
    fn of(&self, trouble: &Trouble) -> Edge {
        match trouble {
            Trouble::NotSent => self.not_sent,
            Trouble::TooFast => self.too_fast,
            Trouble::Throttled => self.throttled,
            Trouble::ServerError { .. } => self.server_error,
            Trouble::Ambiguous { .. } => self.ambiguous,
            Trouble::Resumed => self.resumed,
        }
    }
}

/// An idempotent call (grant request, cancel, token revocation) after `trouble`: re-sent now when
/// resumed in flight, otherwise due after the back-off. Never lost.
pub(super) fn retry(call: Call, trouble: Trouble, edges: &RetryEdges, cx: Cx<'_>) -> (Edge, Call) {
    let edge = edges.of(&trouble);
    let call = match trouble {
        Trouble::Resumed => call.send(cx.now, cx.config),
        _ => call.retry_later(cx),
    };
    (edge, call)
}

/// A non-idempotent call (continue, poll, rotate) after `trouble`: never sent, `too_fast` and 429
/// back off; an ambiguous outcome (5xx, timeout, resumed in flight) is re-sent once, and a second
/// one loses the grant.
pub(super) fn resend_once(
    call: Call,
    trouble: Trouble,
    edges: &RetryEdges,
    lost: &LostEdges,
    cx: Cx<'_>,
) -> (Edge, Result<Call, Lost>) {
    let again = edges.of(&trouble);
    let (lost_edge, detail) = match trouble {
        Trouble::NotSent | Trouble::TooFast | Trouble::Throttled => {
            return (again, Ok(call.retry_later(cx)));
        }
        Trouble::ServerError { status, error } => {
            (lost.server_error, format!("HTTP {status}, {error}"))
        }
        Trouble::Ambiguous { detail } => (lost.ambiguous, detail),
        Trouble::Resumed => (
            lost.resumed,
            "the call was in flight when the grant was resumed (crash or lapsed lease)".to_owned(),
        ),
    };
    if call.resent_after_ambiguity {
        let lost = Lost {
            call: call.kind,
            reason: LostReason::AmbiguousTwice { detail },
        };
        (lost_edge, Err(lost))
    } else {
        let resent = Call {
            resent_after_ambiguity: true,
            ..call.send(cx.now, cx.config)
        };
        (again, Ok(resent))
    }
}

/// A `Wake` for a call that is due: sent now, or refused as not due yet. (A `Wake` with the call
/// in flight is [`Trouble::Resumed`].)
pub(super) fn send_due(call: Call, cx: Cx<'_>) -> Result<Call, MachineError> {
    match call.status {
        CallStatus::Due { at } if cx.now < at => Err(MachineError::NotDue { at }),
        _ => Ok(call.send(cx.now, cx.config)),
    }
}
