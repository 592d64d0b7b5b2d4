//! The Rafiki-compatible chain of a duration that mixes months with an exact part (`P1M1D`,
//! `P1MT1M`): stepping it on calendar parts, several clamp-free steps at once, jumps where the
//! duration has a jump table (`crate::chain`), and otherwise the process-wide checkpoint table
//! per series (the crate's one exception to "pure": `crate::cache`).

use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};

use super::series::{Direction, Series};
use crate::cache::MostRecentlyUsed;
use crate::calendar::{self, Civil, NANOS_PER_DAY, YEAR_LIMIT, days_in_month, split_month_index};
use crate::chain::{Chained, JumpTable};

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
pub(super) struct ChainKey {
    direction: Direction,
    anchor: i128,
    months: i128,
    exact: i128,
}

/// The chain of one series at every [`CHECKPOINT`]-th boundary, extended on demand.
#[derive(Debug)]
pub(super) struct ChainTable {
    /// `checkpoints[k]` is the chain after `k · CHECKPOINT` steps; `checkpoints[0]` the anchor.
    checkpoints: Vec<Chained>,
    /// Set once the chain left [`TABLE_MONTHS`] or the calendar range: nothing more is added.
    closed: bool,
}

/// The checkpoint tables of the most recently used chained mixed series, most recent first (at
/// most [`CACHED_CHAINS`]), process-wide: one of the crate's two caches, its one exception to
/// "pure" (why, and why that is safe: `crate::cache`). A table only ever grows, and every
/// checkpoint in it is the exact chain state, so a cache hit or miss changes the cost, never the
/// answer.
static CHECKPOINT_TABLES: MostRecentlyUsed<ChainKey, Mutex<ChainTable>> =
    MostRecentlyUsed::new(CACHED_CHAINS);

impl Series {
    pub(super) fn chain_start(&self) -> Chained {
        let c = self.anchor_civil;
        Chained {
            month_index: c.month_index,
            day: i64::from(c.day),
            nanos_of_day: c.nanos_of_day,
        }
    }

    /// One chained step on calendar parts: the same as [`Series::chain`] (months, clamp, then the
    /// exact part), with no division on the common path. False once beyond [`YEAR_LIMIT`].
    pub(super) fn chain_step(&self, c: &mut Chained) -> bool {
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
    pub(super) fn chain_steps(&self, c: &mut Chained, steps: u128) -> u128 {
        if steps == 0 {
            return 0;
        }
        if let Some(taken) = self.clamp_free_run(c, steps) {
            return taken;
        }
        u128::from(self.chain_step(c))
    }

    /// [`Series::chain_steps`]' shortcut: `k ≥ 2` steps at once, or `None` (nothing changed).
    pub(super) fn clamp_free_run(&self, c: &mut Chained, steps: u128) -> Option<u128> {
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

    /// The key of this series' chain in [`CHECKPOINT_TABLES`]: everything a chained step depends on.
    pub(super) fn chain_key(&self) -> ChainKey {
        ChainKey {
            direction: self.direction,
            anchor: self.anchor,
            months: self.months,
            exact: self.exact,
        }
    }

    /// This series' checkpoint table, created empty (just the anchor) on first use; the table
    /// becomes the most recently used one.
    pub(super) fn chain_table(&self) -> Arc<Mutex<ChainTable>> {
        CHECKPOINT_TABLES.get_or_insert_with(self.chain_key(), || {
            Mutex::new(ChainTable {
                checkpoints: vec![self.chain_start()],
                closed: false,
            })
        })
    }

    /// Appends the checkpoint [`CHECKPOINT`] steps after the last one. False (and the table
    /// closed for good) once the chain leaves the calendar range or [`TABLE_MONTHS`].
    pub(super) fn extend(&self, table: &mut ChainTable) -> bool {
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
    pub(super) fn jump_table(&self, steps: u128) -> Option<Arc<JumpTable>> {
        let key = self.jumps?;
        JumpTable::cached(key).or_else(|| (steps > NEAR_STEPS).then(|| JumpTable::shared(key)))
    }

    /// The chain after `i` steps from the anchor (boundary `i` as calendar parts), or `None` when
    /// it leaves the calendar range: the nearest checkpoint at or below `i`, then at most
    /// [`CHECKPOINT`] − 1 steps (more only beyond the table's years).
    pub(super) fn chained_at(&self, i: u128) -> Option<Chained> {
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
    pub(super) fn stepped(&self, mut c: Chained, steps: u128) -> Option<Chained> {
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
    pub(super) fn step_while(
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

    /// The test "this boundary lies before the instant `t`" in the series' direction (at or
    /// before `t` going forward, after it going backward), shared by [`Series::walk`] and its
    /// oracle in the tests; `None` when `t` has no civil date.
    pub(super) fn before_instant(&self, t: i128) -> Option<impl Fn(&Chained) -> bool + Copy> {
        let target = Civil::from_nanos(t)?;
        let target = (
            target.month_index,
            i64::from(target.day),
            target.nanos_of_day,
        );
        let direction = self.direction;
        Some(move |c: &Chained| {
            let key = (c.month_index, c.day, c.nanos_of_day);
            match direction {
                Direction::Forward => key <= target,
                Direction::Backward => key > target,
            }
        })
    }

    /// The last boundary `before` `t` (index below `count`) and its value, found from the
    /// checkpoint table: a binary search, then at most [`CHECKPOINT`] steps (more only beyond the
    /// table's years). The same answer as walking from the anchor (`walk_from_anchor`
    /// in the tests), since the chain is strictly monotonic.
    pub(super) fn walk(&self, t: i128) -> Option<(u128, i128)> {
        let before = self.before_instant(t)?;
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
}
