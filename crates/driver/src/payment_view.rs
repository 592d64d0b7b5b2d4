//! What the application reads of a payment ([`PaymentView`], [`PaymentHistoryEntry`],
//! [`PaymentUpdate`] in the change feed), what the store keeps of it (`StoredPayment`), and the
//! grant facts a payment is made with (its `outgoing-payment` access; how an ended grant reads).

use chrono::{DateTime, Utc};
use grantflow_machine::StateKind;
use grantflow_payment::{
    GrantEnd, PaymentChange, PaymentEvent, PaymentEventKind, PaymentState, PaymentStateKind, Sent,
};
use grantflow_protocol::grant::{AccessItem, OutgoingPaymentLimits};
use grantflow_store::{GrantId, PaymentEventRecord, PaymentId, PaymentRecord};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// What the store keeps of a payment: the machine's state, and what the driver needs beside it
/// (fixed when it is ordered). Holds no secret: the token is fetched from the grant for each
/// call and never stored here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredPayment {
    /// The resource server the sending wallet address names (`resourceServer`).
    pub(crate) resource_server: String,
    /// The payment machine's state.
    pub(crate) payment: PaymentState,
}

impl StoredPayment {
    pub(crate) fn decode(id: PaymentId, text: &str) -> Result<Self, EngineError> {
        serde_json::from_str(text).map_err(|e| EngineError::PaymentCorrupt {
            payment: id,
            detail: e.to_string(),
        })
    }
}

/// A payment as stored.
#[derive(Debug, Clone)]
pub struct PaymentView {
    /// The payment's id.
    pub id: PaymentId,
    /// The grant it is made under.
    pub grant: GrantId,
    /// The application's idempotency key.
    pub idempotency_key: String,
    /// The resource server it pays at.
    pub resource_server: String,
    /// The payment machine's state.
    pub state: PaymentState,
    /// Transitions so far (the order is version 1).
    pub version: i64,
    /// When a worker next looks at it (`None`: final).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// When it was ordered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl PaymentView {
    pub(crate) fn from_record(record: PaymentRecord) -> Result<Self, EngineError> {
        let stored = StoredPayment::decode(record.id, &record.state)?;
        Ok(Self {
            id: record.id,
            grant: record.grant,
            idempotency_key: record.idempotency_key,
            resource_server: stored.resource_server,
            state: stored.payment,
            version: record.version,
            next_wake_at: record.next_wake_at,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }

    /// The coarse state (`Quoting`, `Sending`, `Confirming`, `Sent`, `Failed`).
    pub fn kind(&self) -> PaymentStateKind {
        self.state.kind()
    }

    /// Whether it is `Sent` or `Failed`.
    pub fn is_final(&self) -> bool {
        self.kind().is_final()
    }

    /// The outgoing payment, once `Sent`.
    pub fn sent(&self) -> Option<&Sent> {
        match &self.state {
            PaymentState::Sent(s) => Some(s),
            _ => None,
        }
    }

    /// Why it failed, or what it last ran into.
    pub fn reason(&self) -> Option<String> {
        self.state.reason()
    }
}

/// A payment's transition as the change feed tells it ([`FeedChange::Payment`](crate::FeedChange::Payment)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentUpdate {
    /// The payment.
    pub payment: PaymentId,
    /// The grant it is made under.
    pub grant: GrantId,
    /// Its version after the change.
    pub version: i64,
    /// The state before.
    pub from: PaymentStateKind,
    /// The event.
    pub event: PaymentEventKind,
    /// The state after.
    pub kind: PaymentStateKind,
    /// What the application is told (quoted, sent, failed).
    pub change: Option<PaymentChange>,
}

impl PaymentUpdate {
    /// The change's name as the feed's summary and the webhook write it (`quoted`, `sent`,
    /// `failed`).
    pub fn change_name(&self) -> Option<&'static str> {
        self.change.map(change_name)
    }
}

/// A payment change's name in the feed's summary and the webhook's body.
pub(crate) fn change_name(change: PaymentChange) -> &'static str {
    match change {
        PaymentChange::Quoted => "quoted",
        PaymentChange::Sent => "sent",
        PaymentChange::Failed => "failed",
    }
}

/// One recorded event of a payment.
#[derive(Debug, Clone)]
pub struct PaymentHistoryEntry {
    /// The payment's version after it.
    pub version: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The event.
    pub event: PaymentEvent,
}

impl PaymentHistoryEntry {
    pub(crate) fn from_record(r: PaymentEventRecord) -> Result<Self, EngineError> {
        Ok(Self {
            version: r.version,
            at: r.at,
            event: serde_json::from_str(&r.event).map_err(|e| EngineError::PaymentCorrupt {
                payment: r.payment,
                detail: e.to_string(),
            })?,
        })
    }
}

/// The feed's summary of a payment transition (tagged `payment` beside the grants' `grant` in
/// `feed.rs`): kinds and the grant id, never a URL, amount or token.
#[derive(Serialize, Deserialize)]
pub(crate) struct PaymentSummary {
    pub(crate) grant: GrantId,
    pub(crate) from: PaymentStateKind,
    pub(crate) event: PaymentEventKind,
    pub(crate) kind: PaymentStateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) change: Option<String>,
}

impl PaymentSummary {
    /// The change as the application reads it from the feed.
    pub(crate) fn into_update(self, payment: PaymentId, version: i64) -> PaymentUpdate {
        PaymentUpdate {
            payment,
            grant: self.grant,
            version,
            from: self.from,
            event: self.event,
            kind: self.kind,
            change: [
                PaymentChange::Quoted,
                PaymentChange::Sent,
                PaymentChange::Failed,
            ]
            .into_iter()
            .find(|c| self.change.as_deref() == Some(change_name(*c))),
        }
    }
}

/// The grant outcome a payment reads as "the user must consent again" (`None`: the grant is
/// not over: not issued yet, or its token is being replaced).
pub(crate) fn grant_end(kind: StateKind) -> Option<GrantEnd> {
    Some(match kind {
        StateKind::Lost => GrantEnd::Lost,
        StateKind::Revoked => GrantEnd::Revoked,
        StateKind::Expired => GrantEnd::Expired,
        StateKind::Rejected => GrantEnd::Rejected,
        StateKind::Canceled => GrantEnd::Canceled,
        StateKind::Failed => GrantEnd::Failed,
        _ => return None,
    })
}

/// The grant's `outgoing-payment` access: the sending wallet address and the limits.
pub(crate) fn outgoing_access(
    grant: GrantId,
    access: &[AccessItem],
) -> Result<(String, Option<OutgoingPaymentLimits>), EngineError> {
    access
        .iter()
        .find_map(|a| match a {
            AccessItem::OutgoingPayment(o) => Some((o.identifier.clone(), o.limits.clone())),
            _ => None,
        })
        .ok_or(EngineError::NotPayable {
            grant,
            reason: "the grant has no outgoing-payment access".into(),
        })
}
