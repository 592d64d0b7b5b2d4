//! The strict parser: `R[n]/<a>/<b>` exactly as `shared/reference/repeating-intervals.md`
//! ("Accepted syntax") specifies, by hand, byte by byte.
//!
//! Every error names the [`Part`] it was found in and the byte offset into the whole input.
//!
//! # Layout
//!
//! - `error`: [`ParseError`] = [`Part`] + byte offset + [`Problem`].
//! - `cursor`: the byte cursor every part is read with, reporting offsets into the whole input.
//! - `date_time`: a complete date-time with its offset (calendar, ordinal and week dates).
//! - `duration`: a duration in designator or alternative notation, kept as written.
//! - here: the shape `R[n]/<a>/<b>`, the repetitions, rule 6 (the first interval within years
//!   0001-9999), and `FromStr`/`Deserialize` for [`RepeatingInterval`] (the value sits below the
//!   parser and does not know it).

mod cursor;
mod date_time;
mod duration;
mod error;
#[cfg(test)]
mod tests;

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::calendar::{self, NANOS_PER_DAY, local_nanos};
use crate::value::{IntervalForm, RepeatingInterval, Repetitions};
use date_time::parse_date_time;
use duration::parse_duration;
pub use error::{ParseError, Part, Problem};

/// Parses a repeating interval strictly. Same as [`str::parse::<RepeatingInterval>`].
pub fn parse(input: &str) -> Result<RepeatingInterval, ParseError> {
    let bytes = input.as_bytes();
    let whole = |offset, problem| ParseError {
        part: Part::Interval,
        offset,
        problem,
    };
    if bytes.is_empty() {
        return Err(whole(0, Problem::Empty));
    }
    if let Some(i) = bytes.iter().position(|b| !b.is_ascii()) {
        return Err(whole(i, Problem::NotAscii));
    }
    if let Some(i) = bytes.iter().position(|b| b.is_ascii_whitespace()) {
        return Err(whole(i, Problem::Whitespace));
    }
    match bytes[0] {
        b'R' => {}
        b'r' => return Err(whole(0, Problem::Lowercase('r'))),
        _ => return Err(whole(0, Problem::MissingR)),
    }
    let slashes: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .map(|(i, _)| i)
        .collect();
    let (s1, s2) = match slashes.as_slice() {
        [a, b] => (*a, *b),
        other => {
            let offset = other.get(2).copied().unwrap_or(bytes.len());
            return Err(whole(
                offset,
                Problem::PartCount {
                    found: other.len() + 1,
                },
            ));
        }
    };
    let repetitions = parse_repetitions(&bytes[1..s1], 1)?;
    let (a, a_at) = (&bytes[s1 + 1..s2], s1 + 1);
    let (b, b_at) = (&bytes[s2 + 1..], s2 + 1);
    let form = if is_duration(a) {
        if is_duration(b) {
            return Err(ParseError {
                part: Part::Duration,
                offset: b_at,
                problem: Problem::TwoDurations,
            });
        }
        let duration = parse_duration(a, a_at)?;
        let end = parse_date_time(b, b_at, Part::End)?;
        IntervalForm::DurationEnd { duration, end }
    } else {
        let start = parse_date_time(a, a_at, Part::Start)?;
        if is_duration(b) {
            let duration = parse_duration(b, b_at)?;
            IntervalForm::StartDuration { start, duration }
        } else {
            let end = parse_date_time(b, b_at, Part::End)?;
            if end <= start {
                return Err(ParseError {
                    part: Part::End,
                    offset: b_at,
                    problem: Problem::EndNotAfterStart,
                });
            }
            IntervalForm::StartEnd { start, end }
        }
    };
    check_first_interval(&form, if is_duration(a) { a_at } else { b_at })?;
    Ok(RepeatingInterval { repetitions, form })
}

/// Whether a part is a duration (it starts with `P`, `p`, or a sign followed by `P`).
fn is_duration(part: &[u8]) -> bool {
    matches!(part, [b'P' | b'p', ..] | [b'+' | b'-', b'P' | b'p', ..])
}

fn parse_repetitions(digits: &[u8], at: usize) -> Result<Repetitions, ParseError> {
    let err = |offset, problem| ParseError {
        part: Part::Repetitions,
        offset,
        problem,
    };
    match digits {
        [] | [b'-', b'1'] => return Ok(Repetitions::Unbounded),
        [b'+' | b'-', ..] => return Err(err(at, Problem::SignedRepetitions)),
        _ => {}
    }
    if let Some(i) = digits.iter().position(|b| !b.is_ascii_digit()) {
        return Err(err(at + i, Problem::RepetitionsNotDigits));
    }
    let mut n: u64 = 0;
    for d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(|| err(at, Problem::RepetitionsTooLarge))?;
    }
    Ok(Repetitions::Bounded(n))
}

/// Rule 6: the first interval (ISO 8601 reading, on the anchor's wall clock) lies within years
/// 0001-9999; its exclusive end may be 10000-01-01T00:00.
fn check_first_interval(form: &IntervalForm, duration_at: usize) -> Result<(), ParseError> {
    let err = || ParseError {
        part: Part::Duration,
        offset: duration_at,
        problem: Problem::OutsideSupportedYears,
    };
    let lowest = i128::from(calendar::days_from_civil(1, 1, 1)) * NANOS_PER_DAY;
    let highest = i128::from(calendar::days_from_civil(10_000, 1, 1)) * NANOS_PER_DAY;
    let other_end = match form {
        IntervalForm::StartEnd { .. } => return Ok(()),
        IntervalForm::StartDuration { start, duration } => {
            let months = i128::from(duration.calendar_months().ok_or_else(err)?);
            calendar::add_months_clamped(local_nanos(start), months)
                .and_then(|t| t.checked_add(duration.exact_nanos()))
        }
        IntervalForm::DurationEnd { duration, end } => {
            let months = i128::from(duration.calendar_months().ok_or_else(err)?);
            calendar::add_months_clamped(local_nanos(end), -months)
                .and_then(|t| t.checked_sub(duration.exact_nanos()))
        }
    };
    match other_end {
        Some(t) if (lowest..=highest).contains(&t) => Ok(()),
        _ => Err(err()),
    }
}

impl FromStr for RepeatingInterval {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl<'de> Deserialize<'de> for RepeatingInterval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
