//! The coarse names of the machine's vocabulary: the kinds of state, event, answer and call.
//!
//! These sit below every other module: states, events, effects, errors and the transition table
//! all name things by these kinds, and this module imports none of them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The coarse states of the transition table. `Issued`, `Rotating` and `Revoking` are the token
/// sub-states of `Finalized(Issued)`; `Rejected` to `Lost` are the other outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// Before the first event.
    Initial,
    /// Grant request to send or in flight.
    Requested,
    /// Waiting for the user and the finish callback.
    AwaitingInteraction,
    /// Continuing with a verified `interact_ref`, or polling.
    Continuing,
    /// Canceling at the AS on the way to a final state.
    Canceling,
    /// Issued, token active.
    Issued,
    /// Issued, token rotating.
    Rotating,
    /// Issued, token being revoked.
    Revoking,
    /// Final: the user denied.
    Rejected,
    /// Final: canceled.
    Canceled,
    /// Final: revoked.
    Revoked,
    /// Final: failed.
    Failed,
    /// Final: lost.
    Lost,
    /// Final: expired.
    Expired,
}

impl StateKind {
    /// Every state, in table order.
    pub const ALL: [StateKind; 14] = [
        Self::Initial,
        Self::Requested,
        Self::AwaitingInteraction,
        Self::Continuing,
        Self::Canceling,
        Self::Issued,
        Self::Rotating,
        Self::Revoking,
        Self::Rejected,
        Self::Canceled,
        Self::Revoked,
        Self::Failed,
        Self::Lost,
        Self::Expired,
    ];

    /// The name used in the table and the diagram.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "Initial",
            Self::Requested => "Requested",
            Self::AwaitingInteraction => "AwaitingInteraction",
            Self::Continuing => "Continuing",
            Self::Canceling => "Canceling",
            Self::Issued => "Issued",
            Self::Rotating => "Rotating",
            Self::Revoking => "Revoking",
            Self::Rejected => "Rejected",
            Self::Canceled => "Canceled",
            Self::Revoked => "Revoked",
            Self::Failed => "Failed",
            Self::Lost => "Lost",
            Self::Expired => "Expired",
        }
    }

    /// Whether a grant in this state absorbs every event: every outcome but the issued token's
    /// states, and `Expired`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Rejected
                | Self::Canceled
                | Self::Revoked
                | Self::Failed
                | Self::Lost
                | Self::Expired
        )
    }

    /// Whether this is one of the `Finalized` outcomes (issued included).
    pub fn is_finalized(self) -> bool {
        matches!(
            self,
            Self::Issued
                | Self::Rotating
                | Self::Revoking
                | Self::Rejected
                | Self::Canceled
                | Self::Revoked
                | Self::Failed
                | Self::Lost
        )
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`StateKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown state kind {0:?}: expected one of Requested, AwaitingInteraction, Continuing, \
     Canceling, Issued, Rotating, Revoking, Rejected, Canceled, Revoked, Failed, Lost, Expired"
)]
pub struct UnknownStateKind(pub String);

/// Parses the table's name ([`StateKind::as_str`], `AwaitingInteraction`) or the serde name
/// (`awaiting_interaction`), in any case.
impl std::str::FromStr for StateKind {
    type Err = UnknownStateKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted: String = s.chars().filter(|c| *c != '_').collect();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| UnknownStateKind(s.chars().take(64).collect()))
    }
}

/// The coarse events of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Command: request.
    Request,
    /// Command: cancel.
    Cancel,
    /// Command: rotate now.
    RotateNow,
    /// Command: revoke.
    Revoke,
    /// Answer: a pending grant.
    AnsweredPending,
    /// Answer: an issued grant.
    AnsweredIssued,
    /// Answer: a bare continuation.
    AnsweredContinuation,
    /// Answer: a rotated token.
    AnsweredRotated,
    /// Answer: 204.
    AnsweredNoContent,
    /// Answer: a success status with a body that does not parse.
    Malformed,
    /// Refusal: `too_fast`.
    RefusedTooFast,
    /// Refusal: any other status / GNAP error.
    Refused,
    /// Transport error before sending.
    NotSent,
    /// Ambiguous outcome after sending.
    Ambiguous,
    /// Finish callback with `hash` and `interact_ref`.
    FinishApproved,
    /// Finish callback with `result`.
    FinishResult,
    /// Time passed, or resume after a crash.
    Wake,
}

impl EventKind {
    /// The name used in the table and the diagram.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Cancel => "cancel",
            Self::RotateNow => "rotate_now",
            Self::Revoke => "revoke",
            Self::AnsweredPending => "answered(pending)",
            Self::AnsweredIssued => "answered(issued)",
            Self::AnsweredContinuation => "answered(continuation)",
            Self::AnsweredRotated => "answered(rotated)",
            Self::AnsweredNoContent => "answered(204)",
            Self::Malformed => "answered(malformed)",
            Self::RefusedTooFast => "refused(too_fast)",
            Self::Refused => "refused",
            Self::NotSent => "not_sent",
            Self::Ambiguous => "ambiguous",
            Self::FinishApproved => "finish(hash, interact_ref)",
            Self::FinishResult => "finish(result)",
            Self::Wake => "wake",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shape of an [`Answer`](crate::Answer), for messages and failure records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// A pending grant (`interact` + `continue`).
    Pending,
    /// An issued grant (`access_token` + `continue`).
    Issued,
    /// A bare continuation (`continue` only).
    Continuation,
    /// A rotated token.
    Rotated,
    /// No content.
    NoContent,
}

impl fmt::Display for AnswerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending grant",
            Self::Issued => "issued grant",
            Self::Continuation => "bare continuation",
            Self::Rotated => "rotated token",
            Self::NoContent => "204 No Content",
        })
    }
}

/// The calls the machine asks the driver to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// `POST` the grant request to the grant endpoint. Safe to re-send: an orphan grant at the AS
    /// grants nothing to anyone (its continuation token never reached us).
    GrantRequest,
    /// `POST {interact_ref}` to the continuation URI. Not idempotent: the reference server answers
    /// a second continue with `request_denied`.
    Continue,
    /// Bodiless `POST` to the continuation URI. Not idempotent: a poll that issues the token
    /// finalizes the grant; the next one answers `request_denied`.
    Poll,
    /// `DELETE` the continuation URI. Idempotent in effect.
    Cancel,
    /// `POST` the manage URL. Not idempotent: the old token is revoked; a second rotate answers
    /// `invalid_client`.
    Rotate,
    /// `DELETE` the manage URL. Idempotent in effect.
    RevokeToken,
}

impl CallKind {
    /// Whether sending the call twice may lose something (continue, poll, rotate): these are
    /// re-sent at most once after an ambiguous outcome, then the grant is `Lost`.
    pub fn is_non_idempotent(self) -> bool {
        matches!(self, Self::Continue | Self::Poll | Self::Rotate)
    }

    /// The name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GrantRequest => "grant request",
            Self::Continue => "continue",
            Self::Poll => "poll",
            Self::Cancel => "cancel",
            Self::Rotate => "rotate",
            Self::RevokeToken => "revoke token",
        }
    }
}

impl fmt::Display for CallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_kind_parses_from_its_names() {
        for kind in StateKind::ALL {
            assert_eq!(kind.as_str().parse::<StateKind>(), Ok(kind));
            assert_eq!(kind.as_str().to_lowercase().parse::<StateKind>(), Ok(kind));
            let serde_name = serde_json::to_value(kind).unwrap();
            assert_eq!(serde_name.as_str().unwrap().parse::<StateKind>(), Ok(kind));
        }
        let err = "Pending".parse::<StateKind>().unwrap_err();
        assert!(err.to_string().contains("AwaitingInteraction"), "{err}");
    }
}
