//! What happened: the application's order, time passing, the RS's answers, and the end of the
//! grant the payment is made under. Events are stored (replay reproduces the state), so they carry
//! every input the machine uses, the limit headroom included.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::kind::PaymentEventKind;
use crate::limit::Headroom;
use crate::order::PaymentOrder;
use crate::state::{PaymentInfo, QuoteInfo};

/// An event for the payment machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PaymentEvent {
    /// The application's order, with what the grant's limits leave now
    /// ([`limit::check_order`](crate::limit::check_order)).
    Order {
        /// The payment to make.
        order: Arc<PaymentOrder>,
        /// What the limits leave at the order's instant.
        headroom: Headroom,
    },
    /// Time passed: the payment's `next_wake_at` was reached.
    Wake,
    /// `POST /quotes` answered with a quote, and what the grant's limits leave now (computed by
    /// the caller from its ledger, [`limit::headroom`](crate::limit::headroom)).
    Quoted {
        /// The quote.
        quote: QuoteInfo,
        /// What the limits leave at the answer's instant.
        headroom: Headroom,
    },
    /// The outgoing payment: the answer to its creation, or to its `GET`.
    PaymentFound {
        /// The payment as the RS shows it.
        payment: PaymentInfo,
    },
    /// The RS answered with an error status (a 404 to the `GET` means: no payment from the quote).
    Refused {
        /// The status and error.
        refusal: Refusal,
    },
    /// The request never reached the RS (connection refused, DNS, TLS, signing).
    NotSent {
        /// What went wrong.
        error: String,
    },
    /// The request may have reached the RS, and its answer is unknown (timeout after sending,
    /// dropped connection, a 2xx whose body does not parse).
    Ambiguous {
        /// What went wrong.
        error: String,
    },
    /// The grant ended: no token can be had for it any more.
    GrantEnded {
        /// How it ended.
        end: GrantEnd,
    },
}

impl PaymentEvent {
    /// The event's kind (its name in the table).
    pub fn kind(&self) -> PaymentEventKind {
        match self {
            Self::Order { .. } => PaymentEventKind::Order,
            Self::Wake => PaymentEventKind::Wake,
            Self::Quoted { .. } => PaymentEventKind::Quoted,
            Self::PaymentFound { .. } => PaymentEventKind::PaymentFound,
            Self::Refused { .. } => PaymentEventKind::Refused,
            Self::NotSent { .. } => PaymentEventKind::NotSent,
            Self::Ambiguous { .. } => PaymentEventKind::Ambiguous,
            Self::GrantEnded { .. } => PaymentEventKind::GrantEnded,
        }
    }
}

/// An error answer of the RS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The error's code, if the body had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The error's description (the reference's message: "Inactive Token", "invalid quote").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How the machine reads a [`Refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalClass {
    /// 403 "Inactive Token": the token expired or was rotated; refresh it once and retry.
    InactiveToken,
    /// 400 "invalid quote": the quote was used already (perhaps by our own earlier attempt),
    /// expired, or belongs to another wallet address.
    InvalidQuote,
    /// 404: the resource does not exist.
    NotFound,
    /// 429: not acted; retry after a back-off.
    TooManyRequests,
    /// 5xx: the outcome is unknown.
    ServerError,
    /// Any other refusal: not acted, and retrying will not help.
    Other,
}

impl Refusal {
    /// The class of this refusal (by status, and by description where the reference's status is
    /// shared by several meanings).
    pub fn class(&self) -> RefusalClass {
        let described = |text: &str| {
            self.description
                .as_deref()
                .is_some_and(|d| d.trim().eq_ignore_ascii_case(text))
        };
        match self.status {
            403 if described("Inactive Token") => RefusalClass::InactiveToken,
            400 if described("invalid quote") => RefusalClass::InvalidQuote,
            404 => RefusalClass::NotFound,
            429 => RefusalClass::TooManyRequests,
            500..=599 => RefusalClass::ServerError,
            _ => RefusalClass::Other,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// How the grant a payment is made under ended (the grant machine's final outcomes that leave no
/// token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantEnd {
    /// The grant was lost (its token can no longer be obtained).
    Lost,
    /// The user or the application revoked it.
    Revoked,
    /// It expired before the user approved it, or its series of windows is over.
    Expired,
    /// The user denied it.
    Rejected,
    /// It was canceled.
    Canceled,
    /// The AS refused it.
    Failed,
}

impl std::fmt::Display for GrantEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Lost => "lost",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
            Self::Failed => "failed",
        })
    }
}
