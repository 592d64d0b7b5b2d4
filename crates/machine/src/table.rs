//! The transition table: every edge the machine can take, as data.
//!
//! This is the specification in the sdk-core sense: `docs/machine.md` is generated from it
//! ([`diagram_markdown`]), a test keeps that file in sync, and the property tests check that every
//! transition the function makes is listed here (and report which edges they exercised).

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

/// One edge: `from --(event, when)--> to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransitionEdge {
    /// The state before.
    pub from: StateKind,
    /// The event.
    pub event: EventKind,
    /// The state after.
    pub to: StateKind,
    /// The condition that selects this edge (empty when there is only one).
    pub when: &'static str,
}

const fn e(from: StateKind, event: EventKind, to: StateKind, when: &'static str) -> TransitionEdge {
    TransitionEdge {
        from,
        event,
        to,
        when,
    }
}

use EventKind as E;
use StateKind as S;

/// Every edge of the machine. Events not listed for a state are refused with a typed
/// [`MachineError`](crate::MachineError) and change nothing; final states absorb everything.
pub const TRANSITIONS: &[TransitionEdge] = &[
    e(
        S::Initial,
        E::Request,
        S::Requested,
        "send the grant request",
    ),
    // Requested
    e(
        S::Requested,
        E::AnsweredPending,
        S::AwaitingInteraction,
        "request has interact.finish",
    ),
    e(
        S::Requested,
        E::AnsweredPending,
        S::Continuing,
        "no finish URI, poll after wait",
    ),
    e(
        S::Requested,
        E::AnsweredIssued,
        S::Issued,
        "non-interactive grant",
    ),
    e(
        S::Requested,
        E::AnsweredContinuation,
        S::Failed,
        "unexpected answer",
    ),
    e(S::Requested, E::Refused, S::Failed, "4xx"),
    e(
        S::Requested,
        E::Refused,
        S::Requested,
        "429 or 5xx, retry with back-off",
    ),
    e(
        S::Requested,
        E::RefusedTooFast,
        S::Requested,
        "retry with back-off",
    ),
    e(
        S::Requested,
        E::NotSent,
        S::Requested,
        "retry with back-off",
    ),
    e(
        S::Requested,
        E::Ambiguous,
        S::Requested,
        "re-sendable, retry with back-off",
    ),
    e(
        S::Requested,
        E::Wake,
        S::Requested,
        "send when due, re-send when resumed in flight",
    ),
    e(S::Requested, E::Cancel, S::Canceled, "no call in flight"),
    // AwaitingInteraction
    e(
        S::AwaitingInteraction,
        E::FinishApproved,
        S::Continuing,
        "hash verified, continue after wait",
    ),
    e(
        S::AwaitingInteraction,
        E::FinishResult,
        S::Rejected,
        "result=grant_rejected",
    ),
    e(
        S::AwaitingInteraction,
        E::FinishResult,
        S::Canceling,
        "other result, cancel then Failed",
    ),
    e(
        S::AwaitingInteraction,
        E::Wake,
        S::Canceling,
        "deadline passed, cancel then Expired",
    ),
    e(
        S::AwaitingInteraction,
        E::Cancel,
        S::Canceling,
        "cancel then Canceled",
    ),
    // Continuing
    e(
        S::Continuing,
        E::Wake,
        S::Continuing,
        "send when due, re-send once when resumed in flight",
    ),
    e(
        S::Continuing,
        E::Wake,
        S::Canceling,
        "poll deadline passed (then Expired), or resumed in flight after a re-send (then Lost)",
    ),
    e(S::Continuing, E::AnsweredIssued, S::Issued, ""),
    e(
        S::Continuing,
        E::AnsweredContinuation,
        S::Continuing,
        "still pending, next after wait",
    ),
    e(
        S::Continuing,
        E::AnsweredPending,
        S::Failed,
        "unexpected answer",
    ),
    e(
        S::Continuing,
        E::RefusedTooFast,
        S::Continuing,
        "back off max(wait, too_fast_backoff), doubling",
    ),
    e(
        S::Continuing,
        E::Refused,
        S::Continuing,
        "429 backs off, 5xx re-sends once",
    ),
    e(
        S::Continuing,
        E::Refused,
        S::Canceling,
        "refused after a re-send, or 5xx twice, cancel then Lost",
    ),
    e(
        S::Continuing,
        E::Refused,
        S::Rejected,
        "user_denied, or request_denied to a poll",
    ),
    e(S::Continuing, E::Refused, S::Failed, "other GNAP error"),
    e(
        S::Continuing,
        E::NotSent,
        S::Continuing,
        "retry with back-off",
    ),
    e(S::Continuing, E::Ambiguous, S::Continuing, "re-send once"),
    e(
        S::Continuing,
        E::Ambiguous,
        S::Canceling,
        "already re-sent, cancel then Lost",
    ),
    e(S::Continuing, E::Cancel, S::Canceling, "no call in flight"),
    // Canceling
    e(
        S::Canceling,
        E::AnsweredNoContent,
        S::Canceled,
        "goal Canceled",
    ),
    e(
        S::Canceling,
        E::AnsweredNoContent,
        S::Expired,
        "goal Expired",
    ),
    e(S::Canceling, E::AnsweredNoContent, S::Lost, "goal Lost"),
    e(S::Canceling, E::AnsweredNoContent, S::Failed, "goal Failed"),
    e(
        S::Canceling,
        E::AnsweredNoContent,
        S::Revoked,
        "goal Revoked",
    ),
    e(
        S::Canceling,
        E::Refused,
        S::Canceled,
        "4xx (the AS no longer knows it), goal Canceled",
    ),
    e(S::Canceling, E::Refused, S::Expired, "4xx, goal Expired"),
    e(S::Canceling, E::Refused, S::Lost, "4xx, goal Lost"),
    e(S::Canceling, E::Refused, S::Failed, "4xx, goal Failed"),
    e(S::Canceling, E::Refused, S::Revoked, "4xx, goal Revoked"),
    e(
        S::Canceling,
        E::Refused,
        S::Canceling,
        "429 or 5xx, retry with back-off",
    ),
    e(
        S::Canceling,
        E::RefusedTooFast,
        S::Canceling,
        "retry with back-off",
    ),
    e(
        S::Canceling,
        E::NotSent,
        S::Canceling,
        "retry with back-off",
    ),
    e(
        S::Canceling,
        E::Ambiguous,
        S::Canceling,
        "idempotent, retry with back-off",
    ),
    e(
        S::Canceling,
        E::Wake,
        S::Canceling,
        "send when due, re-send when resumed in flight",
    ),
    // Issued: the token sub-lifecycle
    e(
        S::Issued,
        E::Wake,
        S::Rotating,
        "expiry minus margin reached (auto_rotate)",
    ),
    e(S::Issued, E::RotateNow, S::Rotating, ""),
    e(S::Issued, E::Revoke, S::Revoking, ""),
    e(
        S::Issued,
        E::Cancel,
        S::Canceling,
        "cancel the grant then Canceled",
    ),
    e(
        S::Rotating,
        E::AnsweredRotated,
        S::Issued,
        "new value, new manage URL",
    ),
    e(
        S::Rotating,
        E::Refused,
        S::Canceling,
        "rotation refused, cancel then Lost",
    ),
    e(
        S::Rotating,
        E::Refused,
        S::Rotating,
        "429 backs off, 5xx re-sends once",
    ),
    e(
        S::Rotating,
        E::RefusedTooFast,
        S::Rotating,
        "retry with back-off",
    ),
    e(S::Rotating, E::NotSent, S::Rotating, "retry with back-off"),
    e(S::Rotating, E::Ambiguous, S::Rotating, "re-send once"),
    e(
        S::Rotating,
        E::Ambiguous,
        S::Canceling,
        "already re-sent, cancel then Lost",
    ),
    e(
        S::Rotating,
        E::Wake,
        S::Rotating,
        "send when due, re-send once when resumed in flight",
    ),
    e(
        S::Rotating,
        E::Wake,
        S::Canceling,
        "resumed in flight after a re-send, cancel then Lost",
    ),
    e(S::Rotating, E::Revoke, S::Revoking, "no call in flight"),
    e(S::Rotating, E::Cancel, S::Canceling, "no call in flight"),
    e(S::Revoking, E::AnsweredNoContent, S::Revoked, ""),
    e(
        S::Revoking,
        E::Refused,
        S::Revoked,
        "invalid_client (already revoked or unknown)",
    ),
    e(
        S::Revoking,
        E::Refused,
        S::Canceling,
        "other 4xx, cancel the grant then Revoked",
    ),
    e(
        S::Revoking,
        E::Refused,
        S::Revoking,
        "429 or 5xx, retry with back-off",
    ),
    e(
        S::Revoking,
        E::RefusedTooFast,
        S::Revoking,
        "retry with back-off",
    ),
    e(S::Revoking, E::NotSent, S::Revoking, "retry with back-off"),
    e(
        S::Revoking,
        E::Ambiguous,
        S::Revoking,
        "idempotent, retry with back-off",
    ),
    e(
        S::Revoking,
        E::Wake,
        S::Revoking,
        "send when due, re-send when resumed in flight",
    ),
    e(S::Revoking, E::Cancel, S::Canceling, "no call in flight"),
];

/// Whether `from --event--> to` is an edge of [`TRANSITIONS`].
pub fn is_listed(from: StateKind, event: EventKind, to: StateKind) -> bool {
    TRANSITIONS
        .iter()
        .any(|t| t.from == from && t.event == event && t.to == to)
}

/// The Mermaid `stateDiagram-v2` source of [`TRANSITIONS`].
pub fn mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n");
    out.push_str("    direction LR\n");
    for edge in TRANSITIONS {
        let from = if edge.from == S::Initial {
            "[*]"
        } else {
            edge.from.as_str()
        };
        let label = if edge.when.is_empty() {
            edge.event.as_str().to_owned()
        } else {
            format!("{} / {}", edge.event.as_str(), edge.when)
        };
        // Mermaid ends a label at `;` and treats `:` after the first specially.
        let label = label.replace([';', ':'], ",");
        out.push_str(&format!("    {from} --> {} : {label}\n", edge.to.as_str()));
    }
    out.push_str("    state Finalized {\n");
    for s in StateKind::ALL.iter().filter(|s| s.is_finalized()) {
        out.push_str(&format!("        {}\n", s.as_str()));
    }
    out.push_str("    }\n");
    for s in [
        S::Rejected,
        S::Canceled,
        S::Revoked,
        S::Failed,
        S::Lost,
        S::Expired,
    ] {
        out.push_str(&format!("    {} --> [*]\n", s.as_str()));
    }
    out
}

/// The full text of `docs/machine.md`: the diagram and the table, generated.
pub fn diagram_markdown() -> String {
    let mut out = String::new();
    out.push_str("# The grant lifecycle machine\n\n");
    out.push_str(
        "<!-- Generated from grantflow_machine::TRANSITIONS by `GRANTFLOW_BLESS=1 cargo test -p grantflow-machine --test machine diagram`. Do not edit by hand: the test fails when this file and the table differ. -->\n\n",
    );
    out.push_str(
        "`grantflow_machine::transition(state, event, now, config)` is the whole client-side \
         lifecycle of one grant. Events not listed for a state are refused with a typed error and \
         change nothing; `Rejected`, `Canceled`, `Revoked`, `Failed`, `Lost` and `Expired` absorb \
         every event. `Issued`, `Rotating` and `Revoking` are the token sub-states of \
         `Finalized(Issued)`. Every state but the final ones has a `next_wake_at`.\n\n",
    );
    out.push_str("```mermaid\n");
    out.push_str(&mermaid());
    out.push_str("```\n\n");
    out.push_str("| from | event | to | when |\n|---|---|---|---|\n");
    for edge in TRANSITIONS {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            edge.from,
            edge.event,
            edge.to,
            edge.when.replace('|', "\\|")
        ));
    }
    out
}
