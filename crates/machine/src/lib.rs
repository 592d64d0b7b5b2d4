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
//! - **ambiguous outcome** (unknown outcome): a call that may or may not have acted at the AS
//!   (timeout after send, 5xx, crash mid-call).
//! - **recovery budget**: how long a call may keep failing before the machine gives up.
//!
//! # Decisions (where the issue was silent)
//!
//! - **Calls in flight are state.** Every effect that makes a call also marks it in flight in the
//!   new state (with an attempt counter and a `wake_at` of `now + call_timeout`). The driver
//!   commits the state, then makes the call, then feeds the outcome. A [`Event::Wake`] while a call
//!   is in flight means the caller lost it (crash, lapsed lease): an *ambiguous outcome*.
//! - **Patient recovery; `Lost` only on proof or an exhausted budget.** Every failed call (never
//!   sent, 429, 5xx, timeout, dropped connection, crash while in flight) is tried again after an
//!   exponential back-off (`retry_base_delay` doubling up to `max_retry_delay`), jittered into
//!   its upper half by a value derived from the instant and the attempt number (deterministic,
//!   so replay reproduces it; grants failing at different instants spread out). A `too_fast`
//!   schedules the next attempt `wait` after the attempt that got it. The call records since
//!   when it fails and its last error ([`CallTrouble`], shown by [`GrantState::reason`]); when a
//!   `Wake` finds it failing for longer than [`Config::recovery_budget`] (it may outlive the
//!   interaction deadline once the user approved), the machine gives up. An attempt of a
//!   non-idempotent call (continue, poll, rotate) with an unknown outcome marks the call as
//!   possibly acted on (`resent_after_ambiguity`); a definite "still pending" settles it. A grant
//!   ends `Lost` only when the AS's answer to a later attempt proves an earlier one acted
//!   (`request_denied` to a continue or poll, `invalid_client` to a rotation: the reference's
//!   answers to a second one) or when the budget runs out while the call is so marked
//!   ([`LostReason::BudgetExhausted`] says so). `Lost` grants are canceled at the AS first
//!   (revoking any token we never received) and then finalized.
//! - **Giving up, per call.** The grant request ends `Failed` ([`Failure::GaveUp`], with the last
//!   error). A continue or poll that never reached the AS: cancel, then `Failed`. A rotation that
//!   never reached it: the old token stays (it was not revoked), tried again later. A cancel:
//!   its goal is reached anyway (the AS may still hold the grant). A token revocation: the whole
//!   grant is deleted instead.
//! - **Received means received.** A 2xx whose body does not parse ([`Event::Malformed`]) is never
//!   sent again: the grant request ends `Failed`, a continue, poll or rotation cancels the grant
//!   (the AS acted) and ends `Failed`; the reason has the parse error and the start of the body.
//! - **Status classes.** 429 and 5xx are failures (5xx: outcome unknown); any other status is a
//!   refusal: `Failed` (with the GNAP error), `Rejected` for `user_denied` and for
//!   `request_denied` to a poll (the reference server's answer to polling a rejected grant), a
//!   refused first rotation cancels and ends `Failed`.
//! - **Cancel is best effort at the end.** A 4xx to a cancel (`invalid_continuation`: the AS no
//!   longer knows the grant) finalizes the grant anyway.
//! - **Revoke leaves nothing usable.** The token is revoked (`DELETE` on its manage URL; refused
//!   with `invalid_client`: already revoked), then the grant (`DELETE` on the continue URI), then
//!   `Revoked`.
//! - **Finish callbacks.** The hash is verified with
//!   [`grantflow_protocol::finish_hash::verify_finish_hash`] (both encodings, constant time) before
//!   the `interact_ref` is stored; a mismatch is a [`MachineError::FinishHashRejected`] that
//!   changes nothing (a forged callback cannot end a grant). `result=grant_rejected` sends the
//!   grant's `DELETE` (best effort: the AS already finalized it) and ends `Rejected`;
//!   `result=grant_invalid` (the user reached the finish step before deciding; the reference
//!   keeps the interaction pending) changes nothing, the grant waits until its deadline; any
//!   other `result` cancels, then `Failed`.
//! - **Commands with a call in flight** are refused with [`MachineError::CallInFlight`]; apply
//!   them again after the outcome. `Cancel` before any answer to the grant request ends
//!   `Canceled` without a call.
//! - **Rotation on demand.** By default ([`Rotation::OnDemand`]) a token is rotated when the
//!   driver asks ([`Event::RotateNow`], after [`GrantState::usable_token`] said no), plus one
//!   keep-alive rotation [`Config::keep_alive`] (7 days) after expiry, before the AS could forget
//!   the expired token (the reference deletes them after 30 days): an idle grant with 600 s tokens
//!   costs one call a week instead of ~150 a day. [`Rotation::KeepWarm`] rotates at expiry minus
//!   the margin (not sooner than `retry_base_delay`). The margin is `token_margin`, capped at half
//!   the token's lifetime, so a token just issued or rotated is always usable. An expired token
//!   can still be rotated (the reference server allows it). At most one rotation is in flight:
//!   it is part of the token's state.
//! - **Errors change nothing.** A refused event leaves the old state as it was; final states
//!   refuse everything with [`MachineError::Final`]; a finish callback for a grant that is not
//!   waiting is [`MachineError::CallbackForGrantNotWaiting`].
//! - **Allocation-light.** Wire payloads are behind `Arc` (shared between states and effects);
//!   [`Effects`] is inline (one call, one notification).
//!
//! # Layout
//!
//! - `config.rs`: [`Config`], the tunables (deadline, default wait, back-offs and jitter, recovery
//!   budget, token margin, [`Rotation`], keep-alive).
//! - `intent.rs`: [`GrantIntent`], the grant request and the exact endpoint it is POSTed to.
//! - `kind.rs`: the coarse names every other module uses: [`StateKind`], [`EventKind`],
//!   [`AnswerKind`], [`CallKind`]. Imports nothing of this crate.
//! - `redact.rs`: `Debug` helpers for wire types that carry secrets in plain fields.
//! - `state.rs`: [`GrantState`] and its parts ([`Call`] in flight or due, [`Outcome`],
//!   [`Failure`], [`Lost`]), `next_wake_at`.
//! - `event.rs`: [`Event`], [`Answer`]; [`FinishCallback`] is re-exported from `grantflow-protocol`
//!   (which parses its query).
//! - `effect.rs`: [`Effect`], [`Change`] (application notifications), [`Effects`].
//! - `table.rs`: the edges, one line each ([`Edge`], [`TRANSITIONS`]), and the Mermaid diagram
//!   generated from them. **To change how a grant reacts**, add or change the edge's line here,
//!   then the code that takes it in `transition/` (the compiler points there: an `Edge` variant
//!   that is gone no longer compiles, and an edge that is not listed is refused before any state
//!   function runs).
//! - `error.rs`: [`MachineError`], why an event was refused.
//! - `transition.rs`: [`transition`](fn@transition) (the dispatcher: refuses unlisted `(state, event)` pairs,
//!   then one function per state family) and, under `transition/`, `call.rs` (a call's life:
//!   send, retry, re-send once, classify the outcome), `requested.rs`, `interaction.rs`
//!   (awaiting the user, continuing, polling), `canceling.rs`, `token.rs` (issued token: active,
//!   rotating, revoking).
//! - `format.rs`: the versioned JSON envelope of a stored state ([`FORMAT_VERSION`]).
//! - `secrets.rs`: [`SECRET_FIELDS`], where the secrets sit in a stored state or event (what a
//!   storage layer seals).
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
mod secrets;
mod state;
pub mod table;
mod transition;

pub use config::{Config, Rotation};
pub use effect::{Change, Effect, Effects};
pub use error::MachineError;
pub use event::{Answer, CallbackQueryError, Event, FinishCallback};
pub use format::{FORMAT_VERSION, OLDEST_READABLE_VERSION, StateFormatError};
pub use intent::GrantIntent;
pub use kind::{AnswerKind, CallKind, EventKind, StateKind, UnknownStateKind};
pub use secrets::{SECRET_FIELDS, SecretField, secret_field, visit_secrets};
pub use state::{
    AwaitingInteraction, Call, CallStatus, CallTrouble, CancelGoal, Canceling, ContinueMode,
    Continuing, ExpiredGrant, Failure, GrantState, Issued, Lost, LostReason, Outcome, Requested,
    TokenState,
};
pub use table::{Edge, TRANSITIONS, TransitionEdge};
pub use transition::{Transition, transition};
