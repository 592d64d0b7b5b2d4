//! The parsed value: [`RepeatingInterval`], its [`Repetitions`], [`IntervalForm`] and
//! [`Duration`], with `Display` (an equivalent string that parses back to the same value) and
//! serde as that string.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use serde::{Serialize, Serializer};

use crate::calendar::{NANOS_PER_DAY, NANOS_PER_SECOND};

/// How many intervals the series has, as written after `R`.
///
/// What a count means differs between readings: in the ISO 8601 reading `Bounded(n)` is n
/// windows in total; in the Rafiki-compatible reading it is n + 1 (the first interval plus n
/// repetitions). See [`crate::Reading`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repetitions {
    /// `R` or `R-1`: the series never ends (forwards) or never begins (backwards).
    Unbounded,
    /// `Rn`.
    Bounded(u64),
}

/// One written duration component: a whole number and an optional decimal fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Component {
    /// The digits before the decimal sign.
    pub whole: u64,
    /// The fraction in nanoths of the unit (`0.5` is 500 000 000); 0 when none was written.
    pub fraction_nanos: u32,
    /// How many fraction digits were written (0..=9); 0 means no fraction.
    pub fraction_digits: u8,
}

impl Component {
    /// A whole component without fraction.
    pub const fn whole(whole: u64) -> Self {
        Self {
            whole,
            fraction_nanos: 0,
            fraction_digits: 0,
        }
    }

    /// Whether the component is zero (including its fraction).
    pub fn is_zero(&self) -> bool {
        self.whole == 0 && self.fraction_nanos == 0
    }

    /// The component times `unit_nanos`, exactly (a fraction is in nanoths, so the result is exact
    /// whenever `unit_nanos` is a whole number of seconds).
    pub(crate) fn nanos(&self, unit_nanos: i128) -> i128 {
        i128::from(self.whole) * unit_nanos
            + i128::from(self.fraction_nanos) * unit_nanos / NANOS_PER_SECOND
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.whole)?;
        if self.fraction_digits > 0 {
            let digits = format!("{:09}", self.fraction_nanos);
            write!(
                f,
                ".{}",
                &digits[..usize::from(self.fraction_digits.min(9))]
            )?;
        }
        Ok(())
    }
}

/// How a duration was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationNotation {
    /// `PnYnMnDTnHnMnS` or `PnW`.
    Designators,
    /// The alternative form `PYYYY-MM-DDThh:mm:ss`.
    AlternativeExtended,
    /// The alternative form `PYYYYMMDDThhmmss`.
    AlternativeBasic,
}

/// A duration with its components as written (`None` for a component that was not written).
///
/// Years and months are calendar units (added on a wall clock, clamped at month ends); weeks,
/// days and the time components are exact (a day is 24 hours under a fixed offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    /// How it was written.
    pub notation: DurationNotation,
    /// `nY`.
    pub years: Option<Component>,
    /// `nM` before `T`.
    pub months: Option<Component>,
    /// `nW` (only ever alone).
    pub weeks: Option<Component>,
    /// `nD`.
    pub days: Option<Component>,
    /// `nH`.
    pub hours: Option<Component>,
    /// `nM` after `T`.
    pub minutes: Option<Component>,
    /// `nS`.
    pub seconds: Option<Component>,
}

impl Duration {
    /// The calendar part in months (`12·years + months`); `None` if it overflows a `u64`.
    ///
    /// Years and months never carry a fraction (the parser rejects it).
    pub fn calendar_months(&self) -> Option<u64> {
        let years = self.years.map_or(0, |c| c.whole);
        let months = self.months.map_or(0, |c| c.whole);
        years.checked_mul(12)?.checked_add(months)
    }

    /// The exact part (weeks, days, hours, minutes, seconds) in nanoseconds.
    pub fn exact_nanos(&self) -> i128 {
        let part = |c: Option<Component>, unit: i128| c.map_or(0, |c| c.nanos(unit));
        part(self.weeks, 7 * NANOS_PER_DAY)
            + part(self.days, NANOS_PER_DAY)
            + part(self.hours, 3_600 * NANOS_PER_SECOND)
            + part(self.minutes, 60 * NANOS_PER_SECOND)
            + part(self.seconds, NANOS_PER_SECOND)
    }

    /// Whether the duration has no calendar part, so it is a fixed length of time.
    pub fn is_exact(&self) -> bool {
        self.calendar_months() == Some(0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let get = |c: Option<Component>| c.unwrap_or(Component::whole(0));
        match self.notation {
            DurationNotation::AlternativeExtended | DurationNotation::AlternativeBasic => {
                let (date_sep, time_sep) = if self.notation == DurationNotation::AlternativeBasic {
                    ("", "")
                } else {
                    ("-", ":")
                };
                write!(
                    f,
                    "P{:04}{date_sep}{:02}{date_sep}{:02}T{:02}{time_sep}{:02}{time_sep}",
                    get(self.years).whole,
                    get(self.months).whole,
                    get(self.days).whole,
                    get(self.hours).whole,
                    get(self.minutes).whole,
                )?;
                let seconds = get(self.seconds);
                write!(f, "{:02}", seconds.whole)?;
                if seconds.fraction_digits > 0 {
                    let digits = format!("{:09}", seconds.fraction_nanos);
                    write!(
                        f,
                        ".{}",
                        &digits[..usize::from(seconds.fraction_digits.min(9))]
                    )?;
                }
                Ok(())
            }
            DurationNotation::Designators => {
                f.write_str("P")?;
                for (c, d) in [
                    (self.years, 'Y'),
                    (self.months, 'M'),
                    (self.weeks, 'W'),
                    (self.days, 'D'),
                ] {
                    if let Some(c) = c {
                        write!(f, "{c}{d}")?;
                    }
                }
                if self.hours.is_some() || self.minutes.is_some() || self.seconds.is_some() {
                    f.write_str("T")?;
                    for (c, d) in [(self.hours, 'H'), (self.minutes, 'M'), (self.seconds, 'S')] {
                        if let Some(c) = c {
                            write!(f, "{c}{d}")?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// Which two of start, end and duration were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntervalForm {
    /// `start/duration`: the series runs forwards from `start`.
    StartDuration {
        /// The anchor, in its written offset.
        start: DateTime<FixedOffset>,
        /// The step.
        duration: Duration,
    },
    /// `duration/end`: the series runs backwards from `end`.
    DurationEnd {
        /// The step.
        duration: Duration,
        /// The anchor, in its written offset.
        end: DateTime<FixedOffset>,
    },
    /// `start/end`: the series runs forwards from `start`, stepping by the exact `end - start`.
    StartEnd {
        /// The anchor, in its written offset.
        start: DateTime<FixedOffset>,
        /// The end of the first interval, strictly after `start`.
        end: DateTime<FixedOffset>,
    },
}

impl IntervalForm {
    /// The name used on the command line: `start/duration`, `duration/end` or `start/end`.
    pub fn name(&self) -> &'static str {
        match self {
            IntervalForm::StartDuration { .. } => "start/duration",
            IntervalForm::DurationEnd { .. } => "duration/end",
            IntervalForm::StartEnd { .. } => "start/end",
        }
    }
}

/// An ISO 8601 repeating interval, e.g. `R/2016-08-24T08:00:00Z/P1D`, parsed strictly.
///
/// Build one with [`str::parse`]; it formats back to an equivalent string and is (de)serialised
/// with serde as that string.
///
/// ```
/// use grantflow_interval::{RepeatingInterval, Repetitions};
///
/// let r: RepeatingInterval = "R3/2016-08-24T08:00:00+02:00/P1M".parse().unwrap();
/// assert_eq!(r.repetitions(), Repetitions::Bounded(3));
/// assert_eq!(r.to_string(), "R3/2016-08-24T08:00:00+02:00/P1M");
/// let err = "R3/2016-08-24T08:00:00/P1M".parse::<RepeatingInterval>().unwrap_err();
/// assert_eq!(err.offset, 22);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RepeatingInterval {
    pub(crate) repetitions: Repetitions,
    pub(crate) form: IntervalForm,
}

impl RepeatingInterval {
    /// The repetition count as written.
    pub fn repetitions(&self) -> Repetitions {
        self.repetitions
    }

    /// The form and its anchors and duration.
    pub fn form(&self) -> &IntervalForm {
        &self.form
    }

    /// The written start, if the form has one.
    pub fn start(&self) -> Option<DateTime<FixedOffset>> {
        match self.form {
            IntervalForm::StartDuration { start, .. } | IntervalForm::StartEnd { start, .. } => {
                Some(start)
            }
            IntervalForm::DurationEnd { .. } => None,
        }
    }

    /// The written end, if the form has one.
    pub fn end(&self) -> Option<DateTime<FixedOffset>> {
        match self.form {
            IntervalForm::DurationEnd { end, .. } | IntervalForm::StartEnd { end, .. } => Some(end),
            IntervalForm::StartDuration { .. } => None,
        }
    }

    /// The written duration, if the form has one.
    pub fn duration(&self) -> Option<&Duration> {
        match &self.form {
            IntervalForm::StartDuration { duration, .. }
            | IntervalForm::DurationEnd { duration, .. } => Some(duration),
            IntervalForm::StartEnd { .. } => None,
        }
    }
}

/// Writes a date-time in extended notation in its own offset, `Z` for a zero offset.
///
/// 10000-01-01T00:00 local (only reachable as `9999-12-31T24:00`) is written back as `24:00` so
/// that the output stays within the accepted years.
pub(crate) fn write_date_time(f: &mut impl fmt::Write, t: &DateTime<FixedOffset>) -> fmt::Result {
    let local = t.naive_local();
    let (mut y, mut mo, mut d, mut h) = (local.year(), local.month(), local.day(), local.hour());
    if y == 10_000 && mo == 1 && d == 1 && h == 0 && local.minute() == 0 {
        (y, mo, d, h) = (9999, 12, 31, 24);
    }
    write!(
        f,
        "{y:04}-{mo:02}-{d:02}T{h:02}:{:02}:{:02}",
        local.minute(),
        local.second()
    )?;
    let nanos = local.nanosecond();
    if nanos > 0 {
        let digits = format!("{nanos:09}");
        write!(f, ".{}", digits.trim_end_matches('0'))?;
    }
    let offset = t.offset().local_minus_utc();
    if offset == 0 {
        f.write_str("Z")
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs() / 60;
        write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)
    }
}

/// A date-time as RFC 3339 in its own (written) offset, `Z` for a zero offset, the fraction only
/// when non-zero.
///
/// ```
/// let t = chrono::DateTime::parse_from_rfc3339("2016-08-24T08:00:00.5+02:00").unwrap();
/// assert_eq!(grantflow_interval::format_date_time(&t), "2016-08-24T08:00:00.500+02:00");
/// ```
pub fn format_date_time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl fmt::Display for RepeatingInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.repetitions {
            Repetitions::Unbounded => f.write_str("R/")?,
            Repetitions::Bounded(n) => write!(f, "R{n}/")?,
        }
        match &self.form {
            IntervalForm::StartDuration { start, duration } => {
                write_date_time(f, start)?;
                write!(f, "/{duration}")
            }
            IntervalForm::DurationEnd { duration, end } => {
                write!(f, "{duration}/")?;
                write_date_time(f, end)
            }
            IntervalForm::StartEnd { start, end } => {
                write_date_time(f, start)?;
                f.write_str("/")?;
                write_date_time(f, end)
            }
        }
    }
}

impl Serialize for RepeatingInterval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
