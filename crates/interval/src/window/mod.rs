//! Windows of a series in either [`Reading`], found by arithmetic.
//!
//! # How a lookup works
//!
//! A series is compiled into a `Series`: a direction, an anchor (in nanoseconds on the reading's
//! wall clock: the anchor's own offset for ISO 8601, UTC for Rafiki), a step made of calendar
//! months and exact nanoseconds, and how boundaries follow from one another. Boundary `i` is the
//! anchor moved by `i` steps: window `k` of a forward series is `[b(k), b(k+1))`, window `j` of a
//! backward (`duration/end`) series is `[b(j+1), b(j))`.
//!
//! For every kind of step but one, `b(i)` is a closed formula (a few integer operations):
//!
//! - exact steps (no years or months, or `start/end`): `anchor ± i·step`;
//! - ISO 8601 with months: `i·months` added once to the anchor's month, day clamped to that
//!   month's length, then `± i·exact`;
//! - Rafiki-compatible with months only (the chained, sticky clamp): every step keeps the time of
//!   day, moves the month by `±months`, and clamps the day to that month. Since the day can only
//!   go down and then stays, the day after `i` steps is `min(d₀, min over j ≤ i of
//!   days_in_month(m₀ ± j·months))`. The month of the year repeats with a period `p = 12 /
//!   gcd(months, 12) ≤ 12`, so the non-February months seen are all seen in the first `min(i, p)`
//!   steps; the Februaries fall every `p` steps, `p·months/12` years apart, and whether one of them
//!   is a common year is found within `400 / gcd(that, 400)` of them. At most a few hundred integer
//!   operations, whatever `i` is.
//!
//! The index of the window that contains an instant is then estimated from the elapsed time over
//! the mean step (a mean Gregorian month is exactly 30.436875 days), and corrected by galloping and
//! bisecting on `b(i)`: a handful of evaluations.
//!
//! The one kind without a closed formula is the Rafiki-compatible reading of a duration that mixes
//! months with weeks, days or a time (`P1M1D`): the clamped day and the exact part then interact
//! step by step, and the chain is not periodic on any useful scale (the calendar repeats every
//! 400 years, but the chain's own cycle, when it has one, spans thousands of years: 18 571 steps,
//! 1 600 years, for `P1M1D`). Two methods, both exact (the tests compare each with a walk from
//! the anchor, one step at a time, on random series, instants and indices):
//!
//! - **Months with whole days or weeks, or with a time of day in multiples of 30 minutes**
//!   (`P1M1D`, `P1M14D`, `P1Y1D`, `P1M1DT1H`): jumps (`crate::chain`). Away from the Februaries of
//!   1700, 1800, 1900, 2100, ... (the *irregular Februaries*) the calendar repeats every 4 years,
//!   so the chain there depends on `(month index mod 48, day)` and the time of day's phase only,
//!   and a table per duration gives the state after `2^j` blocks of steps from each of those 1 488
//!   states. A lookup crosses each gap between irregular Februaries in one jump per level (or at
//!   once, once that crossing has been seen) and steps over each irregular February with the real
//!   calendar. Any lookup in years 0001-9999, from any anchor, costs about 2 µs at most; building a
//!   duration's table (once per process, 8 kept) costs about 30 µs (100 µs with an hour in the
//!   duration). A lookup at most [`NEAR_STEPS`] boundaries from the anchor steps there instead when
//!   the table is not built yet.
//! - **Months with any other time of day** (`P1MT1M`, `P1MT1.5S`): the time of day's cycle is
//!   too long for a table (1 440 steps for a minute, up to 86 400 · 10⁹), so the chain is walked
//!   on integer calendar parts (no division on the common path), once per series: a checkpoint
//!   table keeps the chain state every `CHECKPOINT` (64) boundaries, built lazily as far as
//!   lookups have asked (at most to year 10 002), and shared by all threads for the
//!   `CACHED_CHAINS` (32) most recently used series. A lookup by instant binary-searches the
//!   table (the chain is strictly monotonic) and then walks at most 64 steps; a lookup by index
//!   goes straight to checkpoint `i / 64`. Memory: at most 1 876 checkpoints of 32 bytes per
//!   series (60 KB; 120 KB allocated at worst, as a `Vec` grows by doubling), so at most 3.8 MB
//!   for all 32. The first lookup of such a series (or the first after it was evicted) pays the
//!   walk from the anchor to its instant, though runs of steps that cannot clamp (the day of
//!   month stays under 29) are taken at once: from year 1 to 9999 under a millisecond
//!   (`docs/PERFORMANCE.md`). Instants or indices beyond the table's years walk on from its
//!   last checkpoint.

mod chained;
mod series;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use crate::chain::Chained;
use crate::value::{RepeatingInterval, Repetitions};
use series::{Direction, INDEX_LIMIT, Series, Step};

/// Which of the two readings of a repeating interval to compute windows in. There is no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reading {
    /// The standard's reading: `Rn` is n windows in total; boundary k is the anchor plus `k·D`
    /// added once, on the anchor's own wall clock, months clamped to the month's end (nothing
    /// drifts).
    Iso8601,
    /// What the reference server (Rafiki's `getInterval`) enforces: `Rn` is n + 1 windows, each
    /// window starts where the previous one ended (a month-end clamp sticks), calendar arithmetic
    /// in UTC.
    RafikiCompatible,
}

impl Reading {
    /// The short name used on the command line: `iso` or `rafiki`.
    pub fn name(self) -> &'static str {
        match self {
            Reading::Iso8601 => "iso",
            Reading::RafikiCompatible => "rafiki",
        }
    }
}

/// One window of a series: the half-open range `[start, end)` and its index.
///
/// For `start/duration` and `start/end` the index counts forwards from the first window (0); for
/// `duration/end` it counts backwards from the window that ends at the written end (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// The first instant in the window.
    pub start: DateTime<Utc>,
    /// The first instant after the window.
    pub end: DateTime<Utc>,
    /// The window's index (see the type's documentation for the direction).
    pub index: u64,
}

impl Window {
    /// Whether `at` lies in `[start, end)`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

/// Windows in chronological order, from [`RepeatingInterval::windows_from`].
#[derive(Debug, Clone)]
pub struct Windows {
    series: Series,
    /// Index of the next window to yield, if any.
    next: Option<u128>,
    /// Chained mixed steps, forwards: the chain at the next window's first boundary.
    cursor: Option<Chained>,
}

impl Windows {
    fn chained_window(&mut self, i: u128) -> Option<Window> {
        let s = self.series;
        let c = match s.direction {
            Direction::Forward => self.cursor.take()?,
            // A chain cannot be undone: each window comes from the checkpoint table.
            Direction::Backward => s.chained_at(i)?,
        };
        let mut next = c;
        if i >= s.count || !s.chain_step(&mut next) {
            return None;
        }
        if s.direction == Direction::Forward {
            self.cursor = Some(next);
        }
        s.make(i, c.nanos(), next.nanos())
    }
}

impl Iterator for Windows {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        let i = self.next?;
        let s = self.series;
        let window = if s.step == Step::ChainedMixed {
            self.chained_window(i)
        } else {
            s.window(i)
        };
        self.next = match (window, s.direction) {
            (None, _) => None,
            (Some(_), Direction::Forward) => Some(i + 1).filter(|n| *n < s.count),
            (Some(_), Direction::Backward) => i.checked_sub(1),
        };
        window
    }
}

impl RepeatingInterval {
    /// The window that contains `at` (half-open), or `None` before the series, after it, or past
    /// its last repetition.
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use grantflow_interval::{Reading, RepeatingInterval};
    ///
    /// let r: RepeatingInterval = "R/2024-01-31T00:00:00Z/P1M".parse().unwrap();
    /// let at: DateTime<Utc> = "2024-03-30T00:00:00Z".parse().unwrap();
    /// // ISO 8601: Jan 31, Feb 29, Mar 31, ...
    /// let w = r.window_at(Reading::Iso8601, at).unwrap();
    /// assert_eq!((w.start.to_rfc3339(), w.index), ("2024-02-29T00:00:00+00:00".into(), 1));
    /// // Rafiki: Jan 31, Feb 29, Mar 29, Apr 29, ... (the clamp sticks)
    /// let w = r.window_at(Reading::RafikiCompatible, at).unwrap();
    /// assert_eq!((w.start.to_rfc3339(), w.index), ("2024-03-29T00:00:00+00:00".into(), 2));
    /// ```
    pub fn window_at(&self, reading: Reading, at: DateTime<Utc>) -> Option<Window> {
        Series::new(self, reading).window_at(at)
    }

    /// The window with `index` (see [`Window`] for the direction), if the series has it.
    pub fn window(&self, reading: Reading, index: u64) -> Option<Window> {
        Series::new(self, reading).window(u128::from(index))
    }

    /// How many windows the series has in `reading`; `None` when unbounded.
    ///
    /// `Rn` is `n` in the ISO 8601 reading and `n + 1` in the Rafiki-compatible one.
    pub fn window_count(&self, reading: Reading) -> Option<u128> {
        match (self.repetitions, reading) {
            (Repetitions::Unbounded, _) => None,
            (Repetitions::Bounded(n), Reading::Iso8601) => Some(u128::from(n)),
            (Repetitions::Bounded(n), Reading::RafikiCompatible) => Some(u128::from(n) + 1),
        }
    }

    /// When the next window after `at` starts: the window after the one containing `at`, or the
    /// first one if `at` is before the series. `None` when no window starts after `at`.
    pub fn next_window_start(&self, reading: Reading, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Series::new(self, reading).next_window_start(at)
    }

    /// When the series is over: the end of its chronologically last window. `None` when it never
    /// ends (an unbounded `start/...` series) or has no window at all (`R0` in the ISO 8601
    /// reading).
    ///
    /// ```
    /// use grantflow_interval::{Reading, RepeatingInterval};
    ///
    /// let r: RepeatingInterval = "R2/2022-07-01T13:00:00Z/P1M".parse().unwrap();
    /// let iso = r.series_end(Reading::Iso8601).map(|t| t.to_rfc3339());
    /// assert_eq!(iso.as_deref(), Some("2022-09-01T13:00:00+00:00"));
    /// let rafiki = r.series_end(Reading::RafikiCompatible).map(|t| t.to_rfc3339());
    /// assert_eq!(rafiki.as_deref(), Some("2022-10-01T13:00:00+00:00"));
    /// ```
    pub fn series_end(&self, reading: Reading) -> Option<DateTime<Utc>> {
        let series = Series::new(self, reading);
        if series.count == 0 {
            return None;
        }
        match series.direction {
            Direction::Backward => series.window(0).map(|w| w.end),
            Direction::Forward if series.count >= INDEX_LIMIT => None,
            Direction::Forward => series.window(series.count - 1).map(|w| w.end),
        }
    }

    /// Whether no window contains `at` or comes after it: the series is over.
    pub fn has_ended(&self, reading: Reading, at: DateTime<Utc>) -> bool {
        Series::new(self, reading).has_ended(at)
    }

    /// The windows in chronological order, starting with the one that contains `at` (or, if none
    /// does, the first one after `at`).
    ///
    /// ```
    /// use grantflow_interval::{Reading, RepeatingInterval};
    ///
    /// let r: RepeatingInterval = "R3/2016-08-24T08:00:00Z/P1D".parse().unwrap();
    /// let at = "2016-08-25T12:00:00Z".parse().unwrap();
    /// let indices: Vec<u64> = r.windows_from(Reading::Iso8601, at).map(|w| w.index).collect();
    /// assert_eq!(indices, [1, 2]);
    /// ```
    pub fn windows_from(&self, reading: Reading, at: DateTime<Utc>) -> Windows {
        let series = Series::new(self, reading);
        let next = series.first_index_from(at);
        let cursor = match (series.step, series.direction, next) {
            (Step::ChainedMixed, Direction::Forward, Some(i)) => series.chained_at(i),
            _ => None,
        };
        Windows {
            series,
            next,
            cursor,
        }
    }
}
