//! Shared set-up of the driver's end-to-end tests: a real sandbox on loopback, a real client
//! signing with a key the sandbox publishes, the finish router served over real TCP, and an
//! engine over the store under test.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unused_macros)] // test helpers: a panic is the test failing

pub mod private_postgres;

use std::sync::Arc;
use std::time::Duration;

use chrono::SubsecRound;
use grantflow_client::Client;
use grantflow_driver::{
    ClientCalls, Engine, EngineConfig, GrantOrder, GrantView, Interaction, ManualClock,
    finish_router,
};
use grantflow_machine::{EventKind, StateKind};
use grantflow_protocol::grant::AccessItem;
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{Sandbox, SandboxClock, SandboxConfig, SandboxHandle, WalletAddressSpec};
use grantflow_seal::{KeyId, KeyRing, StorageKey};
use grantflow_store::{GrantStore, SqliteStore};
use serde_json::json;

/// Runs each named `scenarios::<name>(store)` once per backend: `postgres::<name>` on a fresh
/// migrated database (`#[sqlx::test]`) and `sqlite::<name>` in memory. Use at the test crate's
/// root, beside a `mod scenarios` (needs `#[macro_use] mod support;`).
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            use grantflow_store::PgStore;
            $(
                #[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
                async fn $name(pool: sqlx::PgPool) {
                    super::scenarios::$name(PgStore::from_pool(pool)).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::scenarios::$name(super::support::sqlite().await).await;
                }
            )*
        }
    };
}

pub const KID: &str = "driver-test-key";

/// The sandbox, the client identity, and how to build engines against them.
pub struct World {
    pub sandbox: SandboxHandle,
    pub client_wallet: String,
    pub client: Client,
    /// The engines' clock, when the world runs on manual time (see [`World::manual`]).
    pub clock: Option<ManualClock>,
    /// The keys every engine of this world makes and checks finish URI tokens with (a tune can
    /// clear `finish_token_keys` for an engine that stores its tokens, as before the keys).
    pub finish_keys: Arc<KeyRing>,
}

impl World {
    pub async fn start(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.unwrap();
        let key = client_key();
        let client_wallet = sandbox
            .put_wallet_address(WalletAddressSpec::client(
                "driver-client",
                "Driver Test Client",
                key.public_jwks(KID),
            ))
            .unwrap();
        let client = client_of(&client_wallet, Duration::from_secs(5));
        Self {
            sandbox,
            client_wallet,
            client,
            clock: None,
            finish_keys: Arc::new(
                KeyRing::new(vec![StorageKey::generate(KeyId::new("world").unwrap())]).unwrap(),
            ),
        }
    }

    /// A sandbox and engines on one manual clock, standing at the real time now until
    /// [`advance`](Self::advance)d: time-dependent steps (expiry, `wait`, back-off, leases)
    /// happen when the test moves the clock, not after real sleeps.
    pub async fn manual(config: SandboxConfig) -> Self {
        let start = chrono::Utc::now().trunc_subsecs(6);
        let mut world = Self::start(SandboxConfig {
            clock: SandboxClock::manual(start),
            ..config
        })
        .await;
        world.clock = Some(ManualClock::new(start));
        world
    }

    /// [`manual`](Self::manual) time, with a sandbox asking clients to wait `wait_seconds`.
    pub async fn manual_with_wait(wait_seconds: u64) -> Self {
        Self::manual(SandboxConfig {
            wait_seconds,
            ..SandboxConfig::default()
        })
        .await
    }

    /// Engines built from now on time each call out after `timeout` (5 s by default): for
    /// latency faults longer than the call timeout without long real waits.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.client = client_of(&self.client_wallet, timeout);
    }

    /// Moves the sandbox's and the engines' clocks forward together.
    pub fn advance(&self, by: Duration) {
        let clock = self.clock.as_ref().expect("a world on manual time");
        self.sandbox.clock().advance(by);
        clock.advance(by);
    }

    /// Moves manual time forward a second at a time (giving the engine a moment of real time
    /// after each step) until the grant is `kind`: for waits whose length the machine decides
    /// (back-off, `wait`, leases lapsing).
    pub async fn drive_until<S: GrantStore>(
        &self,
        engine: &Engine<S>,
        id: grantflow_store::GrantId,
        kind: StateKind,
    ) -> GrantView {
        for _ in 0..600 {
            if let Ok(v) = engine
                .wait_for(id, Duration::from_millis(50), |g| g.kind() == kind)
                .await
            {
                return v;
            }
            self.advance(Duration::from_secs(1));
        }
        wait_kind(engine, id, kind).await
    }

    /// A sandbox asking clients to wait `wait_seconds` before continuing, on the system clock.
    pub async fn with_wait(wait_seconds: u64) -> Self {
        Self::start(SandboxConfig {
            wait_seconds,
            ..SandboxConfig::default()
        })
        .await
    }

    /// A sandbox answering at once (`wait` 0), on the system clock.
    pub async fn quick() -> Self {
        Self::with_wait(0).await
    }

    /// An engine over `store` with its finish router served on a loopback port.
    pub async fn engine<S: GrantStore>(
        &self,
        store: S,
        tune: impl FnOnce(&mut EngineConfig),
    ) -> Engine<S> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/gf", listener.local_addr().unwrap());
        let mut config = EngineConfig::new(
            EngineConfig::unique_worker_id("test"),
            self.client_wallet.clone(),
        )
        .with_finish_base_url(base.parse().unwrap())
        .with_finish_token_keys(self.finish_keys.clone());
        config.poll_interval = Duration::from_millis(200);
        config.lease = Duration::from_secs(5);
        config.command_wait = Duration::from_secs(10);
        config.shutdown_grace = Duration::from_secs(10);
        if let Some(clock) = &self.clock {
            config = config.with_clock(clock.clone());
        }
        tune(&mut config);
        let engine = Engine::new(
            store,
            Arc::new(ClientCalls::new(self.client.clone())),
            config,
        )
        .unwrap();
        let app = axum::Router::new().nest("/gf", finish_router(engine.clone()));
        let stopping = engine.stopping();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await;
        });
        engine
    }

    pub fn alice(&self) -> String {
        self.sandbox.wallet_address_url("alice")
    }

    /// The seed's outgoing-payment order (debit limit, daily interval).
    pub fn outgoing(&self, key: &str, interaction: Interaction) -> GrantOrder {
        let item: AccessItem = serde_json::from_value(json!({
            "type": "outgoing-payment",
            "actions": ["create", "read", "list"],
            "identifier": self.alice(),
            "limits": {
                "debitAmount": {"value": "5000", "assetCode": "USD", "assetScale": 2},
                "interval": "R/2016-08-24T08:00:00Z/P1D"
            }
        }))
        .unwrap();
        GrantOrder {
            idempotency_key: key.to_owned(),
            grant_endpoint: self.sandbox.auth_server_url().to_owned(),
            access: vec![item],
            interaction,
        }
    }

    /// A non-interactive incoming-payment order.
    pub fn incoming(&self, key: &str) -> GrantOrder {
        let item: AccessItem = serde_json::from_value(json!({
            "type": "incoming-payment",
            "actions": ["create", "read"]
        }))
        .unwrap();
        GrantOrder {
            idempotency_key: key.to_owned(),
            grant_endpoint: self.sandbox.auth_server_url().to_owned(),
            access: vec![item],
            interaction: Interaction::None,
        }
    }

    /// Approves the interaction as the user would; the finish redirect the browser is sent to.
    pub fn approve(&self, redirect: &str) -> url::Url {
        let outcome = self.sandbox.approve_interaction(redirect).unwrap();
        let finish = outcome.redirect.expect("a finish redirect");
        url::Url::parse(finish.expose()).unwrap()
    }

    /// Approves the interaction as the user would, and follows the finish redirect to the
    /// engine's finish URI as the browser would (real HTTP). Returns the page's status.
    pub async fn approve_and_follow(&self, redirect: &str) -> u16 {
        let outcome = self.sandbox.approve_interaction(redirect).unwrap();
        let finish = outcome.redirect.expect("a finish redirect");
        follow(finish.expose()).await
    }

    /// Requests a redirect grant on `engine`, has the user approve it, and hands the finish
    /// callback to the engine (the continue is due after `wait`).
    pub async fn approved_with_callback<S: GrantStore>(
        &self,
        engine: &Engine<S>,
        key: &str,
    ) -> grantflow_store::GrantId {
        let g = engine
            .request(self.outgoing(key, Interaction::Redirect))
            .await
            .unwrap();
        let finish = self.approve(g.redirect.as_ref().unwrap());
        engine.finish_callback_url(finish.as_str()).await.unwrap();
        g.id
    }

    /// Requests a polled grant on `engine` and has the user approve it (before any poll).
    pub async fn approved_to_poll<S: GrantStore>(
        &self,
        engine: &Engine<S>,
        key: &str,
    ) -> grantflow_store::GrantId {
        let g = engine
            .request(self.outgoing(key, Interaction::Poll))
            .await
            .unwrap();
        self.sandbox
            .approve_interaction(g.redirect.as_ref().unwrap())
            .unwrap();
        g.id
    }

    /// An issued grant to pay from alice's wallet (outgoing-payment with the test limits, plus
    /// quote access), approved by the user through a finish callback.
    pub async fn payment_grant<S: GrantStore>(
        &self,
        engine: &Engine<S>,
        key: &str,
    ) -> grantflow_store::GrantId {
        let mut order = self.outgoing(key, Interaction::Redirect);
        order.access.push(
            serde_json::from_value(json!({"type": "quote", "actions": ["create", "read"]}))
                .unwrap(),
        );
        let requested = engine.request(order).await.unwrap();
        let redirect = requested.redirect.clone().expect("a redirect URL");
        assert_eq!(self.approve_and_follow(&redirect).await, 200);
        wait_kind(engine, requested.id, StateKind::Issued).await;
        requested.id
    }

    /// An open incoming payment at bob's (no amount fixed), created with a non-interactive
    /// grant: its URL, to pay to.
    pub async fn open_incoming_payment<S: GrantStore>(&self, engine: &Engine<S>) -> String {
        let bob = self.sandbox.wallet_address_url("bob");
        let order = GrantOrder {
            idempotency_key: "receive".into(),
            grant_endpoint: self.sandbox.auth_server_url().to_owned(),
            access: vec![
                serde_json::from_value(
                    json!({"type": "incoming-payment", "actions": ["create", "read"], "identifier": bob}),
                )
                .unwrap(),
            ],
            interaction: Interaction::None,
        };
        let id = engine.request(order).await.unwrap().id;
        wait_kind(engine, id, StateKind::Issued).await;
        let token = engine.access_token(id).await.unwrap().value;
        let rs = self.sandbox.resource_server_url().parse().unwrap();
        let create = serde_json::from_value(json!({"walletAddress": bob})).unwrap();
        self.client
            .create_incoming_payment(&rs, &token, &create)
            .await
            .unwrap()
            .id
    }

    pub async fn deny_and_follow(&self, redirect: &str) -> u16 {
        let outcome = self.sandbox.deny_interaction(redirect).unwrap();
        let finish = outcome.redirect.expect("a finish redirect");
        follow(finish.expose()).await
    }
}

/// The test client's signing key (its public half is published at the client wallet).
fn client_key() -> PrivateKey {
    PrivateKey::from_seed(&[7; 32])
}

/// The test client of `client_wallet`, each call timed out after `timeout`.
fn client_of(client_wallet: &str, timeout: Duration) -> Client {
    Client::builder(client_wallet.parse().unwrap(), KID, client_key())
        .timeout(timeout)
        .build()
        .unwrap()
}

/// A browser GET of `url` (no redirects followed); the status.
pub async fn follow(url: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn sqlite() -> SqliteStore {
    SqliteStore::connect("sqlite::memory:").await.unwrap()
}

/// Waits (up to 20 s) for the grant to reach `kind`.
pub async fn wait_kind<S: GrantStore>(
    engine: &Engine<S>,
    id: grantflow_store::GrantId,
    kind: StateKind,
) -> GrantView {
    match engine
        .wait_for(id, Duration::from_secs(20), |g| g.kind() == kind)
        .await
    {
        Ok(v) => v,
        Err(e) => {
            let now = engine.get(id).await.unwrap();
            let history = event_kinds(engine, id).await;
            panic!(
                "grant never reached {kind:?} ({e}); it is {:?}; events {history:?}; state {:?}",
                now.kind(),
                now.state
            )
        }
    }
}

/// The kinds of the grant's logged events, oldest first.
pub async fn event_kinds<S: GrantStore>(
    engine: &Engine<S>,
    id: grantflow_store::GrantId,
) -> Vec<EventKind> {
    engine
        .history(id)
        .await
        .unwrap()
        .iter()
        .map(|h| h.event.kind())
        .collect()
}

/// Replays the grant's history through the machine and checks it gives the stored state.
pub async fn assert_replays<S: GrantStore>(engine: &Engine<S>, id: grantflow_store::GrantId) {
    let history = engine.history(id).await.unwrap();
    let stored = engine.get(id).await.unwrap();
    let mut state = grantflow_machine::GrantState::Initial;
    let config = &engine.config().machine;
    for (i, h) in history.iter().enumerate() {
        assert_eq!(h.version, i as i64 + 1, "gap in the event log");
        state = grantflow_machine::transition(&state, h.event.clone(), h.at, config)
            .unwrap_or_else(|e| panic!("replay of event {} failed: {e}", h.version))
            .state;
    }
    assert_eq!(
        state, stored.state,
        "replaying the log does not give the stored state"
    );
}

/// Log output captured in memory: give `move || buffer.clone()` to a `tracing_subscriber`
/// builder's `with_writer`, read it with [`text`](Self::text).
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// How many lines written so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}
