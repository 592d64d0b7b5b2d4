//! When a schedule pays: its [`Cadence`] (a repeating interval and the reading its windows are
//! computed in), and the occurrences between the order's start and end ([`Plan`]).
//!
//! An **occurrence** is one window of the cadence's series that overlaps `[start, end)`; it is
//! identified by the window's index in the series and comes due at the window's start (the first
//! one at `start` when the schedule starts inside a window: a subscription started mid-window pays
//! for the current window at once). Only forward series have occurrences (`start/duration`,
//! `start/end`): a `duration/end` series counts its windows backwards and is refused.

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_interval::{IntervalForm, Reading, RepeatingInterval, Repetitions, format_date_time};
use serde::{Deserialize, Serialize};

use super::error::OrderProblem;

/// How a schedule's occurrences are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cadence", rename_all = "snake_case")]
pub enum Cadence {
    /// One occurrence per window of the grant's `limits.interval` (copied here from the grant's
    /// access), continued past the grant's own repetitions: an occurrence after the grant's series
    /// ended is paid under a new grant, asked for when the series ends.
    GrantWindows {
        /// The grant's `limits.interval`.
        interval: RepeatingInterval,
        /// The reading the grant's AS computes its windows in.
        #[serde(with = "reading_name")]
        reading: Reading,
    },
    /// One occurrence per window of the schedule's own repeating interval; a bounded series ends
    /// the schedule with its last window.
    Interval {
        /// The schedule's interval, e.g. `R/2026-12-01T09:00:00Z/P1D`.
        interval: RepeatingInterval,
        /// The reading its windows are computed in.
        #[serde(with = "reading_name")]
        reading: Reading,
    },
}

impl Cadence {
    /// The interval as given.
    pub fn interval(&self) -> &RepeatingInterval {
        match self {
            Self::GrantWindows { interval, .. } | Self::Interval { interval, .. } => interval,
        }
    }

    /// The reading its windows are computed in.
    pub fn reading(&self) -> Reading {
        match self {
            Self::GrantWindows { reading, .. } | Self::Interval { reading, .. } => *reading,
        }
    }

    /// The series whose windows are the occurrences: the grant's interval without its repetition
    /// bound for [`Cadence::GrantWindows`], the interval as given otherwise.
    pub fn series(&self) -> Result<RepeatingInterval, OrderProblem> {
        let interval = self.interval();
        if matches!(interval.form(), IntervalForm::DurationEnd { .. }) {
            return Err(OrderProblem::BackwardCadence {
                interval: interval.to_string(),
            });
        }
        match self {
            Self::Interval { .. } => Ok(*interval),
            Self::GrantWindows { .. } => with_repetitions(interval, Repetitions::Unbounded, None),
        }
    }

    /// The `limits.interval` of the new grant asked for when the schedule's grant ended: the
    /// grant's interval with its repetitions, anchored at the start of the window of the continued
    /// series that contains `now` (or the next one), so the new grant's windows are the schedule's
    /// occurrences from now on. `None` for a cadence of its own (the new grant asks for the same
    /// access as the old one), or when the series has no window at or after `now`.
    ///
    /// In the ISO 8601 reading, a monthly series anchored on a day some months do not have
    /// (the 31st) is re-anchored on the clamped day of the window it restarts at.
    pub fn renewed_grant_interval(&self, now: DateTime<Utc>) -> Option<RepeatingInterval> {
        let Self::GrantWindows { interval, reading } = self else {
            return None;
        };
        let series = self.series().ok()?;
        let window = series.windows_from(*reading, now).next()?;
        with_repetitions(interval, interval.repetitions(), Some(window.start)).ok()
    }
}

/// `interval` with `repetitions`, anchored at `start` when given (same duration, or same span for
/// a `start/end` form). Built by formatting and parsing, so the result passes the strict parser.
fn with_repetitions(
    interval: &RepeatingInterval,
    repetitions: Repetitions,
    start: Option<DateTime<Utc>>,
) -> Result<RepeatingInterval, OrderProblem> {
    let count = match repetitions {
        Repetitions::Unbounded => String::new(),
        Repetitions::Bounded(n) => n.to_string(),
    };
    let anchor = |written: DateTime<chrono::FixedOffset>| {
        format_date_time(&start.map_or(written, |s| s.fixed_offset()))
    };
    let text = match interval.form() {
        IntervalForm::StartDuration {
            start: written,
            duration,
        } => format!("R{count}/{}/{duration}", anchor(*written)),
        IntervalForm::StartEnd {
            start: written,
            end,
        } => {
            let span = end.signed_duration_since(*written);
            let first = start.map_or(*written, |s| s.fixed_offset());
            let end = first
                .checked_add_signed(span)
                .ok_or_else(|| OrderProblem::OutOfRange {
                    interval: interval.to_string(),
                })?;
            format!(
                "R{count}/{}/{}",
                format_date_time(&first),
                format_date_time(&end)
            )
        }
        IntervalForm::DurationEnd { .. } => {
            return Err(OrderProblem::BackwardCadence {
                interval: interval.to_string(),
            });
        }
    };
    text.parse().map_err(|_| OrderProblem::OutOfRange {
        interval: interval.to_string(),
    })
}

/// One occurrence: the index of its window in the cadence's series, and when it comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Occurrence {
    /// The window's index in the series (the part of the payment's idempotency key that counts).
    pub index: u64,
    /// When it comes due: the window's start (the schedule's start for a window it starts in).
    pub due_at: DateTime<Utc>,
}

/// A schedule's occurrences: the series, its reading, the start and the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The series whose windows are the occurrences ([`Cadence::series`]).
    pub series: RepeatingInterval,
    /// The reading.
    #[serde(with = "reading_name")]
    pub reading: Reading,
    /// No occurrence ends at or before this instant; the first may start before it (and is due
    /// at it).
    pub start: DateTime<Utc>,
    /// No occurrence comes due at or after this instant (`None`: until the series ends, or
    /// forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

impl Plan {
    /// Occurrence `index`, if the schedule has it.
    pub fn occurrence(&self, index: u64) -> Option<Occurrence> {
        let window = self.series.window(self.reading, index)?;
        if window.end <= self.start {
            return None;
        }
        let due_at = window.start.max(self.start);
        if self.end.is_some_and(|end| due_at >= end) {
            return None;
        }
        Some(Occurrence { index, due_at })
    }

    /// The first occurrence's index, if the schedule has any.
    pub fn first(&self) -> Option<u64> {
        let window = self.series.windows_from(self.reading, self.start).next()?;
        self.occurrence(window.index).map(|o| o.index)
    }

    /// The first occurrence at or after `from` that comes due at or after `cutoff`; `None` when
    /// there is none (the series or the schedule ends first). O(1) in the distance from `from`.
    pub fn first_due_from(&self, from: u64, cutoff: DateTime<Utc>) -> Option<Occurrence> {
        let first = self.occurrence(from)?;
        if first.due_at >= cutoff {
            return Some(first);
        }
        let window = self.series.windows_from(self.reading, cutoff).next()?;
        let index = if window.start >= cutoff {
            window.index
        } else {
            window.index.checked_add(1)?
        };
        self.occurrence(index.max(from))
    }

    /// The index after the last occurrence (`None`: the occurrences never end). Every index from
    /// [`Plan::first`] up to it is an occurrence.
    pub fn end_index(&self) -> Option<u64> {
        let count = || {
            self.series
                .window_count(self.reading)
                .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
        };
        let Some(end) = self.end else {
            return count();
        };
        match self.series.windows_from(self.reading, end).next() {
            Some(w) if w.start >= end => Some(w.index),
            Some(w) => Some(w.index.saturating_add(1)),
            None => count(),
        }
    }
}

/// `at - delta`, saturating at the earliest instant.
pub(super) fn before(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    at.checked_sub_signed(delta)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// [`Reading`] as its short name (`iso`, `rafiki`) in JSON.
pub mod reading_name {
    use grantflow_interval::Reading;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the reading's name.
    pub fn serialize<S: Serializer>(reading: &Reading, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(reading.name())
    }

    /// Reads `iso` or `rafiki`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Reading, D::Error> {
        let name = String::deserialize(d)?;
        match name.as_str() {
            "iso" => Ok(Reading::Iso8601),
            "rafiki" => Ok(Reading::RafikiCompatible),
            other => Err(serde::de::Error::unknown_variant(other, &["iso", "rafiki"])),
        }
    }
}
