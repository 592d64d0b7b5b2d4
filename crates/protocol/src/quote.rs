//! Quotes (`/quotes`): the sender's resource server prices a payment to a receiver.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::amount::Amount;

/// The payment method a quote is for. Open Payments has only `ilp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuoteMethod {
    /// Interledger.
    Ilp,
}

/// A quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// Its URL (the `quoteId` of an outgoing payment).
    pub id: String,
    /// The sending wallet address.
    pub wallet_address: String,
    /// The incoming payment it pays.
    pub receiver: String,
    /// What the receiver gets.
    pub receive_amount: Amount,
    /// What the sender is debited.
    pub debit_amount: Amount,
    /// The payment method.
    pub method: QuoteMethod,
    /// When the quote stops being usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What a quote fixes: nothing (the receiver has an `incomingAmount`), the debit, or the
/// receipt. Both at once is not allowed by the spec, so it cannot be expressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteAmount {
    /// Let the incoming payment's `incomingAmount` decide.
    FromReceiver,
    /// Fixed send: debit exactly this.
    Debit(Amount),
    /// Fixed receive: deliver exactly this.
    Receive(Amount),
}

/// The body of `POST /quotes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCreateQuote", into = "RawCreateQuote")]
pub struct CreateQuote {
    /// The sending wallet address.
    pub wallet_address: String,
    /// The incoming payment to pay.
    pub receiver: String,
    /// The method.
    pub method: QuoteMethod,
    /// What is fixed.
    pub amount: QuoteAmount,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawCreateQuote {
    wallet_address: String,
    receiver: String,
    method: QuoteMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    debit_amount: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receive_amount: Option<Amount>,
}

/// A quote request with both `debitAmount` and `receiveAmount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a quote request may fix debitAmount or receiveAmount, not both")]
pub struct BothQuoteAmounts;

impl TryFrom<RawCreateQuote> for CreateQuote {
    type Error = BothQuoteAmounts;
    fn try_from(raw: RawCreateQuote) -> Result<Self, Self::Error> {
        let amount = match (raw.debit_amount, raw.receive_amount) {
            (Some(_), Some(_)) => return Err(BothQuoteAmounts),
            (Some(d), None) => QuoteAmount::Debit(d),
            (None, Some(r)) => QuoteAmount::Receive(r),
            (None, None) => QuoteAmount::FromReceiver,
        };
        Ok(Self {
            wallet_address: raw.wallet_address,
            receiver: raw.receiver,
            method: raw.method,
            amount,
        })
    }
}

impl From<CreateQuote> for RawCreateQuote {
    fn from(q: CreateQuote) -> Self {
        let (debit_amount, receive_amount) = match q.amount {
            QuoteAmount::FromReceiver => (None, None),
            QuoteAmount::Debit(d) => (Some(d), None),
            QuoteAmount::Receive(r) => (None, Some(r)),
        };
        Self {
            wallet_address: q.wallet_address,
            receiver: q.receiver,
            method: q.method,
            debit_amount,
            receive_amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_quote_shapes() {
        let base = r#""walletAddress":"https://ilp.example/alice","receiver":"https://ilp.example/incoming-payments/1","method":"ilp""#;
        let amount = r#"{"value":"2600","assetCode":"USD","assetScale":2}"#;
        let q: CreateQuote = serde_json::from_str(&format!("{{{base}}}")).unwrap();
        assert_eq!(q.amount, QuoteAmount::FromReceiver);
        let json = format!(r#"{{{base},"debitAmount":{amount}}}"#);
        let q: CreateQuote = serde_json::from_str(&json).unwrap();
        assert!(matches!(q.amount, QuoteAmount::Debit(_)));
        assert_eq!(serde_json::to_string(&q).unwrap(), json);
        let json = format!(r#"{{{base},"receiveAmount":{amount}}}"#);
        assert!(matches!(
            serde_json::from_str::<CreateQuote>(&json).unwrap().amount,
            QuoteAmount::Receive(_)
        ));
        let both = format!(r#"{{{base},"debitAmount":{amount},"receiveAmount":{amount}}}"#);
        assert!(serde_json::from_str::<CreateQuote>(&both).is_err());
        let bad_method = format!("{{{base}}}").replace("\"ilp\"", "\"card\"");
        assert!(serde_json::from_str::<CreateQuote>(&bad_method).is_err());
    }
}
