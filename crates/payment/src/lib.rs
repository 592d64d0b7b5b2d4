//! The life of one outgoing payment made under an Open Payments grant, as a pure, deterministic,
//! total function, the limit check made before it, and ([`schedule`]) the life of a recurring
//! schedule of such payments, one per occurrence of a cadence:
//!
//! ```text
//! transition(&PaymentState, PaymentEvent, now, &PaymentConfig) -> Result<Transition { edge, state, effect, change }, PaymentError>
//! schedule::transition(&ScheduleState, ScheduleEvent, now, &ScheduleConfig) -> Result<ScheduleTransition { edge, state, effect, records }, ScheduleError>
//! limit::check_order(limits, reading, &Ledger, rs_spent, &PaymentOrder, now) -> Result<Headroom, LimitRefused>
//! ```
//!
//! No I/O, no clock, no async: time comes in as `now`, the resource server's (RS) answers as
//! [`PaymentEvent`]s, what to do next goes out as an [`Effect`] plus
//! [`PaymentState::next_wake_at`]. The same shape as the grant machine (`grantflow-machine`):
//! a transition table ([`TRANSITIONS`], one line per [`Edge`]), a generated diagram
//! (`docs/payment.md`, kept in sync by a test), proptests, replay.
//!
//! # States
//!
//! `Initial` → `Quoting` (`POST /quotes`) → `Sending` (`POST /outgoing-payments` with the quote) →
//! `Sent`, with `Confirming` (`GET` of the payment by the quote's id) after any doubt, and
//! `Failed` from everywhere. The full edge list is [`TRANSITIONS`].
//!
//! # Glossary
//!
//! - **order**: what the application asks for ([`PaymentOrder`]): a wallet address, an incoming
//!   payment to pay, a debit or receive amount, metadata. One order is one payment, one machine.
//! - **quote**: the RS's price for the order; it expires. The outgoing payment is created from it,
//!   and the reference gives the payment the quote's id.
//! - **headroom**: what the grant's limits leave in the current window ([`Headroom`]), computed by
//!   the caller from its ledger ([`limit`]) and carried by the events that need it.
//! - **ledger**: what the engine paid (or may have paid) under a grant ([`Ledger`]).
//! - **maybe created**: an attempt to create the payment may have acted at the RS (its answer was
//!   lost, a 5xx, a crash while in flight).
//! - **proven absent**: a `GET` of the payment by the quote's id answered 404 at a moment when no
//!   later create from that quote can succeed (the RS refused the quote, or it is past its expiry).
//!
//! # Decisions (where the issue was silent)
//!
//! - **Always from a quote.** Open Payments has no idempotency key on `POST /outgoing-payments`,
//!   but the reference inserts the payment with the quote's id and refuses a second one from the
//!   same quote (400 "invalid quote"). So the machine never creates a payment without a quote, and
//!   re-sending a create with the *same* quote is always safe. Moving to a *new* quote is the only
//!   step that could pay twice: it happens only when no attempt with the old quote may have acted,
//!   or when the old one's payment is proven absent.
//! - **Doubt leads to a `GET`.** A create whose outcome is unknown (lost answer, timeout, 5xx, a
//!   crash while in flight) or refused as "invalid quote" is followed by
//!   `GET <RS>/outgoing-payments/<quote id>`: found → `Sent`; 404 with the quote still usable →
//!   the same quote again; 404 after "invalid quote" or past the quote's expiry plus
//!   [`PaymentConfig::clock_skew`] → a new quote (at most [`PaymentConfig::max_quotes`]).
//! - **Sent is final.** The payment is `Sent` once the RS shows it (created, or found). The
//!   reference then sends it by itself; its `sentAmount` and `failed` are recorded, and a payment
//!   the RS already marks `failed` ends `Failed`. Watching a payment until it completes is left to
//!   a later version.
//! - **Limits are checked before the calls.** The order's fixed amount is checked against the
//!   headroom before quoting, the quote's two amounts before creating. The headroom is an event
//!   field (computed by the caller from its ledger at that instant), so replay gives the same
//!   answer. The default reading is the reference's ([`limit::DEFAULT_READING`]).
//! - **Inactive token: rotate once.** A 403 "Inactive Token" makes the next attempt ask for a
//!   rotated token ([`Effect::refresh_token`]); a second one on that attempt fails the quote or
//!   the create ([`Failure::TokenRefused`]), and is retried with back-off by the `GET` (whose answer
//!   is needed).
//! - **Patient recovery.** Failed calls are retried with jittered exponential back-off
//!   (deterministic jitter, so replay reproduces it) for [`PaymentConfig::recovery_budget`]; then
//!   the payment fails, naming the quote whose payment may exist when a create's outcome is
//!   unknown ([`Failure::OutcomeUnknown`]).
//! - **A grant that ended** (`Lost`, `Revoked`, `Expired`, ...) fails the payment with
//!   [`Failure::ConsentNeeded`]: the user must consent again.
//! - **Errors change nothing.** A refused event leaves the state as it was; final states refuse
//!   everything.
//!
//! # Layout
//!
//! - `kind.rs`: [`PaymentStateKind`], [`PaymentEventKind`], [`CallKind`]. Imports nothing of the
//!   crate.
//! - `order.rs`: [`PaymentOrder`], [`PaymentAmount`].
//! - `config.rs`: [`PaymentConfig`].
//! - `limit.rs` ([`limit`]): [`Ledger`], [`Headroom`], [`LimitRefused`], `headroom` and
//!   `check_order`.
//! - `state.rs`: [`PaymentState`] and its parts ([`Call`], [`QuoteInfo`], [`PaymentInfo`],
//!   [`Failure`]).
//! - `event.rs`: [`PaymentEvent`], [`Refusal`] and its [`RefusalClass`], [`GrantEnd`].
//! - `effect.rs`: [`Effect`], [`PaymentCall`], [`PaymentChange`].
//! - `error.rs`: [`PaymentError`].
//! - `table.rs` ([`table`]): the edges, one line each, and the Mermaid diagram. **To change how a
//!   payment reacts**, change the edge's line here, then the code in `transition/`.
//! - `edges.rs`: what the two tables share: the row type ([`edges::Row`]), the
//!   `transition_table!` macro that declares a table one line per edge, the Mermaid diagram.
//! - `schedule/` ([`schedule`]): the recurring schedule machine, in the same shape (its own
//!   table, diagram `docs/schedule.md`, proptests): one payment per occurrence of a cadence.
//! - `transition.rs`: [`transition`](fn@transition) (the dispatcher) and, under `transition/`, `call.rs` (a
//!   call's life), `quoting.rs`, `sending.rs`, `confirming.rs`.
//!
//! # Architecture invariant
//!
//! Depends on `grantflow-interval` (windows, amounts) and `grantflow-protocol` (the wire types of
//! limits, quotes and payments) only: no tokio, no sqlx, no reqwest, `chrono` without its `clock`
//! feature. It knows nothing of the grant machine: the driver tells it when a grant ended.

mod config;
pub mod edges;
mod effect;
mod error;
mod event;
mod kind;
pub mod limit;
mod order;
pub mod schedule;
mod state;
pub mod table;
mod transition;

pub use config::PaymentConfig;
pub use effect::{Effect, PaymentCall, PaymentChange};
pub use error::PaymentError;
pub use event::{GrantEnd, PaymentEvent, Refusal, RefusalClass};
pub use kind::{CallKind, PaymentEventKind, PaymentStateKind};
pub use limit::{Headroom, Ledger, LedgerEntry, LimitRefused, LimitSide, LimitWindow};
pub use order::{PaymentAmount, PaymentOrder};
pub use state::{
    Call, Confirming, Failed, Failure, PaymentInfo, PaymentState, QuoteInfo, Quoting, Sending,
    Sent, TokenUse,
};
pub use table::{Edge, TRANSITIONS, TransitionEdge};
pub use transition::{Transition, transition};
