//! The transition table: every edge the payment machine can take, one line each, and the diagram
//! generated from it (`docs/payment.md`, kept in sync by a test).
//!
//! Each line of `transition_table!` (`crate::edges`) declares an edge: its name (a variant of [`Edge`]), the state it
//! leaves, the event that takes it, the state it reaches and the condition that selects it. The
//! dispatcher (`transition.rs`) refuses any `(state, event)` pair without a line here before a
//! state function runs; every [`Transition`](crate::Transition) names its edge, and a debug
//! assertion and the property tests check that the state reached is the edge's `to`. The same
//! shape as the grant machine's table (`grantflow_machine::table`).

use crate::edges::{self, Row, transition_table};
use crate::kind::{PaymentEventKind, PaymentStateKind};

/// One edge of the payment machine: `from --(event, when)--> to`, named by [`Edge`].
pub type TransitionEdge = Row<Edge, PaymentStateKind, PaymentEventKind>;

transition_table! {
    machine: "payment", edge: Edge, state: PaymentStateKind, event: PaymentEventKind;
    Ordered:              Initial --Order--> Quoting, "the order fits what the limits leave: quote";
    OrderOverLimit:       Initial --Order--> Failed, "the order exceeds what the limits leave: refused before quoting";
    // Quoting: POST /quotes, harmless to repeat (an unused quote costs nothing).
    QuoteDue:             Quoting --Wake--> Quoting, "send when due";
    QuoteResumed:         Quoting --Wake--> Quoting, "in flight and lost: send again";
    QuoteGaveUp:          Quoting --Wake--> Failed, "recovery budget spent";
    QuoteAccepted:        Quoting --Quoted--> Sending, "the quote fits what the limits leave: pay from it";
    QuoteOverLimit:       Quoting --Quoted--> Failed, "the quote exceeds what the limits leave";
    QuoteNotRecoverable:  Quoting --Quoted--> Failed, "the quote's URL names no outgoing payment: never sent";
    QuoteTokenInactive:   Quoting --Refused--> Quoting, "403 Inactive Token: rotate the token, send again";
    QuoteTrouble:         Quoting --Refused--> Quoting, "429 or 5xx: retry with back-off";
    QuoteRefused:         Quoting --Refused--> Failed, "other refusal, or Inactive Token after a rotation";
    QuoteNotSent:         Quoting --NotSent--> Quoting, "retry with back-off";
    QuoteAmbiguous:       Quoting --Ambiguous--> Quoting, "retry with back-off";
    QuotingGrantEnded:    Quoting --GrantEnded--> Failed, "the user must consent again";
    // Sending: POST /outgoing-payments with quoteId (the RS takes at most one payment per quote).
    CreateDue:            Sending --Wake--> Sending, "send when due with the same quote";
    CreateRequote:        Sending --Wake--> Quoting, "no create acted and the quote expires within the margin: quote again";
    CreateQuotesSpent:    Sending --Wake--> Failed, "the quote expires and max_quotes were made";
    CreateResumed:        Sending --Wake--> Confirming, "in flight and lost: GET the payment by the quote's id";
    CreateGaveUp:         Sending --Wake--> Failed, "recovery budget spent";
    Created:              Sending --PaymentFound--> Sent, "created";
    CreatedFailed:        Sending --PaymentFound--> Failed, "created, and marked failed by the RS";
    CreateInvalidQuote:   Sending --Refused--> Confirming, "400 invalid quote: an earlier create may have used it, GET";
    CreateServerError:    Sending --Refused--> Confirming, "5xx: outcome unknown, GET";
    CreateTokenInactive:  Sending --Refused--> Sending, "403 Inactive Token: rotate the token, send again";
    CreateTooMany:        Sending --Refused--> Sending, "429: retry with back-off";
    CreateRefusedMaybe:   Sending --Refused--> Confirming, "other refusal while an earlier create may have acted: GET";
    CreateRefused:        Sending --Refused--> Failed, "other refusal, or Inactive Token after a rotation: nothing created";
    CreateNotSent:        Sending --NotSent--> Sending, "retry with back-off";
    CreateAmbiguous:      Sending --Ambiguous--> Confirming, "outcome unknown: GET the payment by the quote's id";
    SendingGrantEnded:    Sending --GrantEnded--> Failed, "the user must consent again (the reason names the quote if a create may have acted)";
    // Confirming: GET /outgoing-payments/{quote id}, before any other create.
    ConfirmDue:           Confirming --Wake--> Confirming, "send when due";
    ConfirmResumed:       Confirming --Wake--> Confirming, "in flight and lost: send again";
    ConfirmGaveUp:        Confirming --Wake--> Failed, "recovery budget spent: outcome unknown, the reason names the quote";
    Confirmed:            Confirming --PaymentFound--> Sent, "an earlier create acted";
    ConfirmedFailed:      Confirming --PaymentFound--> Failed, "an earlier create acted, and the RS marked it failed";
    AbsentResend:         Confirming --Refused--> Sending, "404, the quote not refused and not past its expiry: send again with the same quote";
    AbsentRequote:        Confirming --Refused--> Quoting, "404 after invalid quote or past the quote's expiry: proven absent, quote again";
    AbsentQuotesSpent:    Confirming --Refused--> Failed, "proven absent, and max_quotes were made";
    ConfirmTokenInactive: Confirming --Refused--> Confirming, "403 Inactive Token: rotate the token (once per back-off), GET again";
    ConfirmTrouble:       Confirming --Refused--> Confirming, "other refusal: retry with back-off (the answer is needed)";
    ConfirmNotSent:       Confirming --NotSent--> Confirming, "retry with back-off";
    ConfirmAmbiguous:     Confirming --Ambiguous--> Confirming, "retry with back-off";
    ConfirmingGrantEnded: Confirming --GrantEnded--> Failed, "the user must consent again; the reason names the quote";
}

/// Whether the table has any edge for `event` in state `from`.
pub fn accepts(from: PaymentStateKind, event: PaymentEventKind) -> bool {
    edges::accepts(TRANSITIONS, from, event)
}

/// The Mermaid `stateDiagram-v2` source of [`TRANSITIONS`]: edges with the same states and event
/// share one arrow, their conditions joined.
pub fn mermaid() -> String {
    edges::mermaid(
        TRANSITIONS,
        PaymentStateKind::Initial,
        PaymentStateKind::ALL.into_iter().filter(|s| s.is_final()),
    )
}

/// The full text of `docs/payment.md`: the diagram and the table, generated.
pub fn diagram_markdown() -> String {
    let mut out = String::from("# The payment lifecycle machine\n\n");
    out.push_str(
        "<!-- Generated from grantflow_payment::TRANSITIONS by `GRANTFLOW_BLESS=1 cargo test -p grantflow-payment --test payment diagram`. Do not edit by hand: the test fails when this file and the table differ. -->\n\n",
    );
    out.push_str(
        "`grantflow_payment::transition(state, event, now, config)` is the whole life of one \
         outgoing payment made under a grant; every transition names the edge below that it \
         followed. Events with no edge for a state are refused with a typed error and change \
         nothing; `Sent` and `Failed` absorb every event. Every other state but `Initial` has a \
         `next_wake_at`. A payment is only ever created from an explicit quote, whose id the \
         reference gives the payment; after any doubt the payment is read back by that id \
         (`Confirming`) before anything else is sent, and a new quote is made only once no \
         payment from the old one exists or can still appear.\n\n",
    );
    out.push_str("```mermaid\n");
    out.push_str(&mermaid());
    out.push_str("```\n\n");
    out.push_str(&edges::markdown_rows(TRANSITIONS));
    out
}
