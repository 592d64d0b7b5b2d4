//! The durable grant engine: leased workers, effects through the client, the finish callback and
//! the application API.
//!
//! An [`Engine`] puts the pure machine (`grantflow-machine`), the store (`grantflow-store`) and
//! the network (`grantflow-client`, behind [`Calls`]) together. Every change to a grant is made
//! under its lease: a transition is committed with its event row before the call it starts, the
//! call is made outside any transaction, and its outcome is committed after. A worker that dies
//! anywhere leaves a grant whose lease lapses and whose state says what was in flight; another
//! worker claims it and the machine decides what to do (re-send once, or `Lost`).
//!
//! # Example: embedding the engine
//!
//! ```no_run
//! use std::sync::Arc;
//! use grantflow_driver::*;
//!
//! # async fn run(client: grantflow_client::Client, access: Vec<grantflow_protocol::grant::AccessItem>)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let store = grantflow_store::AnyStore::connect("sqlite:grants.db", 8).await?;
//! let config = EngineConfig::new(EngineConfig::unique_worker_id("shop"), "https://wallet.example/shop")
//!     .with_finish_base_url("https://shop.example/grantflow".parse()?);
//! let engine = Engine::new(store, Arc::new(ClientCalls::new(client)), config)?;
//! engine.start_worker();
//!
//! // The finish URI the AS redirects the user to, served by the application.
//! let app = axum::Router::new().nest("/grantflow", finish_router(engine.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(engine.stopping()).into_future());
//!
//! let grant = engine.request(GrantOrder {
//!     idempotency_key: "order-42".into(),
//!     grant_endpoint: "https://auth.wallet.example/".into(),
//!     access,
//!     interaction: Interaction::Redirect,
//! }).await?;
//! println!("send the user to {:?}", grant.redirect);
//! let issued = engine
//!     .wait_for(grant.id, std::time::Duration::from_secs(600), |g| g.kind() == grantflow_machine::StateKind::Issued)
//!     .await?;
//! let token = engine.access_token(issued.id).await?;
//! # let _ = token;
//! engine.shutdown_on_signal().await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! No two files import each other. From the bottom: `time.rs`, `error.rs`, `view.rs`,
//! `config.rs`, `summary.rs`, `metrics.rs`, `finish_token.rs`, `payment_view.rs`; then
//! `database.rs`, `calls.rs`, `payment_calls.rs`, `feed.rs` and `committer.rs`; then `engine.rs`
//! (the type and its shared state); then `step.rs` and `payment_step.rs`; at the top `order.rs`,
//! `command.rs`, `finish.rs`, `worker.rs`, `payment.rs`, `list.rs`, `health.rs`,
//! `retention.rs`, `webhook.rs` and `callback.rs` (which uses `finish.rs`).
//!
//! - `engine.rs`: [`Engine`]: construction, reads (get, history), the change feed
//!   (subscribe, wait_for) and graceful shutdown.
//! - `list.rs`: [`Engine::list`] ([`GrantFilter`], keyset [`GrantPage`]s with a
//!   [`ListCursor`]) and [`Engine::reindex`] (summaries of grants written before they existed).
//! - `summary.rs`: the non-secret summary (state kind, access types, wallet address, last
//!   error) computed from every state committed, for the store's queryable columns.
//! - `order.rs`: [`Engine::request`]: [`GrantOrder`] to a GNAP grant request (finish URI and
//!   nonce), the idempotency check against the grant's first event.
//! - `step.rs`: the one way a grant is advanced (apply, commit, call, commit), the lease
//!   renewal during a call, a worker's turn on a claimed grant.
//! - `command.rs`: cancel, revoke, rotate and [`Engine::access_token`]: taking a grant's lease
//!   for a command (waiting on notifications), resolving a call a dead holder left in flight.
//! - `finish.rs`: [`Engine::finish_callback`]: checking a callback without writing, recording
//!   it, the continue in the background.
//! - `finish_token.rs`: finish URI path tokens: the finish URI as stored (without its token when
//!   [`EngineConfig::finish_token_keys`] are given), the token put in when the grant request is
//!   sent, and recomputed (or compared with the stored one) to check a callback.
//! - `worker.rs`: [`Engine::start_worker`]: the claim loop (grants, then payments with the room
//!   left), its sleep, its graceful stop; [`WorkerHandle`].
//! - `calls.rs`: [`Calls`], the seam to the network, and [`ClientCalls`] over
//!   `grantflow-client`: client errors classified as not sent / ambiguous / refused.
//! - `schedule.rs`: [`Engine::schedule`] ([`ScheduleOrder`], [`ScheduleCadence`]), reads and
//!   the pause/resume/cancel commands of recurring schedules; `schedule_step.rs`: a schedule
//!   advanced under its lease (the machine's transition committed, then the occurrence's
//!   payment ordered with its key, or the new grant requested with its key); `schedule_view.rs`:
//!   [`ScheduleView`] and the feed's [`ScheduleUpdate`] (imports only `error.rs`).
//! - `payment_calls.rs`: one call of the payment machine (`grantflow-payment`) over the client,
//!   [`make_payment_call`], its outcome as the machine's event ([`PaymentAnswer`],
//!   [`payment_event`]).
//! - `payment.rs`: [`Engine::pay`] ([`PaymentOrder`]: the idempotency check per grant, the
//!   limit check against the grant's ledger before quoting, the first call), the payment reads
//!   and [`Engine::wait_for_payment`]; its module docs state the ledger and reconciliation
//!   rules.
//! - `payment_step.rs`: the one way a payment is advanced (apply, commit with its ledger entry,
//!   token from the grant engine, call, commit), a worker's turn on a claimed payment.
//! - `payment_view.rs`: what the application reads of a payment ([`PaymentView`],
//!   [`PaymentHistoryEntry`], [`PaymentUpdate`] in the feed) and what the store keeps.
//! - `committer.rs`: group commit: a bounded queue, one batcher, concurrent grants'
//!   transitions share one store batch.
//! - `callback.rs`: [`finish_router`], the axum endpoint for finish redirects, and the
//!   [`FinishResponder`]s.
//! - `view.rs`: what the application reads: [`GrantView`], [`HistoryEntry`], [`GrantChange`],
//!   [`AccessTokenView`].
//! - `time.rs`: [`Clock`] ([`SystemClock`], [`ManualClock`]) and saturating instant arithmetic.
//! - `config.rs`: [`EngineConfig`]. `error.rs`: [`EngineError`].
//! - `metrics.rs`: [`metrics`]: every metric's name and what records it (through the `metrics`
//!   facade; the process installs the recorder, `grantflow worker` a Prometheus one).
//! - `database.rs`: whether the database answers, as last seen: one log line and a gauge change
//!   when it stops answering, one when it is back.
//! - `retention.rs`: [`Engine::start_retention`] (pruning final grants after a [`Retention`])
//!   and [`Engine::start_grant_counts`] (the grants-by-state gauge).
//! - `health.rs`: [`Engine::readiness`] and [`operations_router`] (`/healthz`, `/readyz`,
//!   `/metrics`).
//! - `webhook.rs`: [`Engine::start_webhook`]: every change of the feed POSTed to a URL, signed
//!   ([`sign`], [`verify_signature`]), retried with back-off, under a named feed consumer (one
//!   deliverer per name); the body ([`webhook_body`]) and header formats.
//!
//! # Invariants
//!
//! - No write without the grant's lease, and every write fenced on the lease token and the
//!   version (the store refuses the rest), so two workers never both run an effect of one grant,
//!   and a stale worker cannot overwrite newer work.
//! - A call is made only after the state saying it is in flight is committed.
//! - With [`EngineConfig::finish_token_keys`], no finish URI path token is stored: the stored
//!   request holds the finish URI without it.
//! - Logs carry grant ids, state and event kinds, call kinds, durations and error messages;
//!   never a token, nonce, `interact_ref`, key or a serialised state or event. Work on one grant
//!   runs in a span whose field `grant` is its id.
//! - Metric labels are fixed small sets (edges, states, routes, outcomes): never a grant id, an
//!   URL or an error text.
//!
//! # Decisions
//!
//! - Payments (issue 16) are workflows like grants with a table of their own
//!   (`grantflow_payments`: why in `grantflow_store`'s `payment.rs`): the same apply-commit-call
//!   loop, lease, fence and change feed; one worker loop claims both. A payment's token comes
//!   from the grant engine for each call ([`Engine::access_token`], rotated on demand; a 403
//!   "Inactive Token" reports it refused once) and is never stored with the payment, so payment
//!   rows hold no secret and pass a `SealingStore` unsealed.
//!
//! - Every write carries a summary of the state (kind, requested access types, the user's wallet
//!   address, last error) that the store keeps in indexed columns: the state is opaque to the
//!   store and its secrets sealed, so only the driver can compute it. The request's access and
//!   wallet are carried forward from the previous summary once the state no longer holds the
//!   request. Rows from before the columns: [`Engine::reindex`] (`grantflow grant reindex`).
//! - The application's request path makes the grant request itself (the grant row is created
//!   leased to this engine), so the redirect URL comes back from [`Engine::request`] in one round
//!   trip; if the call fails, a worker carries the grant on.
//! - A finish callback is first checked against the grant as read (finish URI token, then the
//!   machine's hash check) without writing anything; only a verifying callback takes the lease,
//!   is recorded, and starts the continue (in the background, so the browser is answered at once).
//! - `Retry-After` on a refusal delays the grant's next wake-up (capped by
//!   `EngineConfig::max_retry_after`); `wait` and `too_fast` are the machine's.
//! - Commands wait up to `command_wait` for a worker holding the lease (woken by this engine's
//!   changes, the store's wake-ups, the lease lapsing, or the poll interval), then fail with
//!   [`EngineError::Busy`].
//! - Commands (cancel, revoke, rotate, access token) run in tasks the engine tracks; the caller
//!   awaits the result, and dropping its future never leaves a call half-done.
//! - [`Engine::access_token`] makes at most one rotation per call, and only if the stale token
//!   is still in place once it holds the lease (50 concurrent callers: one rotation). Whether
//!   a token may be handed out is the machine's rule (`Issued::usable_at`: its margin is at
//!   most half the token's lifetime), so a fresh short-lived token is handed out. The engine
//!   makes no RS calls itself; code that does reports a `403 Inactive Token` with
//!   [`Engine::access_token_refused`] (one rotation however many report it).
//!   `access_token` steps a busy grant nobody holds once it is due (a rotation a dead holder
//!   left in flight, a retry after its back-off), so a process with no worker never waits on
//!   one.
//! - Time is an input: the engine reads the time of day only from [`EngineConfig::clock`], and
//!   waits for instants through it, so tests move a [`ManualClock`] instead of sleeping.
//!   Arithmetic on instants saturates; no configuration makes it panic.

mod callback;
mod calls;
mod command;
mod committer;
mod config;
mod database;
mod engine;
mod error;
mod feed;
mod finish;
mod finish_token;
mod health;
mod list;
pub mod metrics;
mod order;
mod payment;
mod payment_calls;
mod payment_step;
mod payment_view;
mod retention;
mod schedule;
mod schedule_step;
mod schedule_view;
mod step;
mod summary;
mod time;
mod view;
mod webhook;
mod worker;

pub use callback::{FinishResponder, HtmlPages, RedirectPages, finish_router, finish_router_with};
pub use calls::{CallFuture, CallOutcome, Calls, ClientCalls, LookupFuture, classify};
pub use config::EngineConfig;
pub use engine::Engine;
pub use error::{EngineError, OrderPart};
pub use feed::{FeedChange, FeedEntry, Subscription};
pub use finish::{CallbackOutcome, CallbackRefusal};
pub use grantflow_payment::{Headroom, LimitRefused, PaymentAmount};
pub use grantflow_store::FeedPosition;
pub use grantflow_store::ListCursor;
pub use grantflow_store::PaymentId;
pub use health::{MetricsText, READINESS_TIMEOUT, Readiness, Unready, operations_router};
pub use list::{ACCESS_TYPES, GrantFilter, GrantPage, ReindexReport, Reindexed};
pub use order::{GrantOrder, Interaction, RequestedGrant};
pub use payment::PaymentOrder;
pub use payment_calls::{PaymentAnswer, make_payment_call, payment_event};
pub use payment_view::{PaymentHistoryEntry, PaymentUpdate, PaymentView};
pub use retention::Retention;
pub use schedule::{ScheduleCadence, ScheduleOrder};
pub use schedule_view::{ScheduleUpdate, ScheduleView};
pub use time::{Clock, ManualClock, Sleep, SystemClock};
pub use view::{AccessTokenView, GrantChange, GrantView, HistoryEntry};
pub use webhook::{
    POSITION_HEADER, SIGNATURE_HEADER, WebhookConfig, WebhookSecret, sign, verify_signature,
    webhook_body,
};
pub use worker::WorkerHandle;
