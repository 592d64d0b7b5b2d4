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
//! Modules, each importing only modules listed after it:
//!
//! - `words`: limits said in words for people ([`series_in_words`], [`instant_in_words`],
//!   [`Amount::in_units`]), as the sandbox's consent page and the operator console show them.
//! - `allowance`: [`Allowance`] (a limit [`Amount`] per window), [`Debit`]s, [`Remaining`] and
//!   [`Fit`]; sums are checked ([`AllowanceError::Overflow`]).
//! - `parse`: the strict hand-written parser ([`parse`](fn@parse), `FromStr` and `Deserialize` for
//!   [`RepeatingInterval`]) and its error type ([`ParseError`] = [`Part`] + byte offset +
//!   [`Problem`]); `parse/date_time.rs` and `parse/duration.rs` read the two kinds of part.
//! - `window`: [`Reading`], [`Window`], the lookups on [`RepeatingInterval`]
//!   (`window_at`, `window`, `next_window_start`, `has_ended`, `series_end`, `window_count`,
//!   `windows_from`). `window/series.rs` compiles a series for one reading and finds its
//!   boundaries by arithmetic instead of walking the series; `window/chained.rs` is the one
//!   exception, the Rafiki-compatible reading of durations that mix months with days or time
//!   (`P1M1D`), whose chained boundaries have no closed form: with whole days (or a time in
//!   multiples of 30 minutes) they are found by jumps (`chain`), with another time of day walked
//!   once per series into a bounded checkpoint table (see the `window` module docs).
//! - `chain`: the jump tables for those mixed durations: binary lifting over the 4-year-periodic
//!   calendar, real steps at the Februaries where the Gregorian calendar differs from it.
//! - `value`: the parsed value [`RepeatingInterval`] ([`Repetitions`], [`IntervalForm`],
//!   [`Duration`] with its [`Component`]s as written), `Display` and `Serialize` as the string.
//! - `amount`: [`Amount`], the one amount type of the workspace (the protocol crate re-exports
//!   it), with its wire form (`value` a decimal string: [`u64_string`]).
//! - `calendar`: proleptic Gregorian arithmetic on plain integers (day numbers, month indices,
//!   clamped month addition), so lookups far from the anchor cannot panic.
//! - `cache`: the most-recently-used list behind the crate's two process-wide caches (the jump
//!   tables and the checkpoint tables), and why they are the one exception to "pure".
//!
//! - `tests/properties.rs`: proptest (round trip; windows contiguous, ordered, containing; lookups
//!   equal to a window-by-window model on chrono's calendar); `tests/fuzz_regressions.rs` replays
//!   the fuzzer's corpus (`tests/fuzz_corpus.hex`); `tests/iso8601_differential.rs` compares the
//!   parser's date-times and durations with the `iso8601` crate and lists every difference;
//!   `fuzz/` is the cargo-fuzz project (its own workspace); `benches/interval.rs` the criterion
//!   benches.
//!
//! # Example
//!
//! ```
//! use grantflow_interval::{Reading, RepeatingInterval};
//!
//! let limit: RepeatingInterval = "R2/2022-07-01T13:00:00Z/P1M".parse()?;
//! let at = "2022-09-10T13:00:00Z".parse()?;
//! // The standard reading: R2 is two windows (July, August), so nothing in September.
//! assert_eq!(limit.window_at(Reading::Iso8601, at), None);
//! // What the reference server enforces: R2 is three windows, September is the third.
//! let w = limit.window_at(Reading::RafikiCompatible, at).ok_or("no window")?;
//! assert_eq!((w.start.to_rfc3339().as_str(), w.index), ("2022-09-01T13:00:00+00:00", 2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Architecture invariant: this crate is pure. It does no I/O, reads no clock (every instant is
//! an argument; it builds without chrono's `clock` feature) and depends on nothing else of the
//! workspace. The one exception, documented in `cache` and `docs/intervals.md` ("Caches"): two
//! bounded process-wide caches of derived tables, which change the cost of a lookup, never its
//! answer.

/// The `chrono` this crate takes and returns instants in (re-exported so callers match it).
pub use chrono;

mod allowance;
mod amount;
mod cache;
mod calendar;
mod chain;
mod parse;
mod value;
mod window;
mod words;

pub use allowance::{Allowance, AllowanceError, Debit, Fit, Remaining};
pub use amount::{Amount, u64_string};
pub use parse::{ParseError, Part, Problem, parse};
pub use value::{
    Component, Duration, DurationNotation, IntervalForm, RepeatingInterval, Repetitions,
    format_date_time,
};
pub use window::{Reading, Window, Windows};
pub use words::{instant_in_words, series_in_words, step_in_words};
