//! One call of the payment machine (`grantflow_payment::Effect`) over the client, and its outcome
//! as the machine's event.
//!
//! The first piece of the driver side of payments (issue 16): the durable loop (store, lease,
//! ledger, `Engine::pay`) is not built yet. Which token to use (and rotating it when the effect
//! asks, [`Engine::access_token_refused`](crate::Engine::access_token_refused)) and the headroom
//! a quote is checked against (from the ledger) are the caller's.
//!
//! Outcomes: a quote or a payment is an answer; a `ClientError` is `NotSent` when the request
//! surely never left, `Ambiguous` when it may have acted (timeout, dropped connection, a 2xx whose
//! body could not be used), `Refused` with the status and the RS's description otherwise (the
//! machine reads 403 "Inactive Token", 400 "invalid quote", 404, 429, 5xx from it).

use grantflow_client::{Client, ClientError, Delivery, ErrorKind};
use grantflow_payment::{
    Headroom, PaymentAmount, PaymentCall, PaymentEvent, PaymentInfo, QuoteInfo, Refusal,
};
use grantflow_protocol::Secret;
use grantflow_protocol::outgoing_payment::{CreateOutgoingPayment, OutgoingPayment};
use grantflow_protocol::quote::{CreateQuote, Quote, QuoteAmount, QuoteMethod};
use url::Url;

/// What the RS answered to one payment call.
#[derive(Debug)]
pub enum PaymentAnswer {
    /// `POST /quotes` made a quote.
    Quote(Quote),
    /// `POST /outgoing-payments` made the payment, or `GET` found it.
    Payment(OutgoingPayment),
    /// The call failed: the event that says how.
    Failed(PaymentEvent),
}

impl PaymentAnswer {
    /// The machine's event for this answer; `headroom` gives what the grant's limits leave for a
    /// quote (from the caller's ledger, at the answer's instant).
    pub fn into_event(self, headroom: impl FnOnce(&QuoteInfo) -> Headroom) -> PaymentEvent {
        match self {
            Self::Quote(q) => {
                let quote = QuoteInfo::from(&q);
                let headroom = headroom(&quote);
                PaymentEvent::Quoted { quote, headroom }
            }
            Self::Payment(p) => PaymentEvent::PaymentFound {
                payment: PaymentInfo::from(&p),
            },
            Self::Failed(event) => event,
        }
    }
}

/// Makes `call` at `resource_server` (the sending wallet address's `resourceServer`) with `token`.
pub async fn make_payment_call(
    client: &Client,
    resource_server: &Url,
    token: &Secret,
    call: &PaymentCall,
) -> PaymentAnswer {
    let answer = match call {
        PaymentCall::CreateQuote {
            wallet_address,
            receiver,
            amount,
        } => {
            let quote = CreateQuote {
                wallet_address: wallet_address.clone(),
                receiver: receiver.clone(),
                method: QuoteMethod::Ilp,
                amount: match amount {
                    PaymentAmount::Debit(a) => QuoteAmount::Debit(a.clone()),
                    PaymentAmount::Receive(a) => QuoteAmount::Receive(a.clone()),
                },
            };
            client
                .create_quote(resource_server, token, &quote)
                .await
                .map(PaymentAnswer::Quote)
        }
        PaymentCall::CreateOutgoingPayment {
            wallet_address,
            quote_id,
            metadata,
        } => {
            let payment = CreateOutgoingPayment::FromQuote {
                wallet_address: wallet_address.clone(),
                quote_id: quote_id.clone(),
                metadata: metadata.clone(),
            };
            client
                .create_outgoing_payment(resource_server, token, &payment)
                .await
                .map(PaymentAnswer::Payment)
        }
        PaymentCall::GetOutgoingPayment { url } => match Url::parse(url) {
            Ok(url) => client
                .get_outgoing_payment(&url, token)
                .await
                .map(PaymentAnswer::Payment),
            Err(e) => {
                return PaymentAnswer::Failed(PaymentEvent::NotSent {
                    error: format!("the outgoing payment URL {url} is not a URL: {e}"),
                });
            }
        },
    };
    answer.unwrap_or_else(|e| PaymentAnswer::Failed(payment_event(&e)))
}

/// The payment machine's event for a failed call.
pub fn payment_event(error: &ClientError) -> PaymentEvent {
    let detail = error.to_string();
    if let ErrorKind::Status(s) = error.kind() {
        return PaymentEvent::Refused {
            refusal: Refusal {
                status: s.status.as_u16(),
                code: s.gnap_code().map(|c| c.to_string()),
                description: s.description().map(str::to_owned),
            },
        };
    }
    match (error.delivery(), error.kind().status()) {
        (Delivery::NotSent, _) => PaymentEvent::NotSent { error: detail },
        // An error status whose body could not be read: a refusal without a description.
        (Delivery::Received, Some(status)) if !status.is_success() => PaymentEvent::Refused {
            refusal: Refusal {
                status: status.as_u16(),
                code: None,
                description: None,
            },
        },
        // Unknown, or a success whose body could not be used: it may have acted.
        _ => PaymentEvent::Ambiguous { error: detail },
    }
}
