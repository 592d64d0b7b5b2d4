//! The client-side lifecycle of one Open Payments grant as a pure, deterministic, total function:
//!
//! ```text
//! transition(&GrantState, Event, now, &Config) -> Result<Transition { state, effects }, MachineError>
//! ```
//!
//! No I/O, no clock, no async: time comes in as `now`, HTTP outcomes come in as [`Event`]s, and
//! what to do next goes out as [`Effect`]s plus [`GrantState::next_wake_at`]. The same inputs
//! always give the same output, so replaying a grant's recorded events from
//! [`GrantState::Initial`] reproduces its stored state (that is how the driver recovers, and what
//! the property tests check).
//!
//! # States
//!
//! `Requested` → `AwaitingInteraction` (redirect finish) → `Continuing` → `Finalized(Issued)`,
//! or `Requested` → `Continuing` (polling, for grants requested without a finish URI), or
//! `Requested` → `Finalized(Issued)` (non-interactive grants). `Canceling` is the way to
//! `Finalized(Canceled | Lost | Failed | Revoked)` and `Expired` whenever a continuation exists at
//! the AS. An issued grant keeps a token sub-lifecycle: active → rotating → active (new value, new
//! manage URL), or → revoking → `Revoked`. The full edge list is [`TRANSITIONS`], one line per
//! [`Edge`]; every [`Transition`] names the edge it followed. The diagram is in `docs/machine.md`
//! (generated from the table, kept in sync by a test).
//!
//! # Glossary
//!
//! - **grant**: the authorization server's (AS) permission for this client to act on a wallet
//!   (create outgoing payments, read incoming payments, ...); one grant is one machine.
//! - **interaction**: the user's visit to the AS (the `redirect` URL) to approve or deny.
//! - **finish**: the AS's redirect back to the client's finish URI after the interaction, with
//!   `hash` + `interact_ref` (approved) or `result=...` (the reference server's failures).
//! - **finish hash**: SHA-256 over the client nonce, the AS nonce, the `interact_ref` and the grant
//!   endpoint; proves the finish redirect came from the AS for this grant.
//! - **continuation**: the URI and token (and `wait`) with which the client continues, polls or
//!   cancels (`DELETE`) a grant.
//! - **manage URL**: the access token's URL to rotate (`POST`) or revoke (`DELETE`) it; rotation
//!   returns a new one.
//! - **ambiguous outcome**: a call that may or may not have reached the AS (timeout after send,
//!   5xx, crash mid-call).
//!
//! # Decisions (where the issue was silent)
//!
//! - **Calls in flight are state.** Every effect that makes a call also marks it in flight in the
//!   new state (with an attempt counter and a `wake_at` of `now + call_timeout`). The driver
//!   commits the state, then makes the call, then feeds the outcome. A [`Event::Wake`] while a call
//!   is in flight means the caller lost it (crash, lapsed lease): an *ambiguous outcome*.
//! - **Re-send once, then `Lost`.** Continue, poll and rotate are not idempotent at the reference
//!   server. After an ambiguous outcome (timeout after send, 5xx, crash) they are re-sent once; a
//!   second ambiguous outcome, or a refusal of the re-sent call (a second continue answers
//!   `request_denied`, a second rotate `invalid_client`), makes the grant `Lost`. A definite
//!   "still pending" answer settles the ambiguity. `Lost` grants are canceled at the AS first
//!   (revoking any token we never received) and then finalized.
//! - **Idempotent calls retry.** The grant request (an orphan grant at the AS grants nothing:
//!   its continuation token never reached us), cancel and token revocation are retried with
//!   exponential back-off (`retry_base_delay` doubling up to `max_retry_delay`), without limit:
//!   the application can cancel, and the interaction deadline still applies.
//! - **Status classes.** `too_fast` backs off (`Config::too_fast_delay`, never below `wait`);
//!   429 backs off; 5xx is transient for idempotent calls and ambiguous for the others; any other
//!   status is a refusal: `Failed` (with the GNAP error), `Rejected` for `user_denied` and for
//!   `request_denied` to a poll (the reference server's answer to polling a rejected grant), `Lost`
//!   for a refused rotation.
//! - **Cancel is best effort at the end.** A 4xx to a cancel (`invalid_continuation`: the AS no
//!   longer knows the grant) finalizes the grant anyway. A token revocation refused with
//!   `invalid_client` (already revoked) ends `Revoked`; refused otherwise, the whole grant is
//!   canceled instead.
//! - **Finish callbacks.** The hash is verified with
//!   [`grantflow_protocol::finish_hash::verify_finish_hash`] (both encodings, constant time) before
//!   the `interact_ref` is stored; a mismatch is a [`MachineError::FinishHashRejected`] that
//!   changes nothing (a forged callback cannot end a grant). `result=grant_rejected` ends
//!   `Rejected` directly (the AS already finalized it); any other `result` cancels, then `Failed`.
//! - **Commands with a call in flight** are refused with [`MachineError::CallInFlight`]; apply
//!   them again after the outcome. `Cancel` before any answer to the grant request ends
//!   `Canceled` without a call.
//! - **Token rotation** happens at expiry minus `rotate_before_expiry` (not sooner than half the
//!   lifetime) when `auto_rotate` is on, or on [`Event::RotateNow`]; an expired token can still be
//!   rotated (the reference server allows it).
//! - **Errors change nothing.** A refused event leaves the old state as it was; final states
//!   refuse everything with [`MachineError::Final`]; a finish callback for a grant that is not
//!   waiting is [`MachineError::CallbackForGrantNotWaiting`].
//! - **Allocation-light.** Wire payloads are behind `Arc` (shared between states and effects);
//!   [`Effects`] is inline (one call, one notification).
//!
//! # Layout
//!
//! - `config.rs`: [`Config`], the tunables (deadline, default wait, back-offs, rotation margin).
//! - `intent.rs`: [`GrantIntent`], the grant request and the exact endpoint it is POSTed to.
//! - `kind.rs`: the coarse names every other module uses: [`StateKind`], [`EventKind`],
//!   [`AnswerKind`], [`CallKind`]. Imports nothing of this crate.
//! - `redact.rs`: `Debug` helpers for wire types that carry secrets in plain fields.
//! - `state.rs`: [`GrantState`] and its parts ([`Call`] in flight or due, [`Outcome`],
//!   [`Failure`], [`Lost`]), `next_wake_at`.
//! - `event.rs`: [`Event`], [`Answer`], [`FinishCallback`] (and its query parser).
//! - `effect.rs`: [`Effect`], [`Change`] (application notifications), [`Effects`].
//! - `table.rs`: the edges, one line each ([`Edge`], [`TRANSITIONS`]), and the Mermaid diagram
//!   generated from them. **To change how a grant reacts**, add or change the edge's line here,
//!   then the code that takes it in `transition/` (the compiler points there: an `Edge` variant
//!   that is gone no longer compiles, and an edge that is not listed is refused before any state
//!   function runs).
//! - `error.rs`: [`MachineError`], why an event was refused.
//! - `transition.rs`: [`transition`] (the dispatcher: refuses unlisted `(state, event)` pairs,
//!   then one function per state family) and, under `transition/`, `call.rs` (a call's life:
//!   send, retry, re-send once, classify the outcome), `requested.rs`, `interaction.rs`
//!   (awaiting the user, continuing, polling), `canceling.rs`, `token.rs` (issued token: active,
//!   rotating, revoking).
//! - `format.rs`: the versioned JSON envelope of a stored state ([`FORMAT_VERSION`]).
//!
//! # Architecture invariant
//!
//! This crate depends on `grantflow-protocol` (the wire types it stores, the finish hash) and
//! nothing with I/O: no tokio, no sqlx, no reqwest, and `chrono` without its `clock` feature.

mod config;
mod effect;
mod error;
mod event;
mod format;
mod intent;
mod kind;
mod redact;
mod state;
pub mod table;
mod transition;

pub use config::Config;
pub use effect::{Change, Effect, Effects};
pub use error::MachineError;
pub use event::{Answer, CallbackQueryError, Event, FinishCallback};
pub use format::{FORMAT_VERSION, StateFormatError};
pub use intent::GrantIntent;
pub use kind::{AnswerKind, CallKind, EventKind, StateKind};
pub use state::{
    AwaitingInteraction, Call, CallStatus, CancelGoal, Canceling, ContinueMode, Continuing,
    ExpiredGrant, Failure, GrantState, Issued, Lost, LostReason, Outcome, Requested, TokenState,
};
pub use table::{Edge, TRANSITIONS, TransitionEdge};
pub use transition::{Transition, transition};
