//! Outgoing payments (`/outgoing-payments`) and the spent amounts of an outgoing-payment grant
//! (`/outgoing-payment-grant`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::incoming_payment::Metadata;

/// An outgoing payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingPayment {
    /// Its URL.
    pub id: String,
    /// The sending wallet address.
    pub wallet_address: String,
    /// The quote it was created from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<String>,
    /// Whether it failed.
    #[serde(default)]
    pub failed: bool,
    /// The incoming payment it pays.
    pub receiver: String,
    /// What the receiver is to get.
    pub receive_amount: Amount,
    /// What the sender is debited.
    pub debit_amount: Amount,
    /// What has been sent so far.
    pub sent_amount: Amount,
    /// What the grant has debited in its current interval, on creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_spent_debit_amount: Option<Amount>,
    /// What the grant has delivered in its current interval, on creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_spent_receive_amount: Option<Amount>,
    /// Client metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The body of `POST /outgoing-payments`: from a quote, or straight to an incoming payment with
/// a debit amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CreateOutgoingPayment {
    /// Pay a quote.
    #[serde(rename_all = "camelCase")]
    FromQuote {
        /// The sending wallet address.
        wallet_address: String,
        /// The quote URL.
        quote_id: String,
        /// Client metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Metadata>,
    },
    /// Pay an incoming payment directly.
    #[serde(rename_all = "camelCase")]
    FromIncomingPayment {
        /// The sending wallet address.
        wallet_address: String,
        /// The incoming payment URL.
        incoming_payment: String,
        /// What to debit.
        debit_amount: Amount,
        /// Client metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Metadata>,
    },
}

/// What an outgoing-payment grant has spent (in its current interval, when it has one).
/// `null` when nothing was spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingPaymentGrantSpentAmounts {
    /// Delivered to receivers.
    pub spent_receive_amount: Option<Amount>,
    /// Debited from the sender.
    pub spent_debit_amount: Option<Amount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_round_trips() {
        let json = r#"{"id":"https://ilp.example/outgoing-payments/1","walletAddress":"https://ilp.example/alice/","failed":false,"receiver":"https://ilp.example/incoming-payments/2","receiveAmount":{"value":"2500","assetCode":"USD","assetScale":2},"debitAmount":{"value":"2600","assetCode":"USD","assetScale":2},"sentAmount":{"value":"0","assetCode":"USD","assetScale":2},"grantSpentDebitAmount":{"value":"2600","assetCode":"USD","assetScale":2},"createdAt":"2022-03-12T23:20:50.520Z"}"#;
        let p: OutgoingPayment = serde_json::from_str(json).unwrap();
        assert_eq!(p.debit_amount.value, 2600);
        assert_eq!(serde_json::to_string(&p).unwrap(), json);
    }

    #[test]
    fn create_shapes() {
        let q: CreateOutgoingPayment =
            serde_json::from_str(r#"{"walletAddress":"w","quoteId":"q"}"#).unwrap();
        assert!(matches!(q, CreateOutgoingPayment::FromQuote { .. }));
        let i: CreateOutgoingPayment = serde_json::from_str(
            r#"{"walletAddress":"w","incomingPayment":"i","debitAmount":{"value":"1","assetCode":"USD","assetScale":2}}"#,
        )
        .unwrap();
        assert!(matches!(
            i,
            CreateOutgoingPayment::FromIncomingPayment { .. }
        ));
        assert!(
            serde_json::from_str::<CreateOutgoingPayment>(
                r#"{"walletAddress":"w","incomingPayment":"i"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn spent_amounts_serialise_nulls() {
        let s = OutgoingPaymentGrantSpentAmounts {
            spent_receive_amount: None,
            spent_debit_amount: Some(Amount::new(5, "USD", 2)),
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"spentReceiveAmount":null,"spentDebitAmount":{"value":"5","assetCode":"USD","assetScale":2}}"#
        );
        assert_eq!(
            serde_json::from_str::<OutgoingPaymentGrantSpentAmounts>(&json).unwrap(),
            s
        );
    }
}
