//! [`Series`]: a repeating interval compiled for one [`Reading`], its boundaries by closed
//! formulas, and the lookups (by index, by instant) built on them. The chained mixed step's
//! boundaries come from `super::chained`.

use chrono::{DateTime, Utc};

use super::{Reading, Window};
use crate::calendar::local_nanos;
use crate::calendar::{
    self, Civil, NANOS_PER_SECOND, YEAR_LIMIT, days_in_month, gcd, is_leap, split_month_index,
};
use crate::chain::JumpKey;
use crate::value::{IntervalForm, RepeatingInterval, Repetitions};

/// Boundaries beyond this many nanoseconds (about 3 million years) count as infinitely far.
pub(super) const SATURATED: i128 = 100_000_000_000_000_000_000_000;
/// Indices are `u64`; a series is never looked at past this many windows.
pub(super) const INDEX_LIMIT: u128 = 1 << 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Forward,
    Backward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// `b(i) = anchor ± i·exact`.
    Exact,
    /// ISO 8601: `i·months` added once from the anchor, clamped, then `± i·exact`.
    FromAnchor,
    /// Rafiki-compatible with months only: chained, the clamp sticks (closed form).
    ChainedMonths,
    /// Rafiki-compatible with months and an exact part: chained, walked.
    ChainedMixed,
}

/// A series compiled for one reading.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Series {
    pub(super) direction: Direction,
    pub(super) step: Step,
    /// The anchor on the reading's wall clock, in nanoseconds since 1970-01-01T00:00 there.
    pub(super) anchor: i128,
    pub(super) anchor_civil: Civil,
    /// Wall clock minus UTC, in nanoseconds.
    pub(super) offset: i128,
    /// Calendar months per step.
    pub(super) months: i128,
    /// Exact nanoseconds per step.
    pub(super) exact: i128,
    /// How many windows may be reported (at most [`INDEX_LIMIT`]).
    pub(super) count: u128,
    /// For a chained mixed step whose jump table applies (months with whole days, or with a
    /// time of day in multiples of 30 minutes): the table's key. The chain is then found by
    /// jumps, not from the checkpoint table.
    pub(super) jumps: Option<JumpKey>,
}

fn saturate(x: Option<i128>, sign: i128) -> i128 {
    match x {
        Some(v) if v.abs() < SATURATED => v,
        _ => sign.signum() * SATURATED,
    }
}

/// `min over j in 1..=i of days_in_month(m0 + j·sigma)`, for `i ≥ 1` (see the module docs).
pub(super) fn min_days_in_month(m0: i64, sigma: i64, i: i64) -> u32 {
    let period = 12 / gcd(i128::from(sigma), 12) as i64;
    let mut best = 31;
    let mut first_february = None;
    for j in 1..=i.min(period) {
        let (year, month) = split_month_index(m0 + j * sigma);
        if month == 2 {
            first_february = Some((j, year));
        } else {
            best = best.min(days_in_month(year, month));
        }
    }
    if let Some((j, year)) = first_february {
        let years_apart = period * sigma / 12;
        let februaries = (i - j) / period + 1;
        let cycle = 400 / gcd(i128::from(years_apart), 400) as i64;
        let common = (0..februaries.min(cycle)).any(|q| !is_leap(year + q * years_apart));
        best = best.min(if common { 28 } else { 29 });
    }
    best
}

impl Series {
    pub(crate) fn new(interval: &RepeatingInterval, reading: Reading) -> Series {
        let (direction, anchor_time, months, exact) = match interval.form {
            IntervalForm::StartDuration { start, duration } => (
                Direction::Forward,
                start,
                duration.calendar_months().map_or(i128::MAX, i128::from),
                duration.exact_nanos(),
            ),
            IntervalForm::DurationEnd { duration, end } => (
                Direction::Backward,
                end,
                duration.calendar_months().map_or(i128::MAX, i128::from),
                duration.exact_nanos(),
            ),
            IntervalForm::StartEnd { start, end } => {
                let length = local_nanos(&end.to_utc().fixed_offset())
                    - local_nanos(&start.to_utc().fixed_offset());
                (Direction::Forward, start, 0, length)
            }
        };
        let offset = match reading {
            Reading::Iso8601 => {
                i128::from(anchor_time.offset().local_minus_utc()) * NANOS_PER_SECOND
            }
            Reading::RafikiCompatible => 0,
        };
        let anchor = local_nanos(&anchor_time.to_utc().fixed_offset()) + offset;
        let step = match (reading, months, exact) {
            (_, 0, _) => Step::Exact,
            (Reading::Iso8601, _, _) => Step::FromAnchor,
            (Reading::RafikiCompatible, _, 0) => Step::ChainedMonths,
            (Reading::RafikiCompatible, _, _) => Step::ChainedMixed,
        };
        let count = match (interval.repetitions, reading) {
            (Repetitions::Unbounded, _) => INDEX_LIMIT,
            (Repetitions::Bounded(n), Reading::Iso8601) => u128::from(n),
            (Repetitions::Bounded(n), Reading::RafikiCompatible) => u128::from(n) + 1,
        };
        let jumps = match step {
            Step::ChainedMixed => JumpKey::new(direction == Direction::Backward, months, exact),
            _ => None,
        };
        Series {
            direction,
            step,
            anchor,
            // The parser keeps anchors within years 0001-9999, so this is always `Some`.
            anchor_civil: Civil::from_nanos(anchor).unwrap_or(Civil {
                month_index: 0,
                day: 1,
                nanos_of_day: 0,
            }),
            offset,
            months,
            exact,
            count,
            jumps,
        }
    }

    pub(super) fn sign(&self) -> i128 {
        match self.direction {
            Direction::Forward => 1,
            Direction::Backward => -1,
        }
    }

    /// One chained step from boundary `b` (the Rafiki-compatible step: months, clamp, exact).
    pub(super) fn chain(&self, b: i128) -> i128 {
        let s = self.sign();
        let moved = calendar::add_months_clamped(b, s * self.months)
            .and_then(|m| m.checked_add(s * self.exact));
        saturate(moved, s)
    }

    /// Boundary `i` on the reading's wall clock; saturated to ±[`SATURATED`] when far away.
    pub(super) fn boundary(&self, i: u128) -> i128 {
        let s = self.sign();
        if i == 0 {
            return self.anchor;
        }
        let Ok(i) = i128::try_from(i) else {
            return s * SATURATED;
        };
        match self.step {
            Step::Exact => saturate(
                i.checked_mul(self.exact)
                    .and_then(|d| self.anchor.checked_add(s * d)),
                s,
            ),
            Step::FromAnchor | Step::ChainedMonths => {
                let Some(total) = i.checked_mul(self.months).filter(|t| *t <= YEAR_LIMIT * 12)
                else {
                    return s * SATURATED;
                };
                let c = self.anchor_civil;
                let month_index = c.month_index + (s * total) as i64;
                let day = if self.step == Step::ChainedMonths {
                    c.day.min(min_days_in_month(
                        c.month_index,
                        (s * self.months) as i64,
                        i as i64,
                    ))
                } else {
                    c.day
                };
                let calendar = Civil::to_nanos_clamped(month_index, day, c.nanos_of_day);
                saturate(
                    i.checked_mul(self.exact)
                        .and_then(|d| calendar.checked_add(s * d)),
                    s,
                )
            }
            Step::ChainedMixed => self
                .chained_at(i as u128)
                .map_or(s * SATURATED, |c| c.nanos()),
        }
    }

    /// The index of the last boundary `before` `t` and that boundary.
    pub(super) fn locate(&self, t: i128) -> Option<(u128, i128)> {
        if self.step == Step::ChainedMixed {
            return self.walk(t);
        }
        let i = self.last_before(t)?;
        Some((i, self.boundary(i)))
    }

    /// Whether boundary `i` is still "at or before" `t` in the series' direction: forwards
    /// `b(i) ≤ t`, backwards `b(i) > t`. True for a prefix of indices, then false.
    pub(super) fn before(&self, b: i128, t: i128) -> bool {
        match self.direction {
            Direction::Forward => b <= t,
            Direction::Backward => b > t,
        }
    }

    /// The largest `i < self.count` with `before(b(i), t)`, or `None` when not even `i = 0`.
    pub(super) fn last_before(&self, t: i128) -> Option<u128> {
        if self.count == 0 || !self.before(self.anchor, t) {
            return None;
        }
        if self.step == Step::ChainedMixed {
            return self.walk(t).map(|(i, _)| i);
        }
        let pred = |i: u128| self.before(self.boundary(i), t);
        let mean_step = self.months * calendar::NANOS_PER_MEAN_MONTH + self.exact;
        let elapsed = (t - self.anchor).abs();
        let estimate = u128::try_from(elapsed / mean_step.max(1)).unwrap_or(0);
        let last = self.count - 1;
        let guess = estimate.min(last);
        // Invariant: pred(lo) holds, and hi is `count` or an index where pred fails.
        let (mut lo, mut hi);
        if pred(guess) {
            lo = guess;
            let mut stride = 1u128;
            loop {
                let probe = lo.saturating_add(stride);
                if probe > last {
                    hi = self.count;
                    break;
                }
                if !pred(probe) {
                    hi = probe;
                    break;
                }
                lo = probe;
                stride = stride.saturating_mul(2);
            }
        } else {
            hi = guess;
            let mut stride = 1u128;
            loop {
                let probe = hi.saturating_sub(stride);
                if probe == 0 || pred(probe) {
                    lo = probe;
                    break;
                }
                hi = probe;
                stride = stride.saturating_mul(2);
            }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    pub(super) fn instant(&self, wall: i128) -> Option<DateTime<Utc>> {
        if wall.abs() >= SATURATED {
            return None;
        }
        let utc = wall - self.offset;
        let secs = i64::try_from(utc.div_euclid(NANOS_PER_SECOND)).ok()?;
        let nanos = utc.rem_euclid(NANOS_PER_SECOND) as u32;
        DateTime::from_timestamp(secs, nanos)
    }

    pub(super) fn wall(&self, at: DateTime<Utc>) -> i128 {
        i128::from(at.timestamp()) * NANOS_PER_SECOND
            + i128::from(at.timestamp_subsec_nanos())
            + self.offset
    }

    /// The window with index `i`, given its two boundaries `b(i)` and `b(i+1)`.
    pub(super) fn make(&self, i: u128, b_i: i128, b_next: i128) -> Option<Window> {
        let (start, end) = match self.direction {
            Direction::Forward => (b_i, b_next),
            Direction::Backward => (b_next, b_i),
        };
        Some(Window {
            start: self.instant(start)?,
            end: self.instant(end)?,
            index: u64::try_from(i).ok()?,
        })
    }

    pub(crate) fn window(&self, i: u128) -> Option<Window> {
        if i >= self.count {
            return None;
        }
        let b_i = self.boundary(i);
        let b_next = match self.step {
            Step::ChainedMixed => self.chain(b_i),
            _ => self.boundary(i + 1),
        };
        self.make(i, b_i, b_next)
    }

    pub(crate) fn window_at(&self, at: DateTime<Utc>) -> Option<Window> {
        let (_, w) = self.located(at)?;
        w.filter(|w| w.contains(at))
    }

    /// The window of the last boundary at or before `at` (in the series' direction), with its
    /// index; the window is `None` when it cannot be represented.
    pub(super) fn located(&self, at: DateTime<Utc>) -> Option<(u128, Option<Window>)> {
        let (i, b_i) = self.locate(self.wall(at))?;
        if i >= self.count {
            return Some((i, None));
        }
        let b_next = match self.step {
            Step::ChainedMixed => self.chain(b_i),
            _ => self.boundary(i + 1),
        };
        Some((i, self.make(i, b_i, b_next)))
    }

    /// The index of the chronologically first window that ends after `at` (the window of `at`, or
    /// the next one to start), if any.
    pub(super) fn first_index_from(&self, at: DateTime<Utc>) -> Option<u128> {
        match (self.direction, self.located(at)) {
            (Direction::Forward, None) => (self.count > 0).then_some(0),
            (Direction::Forward, Some((i, w))) => {
                let w = w?;
                if w.contains(at) {
                    Some(i)
                } else {
                    (i + 1 < self.count).then_some(i + 1)
                }
            }
            (Direction::Backward, None) => None,
            (Direction::Backward, Some((j, _))) => Some(j),
        }
    }

    pub(crate) fn next_window_start(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let first = self.first_index_from(at)?;
        let w = self.window(first)?;
        if !w.contains(at) {
            return Some(w.start);
        }
        let next = match self.direction {
            Direction::Forward => first.checked_add(1)?,
            Direction::Backward => first.checked_sub(1)?,
        };
        self.window(next).map(|w| w.start)
    }

    pub(crate) fn has_ended(&self, at: DateTime<Utc>) -> bool {
        self.first_index_from(at).is_none()
    }
}
