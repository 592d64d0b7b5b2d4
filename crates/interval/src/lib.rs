//! ISO 8601 repeating intervals for Open Payments limits: parsing, windows and allowance.
//!
//! An outgoing-payment grant may carry `limits.interval`, e.g. `R/2016-08-24T08:00:00Z/P1D`: the
//! amount limit applies to each window of that series separately. This crate parses such a
//! string strictly, finds the window that contains an instant in either of the two readings that
//! exist in the wild, and says how much of a limit is left in it. The semantics are those of
//! `shared/reference/repeating-intervals.md`; the decisions it left open are in
//! `docs/intervals.md`.
//!
//! # Layout
//!
//! - `parse`: the strict hand-written parser and its error type ([`ParseError`] = [`Part`] +
//!   byte offset + [`Problem`]).
//! - `value`: the parsed value [`RepeatingInterval`] ([`Repetitions`], [`IntervalForm`],
//!   [`Duration`] with its [`Component`]s as written), `Display`, `FromStr` and serde as the
//!   string.
//! - `calendar`: proleptic Gregorian arithmetic on plain integers (day numbers, month indices,
//!   clamped month addition), so lookups far from the anchor cannot panic.
//! - `window`: [`Reading`], [`Window`], the lookups on [`RepeatingInterval`]
//!   (`window_at`, `window`, `next_window_start`, `has_ended`, `windows_from`) and how each finds
//!   its answer by arithmetic instead of walking the series.
//! - `allowance`: [`Allowance`] (a limit [`Amount`] per window), [`Debit`]s, [`Remaining`] and
//!   [`Fit`]; sums are checked ([`AllowanceError::Overflow`]).
//!
//! Architecture invariant: this crate is pure. It does no I/O, reads no clock (every instant is
//! an argument) and depends on nothing else of the workspace.

/// The `chrono` this crate takes and returns instants in (re-exported so callers match it).
pub use chrono;

mod allowance;
mod calendar;
mod parse;
mod value;
mod window;

pub use allowance::{Allowance, AllowanceError, Amount, Debit, Fit, Remaining};
pub use parse::{ParseError, Part, Problem, parse};
pub use value::{
    Component, Duration, DurationNotation, IntervalForm, RepeatingInterval, Repetitions,
    format_date_time,
};
pub use window::{Reading, Window, Windows};
