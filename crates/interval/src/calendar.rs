//! Proleptic Gregorian calendar arithmetic on plain integers.
//!
//! Window computations run on `i128` nanoseconds and `i64` day numbers instead of chrono values,
//! so that far-away indices cannot panic and every step is a few integer operations. Day 0 is
//! 1970-01-01; months are counted as `year * 12 + (month - 1)`.

use chrono::{DateTime, FixedOffset};

/// Nanoseconds in one second.
pub(crate) const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// Nanoseconds in one day of 24 hours (every day under a fixed offset).
pub(crate) const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SECOND;
/// The mean Gregorian month: 146 097 days / 4 800 months = 30.436875 days, in nanoseconds.
pub(crate) const NANOS_PER_MEAN_MONTH: i128 = 2_629_746 * NANOS_PER_SECOND;
/// Years beyond this (either sign) are treated as "infinitely far" by window arithmetic.
pub(crate) const YEAR_LIMIT: i128 = 1_000_000;

/// The greatest common divisor of `a` and `b` (non-negative; `gcd(0, 0) = 0`).
pub(crate) fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// Whether `year` is a Gregorian leap year.
pub(crate) fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// Days in `month` (1..=12) of `year`.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Splits a month index (`year * 12 + month - 1`) into year and month (1..=12).
pub(crate) fn split_month_index(index: i64) -> (i64, u32) {
    (index.div_euclid(12), (index.rem_euclid(12) + 1) as u32)
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A point on a wall clock, split into calendar parts; `nanos_of_day` is below one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    /// Month index: `year * 12 + month - 1`.
    pub month_index: i64,
    /// Day of month, 1..=31.
    pub day: u32,
    /// Nanoseconds since midnight.
    pub nanos_of_day: i128,
}

impl Civil {
    /// Splits wall-clock nanoseconds since 1970-01-01T00:00 into calendar parts.
    pub(crate) fn from_nanos(nanos: i128) -> Option<Civil> {
        let days = nanos.div_euclid(NANOS_PER_DAY);
        let nanos_of_day = nanos.rem_euclid(NANOS_PER_DAY);
        let days = i64::try_from(days).ok()?;
        if days.unsigned_abs() > (YEAR_LIMIT as u64) * 366 {
            return None;
        }
        let (year, month, day) = civil_from_days(days);
        Some(Civil {
            month_index: year * 12 + i64::from(month) - 1,
            day,
            nanos_of_day,
        })
    }

    /// Wall-clock nanoseconds of `month_index`, `day` clamped to that month, and the time of day.
    pub(crate) fn to_nanos_clamped(month_index: i64, day: u32, nanos_of_day: i128) -> i128 {
        let (year, month) = split_month_index(month_index);
        let day = day.min(days_in_month(year, month));
        i128::from(days_from_civil(year, month, day)) * NANOS_PER_DAY + nanos_of_day
    }
}

/// Adds `months` (any sign) to wall-clock `nanos`, clamping the day to the target month's end.
///
/// Returns `None` when the result leaves [`YEAR_LIMIT`].
pub(crate) fn add_months_clamped(nanos: i128, months: i128) -> Option<i128> {
    let civil = Civil::from_nanos(nanos)?;
    let index = i128::from(civil.month_index).checked_add(months)?;
    if index.abs() > YEAR_LIMIT * 12 {
        return None;
    }
    Some(Civil::to_nanos_clamped(
        index as i64,
        civil.day,
        civil.nanos_of_day,
    ))
}

/// Wall-clock nanoseconds since 1970-01-01T00:00 of a date-time in its own offset.
pub(crate) fn local_nanos(t: &DateTime<FixedOffset>) -> i128 {
    let local = t.naive_local().and_utc();
    i128::from(local.timestamp()) * NANOS_PER_SECOND + i128::from(local.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_a_wide_range() {
        for days in (-800_000i64..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap(2000) && is_leap(2024) && !is_leap(1900) && !is_leap(2023));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2023, 4), 30);
        assert_eq!(days_in_month(2023, 12), 31);
    }

    #[test]
    fn month_addition_clamps() {
        let jan31 = i128::from(days_from_civil(2024, 1, 31)) * NANOS_PER_DAY;
        let feb29 = i128::from(days_from_civil(2024, 2, 29)) * NANOS_PER_DAY;
        assert_eq!(add_months_clamped(jan31, 1), Some(feb29));
        let mar31 = i128::from(days_from_civil(2024, 3, 31)) * NANOS_PER_DAY;
        assert_eq!(add_months_clamped(mar31, -1), Some(feb29));
        assert_eq!(add_months_clamped(mar31, YEAR_LIMIT * 24), None);
    }
}
