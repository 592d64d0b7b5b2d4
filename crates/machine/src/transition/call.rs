//! A call's life, shared by every state that makes one: start, wait, send when due, and what a
//! failure does to it: every call is retried with jittered exponential back-off (`too_fast`: after
//! `wait`) until its recovery budget is spent; a non-idempotent call whose attempt had an unknown
//! outcome is remembered as possibly acted on, which decides `Lost` or `Failed` when the budget
//! runs out. Also the classification of a call's outcome.

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_protocol::{GnapError, GnapErrorCode};

use super::{Cx, add};
use crate::config::Config;
use crate::error::MachineError;
use crate::event::{Answer, Event};
use crate::kind::CallKind;
use crate::state::{Call, CallStatus, CallTrouble, CancelGoal, Failure, Lost, LostReason};
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
            trouble: None,
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
            trouble: None,
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
}

/// A call's outcome, classified by what it means for the grant.
pub(super) enum CallOutcome {
    /// A 2xx, parsed.
    Answer(Answer),
    /// A 2xx whose body does not parse: the AS acted, the answer is unusable.
    Malformed {
        status: u16,
        error: String,
        body_start: String,
    },
    /// A definite refusal (4xx other than 429 and `too_fast`).
    Refusal { status: u16, error: GnapError },
    /// Anything short of a definite answer.
    Trouble(Trouble),
}

/// What went wrong with a call, short of a definite refusal.
pub(super) enum Trouble {
    /// Never sent.
    NotSent { detail: String },
    /// `too_fast`: the next attempt waits `wait` after this one.
    TooFast { error: GnapError },
    /// 429.
    Throttled { error: GnapError },
    /// A 5xx: the server may have acted before failing.
    ServerError { status: u16, error: GnapError },
    /// Timeout after sending, reset connection.
    Ambiguous { detail: String },
}

impl Trouble {
    /// Whether the AS may have acted on the attempt.
    fn outcome_unknown(&self) -> bool {
        matches!(self, Self::ServerError { .. } | Self::Ambiguous { .. })
    }

    fn describe(self) -> String {
        match self {
            Self::NotSent { detail } => format!("not sent: {detail}"),
            Self::TooFast { error } => format!("HTTP 400, {error}"),
            Self::Throttled { error } => format!("HTTP 429, {error}"),
            Self::ServerError { status, error } => format!("HTTP {status}, {error}"),
            Self::Ambiguous { detail } => format!("outcome unknown: {detail}"),
        }
    }
}

/// Classifies a call outcome event; any other event is handed back.
// The `Err` is the event itself, moved back to the caller (no copy, no allocation), and only on
// the refusal path.
#[allow(clippy::result_large_err)]
pub(super) fn classify(event: Event) -> Result<CallOutcome, Event> {
    Ok(match event {
        Event::Answered { answer } => CallOutcome::Answer(answer),
        Event::Refused { status, error } => {
            if error.code == Some(GnapErrorCode::TooFast) {
                CallOutcome::Trouble(Trouble::TooFast { error })
            } else if status == 429 {
                CallOutcome::Trouble(Trouble::Throttled { error })
            } else if status >= 500 {
                CallOutcome::Trouble(Trouble::ServerError { status, error })
            } else {
                CallOutcome::Refusal { status, error }
            }
        }
        Event::Malformed {
            status,
            error,
            body_start,
        } => CallOutcome::Malformed {
            status,
            error,
            body_start: body_start.chars().take(Event::BODY_START_CHARS).collect(),
        },
        Event::NotSent { detail } => CallOutcome::Trouble(Trouble::NotSent { detail }),
        Event::Ambiguous { detail } => CallOutcome::Trouble(Trouble::Ambiguous { detail }),
        other => return Err(other),
    })
}

/// The edges a call family takes on [`Trouble`] (the call is then due again).
pub(super) struct RetryEdges {
    pub(super) not_sent: Edge,
    pub(super) too_fast: Edge,
    pub(super) server_trouble: Edge,
    pub(super) ambiguous: Edge,
}

/// The call after `trouble`: due again after the back-off (exponential, jittered), or, after a
/// `too_fast`, `wait` after the attempt that got it. The trouble is recorded (since when, last
/// error); an unknown outcome marks a non-idempotent call as possibly acted on.
pub(super) fn fail(
    call: &Call,
    trouble: Trouble,
    wait: TimeDelta,
    edges: &RetryEdges,
    cx: Cx<'_>,
) -> (Edge, Call) {
    let edge = match &trouble {
        Trouble::NotSent { .. } => edges.not_sent,
        Trouble::TooFast { .. } => edges.too_fast,
        Trouble::Throttled { .. } | Trouble::ServerError { .. } => edges.server_trouble,
        Trouble::Ambiguous { .. } => edges.ambiguous,
    };
    let failures = call.failures.saturating_add(1);
    let at = match (&trouble, call.status) {
        (Trouble::TooFast { .. }, CallStatus::InFlight { since, .. }) => {
            add(since, wait).max(cx.now)
        }
        _ => cx.after(cx.config.retry_delay(failures, jitter(call, cx))),
    };
    let unknown = trouble.outcome_unknown() && call.kind.is_non_idempotent();
    let call = Call {
        status: CallStatus::Due { at },
        failures,
        resent_after_ambiguity: call.resent_after_ambiguity || unknown,
        trouble: Some(record(call, trouble.describe(), cx)),
        ..call.clone()
    };
    (edge, call)
}

fn record(call: &Call, last_error: String, cx: Cx<'_>) -> CallTrouble {
    CallTrouble {
        since: call.trouble.as_ref().map_or(cx.now, |t| t.since),
        last_error,
    }
}

/// The jitter seed of a back-off: the instant and the attempt (replay gives the same instants, so
/// the same delays).
fn jitter(call: &Call, cx: Cx<'_>) -> u64 {
    let nanos = cx.now.timestamp_nanos_opt().unwrap_or_default();
    u64::from_ne_bytes(nanos.to_ne_bytes()) ^ (u64::from(call.attempts) << 40) ^ call.kind as u64
}

/// What a `Wake` does to a grant's call.
pub(super) enum Woken {
    /// The call was due: sent now.
    Send(Call),
    /// The call was in flight (its caller crashed or lost its lease): outcome unknown, sent again.
    Resend(Call),
    /// The call has kept failing for the whole recovery budget.
    GiveUp(GiveUp),
}

/// A call given up after its recovery budget.
pub(super) struct GiveUp {
    pub(super) call: CallKind,
    pub(super) attempts: u32,
    pub(super) last_error: String,
    /// An attempt's outcome is unknown: it may have acted at the AS.
    pub(super) outcome_unknown: bool,
}

impl GiveUp {
    /// Lost, when an attempt may have acted; otherwise failed.
    pub(super) fn goal(self) -> CancelGoal {
        if self.outcome_unknown {
            CancelGoal::Lost(Lost {
                call: self.call,
                reason: LostReason::BudgetExhausted {
                    attempts: self.attempts,
                    last_error: self.last_error,
                },
            })
        } else {
            CancelGoal::Failed(self.failure())
        }
    }

    pub(super) fn failure(self) -> Failure {
        Failure::GaveUp {
            call: self.call,
            attempts: self.attempts,
            last_error: self.last_error,
        }
    }
}

/// A `Wake` for a grant whose scheduled work is `call`: send it when due, re-send it when it was
/// in flight, give up when it has failed for the whole budget, or refuse a wake before it is due.
pub(super) fn wake(call: &Call, cx: Cx<'_>) -> Result<Woken, MachineError> {
    let (call, resumed) = match call.status {
        CallStatus::Due { at } if cx.now < at => return Err(MachineError::NotDue { at }),
        CallStatus::Due { .. } => (call.clone(), false),
        CallStatus::InFlight { .. } => {
            let detail =
                "the call was in flight when the grant was resumed (crash or lapsed lease)";
            let resumed = Call {
                failures: call.failures.saturating_add(1),
                resent_after_ambiguity: call.resent_after_ambiguity
                    || call.kind.is_non_idempotent(),
                trouble: Some(record(call, format!("outcome unknown: {detail}"), cx)),
                ..call.clone()
            };
            (resumed, true)
        }
    };
    if let Some(trouble) = &call.trouble {
        if cx.now >= add(trouble.since, cx.config.recovery_budget) {
            return Ok(Woken::GiveUp(GiveUp {
                call: call.kind,
                attempts: call.attempts,
                last_error: trouble.last_error.clone(),
                outcome_unknown: call.resent_after_ambiguity,
            }));
        }
    }
    let sent = call.send(cx.now, cx.config);
    Ok(if resumed {
        Woken::Resend(sent)
    } else {
        Woken::Send(sent)
    })
}
