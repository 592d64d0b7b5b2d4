//! What the application reads: a grant, its history, its changes, its access token.

use chrono::{DateTime, Utc};
use grantflow_machine::{Change, Event, EventKind, GrantState, StateFormatError, StateKind};
use grantflow_protocol::Secret;
use grantflow_protocol::grant::AccessItem;
use grantflow_store::{EventRecord, GrantId, GrantRecord};

use crate::error::EngineError;

/// A grant as stored: its machine state and bookkeeping. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct GrantView {
    /// The grant's id.
    pub id: GrantId,
    /// The application's idempotency key.
    pub idempotency_key: Option<String>,
    /// Transitions so far (the request is version 1).
    pub version: i64,
    /// The machine state.
    pub state: GrantState,
    /// When a worker next looks at the grant (`None`: never again).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The user's wallet address the grant was requested for (`None` for quote-only access, or
    /// a grant not written since before summaries were kept and not reindexed).
    pub wallet_address: Option<String>,
    /// The access types requested (`incoming-payment`, `outgoing-payment`, `quote`); empty
    /// when unknown, as for `wallet_address`.
    pub access_types: Vec<String>,
}

impl GrantView {
    /// The coarse state (`awaiting_interaction`, `issued`, `lost`, ...).
    pub fn kind(&self) -> StateKind {
        self.state.kind()
    }

    /// The URL to send the user to, while the grant waits for the interaction.
    pub fn redirect(&self) -> Option<&str> {
        self.state.redirect()
    }

    /// Whether the grant has ended for good (anything but an issued grant).
    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }

    pub(crate) fn from_record(record: GrantRecord) -> Result<Self, EngineError> {
        Ok(Self {
            state: decode_state(record.id, &record.state)?,
            id: record.id,
            idempotency_key: record.idempotency_key,
            version: record.version,
            next_wake_at: record.next_wake_at,
            created_at: record.created_at,
            updated_at: record.updated_at,
            wallet_address: record.summary.wallet_address,
            access_types: record.summary.access_types,
        })
    }
}

/// One recorded transition of a grant.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The grant's version after it.
    pub version: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// What happened.
    pub event: Event,
}

impl HistoryEntry {
    pub(crate) fn from_record(record: EventRecord) -> Result<Self, EngineError> {
        Ok(Self {
            version: record.version,
            at: record.at,
            event: serde_json::from_str(&record.event).map_err(|e| EngineError::Corrupt {
                grant: record.grant,
                source: StateFormatError::Malformed(e),
            })?,
        })
    }
}

/// A grant's committed transition, as the change feed shows it
/// ([`FeedChange::Grant`](crate::FeedChange::Grant)): kinds only, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantChange {
    /// The grant.
    pub grant: GrantId,
    /// Its version after the transition.
    pub version: i64,
    /// Its coarse state before the transition (`Initial` for the request).
    pub from: StateKind,
    /// What happened (the edge of the transition table taken, with `from` and `kind`).
    pub event: EventKind,
    /// Its coarse state after the transition.
    pub kind: StateKind,
    /// The application-facing change, if the transition made one.
    pub change: Option<Change>,
}

/// A usable access token. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct AccessTokenView {
    /// The token value (`Authorization: GNAP <value>`).
    pub value: Secret,
    /// Its management URL.
    pub manage: String,
    /// When it expires, if the AS said.
    pub expires_at: Option<DateTime<Utc>>,
    /// What it grants.
    pub access: Vec<AccessItem>,
}

pub(crate) fn decode_state(grant: GrantId, json: &str) -> Result<GrantState, EngineError> {
    GrantState::from_json(json).map_err(|source| EngineError::Corrupt { grant, source })
}
