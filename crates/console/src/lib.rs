//! The operator console: a web page that answers "what happened to this grant?" without a
//! database prompt, served by `grantflow worker` under `/console` and mountable by an embedding
//! application as an axum [`Router`](axum::Router).
//!
//! ```no_run
//! # async fn mount(engine: grantflow_driver::Engine<grantflow_store::AnyStore>) -> std::io::Result<()> {
//! use grantflow_console::{ConsoleConfig, console_router};
//!
//! // Read-only: the console shows grants and offers no action.
//! let app = axum::Router::new().nest("/console", console_router(engine.clone(), ConsoleConfig::read_only()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3344").await?;
//! axum::serve(listener, app).with_graceful_shutdown(engine.stopping()).await
//! # }
//! ```
//!
//! # What it shows
//!
//! - The grant list (`/`): filters by state, the user's wallet address, access type and creation
//!   time, served by the engine's keyset pages ([`Engine::list`](grantflow_driver::Engine::list));
//!   "Next page" links carry the page's cursor.
//! - A grant's page (`/grants/{id}`): what it is (access, wallet, limits, the interval in words
//!   and its current period), its timeline (every recorded transition with its time, the edge of
//!   the transition table, the call it made and the authorization server's answer, redacted, and
//!   the reason), the lifecycle diagram drawn from
//!   [`TRANSITIONS`](grantflow_machine::TRANSITIONS) with this grant's path marked, and its
//!   actions: cancel, rotate, revoke, each behind a confirmation page, for an operator signed in
//!   with the [`OperatorToken`].
//! - Live updates (`/events`): the change feed ([`Engine::subscribe`](grantflow_driver::Engine::subscribe))
//!   as server-sent events; a few lines of script (`assets/console.js`) refresh the changed row of
//!   the list or the grant's page. Without JavaScript a reload shows the same.
//!
//! # Layout
//!
//! From the bottom (no file imports one listed after it):
//!
//! - `error.rs`: [`ConsoleError`], and how each becomes a status and a page.
//! - `config.rs`: [`ConsoleConfig`], [`OperatorToken`].
//! - `format.rs`: instants, ids and URLs as the pages show them.
//! - `describe.rs`: events, calls and answers in words, never with a secret.
//! - `timeline.rs`: a grant's history replayed through the machine: the edge of each recorded
//!   event, the call it made and the reason after it.
//! - `diagram.rs`: the lifecycle diagram (an inline SVG and the table of edges) with a path
//!   marked.
//! - `layout.rs`: the page shell (lang, title, navigation, style and script), the static assets.
//! - `auth.rs`: sessions (a signed cookie), CSRF tokens tied to them, the origin check.
//! - `context.rs`: the router's state and the path it is nested at; what the request's session
//!   may do.
//! - `list.rs`, `grant.rs`: the pages.
//! - `live.rs`: `/events`, the change feed as server-sent events, and the list row alone.
//! - `actions.rs`: signing in and out, the confirmation pages and the actions' POSTs.
//! - `router.rs`: [`console_router`].
//!
//! # Invariants
//!
//! - No secret reaches a page: no token, nonce, `interact_ref`, continuation or finish token,
//!   finish URI or interaction URL. Pages are built from the state's and events' non-secret
//!   parts; URLs of calls are shown by `display_url` (long path segments cut, query values
//!   hidden). A test renders a grant whose every secret is known and looks for each in the HTML.
//! - Every value is escaped: the templates are `maud`, which escapes what it interpolates;
//!   nothing is wrapped in `PreEscaped` but the static assets' markup built here.
//! - Pages work without JavaScript (forms and links only) and from the keyboard; the script only
//!   enhances.
//! - Read-only unless [`ConsoleConfig::operator_token`] is set; then every POST needs the
//!   session cookie (HMAC-signed, `HttpOnly`, `SameSite=Strict`), the session's CSRF token and
//!   the console's own origin, or it is refused (403) and changes nothing.
//!
//! # Decisions
//!
//! - Templates: `maud` (compile-time, Rust expressions, escaping by default, no template files to
//!   ship with the library, builds on the workspace's Rust version; `askama` 0.16 needs a newer
//!   one).
//! - The timeline comes from replaying the history through the machine with the engine's machine
//!   configuration (replay reproduces the state: a crate invariant), so each row names the exact
//!   edge taken. If the configuration changed since (a different recovery budget can pick another
//!   edge), replay may stop matching: from that row on the page shows the events without edges
//!   and says so.
//! - Links are made under the path the router is nested at (axum's `NestedPath`), so the console
//!   works wherever it is mounted.

mod actions;
mod auth;
mod config;
mod context;
mod describe;
mod diagram;
mod error;
mod format;
mod grant;
mod layout;
mod list;
mod live;
mod router;
mod timeline;

pub use config::{ConsoleConfig, MIN_TOKEN_CHARS, OperatorToken};
pub use error::ConsoleError;
pub use router::console_router;
