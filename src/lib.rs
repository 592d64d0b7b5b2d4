//! grantflow: Open Payments grants as durable workflows.
//!
//! This facade re-exports the workspace's crates under one name. See `README.md` for the tour and
//! `ARCHITECTURE.md` for the map.
//!
//! - [`machine`]: the pure grant lifecycle (states, events, effects).
//! - [`interval`]: ISO 8601 repeating intervals, windows and allowance.
//! - [`protocol`]: Open Payments wire types, HTTP message signatures, the finish hash, keys.
//! - [`client`]: the signed async HTTP client for wallet addresses, authorization servers and
//!   resource servers.
//! - [`sandbox`]: a local Open Payments server on loopback for the demo, tests and development.

pub use grantflow_interval as interval;
pub use grantflow_machine as machine;
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
pub use grantflow_sandbox as sandbox;
