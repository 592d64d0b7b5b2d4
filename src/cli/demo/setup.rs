//! Set-up (step 0): a key for the run, the in-process sandbox, the client, and the first worker
//! (in a runtime of its own so that step 4 can kill it), staged to die before the continue.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::TimeDelta;
use grantflow_client::Client;
use grantflow_driver::{Engine, EngineConfig, finish_router};
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{Sandbox, SandboxConfig, WalletAddressSpec};
use grantflow_seal::{KeyRing, SealingStore, StorageKey, key_id_for};
use grantflow_store::AnyStore;
use tokio::sync::oneshot;
use url::Url;

use super::calls::ObservedCalls;
use super::killable::KillableRuntime;
use super::timeline::Timeline;
use super::{Demo, DemoArgs, KEY_ID};
use crate::cli::engine::redact;
use crate::cli::keys::write_private_key;

/// What the set-up made, for the steps.
pub(super) struct Setup {
    /// The demo's signing client.
    pub client: Client,
    pub database_url: String,
    pub client_wallet: String,
    /// Where the first worker takes finish callbacks.
    pub finish_base: Url,
    pub alice_url: String,
    pub bob_url: String,
    /// The storage key made for this run: both workers seal with it.
    pub storage_keys: Arc<KeyRing>,
    /// The first worker's engine (run its futures with [`Demo::on_first_worker`]).
    pub engine1: Engine<SealingStore<AnyStore>>,
}

impl Demo {
    /// Starts everything; the receiver fires when the first worker is about to send the continue
    /// and stops instead.
    pub(super) async fn set_up(
        &mut self,
        args: &DemoArgs,
        t: &Arc<Timeline>,
    ) -> anyhow::Result<(Setup, oneshot::Receiver<()>)> {
        t.line("grantflow demo: Open Payments grants as durable workflows, on a local sandbox");
        let temp = tempfile::Builder::new()
            .prefix("grantflow-demo-")
            .tempdir()
            .context("cannot create a temporary folder")?;
        let key = PrivateKey::generate();
        let key_path = temp.path().join("client-key.pem");
        write_private_key(&key_path, &key, false)?;
        t.line(format_args!(
            "client key: new Ed25519 key {KEY_ID}, generated for this run ({})",
            key_path.display()
        ));
        let storage_keys = Arc::new(KeyRing::new(vec![StorageKey::generate(key_id_for(
            chrono::Utc::now(),
        ))])?);
        t.line(format_args!(
            "storage key: {}, generated for this run; tokens and nonces are sealed in the database",
            storage_keys.sealing_key().id()
        ));
        let database_url = match &args.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite:{}", temp.path().join("grants.db").display()),
        };
        self.temp = Some(temp);
        let sandbox = Sandbox::start(SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], args.sandbox_port)),
            wait_seconds: 1,
            wallet_addresses: vec![
                WalletAddressSpec::account("alice", "Alice", "USD", 2),
                WalletAddressSpec::account("bob", "Bob", "USD", 2),
                WalletAddressSpec::client("demo-client", "grantflow demo", key.public_jwks(KEY_ID)),
            ],
            ..SandboxConfig::default()
        })
        .await
        .context("cannot start the sandbox (try another --sandbox-port)")?;
        let client_wallet = sandbox.wallet_address_url("demo-client");
        t.line(format_args!(
            "sandbox: {} (authorization server, resource server, consent page); client wallet address {}",
            sandbox.base_url(),
            client_wallet
        ));
        t.line(format_args!("database: {}", redact(&database_url)));
        let alice_url = sandbox.wallet_address_url("alice");
        let bob_url = sandbox.wallet_address_url("bob");
        self.sandbox = Some(sandbox);

        let client = Client::builder(
            client_wallet.parse().context("client wallet address")?,
            KEY_ID,
            key.clone(),
        )
        .timeout(Duration::from_secs(5))
        .build()?;

        // The first worker, in a runtime of its own so that it can be killed outright.
        let callback_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot listen for finish callbacks on loopback")?;
        let finish_base: Url = format!("http://{}", callback_listener.local_addr()?)
            .parse()
            .context("finish base URL")?;
        let (crash_tx, crash) = oneshot::channel();
        let first = KillableRuntime::new("demo-worker-1")?;
        let engine1 = {
            let calls = ObservedCalls::new(
                grantflow_driver::ClientCalls::new(client.clone()),
                t.clone(),
                "worker-1",
            )
            .crash_before_continue(crash_tx);
            let config = engine_config("worker-1", &client_wallet, finish_base.clone())
                .with_finish_token_keys(storage_keys.clone());
            let url = database_url.clone();
            let timeline = t.clone();
            let storage_keys = storage_keys.clone();
            first
                .run(async move {
                    let store = AnyStore::connect(&url, 4)
                        .await
                        .with_context(|| format!("cannot open the database {}", redact(&url)))?;
                    let store = SealingStore::new(store, storage_keys);
                    let engine = Engine::new(store, Arc::new(calls), config)?;
                    watch(&engine, timeline, "worker-1");
                    engine.start_worker();
                    callback_listener.set_nonblocking(true)?;
                    let listener = tokio::net::TcpListener::from_std(callback_listener)?;
                    let router = finish_router(engine.clone());
                    tokio::spawn(async move {
                        let _ = axum::serve(listener, router).await;
                    });
                    anyhow::Ok(engine)
                })
                .await??
        };
        self.first_worker = Some(first);
        t.line(format_args!(
            "worker-1: engine on the database, finish callbacks at {finish_base}finish/…"
        ));
        let setup = Setup {
            client,
            database_url,
            client_wallet,
            finish_base,
            alice_url,
            bob_url,
            storage_keys,
            engine1,
        };
        Ok((setup, crash))
    }
}

/// The engine settings of the demo: short leases and call timeouts, so the resume after the
/// crash takes a second, not the production default of half a minute.
pub(super) fn engine_config(worker: &str, client_wallet: &str, finish_base: Url) -> EngineConfig {
    let mut config = EngineConfig::new(worker, client_wallet).with_finish_base_url(finish_base);
    config.lease = Duration::from_secs(1);
    config.poll_interval = Duration::from_millis(100);
    config.shutdown_grace = Duration::from_secs(2);
    config.command_wait = Duration::from_secs(10);
    config.machine.call_timeout = TimeDelta::seconds(1);
    config
}

/// Prints the engine's transitions on the timeline.
pub(super) fn watch(
    engine: &Engine<SealingStore<AnyStore>>,
    timeline: Arc<Timeline>,
    worker: &'static str,
) {
    let mut changes = engine.own_changes();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(change) => timeline.transition(worker, &change),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}
