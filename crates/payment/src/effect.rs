//! What to do next: one call at the resource server, and a notification for the application.

use grantflow_protocol::incoming_payment::Metadata;

use crate::order::PaymentAmount;

/// A call at the resource server, with the token of the payment's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCall {
    /// `POST <RS>/quotes`.
    CreateQuote {
        /// The sending wallet address.
        wallet_address: String,
        /// The incoming payment URL.
        receiver: String,
        /// What to debit or deliver.
        amount: PaymentAmount,
    },
    /// `POST <RS>/outgoing-payments` with `quoteId`: never without a quote, so a repeat is refused
    /// by the RS instead of paying twice.
    CreateOutgoingPayment {
        /// The sending wallet address.
        wallet_address: String,
        /// The quote's URL.
        quote_id: String,
        /// The client's metadata.
        metadata: Option<Metadata>,
    },
    /// `GET <url>`: the outgoing payment the quote would have become (its id is the quote's id).
    GetOutgoingPayment {
        /// The outgoing payment's URL.
        url: String,
    },
}

/// The call to make now (already marked in flight in the new state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// The call.
    pub call: PaymentCall,
    /// Rotate the grant's token before the call (the RS answered the previous attempt with
    /// 403 "Inactive Token"); otherwise use the engine's current token.
    pub refresh_token: bool,
}

/// What changed, for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentChange {
    /// A quote arrived and fits the limits: the payment is about to be sent.
    Quoted,
    /// The outgoing payment exists at the RS (final).
    Sent,
    /// The payment failed (final); the state's reason says why and what to do.
    Failed,
}
