//! Events: what happened to a grant (a command, an HTTP outcome, a finish callback, time passing).

use std::fmt;
use std::sync::Arc;

use grantflow_protocol::grant::{GrantResponse, RotatedToken};
use grantflow_protocol::text::{UNTRUSTED_TEXT_MAX_CHARS, untrusted};
use grantflow_protocol::{GnapError, Secret};
use serde::{Deserialize, Serialize};

use crate::intent::GrantIntent;
use crate::kind::{AnswerKind, EventKind};
use crate::redact::RedactedInteraction;

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

/// The query of the interaction finish redirect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FinishCallback {
    /// `?hash=...&interact_ref=...`: the user approved (if the hash verifies).
    Approved {
        /// The `hash` parameter, percent-decoded (base64url without padding per RFC 9635, or the
        /// reference server's padded standard base64).
        hash: String,
        /// The single-use interaction reference.
        interact_ref: Secret,
    },
    /// `?result=...[&message=...]` (the reference server's failure redirects): `grant_rejected`
    /// means the user denied; anything else is a failed interaction.
    Result {
        /// The `result` parameter, cleaned ([`untrusted`]: no control characters, at most
        /// [`UNTRUSTED_TEXT_MAX_CHARS`] characters).
        result: String,
        /// The `message` parameter, cleaned the same way.
        message: Option<String>,
    },
}

impl fmt::Debug for FinishCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Approved { hash, interact_ref } => f
                .debug_struct("Approved")
                .field("hash", hash)
                .field("interact_ref", interact_ref)
                .finish(),
            Self::Result { result, message } => f
                .debug_struct("Result")
                .field("result", result)
                .field("message", message)
                .finish(),
        }
    }
}

/// Why a finish callback query could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackQueryError {
    /// `hash` without `interact_ref`, or the other way round.
    #[error(
        "the finish callback has `{present}` but no `{missing}`: both `hash` and `interact_ref` are required"
    )]
    Incomplete {
        /// The parameter that is there.
        present: &'static str,
        /// The parameter that is missing.
        missing: &'static str,
    },
    /// Neither `hash` + `interact_ref` nor `result`.
    #[error("the finish callback has neither `hash` + `interact_ref` nor `result`")]
    Empty,
    /// A parameter appears twice.
    #[error("the finish callback has the parameter `{0}` more than once")]
    Duplicate(&'static str),
}

impl FinishCallback {
    /// Builds a callback from percent-decoded query pairs (e.g. `url::Url::query_pairs`).
    /// Unknown parameters are ignored; `hash` + `interact_ref` win over `result`.
    ///
    /// ```
    /// use grantflow_machine::FinishCallback;
    ///
    /// let cb = FinishCallback::from_query_pairs([("result", "grant_rejected")]).unwrap();
    /// assert!(matches!(cb, FinishCallback::Result { ref result, .. } if result == "grant_rejected"));
    /// let cb = FinishCallback::from_query_pairs([("hash", "x+g="), ("interact_ref", "r")]).unwrap();
    /// assert!(matches!(cb, FinishCallback::Approved { .. }));
    /// ```
    pub fn from_query_pairs<I, K, V>(pairs: I) -> Result<Self, CallbackQueryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        fn set(
            slot: &mut Option<String>,
            name: &'static str,
            value: &str,
        ) -> Result<(), CallbackQueryError> {
            if slot.replace(value.to_owned()).is_some() {
                return Err(CallbackQueryError::Duplicate(name));
            }
            Ok(())
        }
        let (mut hash, mut interact_ref, mut result, mut message) = (None, None, None, None);
        for (k, v) in pairs {
            let v = v.as_ref();
            match k.as_ref() {
                "hash" => set(&mut hash, "hash", v)?,
                "interact_ref" => set(&mut interact_ref, "interact_ref", v)?,
                "result" => set(&mut result, "result", v)?,
                "message" => set(&mut message, "message", v)?,
                _ => {}
            }
        }
        match (hash, interact_ref, result) {
            (Some(hash), Some(r), _) => Ok(Self::Approved {
                hash,
                interact_ref: Secret::new(r),
            }),
            (Some(_), None, None) => Err(CallbackQueryError::Incomplete {
                present: "hash",
                missing: "interact_ref",
            }),
            (None, Some(_), None) => Err(CallbackQueryError::Incomplete {
                present: "interact_ref",
                missing: "hash",
            }),
            // Whoever opens the finish URI writes these: store and show them cleaned.
            (_, _, Some(result)) => Ok(Self::Result {
                result: untrusted(&result, UNTRUSTED_TEXT_MAX_CHARS),
                message: message.map(|m| untrusted(&m, UNTRUSTED_TEXT_MAX_CHARS)),
            }),
            (None, None, None) => Err(CallbackQueryError::Empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_and_its_message_are_stored_cleaned() {
        let message = format!(
            "\u{fffd}\u{fffd}\r\n\u{1b}[2Jforged line{}",
            "!".repeat(1000)
        );
        let cb = FinishCallback::from_query_pairs([
            ("result", "something_else\u{0}"),
            ("message", message.as_str()),
        ])
        .unwrap();
        let FinishCallback::Result { result, message } = cb else {
            panic!("a result callback")
        };
        assert_eq!(result, "something_else");
        let message = message.unwrap();
        assert!(message.starts_with("[2Jforged line!!!"), "{message}");
        assert_eq!(message.chars().count(), UNTRUSTED_TEXT_MAX_CHARS);
    }

    #[test]
    fn query_pairs() {
        let cb = FinishCallback::from_query_pairs([
            ("result", "invalid_interaction"),
            ("message", "interaction expired"),
        ])
        .unwrap();
        assert_eq!(
            cb,
            FinishCallback::Result {
                result: "invalid_interaction".into(),
                message: Some("interaction expired".into())
            }
        );
        assert_eq!(
            FinishCallback::from_query_pairs([("hash", "h")]),
            Err(CallbackQueryError::Incomplete {
                present: "hash",
                missing: "interact_ref"
            })
        );
        assert_eq!(
            FinishCallback::from_query_pairs(Vec::<(String, String)>::new()),
            Err(CallbackQueryError::Empty)
        );
        assert_eq!(
            FinishCallback::from_query_pairs([("hash", "a"), ("hash", "b")]),
            Err(CallbackQueryError::Duplicate("hash"))
        );
        let cb = FinishCallback::from_query_pairs([("hash", "h"), ("interact_ref", "SECRET-ref")])
            .unwrap();
        assert!(!format!("{cb:?}").contains("SECRET"));
    }
}
