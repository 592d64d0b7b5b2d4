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
    // The final states in one box: `Finalized(Rejected | ...)` and `Expired` alike.
    out.push_str("    state Final {\n");
    for s in final_states() {
        out.push_str(&format!("        {}\n", s.as_str()));
    }
    out.push_str("    }\n");
    out.push_str("    Final --> [*]\n");
    out
}

/// The states that absorb every event ([`StateKind::is_final`]), in table order.
pub fn final_states() -> impl Iterator<Item = StateKind> {
    StateKind::ALL.into_iter().filter(|s| s.is_final())
}

/// The edges of the common path drawn by [`common_path_mermaid`]: request, interaction, continue,
/// issued, rotation, revocation; and the interaction deadline, the way to `Expired`.
pub const COMMON_PATH: [Edge; 11] = [
    Edge::RequestSent,
    Edge::PendingWithFinish,
    Edge::FinishVerified,
    Edge::ContinueIssued,
    Edge::RotationDue,
    Edge::Rotated,
    Edge::RevokeOnCommand,
    Edge::TokenRevoked,
    Edge::RevokedAtAs,
    Edge::InteractionExpired,
    Edge::ExpiredAtAs,
];

/// The Mermaid `stateDiagram-v2` source of the [`COMMON_PATH`] edges alone, labelled with their
/// events.
pub fn common_path_mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n");
    out.push_str("    direction LR\n");
    let mut finals = Vec::new();
    for edge in COMMON_PATH.map(Edge::row) {
        let from = if edge.from == S::Initial {
            "[*]"
        } else {
            edge.from.as_str()
        };
        out.push_str(&format!(
            "    {from} --> {} : {}\n",
            edge.to.as_str(),
            edge.event.as_str().replace([';', ':'], ",")
        ));
        if edge.to.is_final() && !finals.contains(&edge.to) {
            finals.push(edge.to);
        }
    }
    for s in finals {
        out.push_str(&format!("    {} --> [*]\n", s.as_str()));
    }
    out
}

/// What reaching a final state means for the application, one line each.
fn final_meaning(state: StateKind) -> &'static str {
    match state {
        S::Rejected => {
            "the user denied the grant on the consent page (or the AS answered a poll with `request_denied`)"
        }
        S::Canceled => {
            "the application canceled the grant (`Engine::cancel`, `grantflow grant cancel`)"
        }
        S::Revoked => {
            "the application revoked the token (`Engine::revoke`, `grantflow grant revoke`); the grant was deleted at the AS"
        }
        S::Failed => {
            "the AS refused a call, answered something unusable, or kept failing past the recovery budget; the reason is kept"
        }
        S::Lost => {
            "an attempt with an unknown outcome acted at the AS (proved by its next answer, or assumed when the budget ran out): the token it issued is out of reach, so the grant was canceled"
        }
        S::Expired => {
            "the user did not finish the interaction before the deadline (or a polled grant stayed pending); the grant was canceled at the AS"
        }
        S::Initial
        | S::Requested
        | S::AwaitingInteraction
        | S::Continuing
        | S::Canceling
        | S::Issued
        | S::Rotating
        | S::Revoking => "",
    }
}

/// The overview at the top of `docs/machine.md`: the common path in prose and as a small
/// diagram, and the final states. State names come from [`StateKind`], so they cannot drift.
fn overview() -> String {
    let [
        requested,
        awaiting,
        continuing,
        canceling,
        issued,
        rotating,
        revoking,
        revoked,
        expired,
    ] = [
        S::Requested,
        S::AwaitingInteraction,
        S::Continuing,
        S::Canceling,
        S::Issued,
        S::Rotating,
        S::Revoking,
        S::Revoked,
        S::Expired,
    ]
    .map(|s| format!("`{}`", s.as_str()));
    let mut out = String::from("## The common path\n\n");
    out.push_str(&format!(
        "An application asks for a grant (`Engine::request`, `grantflow grant request`): the grant \
         is {requested} while the grant request is sent. The authorization server (AS) answers \
         that the user must approve it, with a URL to send the user to: {awaiting}. The user \
         approves on the AS's consent page and their browser comes back to the finish callback; \
         once its hash is verified the grant is {continuing}, and after the AS's `wait` the \
         `interact_ref` is traded for an access token: {issued}.\n\n\
         An issued grant keeps its token alive. When the token is asked for after it expired, \
         when an idle token is about to be forgotten by the AS (the keep-alive), or before every \
         expiry with `keep-warm`, the grant is {rotating}: the AS gives a new value and a new \
         manage URL, and the grant is {issued} again. Revoking (`grantflow grant revoke`) makes \
         it {revoking}: the token is deleted, then the grant is canceled at the AS ({canceling}), \
         and the grant ends {revoked}. If the user never comes back, the interaction deadline \
         passes, the grant is canceled at the AS and ends {expired}.\n\n\
         Every state but the final ones has a wake-up time (`next_wake_at`): a call to send or to \
         retry, a deadline, a rotation. A call that fails is retried with back-off; a worker that \
         dies mid-call leaves the call marked in flight, and the next worker re-sends it or, for \
         a call that must not be repeated blindly, works out from the AS's answer what happened.\n\n",
    ));
    out.push_str("```mermaid\n");
    out.push_str(&common_path_mermaid());
    out.push_str("```\n\n");
    out.push_str("## Final states\n\n");
    let names: Vec<String> = final_states()
        .map(|s| format!("`{}`", s.as_str()))
        .collect();
    out.push_str(&format!(
        "A grant in a final state absorbs every event and is never woken again. There are {}: \
         {}.\n\n",
        names.len(),
        names.join(", ")
    ));
    out.push_str("| final state | what happened | reached by |\n|---|---|---|\n");
    for state in final_states() {
        let edges: Vec<String> = TRANSITIONS
            .iter()
            .filter(|e| e.to == state)
            .map(|e| format!("`{}`", e.edge))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            state.as_str(),
            final_meaning(state),
            edges.join(", ")
        ));
    }
    out.push('\n');
    out
}

/// The full text of `docs/machine.md`: the diagram and the table, generated.
pub fn diagram_markdown() -> String {
    let mut out = String::new();
    out.push_str("# The grant lifecycle machine\n\n");
    out.push_str(
        "<!-- Generated from grantflow_machine::TRANSITIONS by `GRANTFLOW_BLESS=1 cargo test -p grantflow-machine --test machine diagram`. Do not edit by hand: the test fails when this file and the table differ. -->\n\n",
    );
    out.push_str(&overview());
    out.push_str("## Every edge\n\n");
    let finals: Vec<&str> = final_states().map(StateKind::as_str).collect();
    out.push_str(&format!(
        "`grantflow_machine::transition(state, event, now, config)` is the whole client-side \
         lifecycle of one grant; every transition names the edge below that it followed. Events \
         with no edge for a state are refused with a typed error and change nothing. The final \
         states ({}) are in the `Final` box. `Issued`, `Rotating` and `Revoking` are the token \
         sub-states of `Finalized(Issued)`; `Expired` is a state of its own, the other final \
         states are `Finalized` outcomes.\n\n",
        finals.join(", ")
    ));
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
