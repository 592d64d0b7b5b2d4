//! A local Open Payments server (authorization server, resource server, wallet addresses,
//! consent page) for the demo, tests and development.
//!
//! The sandbox is a real HTTP server on loopback that behaves like the reference server (Rafiki)
//! where a client can tell the difference: grant states and their transitions, `wait` and
//! `too_fast`, the single-use `interact_ref`, token rotation revoking the old token, the error
//! codes and statuses, the finish redirect and its hash. It verifies every signed request strictly
//! against the client's published keys, enforces outgoing-payment limits per interval window with
//! `grantflow-interval`, and can inject faults (latency, error statuses, dropped connections,
//! lost responses) per route while it runs. Where it deliberately differs from the reference,
//! `docs/sandbox.md` says so and why.
//!
//! ```no_run
//! # async fn demo() -> Result<(), grantflow_sandbox::SandboxError> {
//! use grantflow_sandbox::{Fault, Route, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig { wait_seconds: 0, ..SandboxConfig::default() }).await?;
//! let alice = sandbox.wallet_address_url("alice"); // GET it: authServer, resourceServer, ...
//! // The next continue takes effect, but its response never arrives:
//! sandbox.set_fault(Route::Continue, Fault::LoseResponse, Some(1));
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - `server`: [`Sandbox::start`], [`SandboxHandle`] (URLs, test controls, designed shutdown),
//!   [`SandboxError`].
//! - `config`: [`SandboxConfig`] (one field per `grantflow sandbox` flag) and
//!   [`WalletAddressSpec`].
//! - `clock`: [`SandboxClock`], the only time source, movable from tests.
//! - `routes`: the route table (every path in one place); `guard`: checks before any handler.
//! - `state`: the in-memory store behind one mutex, and the domain records (grant, interaction,
//!   access token, payments); each operation's checks and writes happen in one critical section.
//! - `wallet`: wallet addresses and their `jwks.json`.
//! - `httpsig`: signature verification glue: the `SignedRequest` extractor every signed handler
//!   takes, keys looked up per request, reference errors.
//! - `grant`: the grant request. `continuation`: continue, poll, cancel. `token`: rotate, revoke.
//! - `interaction`: consent page flow, finish redirect, and the decide-without-a-browser API;
//!   `consent`: the HTML.
//! - `resource`: the resource server; `limits`: limit windows via `grantflow-interval`.
//! - `faults`: [`Route`], [`Fault`], the per-route fault table and its middleware; `conn`: the
//!   connections a fault can cut.
//! - `admin`: the `/_sandbox/` control API (faults, interactions, wallet addresses, clock).
//!
//! # Error policy
//!
//! Every refusal is an HTTP status plus the reference's JSON error body; nothing on the request
//! path panics or unwraps input. Library calls return [`SandboxError`].
//!
//! Architecture invariant: the sandbox depends on `grantflow-protocol` (wire types, finish hash,
//! signature verification) and `grantflow-interval` (windows) only; it knows nothing of the
//! machine, the store or the driver, so it can stand in for any Open Payments server.

mod admin;
mod clock;
mod config;
mod conn;
mod consent;
mod continuation;
mod error;
mod faults;
mod grant;
mod guard;
mod httpsig;
mod interaction;
mod limits;
mod resource;
mod routes;
mod server;
mod state;
mod token;
mod wallet;

pub use clock::SandboxClock;
pub use config::{SandboxConfig, WalletAddressSpec};
pub use faults::{Fault, FaultRule, Route, UnknownRoute};
pub use interaction::InteractionOutcome;
pub use server::{Sandbox, SandboxError, SandboxHandle};
