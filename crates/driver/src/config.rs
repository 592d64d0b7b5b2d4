//! [`EngineConfig`]: who this engine is and how it paces its work.

use std::sync::Arc;
use std::time::Duration;

use grantflow_seal::KeyRing;
use url::Url;

use crate::time::{Clock, SystemClock};

/// Tunables of an [`Engine`](crate::Engine). Build with [`EngineConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This engine's id, recorded as the owner of the leases it takes. Unique per process.
    pub worker_id: String,
    /// The client's wallet address: the `client` of every grant request (its `jwks.json` must
    /// publish the key the [`Calls`](crate::Calls) sign with).
    pub client_wallet_address: String,
    /// Where the application mounts [`finish_router`](crate::finish_router): finish URIs are
    /// `<finish_base_url>/finish/<grant id>/<token>`. Needed for grants with a redirect finish.
    pub finish_base_url: Option<Url>,
    /// The keys that make and check finish URI path tokens (the storage key ring; see
    /// [`with_finish_token_keys`](Self::with_finish_token_keys)). With them a grant's token is
    /// [`KeyRing::finish_token`] of its id, recomputed when the request is sent and when the
    /// callback comes: it is never stored. Without them the token is random and kept in the
    /// stored request (sealed by a `SealingStore` with a key ring, in the clear otherwise).
    pub finish_token_keys: Option<Arc<KeyRing>>,
    /// The grant lifecycle's tunables (deadlines, waits, back-offs, call timeout).
    pub machine: grantflow_machine::Config,
    /// The payment lifecycle's tunables (call timeout, back-offs, recovery budget, quotes).
    pub payment: grantflow_payment::PaymentConfig,
    /// The schedule machine's tunables (catch-up limit, how often a schedule looks after its
    /// payment and its grant request).
    pub schedule: grantflow_payment::schedule::ScheduleConfig,
    /// Length of a lease. A worker that dies holding one delays its grants by at most this much;
    /// leases are renewed while a call runs.
    pub lease: Duration,
    /// How many due grants one claim takes at most.
    pub claim_batch: u32,
    /// How many grants one engine advances at once (calls in flight).
    pub max_concurrent_grants: usize,
    /// The longest a worker sleeps without looking for due grants (wake-ups usually come sooner,
    /// by notification or at the earliest `next_wake_at`).
    pub poll_interval: Duration,
    /// How long a command (cancel, rotate, a finish callback) waits for a worker that holds the
    /// grant's lease before giving up with [`EngineError::Busy`](crate::EngineError::Busy).
    pub command_wait: Duration,
    /// How long [`Engine::shutdown`](crate::Engine::shutdown) lets grants in flight finish
    /// before abandoning them to their leases.
    pub shutdown_grace: Duration,
    /// Cap on an honoured `Retry-After`.
    pub max_retry_after: Duration,
    /// Commit tasks: writes of concurrent grants are grouped into one batch per commit.
    pub committers: usize,
    /// Most writes in one commit batch.
    pub commit_batch: usize,
    /// Writes waiting for a commit task at most; a write beyond it waits for room (back
    /// pressure instead of unbounded memory).
    pub commit_queue: usize,
    /// Where the engine reads the time: [`SystemClock`] by default, a
    /// [`ManualClock`](crate::ManualClock) in tests and simulations.
    pub clock: Arc<dyn Clock>,
}

impl EngineConfig {
    /// A configuration with the defaults: 30 s leases, claims of 64, 512 grants at once, 1 s
    /// poll, 15 s command wait, 30 s shutdown grace, two committers of up to 256 writes, tokens
    /// handed out with at least 5 s left, a commit queue of 4096 writes, the system clock.
    pub fn new(worker_id: impl Into<String>, client_wallet_address: impl Into<String>) -> Self {
        Self {
            worker_id: worker_id.into(),
            client_wallet_address: client_wallet_address.into(),
            finish_base_url: None,
            finish_token_keys: None,
            machine: grantflow_machine::Config::default(),
            payment: grantflow_payment::PaymentConfig::default(),
            schedule: grantflow_payment::schedule::ScheduleConfig::default(),
            lease: Duration::from_secs(30),
            claim_batch: 64,
            max_concurrent_grants: 512,
            poll_interval: Duration::from_secs(1),
            command_wait: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(3600),
            committers: 2,
            commit_batch: 256,
            commit_queue: 4096,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets [`finish_base_url`](Self::finish_base_url).
    pub fn with_finish_base_url(mut self, url: Url) -> Self {
        self.finish_base_url = Some(url);
        self
    }

    /// Sets [`finish_token_keys`](Self::finish_token_keys): give every engine of a store the
    /// same ring (the one its `SealingStore` seals with), or a callback reaching another engine
    /// is refused. Grants requested before keep their stored random token and still finish.
    pub fn with_finish_token_keys(mut self, keys: Arc<KeyRing>) -> Self {
        self.finish_token_keys = Some(keys);
        self
    }

    /// Sets [`clock`](Self::clock).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A worker id unique enough for one process on one host: `<prefix>-<pid>-<random>`.
    pub fn unique_worker_id(prefix: &str) -> String {
        format!(
            "{prefix}-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    }
}
