//! Jump tables for the Rafiki-compatible chain of a duration that mixes months with whole days.
//!
//! # Why a jump table works here
//!
//! A chained step of `P<M>M<D>D` (forwards) moves the month by `M`, clamps the day to that
//! month's length, then adds `D` days, carrying into the following months. It reads nothing but
//! the lengths of the months it touches: the target month and those the added days run through.
//! Month lengths repeat every 48 months in the *regular* calendar (a leap year every 4 years);
//! the Gregorian calendar differs from it only in the February of a year divisible by 100 but
//! not by 400 (1700, 1800, 1900, 2100, ...: 28 days, where the regular calendar has 29). Call
//! those Februaries *fences*. A step that touches no fence is a step of the regular calendar, and
//! there the chain depends only on `(month index mod 48, day)`: 48 · 31 = 1 488 states. So the
//! map "after `2^j` regular steps from state `s`" (the next state and the months moved) is a
//! table of 1 488 entries per level, built by composing the level below (binary lifting). A walk
//! then crosses the gap between two fences (at most 200 years) in one jump per level, greedily
//! from the highest, and takes the one or two steps that touch a fence with the real calendar.
//! Since the month index only moves one way, "every step up to here touched no fence" is "the
//! month index reached is still short of the next fence". From year 1 to 9999 that is 75 fences,
//! so a few hundred table reads instead of ~120 000 steps.
//!
//! Crossing a fence is remembered too. Every fence's month index is 1 modulo 48 (its year is
//! divisible by 4), so from a state `k` months short of a fence, the jumps to it and the real
//! step over it depend only on `k`, the day, and the fence's year modulo 400 (which places the
//! fences around it): a [`Crossing`] kept in the table under that key. Chains of one duration
//! soon merge (the regular chain has one attracting cycle), so from the first few crossings on,
//! a lookup mostly reads crossings, one per century, and jumps level by level only in the gap
//! that holds its instant.
//!
//! The table depends on the duration and the direction only (not on the anchor), so every
//! series of that duration shares it: [`JumpTable::shared`] keeps the [`CACHED_TABLES`] most
//! recently used, process-wide. Building one costs 1 488 steps and 1 488 compositions per
//! level (`docs/PERFORMANCE.md` has the measured cost); at most 13 levels of 8-byte entries
//! (155 KB) and at most [`MAX_CROSSINGS`] crossings (under 300 KB allocated) per table, so under
//! 3.7 MB for all of them.
//!
//! Durations whose exact part is not a whole number of days (`P1MT1H`) add a time-of-day carry
//! that follows its own cycle (up to 86 400 · 10⁹ steps), so the chain's state is no longer
//! small; those are walked from a checkpoint table instead (see the `window` module docs).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

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

/// The longest run of months without a fence: 200 years (February 1900 to February 2100).
const MAX_FENCE_GAP: i64 = 2_400;

/// A duration's whole days may span at most this many (4 regular years); beyond it a step
/// crosses so many months that few steps reach any instant, and no table is needed.
const MAX_DAYS: i64 = 1_460;

fn regular_days(month_index: i64) -> i64 {
    i64::from(REGULAR_MONTH_DAYS[month_index.rem_euclid(48) as usize])
}

fn state_of(month_index: i64, day: i64) -> usize {
    month_index.rem_euclid(48) as usize * 31 + (day - 1) as usize
}

/// The nearest fence (February of a year divisible by 100 and not by 400) strictly after
/// `month_index` (forwards) or strictly before it (backwards).
fn next_fence(month_index: i64, backward: bool) -> i64 {
    let year = month_index.div_euclid(12);
    let century = year.div_euclid(100) * 100;
    let is_fence = |c: i64| c.rem_euclid(400) != 0;
    let mut c = if backward { century + 100 } else { century };
    // At most 5 centuries apart from the first candidate.
    loop {
        let february = c * 12 + 1;
        if backward {
            if february < month_index && is_fence(c) {
                return february;
            }
            c -= 100;
        } else {
            if february > month_index && is_fence(c) {
                return february;
            }
            c += 100;
        }
    }
}

/// A fence and its class: its year modulo 400, over 100 (1, 2 or 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fence {
    month_index: i64,
    class: u64,
}

impl Fence {
    /// The first fence strictly beyond `month_index` in the direction.
    fn beyond(month_index: i64, backward: bool) -> Fence {
        let month_index = next_fence(month_index, backward);
        let class = month_index.div_euclid(12).rem_euclid(400) as u64 / 100;
        Fence { month_index, class }
    }

    /// The fence after this one in the direction: a century on, or two past a year divisible
    /// by 400 (not a fence).
    fn following(self, backward: bool) -> Fence {
        match (backward, self.class) {
            (false, 3) => Fence {
                month_index: self.month_index + 2 * 1_200,
                class: 1,
            },
            (false, class) => Fence {
                month_index: self.month_index + 1_200,
                class: class + 1,
            },
            (true, 1) => Fence {
                month_index: self.month_index - 2 * 1_200,
                class: 3,
            },
            (true, class) => Fence {
                month_index: self.month_index - 1_200,
                class: class - 1,
            },
        }
    }
}

/// What a jump table depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JumpKey {
    backward: bool,
    months: i64,
    days: i64,
}

impl JumpKey {
    /// The key for a chained step of `months` calendar months and `exact` nanoseconds, when a
    /// jump table applies: the exact part is a whole number of days (at most [`MAX_DAYS`]) and
    /// `months` is at most [`MAX_FENCE_GAP`].
    pub(crate) fn new(backward: bool, months: i128, exact: i128) -> Option<JumpKey> {
        if exact % calendar::NANOS_PER_DAY != 0 {
            return None;
        }
        let days = i64::try_from(exact / calendar::NANOS_PER_DAY).ok()?;
        let months = i64::try_from(months).ok()?;
        ((1..=MAX_FENCE_GAP).contains(&months) && (1..=MAX_DAYS).contains(&days)).then_some(
            JumpKey {
                backward,
                months,
                days,
            },
        )
    }

    /// One step on the regular calendar from `(month_index, day)`.
    fn regular_step(&self, month_index: i64, day: i64) -> (i64, i64) {
        if self.backward {
            let mut m = month_index - self.months;
            let mut d = day.min(regular_days(m)) - self.days;
            while d < 1 {
                m -= 1;
                d += regular_days(m);
            }
            (m, d)
        } else {
            let mut m = month_index + self.months;
            let mut d = day.min(regular_days(m)) + self.days;
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

/// How the chain crosses one fence: from a state `distance` months short of a fence of a given
/// class, the steps to the first boundary at or past it, the months moved and the day reached.
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

/// The key of a [`Crossing`]: every fence's month index is 1 modulo 48 (a year divisible by 4),
/// so the months before it are known from `distance`; its year modulo 400 (100, 200 or 300)
/// places the fences around it, which a step of many months may reach.
fn crossing_key(fence: Fence, distance: u64, day: i64) -> u64 {
    (distance << 7) | (fence.class << 5) | day as u64
}

/// The jumps of one duration and direction on the regular calendar, `2^j` steps for every
/// level `j` (see the module docs).
#[derive(Debug)]
pub(crate) struct JumpTable {
    key: JumpKey,
    /// `jumps[j · STATES + s]`: `2^j` steps from state `s`.
    jumps: Vec<Jump>,
    levels: usize,
    /// Fence crossings met so far, by [`crossing_key`]: a series crosses 75 fences between years
    /// 1 and 9999, and series of one duration soon share their crossings (their chains merge).
    crossings: Mutex<Crossings>,
}

/// The most recently used tables, most recent first (at most [`CACHED_TABLES`]).
static JUMP_TABLES: Mutex<Vec<Arc<JumpTable>>> = Mutex::new(Vec::new());

impl JumpTable {
    /// Builds the table: level 0 by stepping every state once, level `j + 1` by composing
    /// level `j` with itself. Enough levels that one jump per level crosses a gap between
    /// fences ([`MAX_FENCE_GAP`] months; every step moves at least `months`).
    pub(crate) fn build(key: JumpKey) -> JumpTable {
        let max_steps = (MAX_FENCE_GAP / key.months) as u64 + 1;
        let levels = (u64::BITS - max_steps.leading_zeros()) as usize;
        let mut jumps = Vec::with_capacity(levels * STATES);
        for s in 0..STATES {
            let (phase, day) = ((s / 31) as i64, (s % 31) as i64 + 1);
            // Days a month of this phase does not have are never reached: keep them inert.
            let jump = if day > regular_days(phase) {
                Jump {
                    months: 0,
                    state: s as u16,
                    day: day as u8,
                }
            } else {
                let (m, d) = key.regular_step(phase, day);
                Jump {
                    months: (m - phase) as i32,
                    state: state_of(m, d) as u16,
                    day: d as u8,
                }
            };
            jumps.push(jump);
        }
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

    /// The table for `key`, from the process-wide cache or built (outside the lock) and cached.
    pub(crate) fn shared(key: JumpKey) -> Arc<JumpTable> {
        {
            let mut tables = JUMP_TABLES.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = tables.iter().position(|t| t.key == key) {
                tables[..=found].rotate_right(1);
                return Arc::clone(&tables[0]);
            }
        }
        let table = Arc::new(JumpTable::build(key));
        let mut tables = JUMP_TABLES.lock().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have built the same table meanwhile: keep one copy.
        if let Some(found) = tables.iter().position(|t| t.key == key) {
            tables[..=found].rotate_right(1);
            return Arc::clone(&tables[0]);
        }
        tables.insert(0, Arc::clone(&table));
        tables.truncate(CACHED_TABLES);
        table
    }

    /// Moves `c` forward along its chain by as many steps as possible, at most `limit`, while
    /// `keep` holds for the boundary reached; returns how many steps were taken. `keep` must
    /// hold for a prefix of the chain (true, then false forever), and `step` must be the real
    /// chained step (false once the chain leaves the calendar range). The result is that of
    /// calling `step` one step at a time.
    ///
    /// Per gap between fences: a known [`Crossing`] if there is one and it stays within `limit`
    /// and `keep`; otherwise one jump per level, greedily from the highest, then one real step
    /// (a crossing, remembered when the jumps stopped at the fence).
    pub(crate) fn advance(
        &self,
        c: &mut Chained,
        limit: u128,
        keep: impl Fn(&Chained) -> bool,
        step: impl Fn(&mut Chained) -> bool,
    ) -> u128 {
        let backward = self.key.backward;
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        // Crossings are only used and kept well inside the calendar range.
        let month_limit = (YEAR_LIMIT as i64) * 12;
        let crossing_range = month_limit - 2 * MAX_FENCE_GAP - MAX_DAYS;
        let mut crossings = self
            .crossings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut taken = 0u64;
        let mut next = Fence::beyond(c.month_index, backward);
        loop {
            while if backward {
                c.month_index <= next.month_index
            } else {
                c.month_index >= next.month_index
            } {
                next = next.following(backward);
            }
            let (fence_key, fence) = (next, next.month_index);
            let distance = (fence - c.month_index).unsigned_abs();
            let key = crossing_key(fence_key, distance, c.day);
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
            // Every step moves at least `months`, so no more steps than this fit before it.
            let room = (distance / self.key.months as u64).max(1);
            let top = ((u64::BITS - room.leading_zeros()) as usize).min(self.levels);
            let mut state = state_of(c.month_index, c.day);
            let short_of_fence = |month_index: i64| {
                if backward {
                    month_index > fence
                } else {
                    month_index < fence
                }
            };
            for level in (0..top).rev() {
                let n = 1u64 << level;
                if limit - taken < n {
                    continue;
                }
                let jump = self.jumps[level * STATES + state];
                let month_index = c.month_index + i64::from(jump.months);
                if !short_of_fence(month_index) || month_index.abs() > month_limit {
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
            // The jumps stopped at the fence (not at `keep` or `limit`) when the next regular
            // step would reach it: the real step from here is then the crossing.
            let at_fence = !short_of_fence(c.month_index + i64::from(self.jumps[state].months));
            // The next step touches a fence (or `keep` or `limit` stops here): one real step.
            if taken >= limit {
                return u128::from(taken);
            }
            let mut stepped = *c;
            if !step(&mut stepped) || !keep(&stepped) {
                return u128::from(taken);
            }
            *c = stepped;
            taken += 1;
            if at_fence && c.month_index.abs() < crossing_range && crossings.len() < MAX_CROSSINGS {
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
    fn regular_calendar_is_gregorian_away_from_fences() {
        for month_index in 1_200 * 12..2_800 * 12 {
            let (y, m) = split_month_index(month_index);
            let gregorian = i64::from(calendar::days_in_month(y, m));
            let fence = m == 2 && y % 100 == 0 && y % 400 != 0;
            assert_eq!(
                regular_days(month_index) - i64::from(fence),
                gregorian,
                "{y}-{m}"
            );
        }
    }

    #[test]
    fn fences_are_the_februaries_of_common_century_years() {
        let feb = |y: i64| y * 12 + 1;
        assert_eq!(next_fence(feb(2000), false), feb(2100));
        assert_eq!(next_fence(feb(1900) - 1, false), feb(1900));
        assert_eq!(next_fence(feb(1900), false), feb(2100));
        assert_eq!(next_fence(feb(2026), true), feb(1900));
        assert_eq!(next_fence(feb(2100), true), feb(1900));
        assert_eq!(next_fence(feb(2100) + 1, true), feb(2100));
        assert_eq!(next_fence(0, false), feb(100));
        assert_eq!(next_fence(feb(100), true), feb(-100));
        assert_eq!(next_fence(feb(-300), false), feb(-200));
        assert_eq!(next_fence(feb(-400), false), feb(-300));
    }

    #[test]
    fn each_fence_follows_the_last() {
        for backward in [false, true] {
            let mut fence = Fence::beyond(-5_000 * 12, backward);
            if backward {
                fence = Fence::beyond(5_000 * 12, backward);
            }
            for _ in 0..200 {
                let following = fence.following(backward);
                assert_eq!(following, Fence::beyond(fence.month_index, backward));
                fence = following;
            }
        }
    }

    #[test]
    fn jump_key_only_for_whole_days_in_range() {
        let day = calendar::NANOS_PER_DAY;
        assert!(JumpKey::new(false, 1, day).is_some());
        assert!(JumpKey::new(true, 2_400, 1_460 * day).is_some());
        assert!(JumpKey::new(false, 1, day + 1).is_none());
        assert!(JumpKey::new(false, 1, 1_461 * day).is_none());
        assert!(JumpKey::new(false, 2_401, day).is_none());
        assert!(JumpKey::new(false, 0, day).is_none());
        assert!(JumpKey::new(false, 1, 0).is_none());
    }

    #[test]
    fn levels_cover_the_longest_gap_between_fences() {
        for months in [1, 2, 7, 12, 100, 2_400] {
            let key = JumpKey {
                backward: false,
                months,
                days: 1,
            };
            let table = JumpTable::build(key);
            assert!((1u64 << table.levels) > (MAX_FENCE_GAP / months) as u64);
            assert_eq!(table.jumps.len(), table.levels * STATES);
        }
    }

    #[test]
    fn one_level_is_the_regular_step_composed() {
        let key = JumpKey {
            backward: false,
            months: 1,
            days: 14,
        };
        let table = JumpTable::build(key);
        let (mut m, mut d) = (48 * 40 + 1, 29);
        for _ in 0..8 {
            (m, d) = key.regular_step(m, d);
        }
        let jump = table.jumps[3 * STATES + state_of(48 * 40 + 1, 29)];
        assert_eq!(i64::from(jump.months), m - (48 * 40 + 1));
        assert_eq!(usize::from(jump.state), state_of(m, d));
    }
}
