//! The engine's error type.

use std::sync::Arc;

use grantflow_machine::{MachineError, StateFormatError, StateKind};
use grantflow_payment::{GrantEnd, LimitRefused, PaymentError};
use grantflow_store::{GrantId, PaymentId, RefusedReason, StoreError};

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
    /// There is no payment with this id.
    #[error("no payment {0}")]
    PaymentNotFound(PaymentId),
    /// The payment does not fit what the grant's limits leave now; nothing was stored or sent.
    /// Pay at most what is left, wait for the next window, or ask the user for a new grant (the
    /// refusal names the window, the amount left and when the next window starts).
    #[error("grant {grant}: {refused}")]
    LimitRefused {
        /// The grant.
        grant: GrantId,
        /// Which limit, what is left, and when the next window starts (boxed: the error stays
        /// small).
        refused: Box<LimitRefused>,
    },
    /// The grant ended: nothing can be paid under it; the user must consent again (request a
    /// new grant with the same access).
    #[error("grant {grant} was {end}: the user must consent again (request a new grant)")]
    ConsentNeeded {
        /// The grant.
        grant: GrantId,
        /// How it ended.
        end: GrantEnd,
    },
    /// The grant cannot pay: it is not issued yet, or it has no outgoing-payment access.
    #[error("grant {grant} cannot pay: {reason}")]
    NotPayable {
        /// The grant.
        grant: GrantId,
        /// Why.
        reason: String,
    },
    /// The idempotency key was first used for another payment under this grant (another
    /// receiver, amount or metadata); nothing was sent. Use a new key for a new payment.
    #[error(
        "payment idempotency key {key:?} was first used under this grant for another payment ({payment}); use a new key for a new payment"
    )]
    PaymentKeyReused {
        /// The key.
        key: String,
        /// The payment ordered under it.
        payment: PaymentId,
    },
    /// The payment machine refused the event in the payment's state; nothing changed.
    #[error("payment {payment}: {source}")]
    PaymentRefused {
        /// The payment.
        payment: PaymentId,
        /// The machine's reason.
        #[source]
        source: PaymentError,
    },
    /// The engine lost the payment's lease while working on it; another worker carries it on.
    #[error("payment {payment}: lease lost ({reason}); another worker carries the payment on")]
    PaymentLeaseLost {
        /// The payment.
        payment: PaymentId,
        /// Why the write was refused (boxed: the error stays small).
        reason: Box<RefusedReason>,
    },
    /// A stored payment could not be read by this version of grantflow.
    #[error("payment {payment}: the stored state does not read back: {detail}")]
    PaymentCorrupt {
        /// The payment.
        payment: PaymentId,
        /// What is wrong.
        detail: String,
    },
    /// Waiting for a payment to end timed out (it carries on).
    #[error("timed out waiting for payment {0}; it carries on")]
    PaymentTimeout(PaymentId),
    /// The engine's [`Calls`](crate::Calls) cannot make payment calls (it has no client): build
    /// the engine with [`ClientCalls`](crate::ClientCalls).
    #[error("this engine's calls cannot make payment calls: build it with ClientCalls")]
    NoPaymentCalls,
    /// There is no schedule with this id.
    #[error("no schedule {0}")]
    ScheduleNotFound(grantflow_store::ScheduleId),
    /// The schedule machine refused the order or the command; nothing changed.
    #[error("schedule {schedule}: {source}")]
    ScheduleRefused {
        /// The schedule.
        schedule: grantflow_store::ScheduleId,
        /// The machine's reason (boxed: the error stays small).
        #[source]
        source: Box<grantflow_payment::schedule::ScheduleError>,
    },
    /// Another worker holds the schedule's lease and kept it past `command_wait`; try again.
    #[error("schedule {0} is busy (another worker holds it); try again")]
    ScheduleBusy(grantflow_store::ScheduleId),
    /// The engine lost the schedule's lease while working on it; another worker carries it on.
    #[error("schedule {schedule}: lease lost ({reason}); another worker carries the schedule on")]
    ScheduleLeaseLost {
        /// The schedule.
        schedule: grantflow_store::ScheduleId,
        /// Why the write was refused (boxed: the error stays small).
        reason: Box<grantflow_store::RefusedReason>,
    },
    /// A stored schedule could not be read by this version of grantflow.
    #[error("schedule {schedule}: the stored state does not read back: {detail}")]
    ScheduleCorrupt {
        /// The schedule.
        schedule: grantflow_store::ScheduleId,
        /// What is wrong.
        detail: String,
    },
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
