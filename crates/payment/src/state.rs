//! The payment's state: where it is in its life, the call it makes next (or has in flight), and,
//! once final, its outcome.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantflow_interval::Amount;
use grantflow_protocol::outgoing_payment::OutgoingPayment;
use grantflow_protocol::quote::Quote;
use serde::{Deserialize, Serialize};

use crate::event::{GrantEnd, Refusal};
use crate::kind::{CallKind, PaymentStateKind};
use crate::limit::LimitRefused;
use crate::order::PaymentOrder;

/// A quote, as much of it as the payment needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteInfo {
    /// The quote's URL (`<RS>/quotes/<id>`): the `quoteId` of the outgoing payment, whose id the
    /// reference makes equal to the quote's.
    pub id: String,
    /// What the sender is debited.
    pub debit_amount: Amount,
    /// What the receiver gets.
    pub receive_amount: Amount,
    /// When the RS stops accepting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl QuoteInfo {
    /// The URL of the outgoing payment this quote becomes: `<RS>/quotes/<id>` →
    /// `<RS>/outgoing-payments/<id>` (the reference inserts the payment with the quote's id).
    /// `None` when the quote's URL is not of that form.
    pub fn payment_url(&self) -> Option<String> {
        let (base, id) = self.id.rsplit_once("/quotes/")?;
        (!id.is_empty() && !id.contains('/')).then(|| format!("{base}/outgoing-payments/{id}"))
    }
}

impl From<&Quote> for QuoteInfo {
    fn from(q: &Quote) -> Self {
        Self {
            id: q.id.clone(),
            debit_amount: q.debit_amount.clone(),
            receive_amount: q.receive_amount.clone(),
            expires_at: q.expires_at,
        }
    }
}

/// An outgoing payment, as much of it as the payment needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInfo {
    /// Its URL.
    pub id: String,
    /// The quote it was created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<String>,
    /// What the sender is debited.
    pub debit_amount: Amount,
    /// What the receiver is to get.
    pub receive_amount: Amount,
    /// What was sent so far.
    pub sent_amount: Amount,
    /// Whether the RS gave up sending it.
    pub failed: bool,
    /// When the RS created it (the instant its limit window is picked by).
    pub created_at: DateTime<Utc>,
}

impl From<&OutgoingPayment> for PaymentInfo {
    fn from(p: &OutgoingPayment) -> Self {
        Self {
            id: p.id.clone(),
            quote_id: p.quote_id.clone(),
            debit_amount: p.debit_amount.clone(),
            receive_amount: p.receive_amount.clone(),
            sent_amount: p.sent_amount.clone(),
            failed: p.failed,
            created_at: p.created_at,
        }
    }
}

/// Which token the next attempt of a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenUse {
    /// The grant's current token.
    Current,
    /// Rotate first: the RS answered 403 "Inactive Token".
    RefreshFirst,
    /// The attempt in flight (or the last one) ran with a token rotated for it; another 403
    /// "Inactive Token" fails the payment.
    Refreshed,
}

/// The call a payment makes next, or has in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Which call.
    pub kind: CallKind,
    /// Attempts sent so far.
    pub attempts: u32,
    /// Whether an attempt is in flight (committed before the call; a `Wake` while in flight means
    /// its caller lost it).
    pub in_flight: bool,
    /// When it is due (not in flight) or when its attempt counts as lost (in flight).
    pub wake_at: DateTime<Utc>,
    /// Since when the call fails (`None`: it has not failed since it last succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// The last error, for the reason shown to people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Which token the next attempt uses.
    pub token: TokenUse,
}

impl Call {
    /// A call due at `at`.
    pub fn due(kind: CallKind, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            attempts: 0,
            in_flight: false,
            wake_at: at,
            failing_since: None,
            last_error: None,
            token: TokenUse::Current,
        }
    }
}

/// `POST /quotes` to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quoting {
    /// The order.
    pub order: Arc<PaymentOrder>,
    /// The quote call.
    pub call: Call,
    /// Quotes received before this one (each expired unused).
    pub quotes: u32,
}

/// `POST /outgoing-payments` from `quote` to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    /// The order.
    pub order: Arc<PaymentOrder>,
    /// The quote paid from.
    pub quote: QuoteInfo,
    /// The create call.
    pub call: Call,
    /// Quotes received so far, this one included.
    pub quotes: u32,
    /// Whether an earlier create from this quote may have acted (its outcome was unknown and no
    /// `GET` has proven it absent since the quote became unusable). While set, the payment never
    /// moves to another quote.
    pub maybe_created: bool,
}

/// `GET` of the outgoing payment the quote would have become, to learn whether a create acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirming {
    /// The order.
    pub order: Arc<PaymentOrder>,
    /// The quote whose payment is looked for.
    pub quote: QuoteInfo,
    /// The `GET` call.
    pub call: Call,
    /// Quotes received so far, this one included.
    pub quotes: u32,
    /// Whether the RS refused the quote (400 "invalid quote"): it will not take it again, so a
    /// 404 leads to a new quote (once the quote is past its expiry), never to a re-send.
    pub quote_refused: bool,
}

/// Final: the outgoing payment exists at the RS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The order.
    pub order: Arc<PaymentOrder>,
    /// The quote it was made from.
    pub quote: QuoteInfo,
    /// The payment as the RS showed it.
    pub payment: PaymentInfo,
}

/// Final: the payment failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// The order (`None` never happens today: kept optional for orders refused before storing).
    pub order: Option<Arc<PaymentOrder>>,
    /// The last quote, if one was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<QuoteInfo>,
    /// Why.
    pub failure: Failure,
}

/// Why a payment failed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum Failure {
    /// The order or its quote does not fit the grant's limits: nothing was paid.
    #[error("refused before paying: {refused}")]
    LimitReached {
        /// Which limit, what is left, and when the next window starts.
        refused: LimitRefused,
    },
    /// The grant ended: the user must consent again (a new grant) before anything can be paid.
    #[error("the grant was {end}: the user must consent again{}", maybe_paid_from.as_ref().map_or_else(String::new, |q| format!("; a payment from the quote {q} may exist: check it with the new grant before paying again")))]
    ConsentNeeded {
        /// How the grant ended.
        end: GrantEnd,
        /// The quote whose payment may have been created (its outcome was never learned).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maybe_paid_from: Option<String>,
    },
    /// The RS refused a call that retrying cannot fix: nothing was paid.
    #[error("the RS refused to {call}: {refusal}")]
    Refused {
        /// The call.
        call: CallKind,
        /// The answer.
        refusal: Refusal,
    },
    /// The RS answered 403 "Inactive Token" again with a token rotated for the attempt.
    #[error(
        "the RS refused a freshly rotated token to {call}: the grant's access may no longer cover it"
    )]
    TokenRefused {
        /// The call.
        call: CallKind,
    },
    /// A call kept failing for the whole recovery budget; no payment was created.
    #[error("gave up trying to {call} after {attempts} attempts: {last_error}")]
    GaveUp {
        /// The call.
        call: CallKind,
        /// Attempts sent.
        attempts: u32,
        /// The last error.
        last_error: String,
    },
    /// A create from `quote_id` may have acted, and the RS could not be asked for the recovery
    /// budget: check `GET` of its outgoing payment before paying again.
    #[error(
        "the outcome of paying from the quote {quote_id} is unknown ({last_error}): check its outgoing payment before paying again"
    )]
    OutcomeUnknown {
        /// The quote whose payment may exist.
        quote_id: String,
        /// The last error.
        last_error: String,
    },
    /// Every quote expired before it could be used, `quotes` times.
    #[error("{quotes} quotes expired before one could be paid")]
    QuotesSpent {
        /// Quotes made.
        quotes: u32,
    },
    /// The quote's URL does not name the outgoing payment it becomes (`…/quotes/<id>`), so an
    /// ambiguous create could not be checked: nothing was sent.
    #[error(
        "the quote {quote_id} is not of the form <RS>/quotes/<id>: its payment could not be checked after a lost answer, so it was not sent"
    )]
    QuoteNotRecoverable {
        /// The quote's URL.
        quote_id: String,
    },
    /// The RS created the outgoing payment and marked it failed.
    #[error("the RS marked the outgoing payment {payment_id} failed")]
    PaymentFailed {
        /// The payment's URL.
        payment_id: String,
    },
}

/// A payment's state. Serialised as tagged JSON (`"state": "quoting", ...`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PaymentState {
    /// Before the order.
    #[default]
    Initial,
    /// Quoting.
    Quoting(Quoting),
    /// Creating the outgoing payment from the quote.
    Sending(Sending),
    /// Checking whether an earlier create acted.
    Confirming(Confirming),
    /// Final: paid.
    Sent(Sent),
    /// Final: failed.
    Failed(Failed),
}

impl PaymentState {
    /// The state's kind (its name in the table).
    pub fn kind(&self) -> PaymentStateKind {
        match self {
            Self::Initial => PaymentStateKind::Initial,
            Self::Quoting(_) => PaymentStateKind::Quoting,
            Self::Sending(_) => PaymentStateKind::Sending,
            Self::Confirming(_) => PaymentStateKind::Confirming,
            Self::Sent(_) => PaymentStateKind::Sent,
            Self::Failed(_) => PaymentStateKind::Failed,
        }
    }

    /// The call the payment makes next or has in flight (none in `Initial` and the final states).
    pub fn call(&self) -> Option<&Call> {
        match self {
            Self::Quoting(s) => Some(&s.call),
            Self::Sending(s) => Some(&s.call),
            Self::Confirming(s) => Some(&s.call),
            Self::Initial | Self::Sent(_) | Self::Failed(_) => None,
        }
    }

    /// The call in flight, if any.
    pub fn call_in_flight(&self) -> Option<CallKind> {
        self.call().filter(|c| c.in_flight).map(|c| c.kind)
    }

    /// When the payment next needs a [`PaymentEvent::Wake`](crate::PaymentEvent): every state but
    /// `Initial` and the final ones has one.
    pub fn next_wake_at(&self) -> Option<DateTime<Utc>> {
        self.call().map(|c| c.wake_at)
    }

    /// The order, once given.
    pub fn order(&self) -> Option<&Arc<PaymentOrder>> {
        match self {
            Self::Initial => None,
            Self::Quoting(s) => Some(&s.order),
            Self::Sending(s) => Some(&s.order),
            Self::Confirming(s) => Some(&s.order),
            Self::Sent(s) => Some(&s.order),
            Self::Failed(s) => s.order.as_ref(),
        }
    }

    /// Why a failed payment failed, or what a payment in trouble last ran into.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Failed(f) => Some(f.failure.to_string()),
            _ => self.call().and_then(|c| {
                c.last_error
                    .as_ref()
                    .map(|e| format!("{} failing: {e}", c.kind))
            }),
        }
    }
}
