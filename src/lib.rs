//! grantflow: Open Payments grants as durable workflows.
//!
//! This facade re-exports the workspace's crates under one name. See `README.md` for the tour and
//! `ARCHITECTURE.md` for the map.
//!
//! - [`machine`]: the pure grant lifecycle (states, events, effects).
//! - [`payment`]: the pure lifecycle of an outgoing payment under a grant, and the limit check.
//! - [`interval`]: ISO 8601 repeating intervals, windows and allowance.
//! - [`protocol`]: Open Payments wire types, HTTP message signatures, the finish hash, keys.
//! - [`client`]: the signed async HTTP client for wallet addresses, authorization servers and
//!   resource servers.
//! - [`store`]: where grants live: PostgreSQL, or SQLite embedded.
//! - [`driver`]: the durable engine: the application API, workers, the finish callback.
//! - [`sandbox`]: a local Open Payments server on loopback for the demo, tests and development.
//!
//! # The library in ten lines
//!
//! ```no_run
//! # async fn f(key: grantflow::protocol::keys::PrivateKey, access: Vec<grantflow::protocol::grant::AccessItem>) -> anyhow::Result<()> {
//! use std::{sync::Arc, time::Duration};
//! use grantflow::driver::{ClientCalls, Engine, EngineConfig, GrantOrder, Interaction, finish_router};
//!
//! let client = grantflow::client::Client::builder("https://shop.example/pay".parse()?, "key-1", key).build()?;
//! let store = grantflow::store::AnyStore::connect("sqlite:grants.db", 1).await?;
//! let config = EngineConfig::new("web-1", "https://shop.example/pay")
//!     .with_finish_base_url("https://shop.example/grantflow".parse()?);
//! let engine = Engine::new(store, Arc::new(ClientCalls::new(client)), config)?;
//! engine.start_worker(); // and mount finish_router(engine.clone()) at /grantflow
//! let grant = engine.request(GrantOrder { idempotency_key: "order-42".into(),
//!     grant_endpoint: "https://auth.wallet.example/".into(), access, interaction: Interaction::Redirect }).await?;
//! println!("send the user to {:?}", grant.redirect); // they approve; the callback continues it
//! let token = engine.access_token(grant.id).await?;  // valid, rotated when it expires
//! # let _ = (token, finish_router::<grantflow::store::AnyStore>, Duration::ZERO); Ok(()) }
//! ```

pub use grantflow_interval as interval;
pub use grantflow_machine as machine;
pub use grantflow_payment as payment;
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
pub use grantflow_client as client;

/// Durable storage of grants (`grantflow-store`): [`AnyStore`](store::AnyStore) picks
/// PostgreSQL or SQLite from a URL and applies the migrations.
///
/// ```no_run
/// # async fn f() -> Result<(), grantflow::store::StoreError> {
/// let store = grantflow::store::AnyStore::connect("sqlite:grants.db", 1).await?;
/// # let _ = store; Ok(()) }
/// ```
pub use grantflow_store as store;

/// Secrets sealed at rest (`grantflow-seal`): a storage key ring and
/// [`SealingStore`](seal::SealingStore), which seals every token, nonce and `interact_ref` of any
/// store's rows.
pub use grantflow_seal as seal;

/// The durable grant engine (`grantflow-driver`): [`Engine`](driver::Engine) (request, read,
/// wait, access token, cancel, rotate, revoke), its workers, and the finish callback router.
/// See the crate-level example above.
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
pub use grantflow_sandbox as sandbox;
