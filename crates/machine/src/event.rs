//! Events: what happened to a grant (a command, an HTTP outcome, a finish callback, time passing).

use std::fmt;
use std::sync::Arc;

use grantflow_protocol::GnapError;
use grantflow_protocol::grant::{GrantResponse, RotatedToken};
use serde::{Deserialize, Serialize};

use crate::intent::GrantIntent;
use crate::kind::{AnswerKind, EventKind};
use crate::redact::RedactedInteraction;

/// The finish callback's query, parsed by `grantflow-protocol` (it is wire format, and fuzzed
/// there); re-exported so the machine's paths stay as they were.
pub use grantflow_protocol::finish_callback::{CallbackQueryError, FinishCallback};

/// Something that happened to a grant. Events are recorded (the audit trail) and replaying them
/// from [`GrantState::Initial`](crate::GrantState::Initial) reproduces the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Command: request this grant. The first event of every grant.
    Request {
        /// What to request, and where.
        intent: Arc<GrantIntent>,
    },
    /// Command: cancel the grant (at the AS too, once it has a continuation).
    Cancel,
    /// Command: rotate the access token of an issued grant now.
    RotateNow,
    /// Command: revoke the access token of an issued grant.
    Revoke,
    /// The call in flight got a successful HTTP answer, parsed.
    Answered {
        /// The parsed answer.
        answer: Answer,
    },
    /// The call in flight got an error answer (any non-2xx with a parsed GNAP error body; a
    /// body without `code` gives `error.code == None`).
    Refused {
        /// The HTTP status.
        status: u16,
        /// The GNAP error.
        error: GnapError,
    },
    /// The call in flight failed before the request was sent (connect refused, DNS, TLS): the AS
    /// certainly did not see it.
    NotSent {
        /// What went wrong, for the record.
        detail: String,
    },
    /// The call in flight got a success status whose body does not parse (or breaks a protocol
    /// rule). The AS acted: the call is not sent again. Only for calls whose answer carries data
    /// (grant request, continue, poll, rotate); a 2xx to a `DELETE` is
    /// [`Answer::NoContent`] whatever its body.
    Malformed {
        /// The HTTP status.
        status: u16,
        /// The parse error (position and what was expected).
        error: String,
        /// The start of the body, for the grant's reason. The driver must pass only text that is
        /// safe to show: the machine keeps at most [`Event::BODY_START_CHARS`] characters of it.
        body_start: String,
    },
    /// The call in flight may or may not have reached the AS (timeout after sending, connection
    /// reset before the answer).
    Ambiguous {
        /// What went wrong, for the record.
        detail: String,
    },
    /// The interaction finish callback arrived (the query of the redirect to the finish URI).
    FinishCallback {
        /// The parsed query.
        callback: FinishCallback,
    },
    /// Time passed: the grant's `next_wake_at` is due. Also what the driver sends after a crash or
    /// a lapsed lease to resume a grant with a call in flight (then an ambiguous outcome).
    Wake,
}

impl Event {
    /// How much of a malformed body the machine keeps (see [`Event::Malformed`]).
    pub const BODY_START_CHARS: usize = 200;

    /// Whether this event is the outcome of a call (an answer, a refusal, not sent, ambiguous):
    /// it needs a call in flight.
    pub fn is_call_outcome(&self) -> bool {
        matches!(
            self,
            Self::Answered { .. }
                | Self::Refused { .. }
                | Self::NotSent { .. }
                | Self::Ambiguous { .. }
        )
    }

    /// The coarse event, as named in the transition table.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Request { .. } => EventKind::Request,
            Self::Cancel => EventKind::Cancel,
            Self::RotateNow => EventKind::RotateNow,
            Self::Revoke => EventKind::Revoke,
            Self::Answered { answer } => match answer {
                Answer::Grant(GrantResponse::Pending(_)) => EventKind::AnsweredPending,
                Answer::Grant(GrantResponse::Issued(_)) => EventKind::AnsweredIssued,
                Answer::Grant(GrantResponse::Continuation(_)) => EventKind::AnsweredContinuation,
                Answer::Rotated(_) => EventKind::AnsweredRotated,
                Answer::NoContent => EventKind::AnsweredNoContent,
            },
            Self::Refused { error, .. } => match &error.code {
                Some(grantflow_protocol::GnapErrorCode::TooFast) => EventKind::RefusedTooFast,
                _ => EventKind::Refused,
            },
            Self::Malformed { .. } => EventKind::Malformed,
            Self::NotSent { .. } => EventKind::NotSent,
            Self::Ambiguous { .. } => EventKind::Ambiguous,
            Self::FinishCallback { callback } => match callback {
                FinishCallback::Approved { .. } => EventKind::FinishApproved,
                FinishCallback::Result { .. } => EventKind::FinishResult,
            },
            Self::Wake => EventKind::Wake,
        }
    }
}

/// A successful answer, parsed as the protocol type of the call that was made.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum Answer {
    /// The answer to a grant request, a continue or a poll.
    Grant(GrantResponse),
    /// The answer to a rotation.
    Rotated(RotatedToken),
    /// `204 No Content`: the answer to a cancel or a token revocation.
    NoContent,
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Grant(GrantResponse::Pending(p)) => f
                .debug_struct("Pending")
                .field("interact", &RedactedInteraction(&p.interact))
                .field("continue", &p.continue_)
                .finish(),
            Self::Grant(g) => f.debug_tuple("Grant").field(g).finish(),
            Self::Rotated(r) => f.debug_tuple("Rotated").field(r).finish(),
            Self::NoContent => f.write_str("NoContent"),
        }
    }
}

impl Answer {
    /// What kind of answer this is.
    pub fn kind(&self) -> AnswerKind {
        match self {
            Self::Grant(GrantResponse::Pending(_)) => AnswerKind::Pending,
            Self::Grant(GrantResponse::Issued(_)) => AnswerKind::Issued,
            Self::Grant(GrantResponse::Continuation(_)) => AnswerKind::Continuation,
            Self::Rotated(_) => AnswerKind::Rotated,
            Self::NoContent => AnswerKind::NoContent,
        }
    }
}
