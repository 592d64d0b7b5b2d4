//! The transition table: every edge the machine can take, as data, and the single place an edge
//! is named.
//!
//! Each line of `transition_table!` (below) declares one edge: its name (a variant of [`Edge`]), the
//! state it leaves, the event that takes it, the state it reaches, and the condition that selects
//! it. The transition function (`transition/`) returns the [`Edge`] it followed with every
//! [`Transition`](crate::Transition); the dispatcher refuses any `(state, event)` pair that has no
//! edge here before a state function runs, and a debug assertion plus the property tests check
//! that the state reached is the edge's `to`. So the table is not a description kept beside the
//! code: an edge missing here cannot be taken, and a new edge needs a line here.
//!
//! `docs/machine.md` is generated from [`TRANSITIONS`] ([`diagram_markdown`]); a test keeps that
//! file in sync, and the property tests report which edges they exercised (sdk-core style).

use crate::kind::{EventKind, StateKind};

/// One edge: `from --(event, when)--> to`, named by [`Edge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransitionEdge {
    /// The edge's name.
    pub edge: Edge,
    /// The state before.
    pub from: StateKind,
    /// The event.
    pub event: EventKind,
    /// The state after.
    pub to: StateKind,
    /// The condition that selects this edge among those with the same `from` and `event`
    /// (empty when there is only one).
    pub when: &'static str,
}

/// Declares the edges: one line each, `Name: From --Event--> To, "condition";`.
///
/// A plain `macro_rules!` that writes two plain items and nothing else. For the line
/// `RequestSent: Initial --Request--> Requested, "send the grant request";` it expands to
///
/// ```text
/// pub enum Edge { /// `Initial --request--> Requested`: send the grant request
///                 RequestSent, ... }
/// impl Edge { pub const fn row(self) -> TransitionEdge { match self {
///     Self::RequestSent => TransitionEdge { edge: Edge::RequestSent, from: StateKind::Initial,
///         event: EventKind::Request, to: StateKind::Requested, when: "send the grant request" },
///     ... } } }
/// pub const TRANSITIONS: &[TransitionEdge] = &[Edge::RequestSent.row(), ...];
/// ```
macro_rules! transition_table {
    ($( $edge:ident : $from:ident --$event:ident--> $to:ident, $when:literal; )*) => {
        /// The name of one edge of the machine: which line of the table a [`Transition`](crate::Transition)
        /// followed. Its row (states, event, condition) is [`Edge::row`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Edge {
            $(
                #[doc = concat!("`", stringify!($from), " --", stringify!($event), "--> ", stringify!($to), "`: ", $when)]
                $edge,
            )*
        }

        impl Edge {
            /// This edge's row of the table.
            pub const fn row(self) -> TransitionEdge {
                match self {
                    $( Self::$edge => TransitionEdge {
                        edge: Self::$edge,
                        from: StateKind::$from,
                        event: EventKind::$event,
                        to: StateKind::$to,
                        when: $when,
                    }, )*
                }
            }

            /// The edge's name, as in the table.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$edge => stringify!($edge), )*
                }
            }
        }

        /// Every edge of the machine, in table order. Events with no edge for a state are refused
        /// with a typed [`MachineError`](crate::MachineError) and change nothing; final states
        /// absorb everything.
        pub const TRANSITIONS: &[TransitionEdge] = &[ $( Edge::$edge.row(), )* ];
    };
}

transition_table! {
    RequestSent:              Initial --Request--> Requested, "send the grant request";
    // Requested: the grant request (re-sendable: an orphan grant at the AS grants nothing).
    PendingWithFinish:        Requested --AnsweredPending--> AwaitingInteraction, "request has interact.finish";
    PendingToPoll:            Requested --AnsweredPending--> Continuing, "no finish URI, poll after wait";
    IssuedAtOnce:             Requested --AnsweredIssued--> Issued, "non-interactive grant";
    RequestAnsweredWrongly:   Requested --AnsweredContinuation--> Failed, "unexpected answer";
    RequestMalformed:         Requested --Malformed--> Failed, "2xx whose body does not parse, not re-sent";
    RequestRefused:           Requested --Refused--> Failed, "4xx";
    RequestServerTrouble:     Requested --Refused--> Requested, "429 or 5xx, retry with back-off";
    RequestTooFast:           Requested --RefusedTooFast--> Requested, "retry after wait";
    RequestNotSent:           Requested --NotSent--> Requested, "retry with back-off";
    RequestAmbiguous:         Requested --Ambiguous--> Requested, "re-sendable, retry with back-off";
    RequestDue:               Requested --Wake--> Requested, "send when due";
    RequestResumed:           Requested --Wake--> Requested, "resumed in flight, re-send";
    RequestGaveUp:            Requested --Wake--> Failed, "recovery budget spent, the last error is the reason";
    RequestCanceled:          Requested --Cancel--> Canceled, "no call in flight";
    // AwaitingInteraction: the user is at the AS.
    FinishVerified:           AwaitingInteraction --FinishApproved--> Continuing, "hash verified, continue after wait";
    FinishRejected:           AwaitingInteraction --FinishResult--> Canceling, "result=grant_rejected, DELETE (best effort) then Rejected";
    FinishTooEarly:           AwaitingInteraction --FinishResult--> AwaitingInteraction, "result=grant_invalid, keep waiting until the deadline";
    FinishFailed:             AwaitingInteraction --FinishResult--> Canceling, "other result, cancel then Failed";
    InteractionExpired:       AwaitingInteraction --Wake--> Canceling, "deadline passed, cancel then Expired";
    AwaitingCanceled:         AwaitingInteraction --Cancel--> Canceling, "cancel then Canceled";
    // Continuing: continue with the interact_ref, or poll (not idempotent).
    ContinueDue:              Continuing --Wake--> Continuing, "send when due";
    ContinueResumed:          Continuing --Wake--> Continuing, "resumed in flight, re-send (outcome unknown)";
    PollExpired:              Continuing --Wake--> Canceling, "poll deadline passed, cancel then Expired";
    ContinueGaveUp:           Continuing --Wake--> Canceling, "recovery budget spent, cancel then Lost (an attempt may have acted) or Failed";
    ContinueIssued:           Continuing --AnsweredIssued--> Issued, "";
    StillPending:             Continuing --AnsweredContinuation--> Continuing, "still pending, next after wait";
    ContinueAnsweredWrongly:  Continuing --AnsweredPending--> Failed, "unexpected answer";
    ContinueMalformed:        Continuing --Malformed--> Canceling, "2xx whose body does not parse, cancel then Failed";
    ContinueTooFast:          Continuing --RefusedTooFast--> Continuing, "next attempt at wait after the previous one";
    ContinueServerTrouble:    Continuing --Refused--> Continuing, "429 or 5xx, retry with back-off";
    ContinueConsumed:         Continuing --Refused--> Canceling, "request_denied after an unknown outcome: that attempt acted, cancel then Lost";
    ContinueDenied:           Continuing --Refused--> Rejected, "user_denied, or request_denied to a poll";
    ContinueRefused:          Continuing --Refused--> Failed, "other GNAP error";
    ContinueNotSent:          Continuing --NotSent--> Continuing, "retry with back-off";
    ContinueAmbiguous:        Continuing --Ambiguous--> Continuing, "retry with back-off (outcome unknown)";
    ContinuingCanceled:       Continuing --Cancel--> Canceling, "no call in flight";
    // Canceling: DELETE on the continuation URI (idempotent), then the goal.
    CanceledAtAs:             Canceling --AnsweredNoContent--> Canceled, "goal Canceled";
    ExpiredAtAs:              Canceling --AnsweredNoContent--> Expired, "goal Expired";
    LostAtAs:                 Canceling --AnsweredNoContent--> Lost, "goal Lost";
    FailedAtAs:               Canceling --AnsweredNoContent--> Failed, "goal Failed";
    RevokedAtAs:              Canceling --AnsweredNoContent--> Revoked, "goal Revoked";
    RejectedAtAs:             Canceling --AnsweredNoContent--> Rejected, "goal Rejected";
    CanceledUnknownToAs:      Canceling --Refused--> Canceled, "4xx (the AS no longer knows it), goal Canceled";
    ExpiredUnknownToAs:       Canceling --Refused--> Expired, "4xx, goal Expired";
    LostUnknownToAs:          Canceling --Refused--> Lost, "4xx, goal Lost";
    FailedUnknownToAs:        Canceling --Refused--> Failed, "4xx, goal Failed";
    RevokedUnknownToAs:       Canceling --Refused--> Revoked, "4xx, goal Revoked";
    RejectedUnknownToAs:      Canceling --Refused--> Rejected, "4xx, goal Rejected";
    CanceledGaveUp:           Canceling --Wake--> Canceled, "recovery budget spent, goal Canceled";
    ExpiredGaveUp:            Canceling --Wake--> Expired, "recovery budget spent, goal Expired";
    LostGaveUp:               Canceling --Wake--> Lost, "recovery budget spent, goal Lost";
    FailedGaveUp:             Canceling --Wake--> Failed, "recovery budget spent, goal Failed";
    RevokedGaveUp:            Canceling --Wake--> Revoked, "recovery budget spent, goal Revoked";
    RejectedGaveUp:           Canceling --Wake--> Rejected, "recovery budget spent, goal Rejected";
    CancelServerTrouble:      Canceling --Refused--> Canceling, "429 or 5xx, retry with back-off";
    CancelTooFast:            Canceling --RefusedTooFast--> Canceling, "retry after wait";
    CancelNotSent:            Canceling --NotSent--> Canceling, "retry with back-off";
    CancelAmbiguous:          Canceling --Ambiguous--> Canceling, "idempotent, retry with back-off";
    CancelDue:                Canceling --Wake--> Canceling, "send when due";
    CancelResumed:            Canceling --Wake--> Canceling, "resumed in flight, re-send";
    // Issued: the token sub-lifecycle.
    RotationDue:              Issued --Wake--> Rotating, "on demand: keep-alive after expiry; kept warm: expiry minus margin";
    RotateOnCommand:          Issued --RotateNow--> Rotating, "";
    RevokeOnCommand:          Issued --Revoke--> Revoking, "";
    IssuedCanceled:           Issued --Cancel--> Canceling, "cancel the grant then Canceled";
    // Rotating: POST on the manage URL (not idempotent).
    Rotated:                  Rotating --AnsweredRotated--> Issued, "new value, new manage URL";
    RotationConsumed:         Rotating --Refused--> Canceling, "invalid_client after an unknown outcome: that attempt rotated, cancel then Lost";
    RotationRefused:          Rotating --Refused--> Canceling, "other refusal, cancel then Failed";
    RotateMalformed:          Rotating --Malformed--> Canceling, "2xx whose body does not parse, cancel then Failed";
    RotateServerTrouble:      Rotating --Refused--> Rotating, "429 or 5xx, retry with back-off";
    RotateTooFast:            Rotating --RefusedTooFast--> Rotating, "retry after wait";
    RotateNotSent:            Rotating --NotSent--> Rotating, "retry with back-off";
    RotateAmbiguous:          Rotating --Ambiguous--> Rotating, "retry with back-off (outcome unknown)";
    RotateDue:                Rotating --Wake--> Rotating, "send when due";
    RotateResumed:            Rotating --Wake--> Rotating, "resumed in flight, re-send (outcome unknown)";
    RotateGaveUp:             Rotating --Wake--> Issued, "recovery budget spent, no attempt reached the AS: keep the old token";
    RotateLost:               Rotating --Wake--> Canceling, "recovery budget spent after an unknown outcome, cancel then Lost";
    RotatingRevoked:          Rotating --Revoke--> Revoking, "no call in flight";
    RotatingCanceled:         Rotating --Cancel--> Canceling, "no call in flight";
    // Revoking: DELETE on the manage URL (idempotent), then DELETE the grant.
    TokenRevoked:             Revoking --AnsweredNoContent--> Canceling, "then DELETE the grant, then Revoked";
    TokenAlreadyRevoked:      Revoking --Refused--> Canceling, "invalid_client (already revoked or unknown), DELETE the grant";
    RevokeRefused:            Revoking --Refused--> Canceling, "other 4xx, DELETE the grant";
    RevokeServerTrouble:      Revoking --Refused--> Revoking, "429 or 5xx, retry with back-off";
    RevokeTooFast:            Revoking --RefusedTooFast--> Revoking, "retry after wait";
    RevokeNotSent:            Revoking --NotSent--> Revoking, "retry with back-off";
    RevokeAmbiguous:          Revoking --Ambiguous--> Revoking, "idempotent, retry with back-off";
    RevokeDue:                Revoking --Wake--> Revoking, "send when due";
    RevokeResumed:            Revoking --Wake--> Revoking, "resumed in flight, re-send";
    RevokeGaveUp:             Revoking --Wake--> Canceling, "recovery budget spent, DELETE the grant";
    RevokingCanceled:         Revoking --Cancel--> Canceling, "no call in flight";
}

use StateKind as S;

impl Edge {
    /// Whether this edge leaves `from` on `event` and reaches `to`.
    pub fn connects(self, from: StateKind, event: EventKind, to: StateKind) -> bool {
        let row = self.row();
        row.from == from && row.event == event && row.to == to
    }
}

impl std::fmt::Display for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the table has any edge for `event` in state `from`: the dispatcher refuses the pairs
/// it has none for.
pub fn accepts(from: StateKind, event: EventKind) -> bool {
    TRANSITIONS
        .iter()
        .any(|t| t.from == from && t.event == event)
}

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
    // Edges with the same states and event share one arrow; their conditions are joined.
    let mut arrows: Vec<(StateKind, EventKind, StateKind, Vec<&str>)> = Vec::new();
    for edge in TRANSITIONS {
        let when = (!edge.when.is_empty()).then_some(edge.when);
        match arrows
            .iter_mut()
            .find(|(f, e, t, _)| (*f, *e, *t) == (edge.from, edge.event, edge.to))
        {
            Some((.., whens)) => whens.extend(when),
            None => arrows.push((edge.from, edge.event, edge.to, when.into_iter().collect())),
        }
    }
    for (from, event, to, whens) in arrows {
        let from = if from == S::Initial {
            "[*]"
        } else {
            from.as_str()
        };
        let label = if whens.is_empty() {
            event.as_str().to_owned()
        } else {
            format!("{} / {}", event.as_str(), whens.join(" or "))
        };
        // Mermaid ends a label at `;` and treats `:` after the first specially.
        let label = label.replace([';', ':'], ",");
        out.push_str(&format!("    {from} --> {} : {label}\n", to.as_str()));
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
         lifecycle of one grant; every transition names the edge below that it followed. Events with no edge for a state are refused with a typed error and \
         change nothing; `Rejected`, `Canceled`, `Revoked`, `Failed`, `Lost` and `Expired` absorb \
         every event. `Issued`, `Rotating` and `Revoking` are the token sub-states of \
         `Finalized(Issued)`. Every state but the final ones has a `next_wake_at`.\n\n",
    );
    out.push_str("```mermaid\n");
    out.push_str(&mermaid());
    out.push_str("```\n\n");
    out.push_str("| edge | from | event | to | when |\n|---|---|---|---|---|\n");
    for edge in TRANSITIONS {
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} |\n",
            edge.edge,
            edge.from,
            edge.event,
            edge.to,
            edge.when.replace('|', "\\|")
        ));
    }
    out
}
