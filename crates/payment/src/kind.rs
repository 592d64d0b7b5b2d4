//! The coarse names of the payment machine's vocabulary: the kinds of state and event.
//!
//! These sit below every other module of the crate and import none of them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The coarse states of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStateKind {
    /// Before the order.
    Initial,
    /// `POST /quotes` to send or in flight.
    Quoting,
    /// `POST /outgoing-payments` from the quote to send or in flight.
    Sending,
    /// `GET /outgoing-payments/{quote id}` to send or in flight: did an earlier create act?
    Confirming,
    /// Final: the outgoing payment exists at the RS (created now or found by its quote's id).
    Sent,
    /// Final: no payment was made, the RS marked it failed, or its outcome could not be learned.
    Failed,
}

impl PaymentStateKind {
    /// Every state, in table order.
    pub const ALL: [PaymentStateKind; 6] = [
        Self::Initial,
        Self::Quoting,
        Self::Sending,
        Self::Confirming,
        Self::Sent,
        Self::Failed,
    ];

    /// The name used in the table and the diagram.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "Initial",
            Self::Quoting => "Quoting",
            Self::Sending => "Sending",
            Self::Confirming => "Confirming",
            Self::Sent => "Sent",
            Self::Failed => "Failed",
        }
    }

    /// Whether a payment in this state absorbs every event.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Sent | Self::Failed)
    }
}

impl fmt::Display for PaymentStateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coarse events of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentEventKind {
    /// The application's order.
    Order,
    /// Time passed: a due call, or a call in flight that its caller lost.
    Wake,
    /// A quote was created.
    Quoted,
    /// The outgoing payment was created, or read back.
    PaymentFound,
    /// The RS refused the call (any 4xx or 5xx, classified by the machine; a 404 to the `GET` of
    /// the outgoing payment is the proof that no payment was made from the quote).
    Refused,
    /// The call did not reach the RS.
    NotSent,
    /// The call may or may not have reached the RS (timeout after send, dropped connection,
    /// a 2xx whose body does not parse).
    Ambiguous,
    /// The grant the payment is made under ended (lost, revoked, expired, ...).
    GrantEnded,
}

impl PaymentEventKind {
    /// The name used in the table and the diagram.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "Order",
            Self::Wake => "Wake",
            Self::Quoted => "Quoted",
            Self::PaymentFound => "PaymentFound",
            Self::Refused => "Refused",
            Self::NotSent => "NotSent",
            Self::Ambiguous => "Ambiguous",
            Self::GrantEnded => "GrantEnded",
        }
    }

    /// Whether this event is the outcome of a call (and needs one in flight).
    pub fn is_call_outcome(self) -> bool {
        matches!(
            self,
            Self::Quoted | Self::PaymentFound | Self::Refused | Self::NotSent | Self::Ambiguous
        )
    }
}

impl fmt::Display for PaymentEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The calls a payment makes at the resource server (RS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// `POST /quotes`: harmless to repeat (an unused quote costs nothing).
    CreateQuote,
    /// `POST /outgoing-payments` from the quote: the RS takes at most one per quote.
    CreatePayment,
    /// `GET /outgoing-payments/{quote id}`: read-only.
    GetPayment,
}

impl CallKind {
    /// The name used in reasons and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateQuote => "create quote",
            Self::CreatePayment => "create outgoing payment",
            Self::GetPayment => "get outgoing payment",
        }
    }
}

impl fmt::Display for CallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
