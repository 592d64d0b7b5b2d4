//! What the application asks for: one payment from a wallet address to an incoming payment.

use grantflow_interval::Amount;
use grantflow_protocol::incoming_payment::Metadata;
use serde::{Deserialize, Serialize};

/// Which side of the payment the order fixes (Open Payments' quote amounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentAmount {
    /// Debit exactly this from the sender (fixed send).
    Debit(Amount),
    /// Deliver exactly this to the receiver (fixed receive).
    Receive(Amount),
}

impl PaymentAmount {
    /// The amount, whichever side it fixes.
    pub fn amount(&self) -> &Amount {
        match self {
            Self::Debit(a) | Self::Receive(a) => a,
        }
    }
}

/// One payment to make under a grant: the sending wallet address, the incoming payment URL it
/// pays, the amount and the client's metadata. The grant (and its token) is the driver's business:
/// the machine only learns that it ended ([`PaymentEvent::GrantEnded`](crate::PaymentEvent)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOrder {
    /// The sending wallet address (the grant's).
    pub wallet_address: String,
    /// The incoming payment URL to pay.
    pub receiver: String,
    /// What to debit or what to deliver.
    pub amount: PaymentAmount,
    /// The client's metadata for the outgoing payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}
