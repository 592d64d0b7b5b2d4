//! Incoming payments (`/incoming-payments`): what a receiver creates so it can be paid.

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::amount::Amount;
use crate::secret::Secret;

/// Free-form metadata attached to a payment (`externalRef` and the like).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// An incoming payment as its owner (a client with an incoming-payment grant) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingPayment {
    /// Its URL.
    pub id: String,
    /// The wallet address it pays into.
    pub wallet_address: String,
    /// Whether it accepts no more payments.
    #[serde(default)]
    pub completed: bool,
    /// The amount it expects, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming_amount: Option<Amount>,
    /// What has been received so far.
    pub received_amount: Amount,
    /// When it stops accepting payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Client metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// How to pay it (on create and get; absent from lists and completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<PaymentMethod>>,
}

/// A way to pay an incoming payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PaymentMethod {
    /// Interledger: STREAM to `ilpAddress` with `sharedSecret`.
    #[serde(rename_all = "camelCase")]
    Ilp {
        /// The ILP address.
        ilp_address: String,
        /// The STREAM shared secret (base64url).
        shared_secret: Secret,
    },
}

/// What anyone (without a grant) may see of an incoming payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicIncomingPayment {
    /// What has been received so far, if the server shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_amount: Option<Amount>,
    /// The authorization server to ask for a grant on it.
    pub auth_server: String,
}

/// The answer to `GET /incoming-payments/{id}`: the full payment for its owner, the public view
/// otherwise. Decided by the presence of `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingPaymentView {
    /// The owner's view.
    Full(Box<IncomingPayment>),
    /// The public view.
    Public(PublicIncomingPayment),
}

impl Serialize for IncomingPaymentView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IncomingPaymentView::Full(p) => p.serialize(serializer),
            IncomingPaymentView::Public(p) => p.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for IncomingPaymentView {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(deserializer)?;
        let full = v.get("id").is_some();
        if full {
            serde_json::from_value(v)
                .map(|p| IncomingPaymentView::Full(Box::new(p)))
                .map_err(de::Error::custom)
        } else {
            serde_json::from_value(v)
                .map(IncomingPaymentView::Public)
                .map_err(de::Error::custom)
        }
    }
}

/// The body of `POST /incoming-payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIncomingPayment {
    /// The wallet address to be paid into.
    pub wallet_address: String,
    /// The amount expected (same asset as the wallet address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming_amount: Option<Amount>,
    /// When it should stop accepting payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Client metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"id":"https://ilp.example/incoming-payments/1","walletAddress":"https://ilp.example/alice/","completed":false,"incomingAmount":{"value":"2500","assetCode":"USD","assetScale":2},"receivedAmount":{"value":"0","assetCode":"USD","assetScale":2},"expiresAt":"2022-02-03T23:20:50.520Z","metadata":{"externalRef":"INV2022-02-0137"},"createdAt":"2022-03-12T23:20:50.520Z","methods":[{"type":"ilp","ilpAddress":"g.ilp.iwuyge987y.98y08y","sharedSecret":"1c7eaXa4rd2fFOBl1iydvCT1tV5TbM3RW1WLCafu_JA"}]}"#;

    #[test]
    fn full_view_round_trips_and_hides_the_secret() {
        let v: IncomingPaymentView = serde_json::from_str(FULL).unwrap();
        let IncomingPaymentView::Full(p) = &v else {
            panic!("{v:?}")
        };
        assert_eq!(p.received_amount.value, 0);
        assert!(!format!("{p:?}").contains("1c7eaX"));
        assert_eq!(serde_json::to_string(&v).unwrap(), FULL);
    }

    #[test]
    fn public_view() {
        let v: IncomingPaymentView =
            serde_json::from_str(r#"{"authServer":"https://auth.example/"}"#).unwrap();
        assert!(matches!(v, IncomingPaymentView::Public(_)));
        assert!(serde_json::from_str::<IncomingPaymentView>(r#"{"id":"x"}"#).is_err());
        assert!(serde_json::from_str::<IncomingPaymentView>("{}").is_err());
    }

    #[test]
    fn create_body() {
        let c = CreateIncomingPayment {
            wallet_address: "https://ilp.example/alice".into(),
            incoming_amount: Some(Amount::new(2500, "USD", 2)),
            expires_at: None,
            metadata: None,
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"walletAddress":"https://ilp.example/alice","incomingAmount":{"value":"2500","assetCode":"USD","assetScale":2}}"#
        );
        assert!(
            serde_json::from_str::<CreateIncomingPayment>(r#"{"walletAddress":"w","x":1}"#)
                .is_err()
        );
    }
}
