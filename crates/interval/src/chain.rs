//! Jump tables for the Rafiki-compatible chain of a duration that mixes months with whole days
//! (`P1M1D`) or with a time of day in multiples of 30 minutes (`P1M1DT1H`).
//!
//! # Why a jump table works here
//!
//! A chained step of `P<M>M<D>D` (forwards) moves the month by `M`, clamps the day to that month's
//! length, then adds `D` days, carrying into the following months. It reads nothing but the lengths
//! of the months it touches: the target month and those the added days run through. Month lengths
//! repeat every 48 months in the *regular* calendar (a leap year every 4 years); the Gregorian
//! calendar differs from it only in the February of a year divisible by 100 but not by 400 (1700,
//! 1800, 1900, 2100, ...: 28 days, where the regular calendar has 29). Call those the *irregular
//! Februaries*. A step that touches no irregular February is a step of the regular calendar, and
//! there the chain depends only on `(month index mod 48, day)`: 48 · 31 = 1 488 states. So the map
//! "after `2^j` regular steps from state `s`" (the next state and the months moved) is a table of
//! 1 488 entries per level, built by composing the level below (binary lifting). A walk then
//! crosses the gap between two irregular Februaries (at most 200 years) in one jump per level,
//! greedily from the highest, and takes the one or two steps that touch an irregular February with
//! the real calendar. Since the month index only moves one way, "every step up to here touched no
//! irregular February" is "the month index reached is still short of the next irregular February".
//! From year 1 to 9999 that is 75 irregular Februaries, so a few hundred table reads instead of
//! ~120 000 steps.
//!
//! Crossing an irregular February is remembered too. Every irregular February's month index is 1
//! modulo 48 (its year is divisible by 4), so from a state `k` months short of an irregular
//! February, the jumps to it and the real step over it depend only on `k`, the day, and the
//! irregular February's year modulo 400 (which places the irregular Februaries around it): a
//! [`Crossing`] kept in the table under that key. Chains of one duration soon merge (the regular
//! chain has one attracting cycle), so from the first few crossings on, a lookup mostly reads
//! crossings, one per century, and jumps level by level only in the gap that holds its instant.
//!
//! The table depends on the duration and the direction only (not on the anchor), so every series of
//! that duration shares it: [`JumpTable::shared`] keeps the [`CACHED_TABLES`] most recently used,
//! process-wide (`crate::cache` says why that is the crate's one exception to "pure"). Building
//! one costs 1 488 · `q` steps or lookups and 1 488 compositions per level
//! (`docs/PERFORMANCE.md` has the measured cost); at most 13 levels of 8-byte entries (155 KB) and
//! at most [`MAX_CROSSINGS`] crossings (under 300 KB allocated) per table, so under 3.7 MB for all
//! of them.
//!
//! # A time of day
//!
//! A duration with a time part `r` (`P1MT1H`) also carries a day whenever the time of day wraps
//! past midnight. With `g = gcd(r, day)` and `q = day / g`, the time of day is its value modulo `g`
//! (fixed) plus `g` times a *phase* in `0..q` that moves by `r / g` each step, and whether a step
//! carries depends on the phase alone ([`JumpKey::new`]). So a *block* of `q` steps from phase 0
//! carries on the same steps every time and is again a map of the 1 488 states: the table's level 0
//! is one block (whole days: `q = 1`, a block is a step), built from the two one-step maps (carry
//! or not) in 1 488 · `q` lookups. A walk first steps to phase 0, jumps by blocks, and steps over
//! each irregular February back to phase 0 (that crossing is remembered). Each of those
//! step-by-step stretches is under `q` steps, so `q` is kept to [`MAX_PHASES`] (48: a time part in
//! multiples of 30 minutes). A longer cycle (`P1MT1M`: 1 440; `P1MT1S`: 86 400) is walked from a
//! checkpoint table instead (see the `window` module docs).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use crate::cache::MostRecentlyUsed;
use crate::calendar::{self, YEAR_LIMIT, split_month_index};

/// A chained boundary as calendar parts (Rafiki-compatible reading, mixed durations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chained {
    pub(crate) month_index: i64,
    /// Day of month; within the month between steps.
    pub(crate) day: i64,
    pub(crate) nanos_of_day: i128,
}

impl Chained {
    /// The boundary in nanoseconds since 1970-01-01T00:00 (UTC).
    pub(crate) fn nanos(&self) -> i128 {
        let (y, mo) = split_month_index(self.month_index);
        i128::from(calendar::days_from_civil(y, mo, self.day as u32)) * calendar::NANOS_PER_DAY
            + self.nanos_of_day
    }
}

/// How many jump tables are kept; the least recently used goes first.
pub(crate) const CACHED_TABLES: usize = 8;

/// The jump tables of the most recently used durations, process-wide: one of the crate's two
/// caches, its one exception to "pure" (why, and why that is safe: `crate::cache`).
static JUMP_TABLES: MostRecentlyUsed<JumpKey, JumpTable> = MostRecentlyUsed::new(CACHED_TABLES);

/// Month lengths of the regular calendar (a leap year every 4 years), by month index mod 48:
/// indices 0..12 are a leap year.
const REGULAR_MONTH_DAYS: [u8; 48] = {
    let mut days = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        days[i] = match i % 12 {
            1 if i < 12 => 29,
            1 => 28,
            3 | 5 | 8 | 10 => 30,
            _ => 31,
        };
        i += 1;
    }
    days
};

/// States of the regular chain: `(month index mod 48) · 31 + day − 1`.
const STATES: usize = 48 * 31;

/// The longest run of months without an irregular February: 200 years (February 1900 to February
/// 2100).
const MAX_REGULAR_MONTHS: i64 = 2_400;

/// A duration's whole days may span at most this many (4 regular years); beyond it a step
/// crosses so many months that few steps reach any instant, and no table is needed.
const MAX_DAYS: i64 = 1_460;

/// The longest phase cycle of the time of day a table takes: 48 (a time part in multiples of 30
/// minutes). A block is this many steps, and a lookup takes up to about three blocks one step at a
/// time (to reach phase 0 and to cross an irregular February); the table costs 1 488 · `q` lookups
/// to build.
const MAX_PHASES: i64 = 48;

fn regular_days(month_index: i64) -> i64 {
    i64::from(REGULAR_MONTH_DAYS[month_index.rem_euclid(48) as usize])
}

fn state_of(month_index: i64, day: i64) -> usize {
    month_index.rem_euclid(48) as usize * 31 + (day - 1) as usize
}

/// The nearest irregular February (February of a year divisible by 100 and not by 400) strictly
/// after `month_index` (forwards) or strictly before it (backwards).
fn next_irregular_february(month_index: i64, backward: bool) -> i64 {
    let year = month_index.div_euclid(12);
    let century = year.div_euclid(100) * 100;
    let is_irregular = |c: i64| c.rem_euclid(400) != 0;
    let mut c = if backward { century + 100 } else { century };
    // At most 5 centuries apart from the first candidate.
    loop {
        let february = c * 12 + 1;
        if backward {
            if february < month_index && is_irregular(c) {
                return february;
            }
            c -= 100;
        } else {
            if february > month_index && is_irregular(c) {
                return february;
            }
            c += 100;
        }
    }
}

/// An irregular February and its class: its year modulo 400, over 100 (1, 2 or 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IrregularFebruary {
    month_index: i64,
    class: u64,
}

impl IrregularFebruary {
    /// The first irregular February strictly beyond `month_index` in the direction.
    fn beyond(month_index: i64, backward: bool) -> IrregularFebruary {
        let month_index = next_irregular_february(month_index, backward);
        let class = month_index.div_euclid(12).rem_euclid(400) as u64 / 100;
        IrregularFebruary { month_index, class }
    }

    /// The irregular February after this one in the direction: a century on, or two past a year
    /// divisible by 400 (not an irregular February).
    fn following(self, backward: bool) -> IrregularFebruary {
        match (backward, self.class) {
            (false, 3) => IrregularFebruary {
                month_index: self.month_index + 2 * 1_200,
                class: 1,
            },
            (false, class) => IrregularFebruary {
                month_index: self.month_index + 1_200,
                class: class + 1,
            },
            (true, 1) => IrregularFebruary {
                month_index: self.month_index - 2 * 1_200,
                class: 3,
            },
            (true, class) => IrregularFebruary {
                month_index: self.month_index - 1_200,
                class: class - 1,
            },
        }
    }
}

/// What a jump table depends on: the direction and the step's months, whole days and
/// time-of-day part, the last as its phase cycle (see [`JumpKey::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JumpKey {
    backward: bool,
    months: i64,
    days: i64,
    /// How many phases the time of day cycles through (`q`); 1 for whole days.
    phases: i64,
    /// By how many phases one step moves the time of day (`r / g`); 0 for whole days.
    phase_step: i64,
}

impl JumpKey {
    /// The key for a chained step of `months` calendar months and `exact` nanoseconds, when a jump
    /// table applies: `months` at most [`MAX_REGULAR_MONTHS`], whole days at most [`MAX_DAYS`], and
    /// a time-of-day part `r` (`exact` modulo a day) whose phase cycle is short.
    ///
    /// The time of day after `k` steps is `(t₀ + k·r) mod day`. With `g = gcd(r, day)` it is
    /// `t₀ mod g` plus `g` times a *phase* in `0..q`, `q = day / g`, and a step carries one day
    /// (forwards) exactly when `phase + r/g ≥ q` (backwards, borrows when `phase < r/g`),
    /// whatever `t₀ mod g` is. So `q` steps from phase 0 are a fixed map of the 1 488 regular
    /// states, with the same carries every time: the table jumps by such blocks. For `q` up to
    /// [`MAX_PHASES`] (a time part in multiples of 30 minutes).
    pub(crate) fn new(backward: bool, months: i128, exact: i128) -> Option<JumpKey> {
        let day = calendar::NANOS_PER_DAY;
        let days = i64::try_from(exact / day).ok()?;
        let rest = exact % day;
        let (phases, phase_step) = if rest == 0 {
            (1, 0)
        } else {
            let g = calendar::gcd(rest, day);
            (i64::try_from(day / g).ok()?, i64::try_from(rest / g).ok()?)
        };
        let months = i64::try_from(months).ok()?;
        let fits = (1..=MAX_REGULAR_MONTHS).contains(&months)
            && (0..=MAX_DAYS).contains(&days)
            && exact > 0
            && phases <= MAX_PHASES;
        fits.then_some(JumpKey {
            backward,
            months,
            days,
            phases,
            phase_step,
        })
    }

    /// The phase of `c`'s time of day (0 for whole days).
    fn phase_of(&self, c: &Chained) -> i64 {
        (c.nanos_of_day / (calendar::NANOS_PER_DAY / i128::from(self.phases))) as i64
    }

    /// Whether a step from `phase` carries a day (forwards) or borrows one (backwards).
    fn carries(&self, phase: i64) -> bool {
        if self.backward {
            phase < self.phase_step
        } else {
            phase + self.phase_step >= self.phases
        }
    }

    /// The phase after a step from `phase`.
    fn next_phase(&self, phase: i64) -> i64 {
        let moved = if self.backward {
            phase - self.phase_step
        } else {
            phase + self.phase_step
        };
        moved.rem_euclid(self.phases)
    }

    /// One step on the regular calendar from `(month_index, day)`, with a time-of-day carry or
    /// not: the months, the clamp, the carry, the whole days (as `Series::chain_step`).
    fn regular_step(&self, month_index: i64, day: i64, carry: bool) -> (i64, i64) {
        let days = self.days + i64::from(carry);
        if self.backward {
            let mut m = month_index - self.months;
            let mut d = day.min(regular_days(m)) - days;
            while d < 1 {
                m -= 1;
                d += regular_days(m);
            }
            (m, d)
        } else {
            let mut m = month_index + self.months;
            let mut d = day.min(regular_days(m)) + days;
            while d > regular_days(m) {
                d -= regular_days(m);
                m += 1;
            }
            (m, d)
        }
    }
}

/// After `2^j` regular steps: the months moved and the state reached (and its day).
#[derive(Debug, Clone, Copy)]
struct Jump {
    months: i32,
    state: u16,
    day: u8,
}

/// How the chain crosses one irregular February: from a state `distance` months short of an
/// irregular February of a given class, the steps to the first boundary at or past it, the months
/// moved and the day reached.
#[derive(Debug, Clone, Copy)]
struct Crossing {
    steps: u64,
    months: i64,
    day: i64,
}

/// Hashes a [`crossing_key`] by one multiplication (Fibonacci hashing). The keys are our own
/// small integers, not input an attacker picks per entry, so SipHash's protection is not needed
/// and its cost (a third of a lookup) is not paid.
#[derive(Debug, Default, Clone, Copy)]
struct CrossingHasher(u64);

impl Hasher for CrossingHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Crossings = HashMap<u64, Crossing, BuildHasherDefault<CrossingHasher>>;

/// Crossings kept per table; past this many, new ones are computed but not kept.
const MAX_CROSSINGS: usize = 4_096;

/// The key of a [`Crossing`]: every irregular February's month index is 1 modulo 48 (a year
/// divisible by 4), so the months before it are known from `distance`; its year modulo 400 (100,
/// 200 or 300) places the irregular Februaries around it, which a step of many months may reach.
fn crossing_key(february: IrregularFebruary, distance: u64, day: i64) -> u64 {
    (distance << 7) | (february.class << 5) | day as u64
}

/// The jumps of one duration and direction on the regular calendar, `2^j` steps for every
/// level `j` (see the module docs).
#[derive(Debug)]
pub(crate) struct JumpTable {
    key: JumpKey,
    /// `jumps[j · STATES + s]`: `2^j` steps from state `s`.
    jumps: Vec<Jump>,
    levels: usize,
    /// Crossings of irregular Februaries met so far, by [`crossing_key`]: a series crosses 75
    /// irregular Februaries between years 1 and 9999, and series of one duration soon share their
    /// crossings (their chains merge).
    crossings: Mutex<Crossings>,
}

impl JumpTable {
    /// Builds the table: level 0 is one block (`phases` steps from phase 0) from every state,
    /// composed from the two one-step maps (with and without a carry); level `j + 1` composes
    /// level `j` with itself. Enough levels that one jump per level crosses a gap between
    /// irregular Februaries ([`MAX_REGULAR_MONTHS`] months; every step moves at least `months`).
    pub(crate) fn build(key: JumpKey) -> JumpTable {
        let one_step = |carry: bool| -> Vec<Jump> {
            (0..STATES)
                .map(|s| {
                    let (phase, day) = ((s / 31) as i64, (s % 31) as i64 + 1);
                    // Days a month of this phase does not have are never reached: inert.
                    if day > regular_days(phase) {
                        return Jump {
                            months: 0,
                            state: s as u16,
                            day: day as u8,
                        };
                    }
                    let (m, d) = key.regular_step(phase, day, carry);
                    Jump {
                        months: (m - phase) as i32,
                        state: state_of(m, d) as u16,
                        day: d as u8,
                    }
                })
                .collect()
        };
        let plain = one_step(false);
        let mut jumps = if key.phases == 1 {
            plain
        } else {
            let carrying = one_step(true);
            let pattern: Vec<bool> = (0..key.phases)
                .scan(0, |phase, _| {
                    let carry = key.carries(*phase);
                    *phase = key.next_phase(*phase);
                    Some(carry)
                })
                .collect();
            (0..STATES)
                .map(|s| {
                    let mut block = Jump {
                        months: 0,
                        state: s as u16,
                        day: (s % 31) as u8 + 1,
                    };
                    for carry in &pattern {
                        let map = if *carry { &carrying } else { &plain };
                        let next = map[usize::from(block.state)];
                        block = Jump {
                            months: block.months + next.months,
                            state: next.state,
                            day: next.day,
                        };
                    }
                    block
                })
                .collect()
        };
        let block_months = key.months * key.phases;
        let max_blocks = (MAX_REGULAR_MONTHS / block_months) as u64 + 1;
        let levels = (u64::BITS - max_blocks.leading_zeros()) as usize;
        jumps.reserve((levels - 1) * STATES);
        for level in 1..levels {
            let below = (level - 1) * STATES;
            for s in 0..STATES {
                let first = jumps[below + s];
                let second = jumps[below + usize::from(first.state)];
                jumps.push(Jump {
                    months: first.months + second.months,
                    state: second.state,
                    day: second.day,
                });
            }
        }
        JumpTable {
            key,
            jumps,
            levels,
            crossings: Mutex::new(Crossings::default()),
        }
    }

    /// The table for `key` if the process-wide cache has it (it becomes the most recently used).
    pub(crate) fn cached(key: JumpKey) -> Option<Arc<JumpTable>> {
        JUMP_TABLES.get(&key)
    }

    /// The table for `key`, from the process-wide cache or built (outside the lock) and cached.
    pub(crate) fn shared(key: JumpKey) -> Arc<JumpTable> {
        JUMP_TABLES.get_or_insert_with(key, || JumpTable::build(key))
    }

    /// Moves `c` forward along its chain by as many steps as possible, at most `limit`, while
    /// `keep` holds for the boundary reached; returns how many steps were taken. `keep` must
    /// hold for a prefix of the chain (true, then false forever), and `step` must be the real
    /// chained step (false once the chain leaves the calendar range). The result is that of
    /// calling `step` one step at a time.
    ///
    /// Real steps up to phase 0; then per gap between irregular Februaries: a known [`Crossing`] if
    /// there is one and it stays within `limit` and `keep`; otherwise one jump of `2^j` blocks per
    /// level, greedily from the highest, then real steps past the irregular February and back to
    /// phase 0 (a crossing, remembered when the jumps stopped at the irregular February).
    pub(crate) fn advance(
        &self,
        c: &mut Chained,
        limit: u128,
        keep: impl Fn(&Chained) -> bool,
        step: impl Fn(&mut Chained) -> bool,
    ) -> u128 {
        let backward = self.key.backward;
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        let block = self.key.phases as u64;
        // Crossings are only used and kept well inside the calendar range.
        let month_limit = (YEAR_LIMIT as i64) * 12;
        let crossing_range = month_limit - 2 * MAX_REGULAR_MONTHS - MAX_DAYS;
        let real_step = |c: &mut Chained, taken: &mut u64| {
            let mut stepped = *c;
            let ok = *taken < limit && step(&mut stepped) && keep(&stepped);
            if ok {
                *c = stepped;
                *taken += 1;
            }
            ok
        };
        let passed = |month_index: i64, february: i64| {
            if backward {
                month_index <= february
            } else {
                month_index >= february
            }
        };
        let mut crossings = self
            .crossings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut taken = 0u64;
        let mut next = IrregularFebruary::beyond(c.month_index, backward);
        loop {
            while self.key.phase_of(c) != 0 {
                if !real_step(c, &mut taken) {
                    return u128::from(taken);
                }
            }
            while passed(c.month_index, next.month_index) {
                next = next.following(backward);
            }
            let february = next.month_index;
            let distance = (february - c.month_index).unsigned_abs();
            let key = crossing_key(next, distance, c.day);
            if let Some(x) = crossings.get(&key) {
                let candidate = Chained {
                    month_index: c.month_index + x.months,
                    day: x.day,
                    nanos_of_day: c.nanos_of_day,
                };
                if x.steps <= limit - taken
                    && candidate.month_index.abs() < crossing_range
                    && keep(&candidate)
                {
                    *c = candidate;
                    taken += x.steps;
                    continue;
                }
            }
            let (from, taken_before) = (*c, taken);
            // Every block moves at least `months · phases`, so no more blocks than this fit.
            let room = (distance / (self.key.months as u64 * block)).max(1);
            let top = ((u64::BITS - room.leading_zeros()) as usize).min(self.levels);
            let mut state = state_of(c.month_index, c.day);
            for level in (0..top).rev() {
                let n = block << level;
                if limit - taken < n {
                    continue;
                }
                let jump = self.jumps[level * STATES + state];
                let month_index = c.month_index + i64::from(jump.months);
                if passed(month_index, february) || month_index.abs() > month_limit {
                    continue;
                }
                let candidate = Chained {
                    month_index,
                    day: i64::from(jump.day),
                    nanos_of_day: c.nanos_of_day,
                };
                if !keep(&candidate) {
                    continue;
                }
                *c = candidate;
                taken += n;
                state = usize::from(jump.state);
            }
            // The jumps stopped at the irregular February (not at `keep` or `limit`) when the next
            // block would reach it; otherwise real steps go on from here.
            if !passed(
                c.month_index + i64::from(self.jumps[state].months),
                february,
            ) {
                if !real_step(c, &mut taken) {
                    return u128::from(taken);
                }
                continue;
            }
            // Cross: real steps past the irregular February and back to phase 0.
            loop {
                if !real_step(c, &mut taken) {
                    return u128::from(taken);
                }
                if passed(c.month_index, february) && self.key.phase_of(c) == 0 {
                    break;
                }
            }
            if c.month_index.abs() < crossing_range && crossings.len() < MAX_CROSSINGS {
                crossings.insert(
                    key,
                    Crossing {
                        steps: taken - taken_before,
                        months: c.month_index - from.month_index,
                        day: c.day,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_calendar_is_gregorian_but_for_irregular_februaries() {
        for month_index in 1_200 * 12..2_800 * 12 {
            let (y, m) = split_month_index(month_index);
            let gregorian = i64::from(calendar::days_in_month(y, m));
            let february = m == 2 && y % 100 == 0 && y % 400 != 0;
            assert_eq!(
                regular_days(month_index) - i64::from(february),
                gregorian,
                "{y}-{m}"
            );
        }
    }

    #[test]
    fn irregular_februaries_are_those_of_common_century_years() {
        let feb = |y: i64| y * 12 + 1;
        assert_eq!(next_irregular_february(feb(2000), false), feb(2100));
        assert_eq!(next_irregular_february(feb(1900) - 1, false), feb(1900));
        assert_eq!(next_irregular_february(feb(1900), false), feb(2100));
        assert_eq!(next_irregular_february(feb(2026), true), feb(1900));
        assert_eq!(next_irregular_february(feb(2100), true), feb(1900));
        assert_eq!(next_irregular_february(feb(2100) + 1, true), feb(2100));
        assert_eq!(next_irregular_february(0, false), feb(100));
        assert_eq!(next_irregular_february(feb(100), true), feb(-100));
        assert_eq!(next_irregular_february(feb(-300), false), feb(-200));
        assert_eq!(next_irregular_february(feb(-400), false), feb(-300));
    }

    #[test]
    fn each_irregular_february_follows_the_last() {
        for backward in [false, true] {
            let mut february = IrregularFebruary::beyond(-5_000 * 12, backward);
            if backward {
                february = IrregularFebruary::beyond(5_000 * 12, backward);
            }
            for _ in 0..200 {
                let following = february.following(backward);
                assert_eq!(
                    following,
                    IrregularFebruary::beyond(february.month_index, backward)
                );
                february = following;
            }
        }
    }

    const HOUR: i128 = 3_600 * calendar::NANOS_PER_SECOND;

    fn key(s: &str) -> Option<JumpKey> {
        let (months, exact) = match s {
            "P1M1D" => (1, calendar::NANOS_PER_DAY),
            "P1MT1H" => (1, HOUR),
            "P1M1DT12H" => (1, 36 * HOUR),
            "P1MT30M" => (1, HOUR / 2),
            "P1MT1M" => (1, HOUR / 60),
            "P1MT1S" => (1, calendar::NANOS_PER_SECOND),
            _ => return None,
        };
        JumpKey::new(false, months, exact)
    }

    #[test]
    fn jump_key_for_whole_days_and_short_phase_cycles() {
        let day = calendar::NANOS_PER_DAY;
        assert!(JumpKey::new(true, 2_400, 1_460 * day).is_some());
        assert!(JumpKey::new(false, 1, 1_461 * day).is_none());
        assert!(JumpKey::new(false, 2_401, day).is_none());
        assert!(JumpKey::new(false, 0, day).is_none());
        assert!(JumpKey::new(false, 1, 0).is_none());
        let phases = |s: &str| key(s).map(|k| (k.phases, k.phase_step));
        assert_eq!(phases("P1M1D"), Some((1, 0)));
        assert_eq!(phases("P1MT1H"), Some((24, 1)));
        assert_eq!(phases("P1M1DT12H"), Some((2, 1)));
        assert_eq!(phases("P1MT30M"), Some((48, 1)));
        assert_eq!(phases("P1MT1M"), None);
        assert_eq!(phases("P1MT1S"), None);
    }

    #[test]
    fn phases_carry_as_the_time_of_day_does() {
        let day = calendar::NANOS_PER_DAY;
        for (rest, backward) in [(7 * HOUR, false), (7 * HOUR, true), (HOUR / 2, false)] {
            let Some(key) = JumpKey::new(backward, 1, 2 * day + rest) else {
                panic!("{rest}");
            };
            // 20 minutes past a phase boundary: the carry does not depend on it.
            let mut tod = HOUR / 3;
            let mut phase = key.phase_of(&Chained {
                month_index: 0,
                day: 1,
                nanos_of_day: tod,
            });
            for _ in 0..200 {
                let moved = if backward { tod - rest } else { tod + rest };
                let carry = !(0..day).contains(&moved);
                assert_eq!(key.carries(phase), carry, "{rest} {backward} {tod}");
                tod = moved.rem_euclid(day);
                phase = key.next_phase(phase);
                let c = Chained {
                    month_index: 0,
                    day: 1,
                    nanos_of_day: tod,
                };
                assert_eq!(key.phase_of(&c), phase);
            }
        }
    }

    #[test]
    fn levels_cover_the_longest_regular_run() {
        for months in [1i64, 2, 7, 12, 100, 2_400] {
            for exact in [calendar::NANOS_PER_DAY, HOUR] {
                let Some(key) = JumpKey::new(false, i128::from(months), exact) else {
                    panic!("{months} {exact}");
                };
                let table = JumpTable::build(key);
                let blocks = MAX_REGULAR_MONTHS / (months * key.phases);
                assert!((1u64 << table.levels) > blocks as u64);
                assert_eq!(table.jumps.len(), table.levels * STATES);
            }
        }
    }

    #[test]
    fn a_level_is_blocks_of_regular_steps_composed() {
        for s in ["P1M1D", "P1MT1H", "P1M1DT12H"] {
            let Some(key) = key(s) else { panic!("{s}") };
            let table = JumpTable::build(key);
            let start = (48 * 40 + 1, 29);
            let (mut m, mut d, mut phase) = (start.0, start.1, 0);
            // Level 3: 8 blocks.
            for _ in 0..8 * key.phases {
                (m, d) = key.regular_step(m, d, key.carries(phase));
                phase = key.next_phase(phase);
            }
            assert_eq!(phase, 0, "{s}");
            let jump = table.jumps[3 * STATES + state_of(start.0, start.1)];
            assert_eq!(i64::from(jump.months), m - start.0, "{s}");
            assert_eq!(usize::from(jump.state), state_of(m, d), "{s}");
            assert_eq!(i64::from(jump.day), d, "{s}");
        }
    }
}
