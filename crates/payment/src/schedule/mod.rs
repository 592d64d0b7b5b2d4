//! A recurring payment as a pure, deterministic, total function: one payment per occurrence of a
//! cadence, exactly once, across crashes, downtime, pauses and a grant that has to be replaced.
//!
//! ```text
//! schedule::transition(&ScheduleState, ScheduleEvent, now, &ScheduleConfig)
//!     -> Result<ScheduleTransition { edge, state, effect, records }, ScheduleError>
//! ```
//!
//! The same shape as the payment machine beside it: a transition table ([`TRANSITIONS`], one
//! line per [`ScheduleEdge`]), a generated diagram (`docs/schedule.md`, kept in sync by a test),
//! proptests, replay. Each occurrence's payment is a payment of [`crate::transition`] made by the
//! driver ([`ScheduleEffect::Pay`]); the schedule learns its end ([`ScheduleEvent::Paid`],
//! [`ScheduleEvent::PaymentFailed`] with the payment's [`Failure`](crate::Failure)).
//!
//! # States
//!
//! `Initial` → `Waiting` (for the next occurrence) → `Paying` (its key committed) → `Waiting` …
//! → `Completed`; `Paused` beside them; `AwaitingConsent` when there is no usable grant; `Canceled`
//! and `Stopped`. The full edge list is [`TRANSITIONS`].
//!
//! # Glossary
//!
//! - **cadence**: when the schedule pays ([`Cadence`]): every window of the grant's
//!   `limits.interval`, or its own repeating interval.
//! - **occurrence**: one window of the cadence's series overlapping `[start, end)`, identified by
//!   the window's index ([`Occurrence`]); it comes due at the window's start.
//! - **key**: the payment's idempotency key, `schedule/<id>/<index>` ([`payment_key`]).
//! - **catch-up**: paying an occurrence late, once, when the schedule gets to it within
//!   [`ScheduleConfig::max_catch_up`] of its due instant; older ones are **skipped**.
//! - **consent**: the user's approval of a new grant, asked for when the grant the schedule pays
//!   under ended.
//!
//! # Decisions (where the issue was silent)
//!
//! - **Exactly once is the key's job.** The machine commits the occurrence's key (`Paying`)
//!   before the driver makes the payment; every wake-up in `Paying` re-sends the same key, and
//!   the engine's payments are idempotent on it. So a crash between "decided to pay" and
//!   "payment created" makes the payment once. A second key for one occurrence is made only when
//!   the first payment proved that nothing was paid *and* the grant could pay no more
//!   ([`FailureClass::NeedsConsent`]).
//! - **One occurrence at a time, in order.** The schedule pays occurrence `i + 1` only after
//!   `i`'s payment ended; catching up after downtime pays the due occurrences one after another.
//! - **Catch-up rule.** When the schedule gets to occurrences at `now`, those due before
//!   `now − max_catch_up` are skipped and recorded (`Skipped { from, to, TooLate }`, found by
//!   arithmetic, not by walking them); the others are paid late, once. The default
//!   `max_catch_up` is one day.
//! - **Failures are final for their occurrence.** A payment that failed with nothing paid (limit
//!   reached, refused, gave up) is recorded failed; one that may have paid (outcome unknown, a
//!   payment the RS marked failed) is recorded unknown. Neither is paid again; the schedule moves
//!   on to the next occurrence.
//! - **A grant that ended** ([`ScheduleEvent::GrantEnded`], a payment failing with
//!   `ConsentNeeded`, or a limit refused because the grant's series is over) moves the schedule to
//!   `AwaitingConsent`: it requests a new grant with the same access
//!   ([`ScheduleEffect::RequestConsent`], keyed so a crash requests it once), and resumes when it
//!   is issued, by the catch-up rule. For a [`Cadence::GrantWindows`] cadence the occurrences
//!   continue the grant's series past its repetitions, and the new grant's interval is re-anchored
//!   on the current window ([`Cadence::renewed_grant_interval`]). A user who declines stops the
//!   schedule; so do [`ScheduleConfig::max_consent_requests`] requests in a row that end without
//!   a grant.
//! - **Pause skips.** Occurrences that come due while paused are skipped (`Paused` wakes at each
//!   to record it, and completes the schedule at its end). A pause asked during a payment takes
//!   effect once the payment ends. A schedule awaiting consent cannot be paused (cancel it).
//! - **Cancel** leaves a payment in flight to run to its own end (its key is in the `Canceled`
//!   state), and cancels a grant request in flight ([`ScheduleEffect::CancelConsent`]).
//! - **Bounded state.** The state keeps counts ([`Tally`]) and the newest
//!   [`ScheduleConfig::history`] records; each transition's records go to the event log and the
//!   change feed.
//!
//! # Layout
//!
//! `kind.rs` (the state and event kinds, importing nothing), `cadence.rs` ([`Cadence`],
//! [`Occurrence`], [`Plan`]), `order.rs` ([`ScheduleOrder`], the keys), `config.rs`,
//! `error.rs`, `state.rs`, `event.rs` (events, effects, [`FailureClass`]), `table.rs` (the edges,
//! one line each, and the diagram: **to change how a schedule reacts**, change the edge's line
//! there, then the code in `transition.rs`), `transition.rs`.

mod cadence;
mod config;
mod error;
mod event;
mod kind;
mod order;
mod state;
pub mod table;
mod transition;

pub use cadence::{Cadence, Occurrence, Plan, reading_name};
pub use config::ScheduleConfig;
pub use error::{OrderProblem, ScheduleError};
pub use event::{FailureClass, ScheduleEffect, ScheduleEvent};
pub use kind::{ScheduleEventKind, ScheduleStateKind};
pub use order::{ScheduleOrder, consent_key, payment_key};
pub use state::{
    AwaitingConsent, Canceled, Completed, OccurrenceRecord, Paused, Paying, Progress,
    ScheduleState, SkipReason, StopReason, Stopped, Tally, Waiting,
};
pub use table::{ScheduleEdge, ScheduleTransitionEdge, TRANSITIONS};
pub use transition::{ScheduleTransition, transition};
