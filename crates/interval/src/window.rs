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

use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::calendar::{
    self, Civil, NANOS_PER_DAY, NANOS_PER_SECOND, YEAR_LIMIT, days_in_month, gcd, is_leap,
    split_month_index,
};
use crate::chain::{Chained, JumpKey, JumpTable};
use crate::parse::local_nanos;
use crate::value::{IntervalForm, RepeatingInterval, Repetitions};

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

/// Boundaries beyond this many nanoseconds (about 3 million years) count as infinitely far.
const SATURATED: i128 = 100_000_000_000_000_000_000_000;
/// Indices are `u64`; a series is never looked at past this many windows.
const INDEX_LIMIT: u128 = 1 << 64;

/// Steps between two checkpoints of a chained mixed series: a warm lookup walks fewer than this.
const CHECKPOINT: u128 = 64;
/// A chained mixed series with a jump table steps to a boundary at most about this many steps
/// away when its duration's table is not built yet: cheaper than building it (about 30 ns a
/// step against about 30 µs for a table, `docs/PERFORMANCE.md`).
const NEAR_STEPS: u128 = 128;
/// How many chained mixed series keep a checkpoint table; the least recently used goes first.
const CACHED_CHAINS: usize = 32;
/// Checkpoints are kept while the chain is within these month indices (years -1 to 10 001, the
/// parser's years 0001-9999 with a margin): at most 10 003 · 12 / [`CHECKPOINT`] + 1 = 1 876
/// checkpoints of 32 bytes (60 KB, 120 KB allocated at worst) per series, at most 3.8 MB for all
/// [`CACHED_CHAINS`]. Beyond them a lookup walks on from the last checkpoint.
const TABLE_MONTHS: RangeInclusive<i64> = -12..=10_002 * 12;

/// What a chained mixed series' boundaries depend on (its table's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChainKey {
    direction: Direction,
    anchor: i128,
    months: i128,
    exact: i128,
}

/// The chain of one series at every [`CHECKPOINT`]-th boundary, extended on demand.
#[derive(Debug)]
struct ChainTable {
    /// `checkpoints[k]` is the chain after `k · CHECKPOINT` steps; `checkpoints[0]` the anchor.
    checkpoints: Vec<Chained>,
    /// Set once the chain left [`TABLE_MONTHS`] or the calendar range: nothing more is added.
    closed: bool,
}

/// The checkpoint tables of the most recently used chained mixed series, most recent first (at
/// most [`CACHED_CHAINS`]). Shared by all threads; a table only ever grows, and every checkpoint
/// in it is the exact chain state, so a cache hit or miss changes the cost, never the answer.
static CHAIN_TABLES: Mutex<Vec<(ChainKey, Arc<Mutex<ChainTable>>)>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
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
    direction: Direction,
    step: Step,
    /// The anchor on the reading's wall clock, in nanoseconds since 1970-01-01T00:00 there.
    anchor: i128,
    anchor_civil: Civil,
    /// Wall clock minus UTC, in nanoseconds.
    offset: i128,
    /// Calendar months per step.
    months: i128,
    /// Exact nanoseconds per step.
    exact: i128,
    /// How many windows may be reported (at most [`INDEX_LIMIT`]).
    count: u128,
    /// For a chained mixed step whose jump table applies (months with whole days, or with a
    /// time of day in multiples of 30 minutes): the table's key. The chain is then found by
    /// jumps, not from the checkpoint table.
    jumps: Option<JumpKey>,
}

fn saturate(x: Option<i128>, sign: i128) -> i128 {
    match x {
        Some(v) if v.abs() < SATURATED => v,
        _ => sign.signum() * SATURATED,
    }
}

/// `min over j in 1..=i of days_in_month(m0 + j·sigma)`, for `i ≥ 1` (see the module docs).
fn min_days_in_month(m0: i64, sigma: i64, i: i64) -> u32 {
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

    fn sign(&self) -> i128 {
        match self.direction {
            Direction::Forward => 1,
            Direction::Backward => -1,
        }
    }

    /// One chained step from boundary `b` (the Rafiki-compatible step: months, clamp, exact).
    fn chain(&self, b: i128) -> i128 {
        let s = self.sign();
        let moved = calendar::add_months_clamped(b, s * self.months)
            .and_then(|m| m.checked_add(s * self.exact));
        saturate(moved, s)
    }

    /// Boundary `i` on the reading's wall clock; saturated to ±[`SATURATED`] when far away.
    fn boundary(&self, i: u128) -> i128 {
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

    fn chain_start(&self) -> Chained {
        let c = self.anchor_civil;
        Chained {
            month_index: c.month_index,
            day: i64::from(c.day),
            nanos_of_day: c.nanos_of_day,
        }
    }

    /// One chained step on calendar parts: the same as [`Series::chain`] (months, clamp, then the
    /// exact part), with no division on the common path. False once beyond [`YEAR_LIMIT`].
    fn chain_step(&self, c: &mut Chained) -> bool {
        let dim = |m: i64| {
            let (y, mo) = split_month_index(m);
            i64::from(days_in_month(y, mo))
        };
        let whole_days = (self.exact / NANOS_PER_DAY) as i64;
        let rest = self.exact % NANOS_PER_DAY;
        if self.direction == Direction::Forward {
            c.month_index += self.months as i64;
            c.day = c.day.min(dim(c.month_index));
            c.nanos_of_day += rest;
            if c.nanos_of_day >= NANOS_PER_DAY {
                c.nanos_of_day -= NANOS_PER_DAY;
                c.day += 1;
            }
            c.day += whole_days;
        } else {
            c.month_index -= self.months as i64;
            c.day = c.day.min(dim(c.month_index));
            c.nanos_of_day -= rest;
            if c.nanos_of_day < 0 {
                c.nanos_of_day += NANOS_PER_DAY;
                c.day -= 1;
            }
            c.day -= whole_days;
        }
        if c.month_index.unsigned_abs() > (YEAR_LIMIT as u64) * 12 {
            return false;
        }
        if (1..=62).contains(&c.day) || (-31..1).contains(&c.day) {
            while c.day > dim(c.month_index) {
                c.day -= dim(c.month_index);
                c.month_index += 1;
            }
            while c.day < 1 {
                c.month_index -= 1;
                c.day += dim(c.month_index);
            }
        } else {
            let (y, mo) = split_month_index(c.month_index);
            let days = calendar::days_from_civil(y, mo, 1) + c.day - 1;
            if days.unsigned_abs() > (YEAR_LIMIT as u64) * 366 {
                return false;
            }
            let (y, mo, d) = calendar::civil_from_days(days);
            c.month_index = y * 12 + i64::from(mo) - 1;
            c.day = i64::from(d);
        }
        true
    }

    /// Up to `steps` chained steps, several at once when none of them can clamp or change month
    /// by overflow: while the day of month stays within 1..=28 (in every month), a step only moves
    /// the month by `±months` and the day by the exact part's whole days and time-of-day carry,
    /// which add up. Otherwise one [`Series::chain_step`]. Returns how many steps were taken; 0
    /// when the chain left the range.
    fn chain_steps(&self, c: &mut Chained, steps: u128) -> u128 {
        if steps == 0 {
            return 0;
        }
        if let Some(taken) = self.clamp_free_run(c, steps) {
            return taken;
        }
        u128::from(self.chain_step(c))
    }

    /// [`Series::chain_steps`]' shortcut: `k ≥ 2` steps at once, or `None` (nothing changed).
    fn clamp_free_run(&self, c: &mut Chained, steps: u128) -> Option<u128> {
        let whole_days = i64::try_from(self.exact / NANOS_PER_DAY).ok()?;
        let rest = self.exact % NANOS_PER_DAY;
        // Each step moves the day by `whole_days`, or one more with a time-of-day carry.
        let per_step = whole_days.checked_add(i64::from(rest > 0))?;
        let room = match self.direction {
            Direction::Forward => 28 - c.day,
            Direction::Backward => c.day - 1,
        };
        if c.day > 28 || per_step <= 0 || room < 2 * per_step {
            return None;
        }
        let k = (room / per_step).min(i64::try_from(steps).unwrap_or(i64::MAX));
        let months = i64::try_from(self.months).ok()?.checked_mul(k)?;
        let k_wide = i128::from(k);
        let (month_index, day, nanos_of_day) = match self.direction {
            Direction::Forward => {
                let tod = c.nanos_of_day + k_wide * rest;
                let carries = tod.div_euclid(NANOS_PER_DAY) as i64;
                (
                    c.month_index.checked_add(months)?,
                    c.day + k * whole_days + carries,
                    tod.rem_euclid(NANOS_PER_DAY),
                )
            }
            Direction::Backward => {
                let tod = c.nanos_of_day - k_wide * rest;
                let borrows = -(tod.div_euclid(NANOS_PER_DAY) as i64);
                (
                    c.month_index.checked_sub(months)?,
                    c.day - k * whole_days - borrows,
                    tod.rem_euclid(NANOS_PER_DAY),
                )
            }
        };
        if month_index.unsigned_abs() > (YEAR_LIMIT as u64) * 12 {
            return None;
        }
        *c = Chained {
            month_index,
            day,
            nanos_of_day,
        };
        Some(k as u128)
    }

    /// The key of this series' chain in [`CHAIN_TABLES`]: everything a chained step depends on.
    fn chain_key(&self) -> ChainKey {
        ChainKey {
            direction: self.direction,
            anchor: self.anchor,
            months: self.months,
            exact: self.exact,
        }
    }

    /// This series' checkpoint table, created empty (just the anchor) on first use; the table
    /// becomes the most recently used one.
    fn chain_table(&self) -> Arc<Mutex<ChainTable>> {
        let key = self.chain_key();
        let mut tables = CHAIN_TABLES.lock().unwrap_or_else(PoisonError::into_inner);
        match tables.iter().position(|(k, _)| *k == key) {
            Some(found) => tables[..=found].rotate_right(1),
            None => {
                let table = ChainTable {
                    checkpoints: vec![self.chain_start()],
                    closed: false,
                };
                tables.insert(0, (key, Arc::new(Mutex::new(table))));
                tables.truncate(CACHED_CHAINS);
            }
        }
        match tables.first() {
            Some((_, table)) => Arc::clone(table),
            // Unreachable (an entry was just found or inserted at the front), but never panic.
            None => Arc::new(Mutex::new(ChainTable {
                checkpoints: vec![self.chain_start()],
                closed: false,
            })),
        }
    }

    /// Appends the checkpoint [`CHECKPOINT`] steps after the last one. False (and the table
    /// closed for good) once the chain leaves the calendar range or [`TABLE_MONTHS`].
    fn extend(&self, table: &mut ChainTable) -> bool {
        let Some(mut c) = table.checkpoints.last().copied().filter(|_| !table.closed) else {
            return false;
        };
        let mut left = CHECKPOINT;
        while left > 0 {
            let taken = self.chain_steps(&mut c, left);
            if taken == 0 {
                table.closed = true;
                return false;
            }
            left -= taken;
        }
        if !TABLE_MONTHS.contains(&c.month_index) {
            table.closed = true;
            return false;
        }
        table.checkpoints.push(c);
        true
    }

    /// The jump table to reach a boundary about `steps` steps from the anchor: the duration's
    /// table if it exists, else built when `steps` is over [`NEAR_STEPS`]; `None` (step there)
    /// when this series has no jump table or the boundary is near and none is built yet.
    fn jump_table(&self, steps: u128) -> Option<Arc<JumpTable>> {
        let key = self.jumps?;
        JumpTable::cached(key).or_else(|| (steps > NEAR_STEPS).then(|| JumpTable::shared(key)))
    }

    /// The chain after `i` steps from the anchor (boundary `i` as calendar parts), or `None` when
    /// it leaves the calendar range: the nearest checkpoint at or below `i`, then at most
    /// [`CHECKPOINT`] − 1 steps (more only beyond the table's years).
    fn chained_at(&self, i: u128) -> Option<Chained> {
        if let Some(table) = self.jump_table(i) {
            let mut c = self.chain_start();
            let taken = table.advance(&mut c, i, |_| true, |c| self.chain_step(c));
            return (taken == i).then_some(c);
        }
        if self.jumps.is_some() {
            return self.stepped(self.chain_start(), i);
        }
        let (done, c) = {
            let table = self.chain_table();
            let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
            let want = i / CHECKPOINT;
            while (table.checkpoints.len() as u128) <= want && self.extend(&mut table) {}
            let k = want.min(table.checkpoints.len().saturating_sub(1) as u128);
            (k * CHECKPOINT, *table.checkpoints.get(k as usize)?)
        };
        self.stepped(c, i - done)
    }

    /// The chain `steps` steps on from `c` (several at once where none can clamp), or `None`
    /// when it leaves the calendar range.
    fn stepped(&self, mut c: Chained, steps: u128) -> Option<Chained> {
        let mut done = 0;
        while done < steps {
            match self.chain_steps(&mut c, steps - done) {
                0 => return None,
                taken => done += taken,
            }
        }
        Some(c)
    }

    /// From boundary `i` (as `c`), steps on one boundary at a time while the next one has an
    /// index below `count`, exists and is `before`; the last such boundary and its index.
    fn step_while(
        &self,
        mut i: u128,
        mut c: Chained,
        before: impl Fn(&Chained) -> bool,
    ) -> (u128, Chained) {
        loop {
            let mut next = c;
            if i + 1 >= self.count || !self.chain_step(&mut next) || !before(&next) {
                return (i, c);
            }
            (i, c) = (i + 1, next);
        }
    }

    /// The last boundary `before` `t` (index below `count`) and its value, found from the
    /// checkpoint table: a binary search, then at most [`CHECKPOINT`] steps (more only beyond the
    /// table's years). The same answer as walking from the anchor (`walk_from_anchor`
    /// in the tests), since the chain is strictly monotonic.
    fn walk(&self, t: i128) -> Option<(u128, i128)> {
        let target = Civil::from_nanos(t)?;
        let target = (
            target.month_index,
            i64::from(target.day),
            target.nanos_of_day,
        );
        let before = |c: &Chained| {
            let key = (c.month_index, c.day, c.nanos_of_day);
            match self.direction {
                Direction::Forward => key <= target,
                Direction::Backward => key > target,
            }
        };
        if self.count == 0 || !before(&self.chain_start()) {
            return None;
        }
        if self.jumps.is_some() {
            let mean_step = self.months * calendar::NANOS_PER_MEAN_MONTH + self.exact;
            let steps = (t - self.anchor).unsigned_abs() / mean_step.max(1).unsigned_abs();
            let (i, c) = match self.jump_table(steps) {
                Some(table) => {
                    let mut c = self.chain_start();
                    let i = table.advance(&mut c, self.count - 1, before, |c| self.chain_step(c));
                    (i, c)
                }
                None => self.step_while(0, self.chain_start(), before),
            };
            return Some((i, c.nanos()));
        }
        // Checkpoints at indices below `count` only.
        let usable = usize::try_from((self.count - 1) / CHECKPOINT + 1).unwrap_or(usize::MAX);
        let (i, c) = {
            let table = self.chain_table();
            let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
            while table.checkpoints.len() < usable
                && table.checkpoints.last().is_some_and(before)
                && self.extend(&mut table)
            {}
            let usable = &table.checkpoints[..table.checkpoints.len().min(usable)];
            let k = usable.partition_point(before).checked_sub(1)?;
            (k as u128 * CHECKPOINT, *usable.get(k)?)
        };
        let (i, c) = self.step_while(i, c, before);
        Some((i, c.nanos()))
    }

    /// The index of the last boundary `before` `t` and that boundary.
    fn locate(&self, t: i128) -> Option<(u128, i128)> {
        if self.step == Step::ChainedMixed {
            return self.walk(t);
        }
        let i = self.last_before(t)?;
        Some((i, self.boundary(i)))
    }

    /// Whether boundary `i` is still "at or before" `t` in the series' direction: forwards
    /// `b(i) ≤ t`, backwards `b(i) > t`. True for a prefix of indices, then false.
    fn before(&self, b: i128, t: i128) -> bool {
        match self.direction {
            Direction::Forward => b <= t,
            Direction::Backward => b > t,
        }
    }

    /// The largest `i < self.count` with `before(b(i), t)`, or `None` when not even `i = 0`.
    fn last_before(&self, t: i128) -> Option<u128> {
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

    fn instant(&self, wall: i128) -> Option<DateTime<Utc>> {
        if wall.abs() >= SATURATED {
            return None;
        }
        let utc = wall - self.offset;
        let secs = i64::try_from(utc.div_euclid(NANOS_PER_SECOND)).ok()?;
        let nanos = utc.rem_euclid(NANOS_PER_SECOND) as u32;
        DateTime::from_timestamp(secs, nanos)
    }

    fn wall(&self, at: DateTime<Utc>) -> i128 {
        i128::from(at.timestamp()) * NANOS_PER_SECOND
            + i128::from(at.timestamp_subsec_nanos())
            + self.offset
    }

    /// The window with index `i`, given its two boundaries `b(i)` and `b(i+1)`.
    fn make(&self, i: u128, b_i: i128, b_next: i128) -> Option<Window> {
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
    fn located(&self, at: DateTime<Utc>) -> Option<(u128, Option<Window>)> {
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
    fn first_index_from(&self, at: DateTime<Utc>) -> Option<u128> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(s: &str) -> RepeatingInterval {
        s.parse()
            .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// The window as `start/end` in RFC 3339 UTC, or `None`.
    fn at(s: &str, reading: Reading, instant: &str) -> Option<(String, String, u64)> {
        interval(s).window_at(reading, t(instant)).map(|w| {
            (
                w.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                w.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                w.index,
            )
        })
    }

    fn starts(s: &str, reading: Reading, n: usize) -> Vec<String> {
        let r = interval(s);
        let from = t("0001-01-01T00:00:00Z");
        r.windows_from(reading, from)
            .take(n)
            .map(|w| w.start.format("%Y-%m-%d").to_string())
            .collect()
    }

    fn w(start: &str, end: &str, index: u64) -> Option<(String, String, u64)> {
        Some((start.to_string(), end.to_string(), index))
    }

    use Reading::{Iso8601 as Iso, RafikiCompatible as Rafiki};

    // Rafiki's own public table (limits.test.ts), in the Rafiki-compatible reading.
    #[test]
    fn rafiki_table_a_start_duration_and_duration_end() {
        for s in ["R2/2022-07-01T13:00:00Z/P1M", "R2/P1M/2022-10-01T13:00:00Z"] {
            let jul = ("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z");
            let aug = ("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z");
            let sep = ("2022-09-01T13:00:00Z", "2022-10-01T13:00:00Z");
            let forward = s.starts_with("R2/2022");
            let idx = |k: u64| if forward { k } else { 2 - k };
            assert_eq!(at(s, Rafiki, "2022-07-01T12:59:59Z"), None, "{s}");
            for (instant, (a, b), k) in [
                ("2022-07-01T13:00:00Z", jul, 0),
                ("2022-07-10T13:00:00Z", jul, 0),
                ("2022-08-10T13:00:00Z", aug, 1),
                ("2022-09-10T13:00:00Z", sep, 2),
                ("2022-10-01T12:59:59Z", sep, 2),
            ] {
                assert_eq!(at(s, Rafiki, instant), w(a, b, idx(k)), "{s} at {instant}");
            }
            assert_eq!(at(s, Rafiki, "2022-10-01T13:00:00Z"), None, "{s}");
        }
    }

    #[test]
    fn rafiki_table_b_start_end_steps_by_the_first_length() {
        let s = "R2/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z";
        assert_eq!(at(s, Rafiki, "2022-07-01T12:59:59Z"), None);
        let first = w("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z", 0);
        assert_eq!(at(s, Rafiki, "2022-07-01T13:00:00Z"), first);
        assert_eq!(at(s, Rafiki, "2022-07-10T13:00:00Z"), first);
        assert_eq!(
            at(s, Rafiki, "2022-08-10T13:00:00Z"),
            w("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z", 1)
        );
        let third = w("2022-09-01T13:00:00Z", "2022-10-02T13:00:00Z", 2);
        assert_eq!(at(s, Rafiki, "2022-09-10T13:00:00Z"), third);
        assert_eq!(at(s, Rafiki, "2022-10-02T12:59:59Z"), third);
        assert_eq!(at(s, Rafiki, "2022-10-02T13:00:00Z"), None);
    }

    #[test]
    fn rafiki_table_c_unbounded() {
        for s in ["R/2022-07-01T13:00:00Z/P1M", "R-1/2022-07-01T13:00:00Z/P1M"] {
            assert_eq!(at(s, Rafiki, "2022-07-01T12:59:59Z"), None);
            let jul = w("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z", 0);
            assert_eq!(at(s, Rafiki, "2022-07-01T13:00:00Z"), jul);
            assert_eq!(at(s, Rafiki, "2022-07-10T13:00:00Z"), jul);
            assert_eq!(
                at(s, Rafiki, "2022-08-10T13:00:00Z"),
                w("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z", 1)
            );
            assert_eq!(
                at(s, Rafiki, "2032-01-10T13:00:00Z"),
                w("2032-01-01T13:00:00Z", "2032-02-01T13:00:00Z", 114)
            );
        }
    }

    #[test]
    fn rafiki_derived_cases() {
        let s = "R0/2022-07-01T13:00:00Z/P1M";
        assert_eq!(
            at(s, Rafiki, "2022-07-15T00:00:00Z"),
            w("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z", 0)
        );
        assert_eq!(at(s, Rafiki, "2022-08-01T13:00:00Z"), None);
        let s = "R/2024-01-31T00:00:00Z/P1M";
        assert_eq!(
            at(s, Rafiki, "2024-02-29T12:00:00Z"),
            w("2024-02-29T00:00:00Z", "2024-03-29T00:00:00Z", 1)
        );
        let mar = w("2024-03-29T00:00:00Z", "2024-04-29T00:00:00Z", 2);
        assert_eq!(at(s, Rafiki, "2024-03-29T00:00:00Z"), mar);
        assert_eq!(at(s, Rafiki, "2024-03-31T00:00:00Z"), mar);
    }

    #[test]
    fn month_end_iso_does_not_drift_rafiki_sticks() {
        let s = "R/2024-01-31T00:00:00Z/P1M";
        assert_eq!(
            starts(s, Iso, 5),
            [
                "2024-01-31",
                "2024-02-29",
                "2024-03-31",
                "2024-04-30",
                "2024-05-31"
            ]
        );
        assert_eq!(
            starts(s, Rafiki, 5),
            [
                "2024-01-31",
                "2024-02-29",
                "2024-03-29",
                "2024-04-29",
                "2024-05-29"
            ]
        );
        // The 29th forever after, also far away (closed form, not a walk).
        assert_eq!(
            at(s, Rafiki, "2100-03-30T00:00:00Z"),
            w("2100-03-28T00:00:00Z", "2100-04-28T00:00:00Z", 914)
        );
    }

    #[test]
    fn rafiki_duration_end_clamps_backwards() {
        // Base [2024-02-29, 2024-03-31), then [01-29, 02-29), [12-29, 01-29).
        let s = "R/P1M/2024-03-31T00:00:00Z";
        let r = interval(s);
        let got: Vec<_> = r
            .windows_from(Rafiki, t("2023-12-30T00:00:00Z"))
            .take(3)
            .map(|w| (w.start.format("%m-%d").to_string(), w.index))
            .collect();
        assert_eq!(
            got,
            [
                ("12-29".into(), 2),
                ("01-29".into(), 1),
                ("02-29".into(), 0)
            ]
        );
        // ISO: E - j·D from the anchor, clamped each time on its own: 03-31, 02-29, 01-31, 12-31.
        let got: Vec<_> = r
            .windows_from(Iso, t("2023-12-31T00:00:00Z"))
            .take(3)
            .map(|w| (w.start.format("%m-%d").to_string(), w.index))
            .collect();
        assert_eq!(
            got,
            [
                ("12-31".into(), 2),
                ("01-31".into(), 1),
                ("02-29".into(), 0)
            ]
        );
    }

    #[test]
    fn repetitions_differ_between_readings() {
        let s = "R2/2022-07-01T13:00:00Z/P1M";
        assert_eq!(at(s, Iso, "2022-08-10T00:00:00Z").map(|w| w.2), Some(1));
        assert_eq!(at(s, Iso, "2022-09-10T00:00:00Z"), None);
        assert_eq!(at(s, Rafiki, "2022-09-10T00:00:00Z").map(|w| w.2), Some(2));
        let r0 = "R0/2022-07-01T13:00:00Z/P1M";
        assert_eq!(at(r0, Iso, "2022-07-10T00:00:00Z"), None);
        assert!(interval(r0).has_ended(Iso, t("2000-01-01T00:00:00Z")));
        assert_eq!(
            interval(r0)
                .windows_from(Iso, t("2000-01-01T00:00:00Z"))
                .count(),
            0
        );
        let r1 = "R1/2022-07-01T13:00:00Z/P1M";
        assert!(at(r1, Iso, "2022-07-10T00:00:00Z").is_some());
        assert_eq!(at(r1, Iso, "2022-08-10T00:00:00Z"), None);
        assert_eq!(interval(r1).window_count(Iso), Some(1));
        assert_eq!(interval(r1).window_count(Rafiki), Some(2));
        assert_eq!(
            interval("R/2022-07-01T13:00:00Z/P1M").window_count(Iso),
            None
        );
    }

    #[test]
    fn iso_duration_end_counts_backwards() {
        let s = "R2/P1M/2022-10-01T13:00:00Z";
        assert_eq!(
            at(s, Iso, "2022-09-10T00:00:00Z"),
            w("2022-09-01T13:00:00Z", "2022-10-01T13:00:00Z", 0)
        );
        assert_eq!(
            at(s, Iso, "2022-08-10T00:00:00Z"),
            w("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z", 1)
        );
        assert_eq!(at(s, Iso, "2022-07-10T00:00:00Z"), None);
        assert_eq!(at(s, Iso, "2022-10-01T13:00:00Z"), None);
    }

    #[test]
    fn iso_works_on_the_anchor_wall_clock_rafiki_in_utc() {
        // 2024-01-31T23:00-02:00 is 2024-02-01T01:00Z.
        let s = "R/2024-01-31T23:00:00-02:00/P1M";
        // ISO: Jan 31 local + 1 month = Feb 29 23:00-02:00 = Mar 1 01:00Z.
        assert_eq!(
            interval(s).window(Iso, 1).map(|w| w.start),
            Some(t("2024-03-01T01:00:00Z"))
        );
        // Rafiki: Feb 1 01:00Z + 1 month = Mar 1 01:00Z, and so on, no clamp at all.
        assert_eq!(
            interval(s).window(Rafiki, 2).map(|w| w.start),
            Some(t("2024-04-01T01:00:00Z"))
        );
        assert_eq!(
            interval(s).window(Iso, 2).map(|w| w.start),
            Some(t("2024-04-01T01:00:00Z"))
        );
        assert_eq!(
            interval(s).window(Iso, 3).map(|w| w.start),
            Some(t("2024-05-01T01:00:00Z"))
        );
    }

    #[test]
    fn start_end_steps_by_exact_length_in_both_readings() {
        let s = "R3/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z";
        for reading in [Iso, Rafiki] {
            assert_eq!(
                interval(s).window(reading, 2).map(|w| (w.start, w.end)),
                Some((t("2022-09-01T13:00:00Z"), t("2022-10-02T13:00:00Z")))
            );
        }
        assert_eq!(interval(s).window(Iso, 3), None);
        assert!(interval(s).window(Rafiki, 3).is_some());
    }

    #[test]
    fn boundaries_belong_to_the_later_window() {
        let s = "R/2016-08-24T08:00:00Z/P1D";
        for reading in [Iso, Rafiki] {
            assert_eq!(at(s, reading, "2016-08-25T08:00:00Z").map(|w| w.2), Some(1));
            assert_eq!(
                at(s, reading, "2016-08-25T07:59:59.999999999Z").map(|w| w.2),
                Some(0)
            );
        }
    }

    #[test]
    fn far_lookups_are_exact() {
        // 3·10⁸ windows from the anchor.
        let s = "R/2016-08-24T08:00:00Z/PT1S";
        for reading in [Iso, Rafiki] {
            let w = interval(s).window_at(reading, t("2026-01-01T00:00:00.5Z"));
            assert_eq!(w.map(|w| w.start), Some(t("2026-01-01T00:00:00Z")));
            assert_eq!(w.map(|w| w.index), Some(295_200_000));
        }
        let s = "R/0001-01-31T00:00:00Z/P1M";
        let iso = interval(s).window_at(Iso, t("9999-12-31T12:00:00Z"));
        assert_eq!(iso.map(|w| w.start), Some(t("9999-12-31T00:00:00Z")));
        assert_eq!(iso.map(|w| w.index), Some(9998 * 12 + 11));
        // Rafiki: the first February (year 1, common) clamps to the 28th for good.
        let rafiki = interval(s).window_at(Rafiki, t("9999-12-31T12:00:00Z"));
        assert_eq!(rafiki.map(|w| w.start), Some(t("9999-12-28T00:00:00Z")));
        let mixed = interval("R/0001-01-31T00:00:00Z/P1M1D");
        let walked = mixed.window_at(Rafiki, t("2000-01-01T00:00:00Z"));
        assert!(walked.is_some_and(|w| w.contains(t("2000-01-01T00:00:00Z"))));
    }

    #[test]
    fn sticky_clamp_closed_form_matches_the_chain() {
        for s in [
            "R/2024-01-31T00:00:00Z/P1M",
            "R/2023-08-31T05:00:00Z/P1M",
            "R/2020-02-29T00:00:00Z/P1Y",
            "R/2020-02-29T00:00:00Z/P4Y",
            "R/2096-02-29T00:00:00Z/P4Y",
            "R/2024-01-30T00:00:00Z/P2M",
            "R/2024-05-31T00:00:00Z/P3M",
            "R/2024-05-31T00:00:00Z/P7M",
            "R/2024-05-31T00:00:00Z/P1Y1M",
            "R/P1M/2024-03-31T00:00:00Z",
            "R/P5M/2024-10-31T00:00:00Z",
            "R/P4Y/2024-02-29T00:00:00Z",
        ] {
            let series = Series::new(&interval(s), Rafiki);
            assert_eq!(series.step, Step::ChainedMonths, "{s}");
            let mut chained = series.anchor;
            for i in 0..1_300u128 {
                assert_eq!(series.boundary(i), chained, "{s} boundary {i}");
                chained = series.chain(chained);
            }
        }
    }

    #[test]
    fn integer_chain_step_matches_the_nanosecond_chain() {
        for s in [
            "R/2024-01-31T00:00:00Z/P1M1D",
            "R/2024-01-31T23:30:00Z/P1MT1H",
            "R/2023-12-31T12:00:00Z/P1M100D",
            "R/2023-12-31T12:00:00Z/P2Y1DT0.5S",
            "R/2023-01-29T00:00:00Z/P1M1.5D",
            "R/P1M1D/2024-03-31T00:00:00Z",
            "R/P1MT13H/2024-03-31T06:00:00Z",
            "R/P3M45D/2024-05-31T00:00:00Z",
            "R/P1Y0M2000D/2024-02-29T00:00:00Z",
        ] {
            let series = Series::new(&interval(s), Rafiki);
            assert_eq!(series.step, Step::ChainedMixed, "{s}");
            let (mut fast, mut slow) = (series.chain_start(), series.anchor);
            for i in 0..600 {
                assert_eq!(fast.nanos(), slow, "{s} step {i}");
                if !series.chain_step(&mut fast) {
                    break;
                }
                slow = series.chain(slow);
            }
        }
    }

    #[test]
    fn chained_mixed_iteration_across_checkpoints() {
        for s in [
            "R/P1M1D/2024-03-31T00:00:00Z",
            "R/2024-01-31T00:00:00Z/P1M1D",
        ] {
            let r = interval(s);
            let from = if s.starts_with("R/P") {
                t("1960-01-01T00:00:00Z")
            } else {
                t("2030-01-01T00:00:00Z")
            };
            let windows: Vec<Window> = r.windows_from(Rafiki, from).take(700).collect();
            assert!(windows.len() > 600, "{s}: {}", windows.len());
            for pair in windows.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{s}");
            }
            for w in windows.iter().step_by(37) {
                assert_eq!(r.window(Rafiki, w.index), Some(*w), "{s}");
            }
        }
    }

    impl Series {
        /// The oracle for [`Series::walk`]: walk the chain from the anchor, step by step.
        fn walk_from_anchor(&self, t: i128) -> Option<(u128, i128)> {
            let target = Civil::from_nanos(t)?;
            let target = (
                target.month_index,
                i64::from(target.day),
                target.nanos_of_day,
            );
            let before = |c: &Chained| {
                let key = (c.month_index, c.day, c.nanos_of_day);
                match self.direction {
                    Direction::Forward => key <= target,
                    Direction::Backward => key > target,
                }
            };
            let mut c = self.chain_start();
            if self.count == 0 || !before(&c) {
                return None;
            }
            let mut i = 0u128;
            loop {
                let mut next = c;
                if i + 1 >= self.count || !self.chain_step(&mut next) || !before(&next) {
                    return Some((i, c.nanos()));
                }
                (i, c) = (i + 1, next);
            }
        }
    }

    /// A chained mixed series from generated parts (`None` when the date does not exist).
    #[allow(clippy::too_many_arguments)]
    fn mixed_series(
        (year, month, day): (i32, u32, u32),
        (hour, minute, second, nanos): (u32, u32, u32, u32),
        months: u32,
        (days, hours, minutes, seconds): (u32, u32, u32, u32),
        fraction: Option<u32>,
        backward: bool,
        repetitions: Option<u32>,
    ) -> Option<(String, Series)> {
        let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
        let anchor = format!(
            "{}T{hour:02}:{minute:02}:{second:02}.{nanos:09}Z",
            date.format("%Y-%m-%d")
        );
        let seconds = match fraction {
            Some(f) => format!("{seconds}.{f:09}"),
            None => seconds.to_string(),
        };
        let duration = format!("P{months}M{days}DT{hours}H{minutes}M{seconds}S");
        let r = repetitions.map_or(String::new(), |n| n.to_string());
        let s = if backward {
            format!("R{r}/{duration}/{anchor}")
        } else {
            format!("R{r}/{anchor}/{duration}")
        };
        let series = Series::new(&s.parse().ok()?, Rafiki);
        (series.step == Step::ChainedMixed).then_some((s, series))
    }

    #[test]
    fn checkpoint_walk_matches_the_walk_from_the_anchor_far_away() {
        for s in [
            "R/0001-01-31T00:00:00Z/P1M1D",
            "R/0001-01-01T23:59:59.999999999Z/P1MT1.000000001S",
            "R/P1M1D/9999-12-31T00:00:00Z",
            "R/P1MT23H/9999-03-31T12:00:00Z",
            "R100000/0001-05-31T00:00:00Z/P1M1D",
            "R/0001-01-31T00:00:00Z/P1M14D",
            "R/0001-02-29T00:00:00Z/P1Y1D",
            "R/0004-02-29T00:00:00Z/P1Y1D",
            "R/P13M40D/9999-12-31T23:00:00Z",
            "R/P1M7D/9999-03-31T00:00:00Z",
            "R/1899-12-30T00:00:00Z/P1M30D",
            "R/0001-01-30T00:00:00Z/P2400M1460D",
            "R/0001-01-31T00:00:00Z/P1M1DT12H",
            "R/0001-01-31T10:20:00Z/P1MT30M",
            "R/P2M3DT5H/9999-12-31T00:00:00Z",
            "R/P1MT1M/9999-12-31T00:00:00Z",
        ] {
            let Ok(r) = s.parse::<RepeatingInterval>() else {
                // P1Y1D from year 1 (no 29 February in year 1) does not parse: skip it.
                assert!(s.contains("0001-02-29"), "{s}");
                continue;
            };
            let series = Series::new(&r, Rafiki);
            assert_eq!(series.step, Step::ChainedMixed, "{s}");
            for at in
                [
                    "0001-01-01T00:00:00Z",
                    "0001-03-01T00:00:00Z",
                    "2024-02-29T12:00:00Z",
                    "5000-07-01T00:00:00Z",
                    "9999-12-31T23:59:59.999999999Z",
                ]
                .map(t)
                .into_iter()
                // Years 10 000 and 12 000, beyond the checkpoint table.
                .chain([253_402_300_800, 316_516_204_800].map(|secs| {
                    DateTime::from_timestamp(secs, 0).unwrap_or_else(|| panic!("{secs}"))
                }))
            {
                let wall = series.wall(at);
                assert_eq!(
                    series.walk(wall),
                    series.walk_from_anchor(wall),
                    "{s} at {at}"
                );
            }
        }
    }

    /// `walk` at the `instants` (seconds), at the boundary found for the first one and just
    /// before it, and at `near` (nanoseconds), and `boundary` at the `indices`: each the same
    /// as walking from the anchor one step at a time.
    fn matches_the_walk_from_the_anchor(
        s: &str,
        series: &Series,
        instants: &[i64],
        near: i128,
        indices: &[u128],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut walls: Vec<i128> = instants
            .iter()
            .map(|secs| i128::from(*secs) * NANOS_PER_SECOND)
            .collect();
        // Exactly on a boundary, and just before it.
        if let Some((_, b)) = walls.first().and_then(|w| series.walk_from_anchor(*w)) {
            walls.extend([b, b - 1]);
        }
        walls.push(near);
        for wall in walls {
            proptest::prop_assert_eq!(
                series.walk(wall),
                series.walk_from_anchor(wall),
                "{} at {}",
                s,
                wall
            );
        }
        for &i in indices {
            let mut c = series.chain_start();
            let walked = (0..i).all(|_| series.chain_step(&mut c)).then(|| c.nanos());
            let expected = walked.unwrap_or(series.sign() * SATURATED);
            proptest::prop_assert_eq!(series.boundary(i), expected, "{} boundary {}", s, i);
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]
        #[test]
        fn checkpoint_lookups_match_the_walk_from_the_anchor(
            date in (1i32..=9999, 1u32..=12, 1u32..=31),
            time in (0u32..24, 0u32..60, 0u32..60, proptest::prop_oneof![
                proptest::strategy::Just(0u32), 0u32..1_000_000_000
            ]),
            months in 1u32..=30,
            exact in (0u32..=70, 0u32..24, 0u32..60, 0u32..60),
            fraction in proptest::option::of(1u32..1_000_000_000),
            backward: bool,
            repetitions in proptest::option::of(0u32..150_000),
            instants in proptest::collection::vec(-62_200_000_000i64..253_500_000_000, 4),
            indices in proptest::collection::vec(0u128..130_000, 3),
            near in -40i128..40,
        ) {
            let Some((s, series)) =
                mixed_series(date, time, months, exact, fraction, backward, repetitions)
            else {
                return Ok(());
            };
            matches_the_walk_from_the_anchor(
                &s,
                &series,
                &instants,
                series.anchor + near * 3_600 * NANOS_PER_SECOND,
                &indices,
            )?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        /// Months with whole days, or with a time part in multiples of 30 minutes: the chain is
        /// found by jumps over the regular calendar and real steps at the irregular Februaries
        /// (`chain.rs`), far and near.
        #[test]
        fn jump_lookups_match_the_walk_from_the_anchor(
            date in (1i32..=9999, 1u32..=12, 1u32..=31),
            time in (0u32..24, 0u32..60, 0u32..60, 0u32..1_000_000_000),
            months in proptest::prop_oneof![1u32..=14, 1u32..=2_400],
            days in proptest::prop_oneof![0u32..=40, 0u32..=1_460],
            half_hours in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..48],
            backward: bool,
            repetitions in proptest::option::of(0u32..150_000),
            instants in proptest::collection::vec(-62_200_000_000i64..253_500_000_000, 4),
            indices in proptest::collection::vec(
                proptest::prop_oneof![0u128..100, 0u128..130_000], 3),
            near in -2_000i128..2_000,
        ) {
            let Some((s, series)) =
                mixed_series(
                    date,
                    time,
                    months,
                    (days, half_hours / 2, half_hours % 2 * 30, 0),
                    None,
                    backward,
                    repetitions,
                )
            else {
                return Ok(());
            };
            proptest::prop_assert!(series.jumps.is_some(), "{}", &s);
            matches_the_walk_from_the_anchor(
                &s,
                &series,
                &instants,
                series.anchor + near * 86_400 * NANOS_PER_SECOND,
                &indices,
            )?;
        }
    }

    proptest::proptest! {
        #[test]
        fn sticky_clamp_closed_form_matches_the_chain_everywhere(
            year in 1i32..9900,
            month in 1u32..=12,
            day in 25u32..=31,
            months in 1u32..=120,
            backward: bool,
        ) {
            let Some(date) = chrono::NaiveDate::from_ymd_opt(year, month, day) else {
                return Ok(());
            };
            let anchor = format!("{}T06:30:00Z", date.format("%Y-%m-%d"));
            let s = if backward {
                format!("R/P{months}M/{anchor}")
            } else {
                format!("R/{anchor}/P{months}M")
            };
            let Ok(r) = s.parse::<RepeatingInterval>() else {
                return Ok(());
            };
            let series = Series::new(&r, Rafiki);
            let mut chained = series.anchor;
            for i in 0..400u128 {
                proptest::prop_assert_eq!(series.boundary(i), chained, "{} boundary {}", s, i);
                chained = series.chain(chained);
            }
        }
    }

    #[test]
    fn next_window_start_and_end_of_series() {
        let r = interval("R2/2022-07-01T13:00:00Z/P1M");
        assert_eq!(
            r.next_window_start(Iso, t("2022-01-01T00:00:00Z")),
            Some(t("2022-07-01T13:00:00Z"))
        );
        assert_eq!(
            r.next_window_start(Iso, t("2022-07-10T00:00:00Z")),
            Some(t("2022-08-01T13:00:00Z"))
        );
        assert_eq!(r.next_window_start(Iso, t("2022-08-10T00:00:00Z")), None);
        assert_eq!(
            r.next_window_start(Rafiki, t("2022-08-10T00:00:00Z")),
            Some(t("2022-09-01T13:00:00Z"))
        );
        assert!(!r.has_ended(Iso, t("2022-08-10T00:00:00Z")));
        assert!(r.has_ended(Iso, t("2022-09-01T13:00:00Z")));
        assert!(!r.has_ended(Rafiki, t("2022-09-01T13:00:00Z")));
        assert!(r.has_ended(Rafiki, t("2022-10-01T13:00:00Z")));
        let back = interval("R2/P1M/2022-10-01T13:00:00Z");
        assert_eq!(
            back.next_window_start(Iso, t("2022-01-01T00:00:00Z")),
            Some(t("2022-08-01T13:00:00Z"))
        );
        assert_eq!(
            back.next_window_start(Iso, t("2022-08-10T00:00:00Z")),
            Some(t("2022-09-01T13:00:00Z"))
        );
        assert_eq!(back.next_window_start(Iso, t("2022-09-10T00:00:00Z")), None);
        assert!(back.has_ended(Iso, t("2022-10-01T13:00:00Z")));
        assert!(!interval("R/P1D/2022-10-01T13:00:00Z").has_ended(Iso, t("0001-01-01T00:00:00Z")));
    }

    #[test]
    fn iterator_before_inside_and_after() {
        let r = interval("R3/2016-08-24T08:00:00Z/P1D");
        let all: Vec<u64> = r
            .windows_from(Iso, t("2000-01-01T00:00:00Z"))
            .map(|w| w.index)
            .collect();
        assert_eq!(all, [0, 1, 2]);
        assert_eq!(r.windows_from(Iso, t("2016-08-27T08:00:00Z")).count(), 0);
        let rafiki: Vec<u64> = r
            .windows_from(Rafiki, t("2016-08-26T09:00:00Z"))
            .map(|w| w.index)
            .collect();
        assert_eq!(rafiki, [2, 3]);
        let back = interval("R3/P1D/2016-08-24T08:00:00Z");
        let got: Vec<u64> = back
            .windows_from(Iso, t("2000-01-01T00:00:00Z"))
            .map(|w| w.index)
            .collect();
        assert_eq!(got, [2, 1, 0]);
        let mixed = interval("R2/2024-01-31T00:00:00Z/P1M1D");
        let got: Vec<String> = mixed
            .windows_from(Rafiki, t("2024-01-01T00:00:00Z"))
            .map(|w| w.start.format("%m-%d").to_string())
            .collect();
        assert_eq!(got, ["01-31", "03-01", "04-02"]);
        let mixed_back = interval("R2/P1M1D/2024-03-31T00:00:00Z");
        let got: Vec<String> = mixed_back
            .windows_from(Rafiki, t("2023-01-01T00:00:00Z"))
            .map(|w| w.start.format("%m-%d").to_string())
            .collect();
        // Base: 03-31 - 1M = 02-29, - 1D = 02-28; then 01-28 - 1D = 01-27; 12-27 - 1D = 12-26.
        assert_eq!(got, ["12-26", "01-27", "02-28"]);
    }

    #[test]
    fn min_days_in_month_examples() {
        // From January 2024 stepping one month: Feb 2024 (29) is the first clamp.
        let jan2024 = 2024 * 12;
        assert_eq!(min_days_in_month(jan2024, 1, 1), 29);
        assert_eq!(min_days_in_month(jan2024, 1, 12 * 4), 28);
        assert_eq!(min_days_in_month(jan2024 + 2, 1, 1), 30);
        // Every 4 years from Feb 2020: leap until 2100.
        let feb2020 = 2020 * 12 + 1;
        assert_eq!(min_days_in_month(feb2020, 48, 19), 29);
        assert_eq!(min_days_in_month(feb2020, 48, 20), 28);
        // Every 400 years from Feb 2000: always leap.
        assert_eq!(min_days_in_month(2000 * 12 + 1, 4800, 1_000), 29);
    }
}
