//! A local Open Payments server (authorization server, resource server, wallet addresses,
//! consent page) for the demo, tests and development.
//!
//! The sandbox is a real HTTP server on loopback that behaves like the reference server (Rafiki)
//! where a client can tell the difference: grant states and their transitions, `wait` and
//! `too_fast`, the single-use `interact_ref`, token rotation revoking the old token, the error
//! codes and statuses, the finish redirect and its hash. It verifies every signed request strictly
//! against the client's published keys (registered here for the wallet addresses it hosts,
//! fetched from `<wallet address>/jwks.json` for any other), enforces outgoing-payment limits per interval window with
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
//! Files import one way: each imports only files of a lower layer (or earlier in its own list),
//! never one above it; `tests/layering.rs` checks there is no circle.
//!
//! 1. Foundations, importing nothing of the crate: `clock` ([`SandboxClock`], the only time
//!    source, movable from tests); `route` ([`Route`], every path template, the reserved names);
//!    `error` (`ApiError`, every refusal as the reference shapes it, and [`SandboxError`]);
//!    `conn` (the connections a fault can cut); `limits` (limit windows via
//!    `grantflow-interval`); `remote` (client wallet addresses hosted elsewhere: their
//!    `jwks.json` and `publicName` fetched over HTTP, kept a few seconds).
//! 2. On those: `config` ([`SandboxConfig`], one field per `grantflow sandbox` flag, and
//!    [`WalletAddressSpec`]); `consent` (the consent page's HTML); `guard` (checks before any
//!    handler); `faults` ([`Fault`], [`FaultRule`], the per-route fault table); `journal`
//!    ([`JournalEntry`]: every protocol request, and the notes handlers make about it).
//! 3. `state`: what the handlers share (`Shared`: configuration, URLs, clock, faults, the store)
//!    and the in-memory store behind one mutex with its domain records (grant, interaction,
//!    access token, payments); each operation's checks and writes happen in one critical section.
//! 4. `httpsig`: signature verification glue: the `SignedRequest` extractor every signed handler
//!    takes, keys looked up per request, reference errors. `intercept`: the middleware every
//!    protocol request passes (its fault applied, journaled, one log line).
//! 5. The handlers: `wallet` (wallet addresses and their `jwks.json`); `token` (rotate, revoke);
//!    `grant` (the grant request) and `continuation` (continue, poll, cancel), which both issue
//!    tokens through `token`; `interaction` (consent page flow, finish redirect, and the
//!    decide-without-a-browser API); `resource/` (the resource server, with its own layout).
//! 6. `admin`: the `/_sandbox/` control API (faults, interactions, wallet addresses, journal,
//!    clock).
//! 7. `router`: every route of the table wired to its handler, with the middlewares.
//! 8. `server`: [`Sandbox::start`], [`SandboxHandle`] (URLs, test controls, designed shutdown).
//! 9. `fuzzing` (hidden, not API): the fuzz target's entry point, the handlers' body parsing
//!    alone (`fuzzing::parse_body`); the cargo-fuzz target is in `fuzz/` (its own workspace),
//!    its minimised corpus is replayed by `tests/fuzz_regressions.rs`.
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
#[doc(hidden)]
pub mod fuzzing;
mod grant;
mod guard;
mod httpsig;
mod interaction;
mod intercept;
mod journal;
mod limits;
mod remote;
mod resource;
mod route;
mod router;
mod server;
mod state;
mod token;
mod wallet;

pub use clock::SandboxClock;
pub use config::{SandboxConfig, WalletAddressSpec};
pub use error::SandboxError;
pub use faults::{Fault, FaultRule};
pub use interaction::InteractionOutcome;
pub use journal::{JOURNAL_CAPACITY, JournalEntry};
pub use route::{Route, UnknownRoute};
pub use server::{Sandbox, SandboxHandle};
