//! grantflow: Open Payments grants as durable workflows.
//!
//! An application asks a user's wallet for a grant, sends the user to approve it, takes their
//! browser back, and from then on has a valid access token whenever it needs one. grantflow does
//! each of those steps as a durable workflow: the grant's state is in a database, any worker
//! picks it up after a crash or a restart, calls that failed are retried, and a call whose
//! outcome is unknown is never repeated blindly. See `README.md` for the tour and the command
//! line, `ARCHITECTURE.md` for the map.
//!
//! # Where to start
//!
//! [`Engine`](driver::Engine) is the application's API: [`request`](driver::Engine::request) a
//! grant with a [`GrantOrder`](driver::GrantOrder), send the user to its `redirect`, serve the
//! browser's return with [`finish_router`](driver::finish_router), and ask for a valid
//! [`access_token`](driver::Engine::access_token) when you pay; [`get`](driver::Engine::get),
//! [`cancel`](driver::Engine::cancel), [`rotate`](driver::Engine::rotate) and
//! [`revoke`](driver::Engine::revoke) do the rest. An engine needs three things:
//!
//! - a signed HTTP [`Client`](client::Client): your wallet address, the key id it publishes in
//!   its `jwks.json`, and the private key ([`PrivateKey`](protocol::keys::PrivateKey));
//! - a store: [`AnyStore`](store::AnyStore) connects to `postgres://...` (many workers) or
//!   `sqlite:...` (one process), wrapped in a [`SealingStore`](seal::SealingStore) so tokens and
//!   nonces are sealed at rest;
//! - an [`EngineConfig`](driver::EngineConfig): the worker's name, your wallet address, and the
//!   public URL the finish router is mounted at.
//!
//! # A complete example
//!
//! The user's wallet is played by the [`sandbox`] (in-process, on loopback), and so is the user,
//! who approves at once; everything else is what an application does. It runs as a doc test.
//!
//! ```
//! # #[cfg(not(all(feature = "sandbox", feature = "sqlite")))]
//! # fn main() {}
//! # #[cfg(all(feature = "sandbox", feature = "sqlite"))]
//! # mod example {
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use anyhow::Context;
//! use grantflow::client::Client;
//! use grantflow::driver::{ClientCalls, Engine, EngineConfig, GrantOrder, Interaction};
//! use grantflow::machine::StateKind;
//! use grantflow::protocol::amount::Amount;
//! use grantflow::protocol::grant::{
//!     AccessAction, AccessItem, OutgoingPaymentAccess, OutgoingPaymentLimits,
//! };
//! use grantflow::protocol::keys::PrivateKey;
//! use grantflow::sandbox::{Sandbox, SandboxConfig, WalletAddressSpec};
//! use grantflow::seal::{KeyId, KeyRing, SealingStore, StorageKey};
//! use grantflow::store::AnyStore;
//!
//! #[tokio::main]
//! pub async fn main() -> anyhow::Result<()> {
//!     // The outside world on loopback: the user's wallet `alice` with its authorization server,
//!     // and the application's wallet address `shop`, which publishes the application's key.
//!     // In production: real wallet addresses, and `PrivateKey::from_pkcs8_pem_file`.
//!     let sandbox = Sandbox::start(SandboxConfig { wait_seconds: 0, ..SandboxConfig::default() }).await?;
//!     let key = PrivateKey::generate();
//!     let shop = sandbox.put_wallet_address(WalletAddressSpec::client(
//!         "shop",
//!         "Example Shop",
//!         key.public_jwks("key-1"),
//!     ))?;
//!
//!     // The engine: a signed client, a store (SQLite in memory here; `KeyRing::from_file` loads
//!     // the storage keys in production), and where the finish router will be mounted.
//!     let client = Client::builder(shop.parse()?, "key-1", key).build()?;
//!     let storage_keys = Arc::new(KeyRing::new(vec![StorageKey::generate(KeyId::new("run-1")?)])?);
//!     let store = SealingStore::new(AnyStore::connect("sqlite::memory:", 1).await?, storage_keys.clone());
//!     let config = EngineConfig::new("web-1", shop.clone())
//!         .with_finish_base_url("https://shop.example/grantflow".parse()?)
//!         .with_finish_token_keys(storage_keys);
//!     let engine = Engine::new(store, Arc::new(ClientCalls::new(client)), config)?;
//!     engine.start_worker(); // advances grants in the background
//!
//!     // Ask alice's wallet for outgoing payments of up to 10.00 USD a day.
//!     let alice = sandbox.wallet_address_url("alice");
//!     let grant = engine
//!         .request(GrantOrder {
//!             idempotency_key: "order-42".into(), // asking again returns this grant
//!             grant_endpoint: engine.grant_endpoint_for(&alice).await?,
//!             access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
//!                 identifier: alice.clone(),
//!                 actions: vec![AccessAction::Create, AccessAction::Read],
//!                 limits: Some(OutgoingPaymentLimits {
//!                     receiver: None,
//!                     debit_amount: Some(Amount::new(1000, "USD".to_owned(), 2)),
//!                     receive_amount: None,
//!                     interval: Some("R/2026-01-01T00:00:00Z/P1D".parse()?),
//!                 }),
//!             })],
//!             interaction: Interaction::Redirect,
//!         })
//!         .await?;
//!     let redirect = grant.redirect.context("the user must approve this grant")?;
//!
//!     // Send the user to `redirect`. Their browser comes back to
//!     // https://shop.example/grantflow/finish/..., which `finish_router(engine.clone())` serves
//!     // when nested at /grantflow in your axum app. Here the sandbox approves for the user, and
//!     // the URL the browser would come back to is handed to the engine directly.
//!     let back = sandbox.approve_interaction(&redirect)?.redirect.context("no finish redirect")?;
//!     engine.finish_callback_url(back.expose()).await?;
//!
//!     // The worker continues the grant; from then on a valid token is one call away (rotated
//!     // when it has expired). Send it as `Authorization: GNAP <token>` to the resource server.
//!     let issued = engine
//!         .wait_for(grant.id, Duration::from_secs(30), |g| g.kind() == StateKind::Issued || g.is_final())
//!         .await?;
//!     assert_eq!(issued.kind(), StateKind::Issued);
//!     let token = engine.access_token(grant.id).await?;
//!     println!("token for {} expires at {:?}", token.access.len(), token.expires_at);
//!
//!     engine.shutdown().await;
//!     sandbox.shutdown().await;
//!     Ok(())
//! }
//! # }
//! # #[cfg(all(feature = "sandbox", feature = "sqlite"))]
//! # fn main() -> anyhow::Result<()> { example::main() }
//! ```
//!
//! `examples/embed.rs` is the same inside an axum application, with the finish router mounted
//! and served over HTTP.
//!
//! # The parts
//!
//! Each module is one of the workspace's crates:
//!
//! - [`driver`]: the durable engine: [`Engine`](driver::Engine), its workers, the finish
//!   callback router, health and metrics.
//! - [`client`]: the signed async HTTP client for wallet addresses, authorization servers and
//!   resource servers.
//! - [`store`]: where grants live: PostgreSQL, or SQLite embedded.
//! - [`seal`]: secrets sealed at rest, and the storage key ring.
//! - [`protocol`]: Open Payments wire types, HTTP message signatures, the finish hash, keys.
//! - [`machine`]: the pure grant lifecycle (states, events, effects); `docs/machine.md` draws it.
//! - [`payment`]: the pure lifecycle of an outgoing payment under a grant, and the limit check.
//! - [`interval`]: ISO 8601 repeating intervals, windows and allowance.
//! - [`sandbox`] (feature `sandbox`): a local Open Payments server on loopback for the demo,
//!   tests and development.
//! - [`console`] (feature `console`, on with `cli`): the operator console, an axum router.
//!
//! # Features
//!
//! - `postgres`, `sqlite`: the store's backends ([`AnyStore`](store::AnyStore) connects to the
//!   ones compiled in); at least one is needed.
//! - `sandbox`: the [`sandbox`] module, for an application's own tests.
//! - `console`: the [`console`] module, the operator console to mount.
//! - `cli` (default, with the two backends and the sandbox): the `grantflow` binary and its
//!   dependencies. An application turns default features off:
//!   `grantflow = { version = "0.1", default-features = false, features = ["postgres"] }`.

/// ISO 8601 repeating intervals, their windows, and the allowance left in one
/// (`grantflow-interval`).
#[doc(inline)]
pub use grantflow_interval as interval;

/// The pure grant lifecycle: states, events, effects, the transition table
/// (`grantflow-machine`).
#[doc(inline)]
pub use grantflow_machine as machine;

/// The pure lifecycle of an outgoing payment under a grant, and the limit check
/// (`grantflow-payment`).
#[doc(inline)]
pub use grantflow_payment as payment;

/// Open Payments wire types, HTTP message signatures, the finish hash, keys
/// (`grantflow-protocol`).
#[doc(inline)]
pub use grantflow_protocol as protocol;

/// The signed Open Payments HTTP client (`grantflow-client`).
///
/// One [`Client`](client::Client) per signing identity: the client's wallet address, the key id
/// it publishes there, and the private key.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use grantflow::client::Client;
/// use grantflow::protocol::keys::PrivateKey;
///
/// let key = PrivateKey::from_pkcs8_pem_file("client-key.pem".as_ref())?;
/// let client = Client::builder("https://wallet.example/me".parse()?, "key-1", key).build()?;
/// let keys = client.get_wallet_address_keys(&"https://wallet.example/alice".parse()?).await?;
/// # let _ = keys; Ok(()) }
/// ```
#[doc(inline)]
pub use grantflow_client as client;

/// Durable storage of grants (`grantflow-store`): [`AnyStore`](store::AnyStore) picks
/// PostgreSQL or SQLite from a URL and applies the migrations.
///
/// ```no_run
/// # async fn f() -> Result<(), grantflow::store::StoreError> {
/// let store = grantflow::store::AnyStore::connect("sqlite:grants.db", 1).await?;
/// # let _ = store; Ok(()) }
/// ```
#[doc(inline)]
pub use grantflow_store as store;

/// Secrets sealed at rest (`grantflow-seal`): a storage key ring and
/// [`SealingStore`](seal::SealingStore), which seals every token, nonce and `interact_ref` of any
/// store's rows.
#[doc(inline)]
pub use grantflow_seal as seal;

/// The durable grant engine (`grantflow-driver`): [`Engine`](driver::Engine) (request, read,
/// wait, access token, cancel, rotate, revoke), its workers, and the finish callback router.
/// The [crate-level example](crate#a-complete-example) puts it together.
#[doc(inline)]
pub use grantflow_driver as driver;

/// A local Open Payments server (`grantflow-sandbox`): wallet addresses, authorization server,
/// resource server and consent page on loopback, started in-process.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use grantflow::sandbox::{Sandbox, SandboxConfig};
///
/// let sandbox = Sandbox::start(SandboxConfig { wait_seconds: 0, ..SandboxConfig::default() }).await?;
/// println!("alice is at {}", sandbox.wallet_address_url("alice"));
/// sandbox.shutdown().await;
/// # Ok(()) }
/// ```
#[cfg(feature = "sandbox")]
#[doc(inline)]
pub use grantflow_sandbox as sandbox;

/// The operator console (`grantflow-console`): grants, timelines, the lifecycle diagram, live
/// updates and actions, as an axum router to nest in an application (`grantflow worker` serves
/// it at `/console`). See `docs/console.md`.
#[cfg(feature = "console")]
#[doc(inline)]
pub use grantflow_console as console;
