//! The engine's error type.

use std::sync::Arc;

use grantflow_machine::{MachineError, StateFormatError, StateKind};
use grantflow_store::{GrantId, RefusedReason, StoreError};

/// What went wrong with an application request to the engine. Each variant says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// There is no grant with this id.
    #[error("no grant {0}")]
    NotFound(GrantId),
    /// The database failed; nothing of the failed operation was written. Retry later.
    #[error("store error: {0}")]
    Store(#[from] Arc<StoreError>),
    /// The machine refused the command in the grant's current state (e.g. revoking a grant that
    /// was never issued); nothing changed.
    #[error("grant {grant}: {source}")]
    Refused {
        /// The grant.
        grant: GrantId,
        /// The machine's reason.
        #[source]
        source: MachineError,
    },
    /// A worker holds the grant's lease (a call is running) and did not release it within the
    /// configured `command_wait`. Retry.
    #[error("grant {0} is busy: a worker holds its lease; retry shortly")]
    Busy(GrantId),
    /// The engine lost the grant's lease while working on it (it lapsed and another worker took
    /// over, which now carries the grant on). Read the grant again.
    #[error("grant {grant}: lease lost ({reason}); another worker carries the grant on")]
    LeaseLost {
        /// The grant.
        grant: GrantId,
        /// Why the write was refused.
        reason: RefusedReason,
    },
    /// The stored state could not be read by this version of grantflow.
    #[error("grant {grant}: {source}")]
    Corrupt {
        /// The grant.
        grant: GrantId,
        /// The format error.
        #[source]
        source: StateFormatError,
    },
    /// A state or event could not be serialised (a bug).
    #[error("could not serialise a grant's state or event: {0}")]
    Encode(#[from] serde_json::Error),
    /// The idempotency key was first used for another request: its grant endpoint, access or
    /// interaction differs. Nothing was sent and the earlier grant is unchanged; use a new key
    /// for a new request.
    #[error(
        "idempotency key {key:?} was first used for another request (grant {grant}): its {differs} \
         differs; use a new key for a new request"
    )]
    IdempotencyKeyReused {
        /// The key.
        key: String,
        /// The grant created under it.
        grant: GrantId,
        /// What differs.
        differs: OrderPart,
    },
    /// A grant with a redirect finish was requested but the engine has no `finish_base_url`.
    #[error(
        "a redirect finish needs EngineConfig::finish_base_url (where finish_router is mounted)"
    )]
    NoFinishUrl,
    /// `EngineConfig::finish_base_url` cannot hold a path (e.g. `mailto:`): use the http(s) URL
    /// where `finish_router` is mounted.
    #[error("the finish base URL {0} cannot hold a path: use the http(s) URL of finish_router")]
    BadFinishUrl(String),
    /// The grant endpoint is not an absolute URL.
    #[error("the grant endpoint {endpoint:?} is not an absolute URL: {reason}")]
    BadGrantEndpoint {
        /// The endpoint given.
        endpoint: String,
        /// Why it is refused.
        reason: String,
    },
    /// The user's wallet address could not be looked up (unreachable, not a wallet address).
    #[error("cannot look up the wallet address {address:?}: {reason}")]
    WalletAddress {
        /// The wallet address given.
        address: String,
        /// Why.
        reason: String,
    },
    /// The grant has no usable access token (it is not issued, or it ended).
    #[error("grant {grant} has no access token: it is {state}")]
    NoAccessToken {
        /// The grant.
        grant: GrantId,
        /// Its state.
        state: StateKind,
    },
    /// Waiting for a grant timed out.
    #[error("timed out waiting for grant {0}")]
    Timeout(GrantId),
    /// The engine is shutting down and takes no new work.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// A task of the engine doing this work panicked (a bug in grantflow; it is logged). What it
    /// was writing may or may not have been committed: read the grant again.
    #[error("an engine task ({0}) failed; read the grant again")]
    TaskFailed(&'static str),
    /// [`Engine::new`](crate::Engine::new) was called outside a tokio runtime: the engine
    /// runs tasks, so create it from within one (e.g. inside `#[tokio::main]`).
    #[error("the engine needs a tokio runtime: create it from within one")]
    NoRuntime,
    /// A list filter named an access type that does not exist.
    #[error("unknown access type {0:?}: expected incoming-payment, outgoing-payment or quote")]
    UnknownAccessType(String),
    /// The access token's rotation ended without a new token: the recovery budget ran out
    /// while the AS kept failing, and the grant keeps its old token, which is expired (or was
    /// refused). Retry later: the next `access_token` rotates again.
    #[error("grant {0}: the token's rotation gave up without a new token; retry later")]
    RotationGaveUp(GrantId),
    /// The webhook's HTTP client could not be built (the TLS set-up failed); the message says
    /// why.
    #[error("cannot build the webhook's HTTP client: {0}")]
    NoWebhookClient(String),
    /// The webhook URL is not `http` or `https` (shown without credentials or query).
    #[error("webhook URL {0} is not http or https")]
    BadWebhookUrl(String),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

/// A part of a [`GrantOrder`](crate::GrantOrder) that an idempotency key pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderPart {
    /// `grant_endpoint`.
    GrantEndpoint,
    /// `access` (types, actions, identifiers, limits).
    Access,
    /// `interaction`.
    Interaction,
}

impl std::fmt::Display for OrderPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OrderPart::GrantEndpoint => "grant endpoint",
            OrderPart::Access => "access",
            OrderPart::Interaction => "interaction",
        })
    }
}
