//! The strict parser: `R[n]/<a>/<b>` exactly as `shared/reference/repeating-intervals.md`
//! ("Accepted syntax") specifies, by hand, byte by byte.
//!
//! Every error names the [`Part`] it was found in and the byte offset into the whole input.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};

use crate::calendar::{self, NANOS_PER_DAY, NANOS_PER_SECOND};
use crate::value::{
    Component, Duration, DurationNotation, IntervalForm, RepeatingInterval, Repetitions,
};

/// Which component of `R[n]/<a>/<b>` an error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The overall shape (slashes, characters allowed anywhere).
    Interval,
    /// The `R[n]` part.
    Repetitions,
    /// The start date-time.
    Start,
    /// The end date-time.
    End,
    /// The duration.
    Duration,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Interval => "interval",
            Part::Repetitions => "repetitions",
            Part::Start => "start date-time",
            Part::End => "end date-time",
            Part::Duration => "duration",
        })
    }
}

/// What is wrong with an input, without the where (see [`ParseError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The input is empty.
    #[error(
        "empty input; expected R[n]/<start>/<duration>, R[n]/<duration>/<end> or R[n]/<start>/<end>"
    )]
    Empty,
    /// A byte outside ASCII.
    #[error("non-ASCII character; only ASCII is accepted")]
    NotAscii,
    /// Whitespace anywhere.
    #[error("whitespace is not allowed anywhere")]
    Whitespace,
    /// A lowercase designator such as `r`, `p`, `t`, `z`, `d`.
    #[error("lowercase designator '{0}'; designators must be uppercase")]
    Lowercase(char),
    /// The input does not start with `R`.
    #[error("a repeating interval starts with 'R' (a plain interval is not accepted)")]
    MissingR,
    /// Not exactly three `/`-separated parts.
    #[error("expected exactly 3 '/'-separated parts (R[n]/<a>/<b>), found {found}")]
    PartCount {
        /// How many parts there were.
        found: usize,
    },
    /// Both `<a>` and `<b>` are durations.
    #[error("two durations; one side must be a date-time")]
    TwoDurations,
    /// `R+n`, `R-n` (other than `R-1`).
    #[error("a repetition count has no sign (only R-1 means unbounded)")]
    SignedRepetitions,
    /// Something other than ASCII digits after `R`.
    #[error("a repetition count is ASCII digits only (no fraction, exponent or other character)")]
    RepetitionsNotDigits,
    /// A count above `u64::MAX`.
    #[error("repetition count larger than {max}", max = u64::MAX)]
    RepetitionsTooLarge,
    /// A different character was expected.
    #[error("found '{found}', expected {expected}")]
    Unexpected {
        /// The character found.
        found: char,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The component ended too early.
    #[error("ends too early, expected {expected}")]
    UnexpectedEnd {
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Year 0000 or a date that falls outside years 0001-9999.
    #[error("year outside 0001-9999")]
    YearOutOfRange,
    /// Month not in 1..=12.
    #[error("month {0} does not exist")]
    MonthOutOfRange(u32),
    /// A calendar date that does not exist, e.g. `2023-02-30`.
    #[error("no such date: day {day} of {year:04}-{month:02}")]
    NoSuchDate {
        /// Year.
        year: i32,
        /// Month.
        month: u32,
        /// Day.
        day: u32,
    },
    /// An ordinal day that does not exist in its year.
    #[error("no such ordinal date: day {day} of {year:04}")]
    NoSuchOrdinalDate {
        /// Year.
        year: i32,
        /// Day of year.
        day: u32,
    },
    /// A week date that does not exist, e.g. `2016-W53-1`.
    #[error("no such week date: week {week} day {day} of {year:04}")]
    NoSuchWeekDate {
        /// Week-numbering year.
        year: i32,
        /// Week.
        week: u32,
        /// Day of week.
        day: u32,
    },
    /// Hour 24 other than exactly `24:00[:00[.0...]]`, or an hour above 24.
    #[error("hour {0} does not exist (only 00-23, and 24:00:00 for the end of a day)")]
    HourOutOfRange(u32),
    /// A minute above 59.
    #[error("minute {0} does not exist")]
    MinuteOutOfRange(u32),
    /// Second 60.
    #[error("leap second :60 is not accepted")]
    LeapSecond,
    /// A second above 60.
    #[error("second {0} does not exist")]
    SecondOutOfRange(u32),
    /// A fraction with no digits or more than 9 digits.
    #[error("a decimal fraction needs 1 to 9 digits (nanosecond precision)")]
    FractionDigits,
    /// A date without a time.
    #[error("a date-time needs 'T' and a time after the date")]
    MissingTime,
    /// No zone designator.
    #[error("no zone designator (Z, ±hh:mm, ±hhmm or ±hh); local time is ambiguous")]
    MissingZone,
    /// `-00:00`.
    #[error("offset -00:00 is not accepted (unknown local offset); write Z or +00:00")]
    NegativeZeroOffset,
    /// Offset hours above 23 or minutes above 59.
    #[error("offset out of range (hours under 24, minutes under 60)")]
    OffsetOutOfRange,
    /// Basic and extended notation mixed within one date-time.
    #[error("mixes basic and extended notation; the date is {date} so this must be too")]
    MixedNotation {
        /// The notation the date used (`basic` or `extended`).
        date: &'static str,
    },
    /// A duration with a sign.
    #[error("a duration has no sign")]
    SignedDuration,
    /// `P` or `PT` alone.
    #[error("a duration needs at least one component (e.g. P1D, PT1H)")]
    EmptyDuration,
    /// `T` with no time component after it.
    #[error("'T' must be followed by at least one of H, M, S")]
    EmptyTimePart,
    /// A designator repeated.
    #[error("designator '{0}' appears twice")]
    DuplicateDesignator(char),
    /// Designators out of order (`P1D1Y`).
    #[error("designator '{0}' is out of order (order: Y M W D T H M S)")]
    DesignatorOrder(char),
    /// `W` together with other components.
    #[error("weeks (W) cannot be combined with other components")]
    WeeksCombined,
    /// A fraction on a component that is not the last one.
    #[error("only the last component may have a fraction")]
    FractionNotLast,
    /// A fraction on years or months.
    #[error("years and months cannot have a fraction (a fraction of a month has no exact meaning)")]
    FractionOnCalendarUnit,
    /// A component above `u64::MAX`.
    #[error("component larger than {max}", max = u64::MAX)]
    ComponentTooLarge,
    /// Alternative-form carry-over limit exceeded.
    #[error("{unit} {value} exceeds the alternative form's limit {max}")]
    CarryOver {
        /// The unit (`months`, `days`, ...).
        unit: &'static str,
        /// The written value.
        value: u32,
        /// The largest accepted value.
        max: u32,
    },
    /// A zero duration.
    #[error("a zero duration repeats forever without moving")]
    ZeroDuration,
    /// End not after start.
    #[error("the end must be strictly after the start")]
    EndNotAfterStart,
    /// The first interval leaves years 0001-9999.
    #[error("the first interval must lie within years 0001-9999")]
    OutsideSupportedYears,
}

/// A rejected input: what is wrong ([`Problem`]), in which [`Part`], at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repeating interval: {part} at byte {offset}: {problem}")]
pub struct ParseError {
    /// The component the problem was found in.
    pub part: Part,
    /// Byte offset into the whole input.
    pub offset: usize,
    /// What is wrong.
    pub problem: Problem,
}

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

/// A byte cursor over one component, reporting offsets into the whole input.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
    part: Part,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], base: usize, part: Part) -> Self {
        Self {
            bytes,
            pos: 0,
            base,
            part,
        }
    }

    fn error_at(&self, pos: usize, problem: Problem) -> ParseError {
        ParseError {
            part: self.part,
            offset: self.base + pos,
            problem,
        }
    }

    fn error(&self, problem: Problem) -> ParseError {
        self.error_at(self.pos, problem)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The error for the current byte when `expected` was wanted.
    fn unexpected(&self, expected: &'static str) -> ParseError {
        match self.peek() {
            None => self.error(Problem::UnexpectedEnd { expected }),
            Some(b) if b.is_ascii_lowercase() && b"rptwzymdhs".contains(&b) => {
                self.error(Problem::Lowercase(char::from(b)))
            }
            Some(b) => self.error(Problem::Unexpected {
                found: char::from(b),
                expected,
            }),
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Exactly `n` ASCII digits.
    fn fixed(&mut self, n: usize, expected: &'static str) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(b) if b.is_ascii_digit() => {
                    v = v * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(self.unexpected(expected)),
            }
        }
        Ok(v)
    }

    /// How many ASCII digits follow.
    fn digit_run(&self) -> usize {
        self.bytes[self.pos.min(self.bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    /// An optional decimal fraction (`.` or `,` then 1-9 digits) as nanoths.
    fn fraction(&mut self) -> Result<Option<(u32, u8)>, ParseError> {
        if !matches!(self.peek(), Some(b'.' | b',')) {
            return Ok(None);
        }
        let sign_at = self.pos;
        self.pos += 1;
        let run = self.digit_run();
        if run == 0 || run > 9 {
            return Err(self.error_at(sign_at, Problem::FractionDigits));
        }
        let mut nanos = 0u32;
        for i in 0..9 {
            let digit = if i < run {
                u32::from(self.bytes[self.pos + i] - b'0')
            } else {
                0
            };
            nanos = nanos * 10 + digit;
        }
        self.pos += run;
        Ok(Some((nanos, run as u8)))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Notation {
    Basic,
    Extended,
}

impl Notation {
    fn name(self) -> &'static str {
        match self {
            Notation::Basic => "basic",
            Notation::Extended => "extended",
        }
    }
}

fn parse_date_time(
    bytes: &[u8],
    base: usize,
    part: Part,
) -> Result<DateTime<FixedOffset>, ParseError> {
    let mut c = Cursor::new(bytes, base, part);
    let year = c.fixed(4, "a four-digit year")?;
    if year == 0 {
        return Err(c.error_at(0, Problem::YearOutOfRange));
    }
    let year = year as i32;
    let date_at = c.pos;
    let (notation, date) = match c.peek() {
        Some(b'-') => {
            c.pos += 1;
            let date = match c.peek() {
                Some(b'W') => {
                    c.pos += 1;
                    let week = c.fixed(2, "a two-digit week")?;
                    c.expect(b'-', "'-' before the day of week")?;
                    let day = c.fixed(1, "a day of week 1-7")?;
                    week_date(&c, date_at, year, week, day)?
                }
                _ => match c.digit_run() {
                    2 => {
                        let month = c.fixed(2, "a two-digit month")?;
                        c.expect(b'-', "'-' before the day")?;
                        let day = c.fixed(2, "a two-digit day")?;
                        calendar_date(&c, date_at, year, month, day)?
                    }
                    3 => {
                        let day = c.fixed(3, "a three-digit day of year")?;
                        ordinal_date(&c, date_at, year, day)?
                    }
                    _ => return Err(c.unexpected("MM-DD, DDD or Www-D after the year")),
                },
            };
            (Notation::Extended, date)
        }
        Some(b'W') => {
            c.pos += 1;
            let week = c.fixed(2, "a two-digit week")?;
            let day = c.fixed(1, "a day of week 1-7")?;
            (Notation::Basic, week_date(&c, date_at, year, week, day)?)
        }
        Some(b) if b.is_ascii_digit() => match c.digit_run() {
            4 => {
                let month = c.fixed(2, "a two-digit month")?;
                let day = c.fixed(2, "a two-digit day")?;
                (
                    Notation::Basic,
                    calendar_date(&c, date_at, year, month, day)?,
                )
            }
            3 => {
                let day = c.fixed(3, "a three-digit day of year")?;
                (Notation::Basic, ordinal_date(&c, date_at, year, day)?)
            }
            _ => return Err(c.unexpected("MMDD, DDD or Www-D after the year")),
        },
        _ => {
            return Err(c.unexpected("a complete date (YYYY-MM-DD, YYYY-DDD or YYYY-Www-D)"));
        }
    };
    match c.peek() {
        Some(b'T') => c.pos += 1,
        None => return Err(c.error(Problem::MissingTime)),
        _ => return Err(c.unexpected("'T' and a time after the date")),
    }
    let mixed = |c: &Cursor<'_>| {
        c.error(Problem::MixedNotation {
            date: notation.name(),
        })
    };
    let time_at = c.pos;
    let hour = c.fixed(2, "a two-digit hour")?;
    let (mut minute, mut second) = (0, 0);
    // The unit of the last written time component, in seconds (for its fraction).
    let mut unit = 3_600u32;
    match c.peek() {
        Some(b':') => {
            if notation != Notation::Extended {
                return Err(mixed(&c));
            }
            c.pos += 1;
            minute = c.fixed(2, "a two-digit minute")?;
            unit = 60;
            if c.peek() == Some(b':') {
                c.pos += 1;
                second = c.fixed(2, "a two-digit second")?;
                unit = 1;
            }
        }
        Some(b) if b.is_ascii_digit() => {
            if notation != Notation::Basic {
                return Err(mixed(&c));
            }
            minute = c.fixed(2, "a two-digit minute")?;
            unit = 60;
            if c.peek().is_some_and(|b| b.is_ascii_digit()) {
                second = c.fixed(2, "a two-digit second")?;
                unit = 1;
            }
        }
        _ => {}
    }
    let fraction = c.fraction()?.map_or(0, |(nanos, _)| nanos);
    if hour > 24 || (hour == 24 && (minute != 0 || second != 0 || fraction != 0)) {
        return Err(c.error_at(time_at, Problem::HourOutOfRange(hour)));
    }
    if minute > 59 {
        return Err(c.error_at(time_at, Problem::MinuteOutOfRange(minute)));
    }
    if second == 60 {
        return Err(c.error_at(time_at, Problem::LeapSecond));
    }
    if second > 60 {
        return Err(c.error_at(time_at, Problem::SecondOutOfRange(second)));
    }
    let nanos_of_day = (i128::from(hour) * 3_600 + i128::from(minute) * 60 + i128::from(second))
        * NANOS_PER_SECOND
        + i128::from(fraction) * i128::from(unit);
    let offset_at = c.pos;
    let offset_seconds = match c.peek() {
        Some(b'Z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let hours = c.fixed(2, "two-digit offset hours")?;
            let minutes = match c.peek() {
                Some(b':') => {
                    if notation != Notation::Extended {
                        return Err(mixed(&c));
                    }
                    c.pos += 1;
                    c.fixed(2, "two-digit offset minutes")?
                }
                Some(b) if b.is_ascii_digit() => {
                    if notation != Notation::Basic {
                        return Err(mixed(&c));
                    }
                    c.fixed(2, "two-digit offset minutes")?
                }
                _ => 0,
            };
            if hours > 23 || minutes > 59 {
                return Err(c.error_at(offset_at, Problem::OffsetOutOfRange));
            }
            let seconds = (hours * 3_600 + minutes * 60) as i32;
            if sign == b'-' && seconds == 0 {
                return Err(c.error_at(offset_at, Problem::NegativeZeroOffset));
            }
            if sign == b'-' { -seconds } else { seconds }
        }
        None => return Err(c.error(Problem::MissingZone)),
        Some(_) => return Err(c.unexpected("a zone designator (Z, ±hh:mm, ±hhmm or ±hh)")),
    };
    if !c.at_end() {
        return Err(c.unexpected("the end of the date-time"));
    }
    let offset = FixedOffset::east_opt(offset_seconds)
        .ok_or_else(|| c.error_at(offset_at, Problem::OffsetOutOfRange))?;
    let (day_shift, nanos_of_day) = if nanos_of_day >= NANOS_PER_DAY {
        (1, nanos_of_day - NANOS_PER_DAY)
    } else {
        (0, nanos_of_day)
    };
    let secs = (nanos_of_day / NANOS_PER_SECOND) as u32;
    let sub = (nanos_of_day % NANOS_PER_SECOND) as u32;
    let local = NaiveTime::from_num_seconds_from_midnight_opt(secs, sub)
        .and_then(|time| {
            date.checked_add_days(chrono::Days::new(day_shift))
                .map(|d| NaiveDateTime::new(d, time))
        })
        .ok_or_else(|| c.error_at(time_at, Problem::HourOutOfRange(hour)))?;
    offset
        .from_local_datetime(&local)
        .single()
        .ok_or_else(|| c.error_at(offset_at, Problem::OffsetOutOfRange))
}

fn in_years(c: &Cursor<'_>, at: usize, date: NaiveDate) -> Result<NaiveDate, ParseError> {
    use chrono::Datelike;
    if (1..=9999).contains(&date.year()) {
        Ok(date)
    } else {
        Err(c.error_at(at, Problem::YearOutOfRange))
    }
}

fn calendar_date(
    c: &Cursor<'_>,
    at: usize,
    year: i32,
    month: u32,
    day: u32,
) -> Result<NaiveDate, ParseError> {
    if !(1..=12).contains(&month) {
        return Err(c.error_at(at, Problem::MonthOutOfRange(month)));
    }
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| c.error_at(at, Problem::NoSuchDate { year, month, day }))
}

fn ordinal_date(c: &Cursor<'_>, at: usize, year: i32, day: u32) -> Result<NaiveDate, ParseError> {
    NaiveDate::from_yo_opt(year, day)
        .ok_or_else(|| c.error_at(at, Problem::NoSuchOrdinalDate { year, day }))
}

fn week_date(
    c: &Cursor<'_>,
    at: usize,
    year: i32,
    week: u32,
    day: u32,
) -> Result<NaiveDate, ParseError> {
    let weekday = match day {
        1 => Some(Weekday::Mon),
        2 => Some(Weekday::Tue),
        3 => Some(Weekday::Wed),
        4 => Some(Weekday::Thu),
        5 => Some(Weekday::Fri),
        6 => Some(Weekday::Sat),
        7 => Some(Weekday::Sun),
        _ => None,
    };
    let date = weekday
        .and_then(|w| NaiveDate::from_isoywd_opt(year, week, w))
        .ok_or_else(|| c.error_at(at, Problem::NoSuchWeekDate { year, week, day }))?;
    in_years(c, at, date)
}

fn parse_duration(bytes: &[u8], base: usize) -> Result<Duration, ParseError> {
    let mut c = Cursor::new(bytes, base, Part::Duration);
    if matches!(c.peek(), Some(b'+' | b'-')) {
        return Err(c.error(Problem::SignedDuration));
    }
    c.expect(b'P', "'P'")?;
    if matches!(c.peek(), Some(b'+' | b'-')) {
        return Err(c.error(Problem::SignedDuration));
    }
    if c.at_end() {
        return Err(c.error_at(0, Problem::EmptyDuration));
    }
    let run = c.digit_run();
    let duration = match (run, c.peek_at(run)) {
        (4, Some(b'-')) => alternative(&mut c, Notation::Extended)?,
        (8, Some(b'T')) => alternative(&mut c, Notation::Basic)?,
        _ => designators(&mut c)?,
    };
    let all_zero = [
        duration.years,
        duration.months,
        duration.weeks,
        duration.days,
        duration.hours,
        duration.minutes,
        duration.seconds,
    ]
    .iter()
    .all(|x| x.is_none_or(|x| x.is_zero()));
    if all_zero {
        return Err(c.error_at(0, Problem::ZeroDuration));
    }
    Ok(duration)
}

fn alternative(c: &mut Cursor<'_>, notation: Notation) -> Result<Duration, ParseError> {
    let extended = notation == Notation::Extended;
    let field = |c: &mut Cursor<'_>,
                 width: usize,
                 unit: &'static str,
                 max: Option<u32>,
                 sep: Option<(u8, &'static str)>|
     -> Result<Component, ParseError> {
        if let Some((byte, expected)) = sep {
            c.expect(byte, expected)?;
        }
        let at = c.pos;
        let value = c.fixed(width, "digits of the alternative duration form")?;
        if let Some(max) = max.filter(|max| value > *max) {
            return Err(c.error_at(at, Problem::CarryOver { unit, value, max }));
        }
        Ok(Component::whole(u64::from(value)))
    };
    let dash = extended.then_some((b'-', "'-'"));
    let colon = extended.then_some((b':', "':'"));
    let years = field(c, 4, "years", None, None)?;
    let months = field(c, 2, "months", Some(12), dash)?;
    let days = field(c, 2, "days", Some(30), dash)?;
    let hours = field(c, 2, "hours", Some(24), Some((b'T', "'T'")))?;
    let minutes = field(c, 2, "minutes", Some(60), colon)?;
    let mut seconds = field(c, 2, "seconds", Some(60), colon)?;
    if let Some((nanos, digits)) = c.fraction()? {
        seconds.fraction_nanos = nanos;
        seconds.fraction_digits = digits;
    }
    if !c.at_end() {
        return Err(c.unexpected("the end of the duration"));
    }
    Ok(Duration {
        notation: if extended {
            DurationNotation::AlternativeExtended
        } else {
            DurationNotation::AlternativeBasic
        },
        years: Some(years),
        months: Some(months),
        weeks: None,
        days: Some(days),
        hours: Some(hours),
        minutes: Some(minutes),
        seconds: Some(seconds),
    })
}

fn designators(c: &mut Cursor<'_>) -> Result<Duration, ParseError> {
    let mut slots: [Option<Component>; 7] = [None; 7];
    let mut last_rank: Option<usize> = None;
    let mut in_time = false;
    let mut fraction_seen = false;
    while !c.at_end() {
        if fraction_seen {
            return Err(c.error(Problem::FractionNotLast));
        }
        if c.peek() == Some(b'T') {
            if in_time {
                return Err(c.unexpected("a number before H, M or S"));
            }
            in_time = true;
            c.pos += 1;
            if c.at_end() {
                return Err(c.error_at(c.pos - 1, Problem::EmptyTimePart));
            }
            continue;
        }
        let at = c.pos;
        let run = c.digit_run();
        if run == 0 {
            return Err(c.unexpected(if in_time {
                "a number before H, M or S"
            } else {
                "a number before Y, M, W or D, or 'T'"
            }));
        }
        let mut whole: u64 = 0;
        for i in 0..run {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u64::from(c.bytes[c.pos + i] - b'0')))
                .ok_or_else(|| c.error_at(at, Problem::ComponentTooLarge))?;
        }
        c.pos += run;
        let fraction = c.fraction()?;
        let designator_at = c.pos;
        let (rank, name) = match (in_time, c.peek()) {
            (false, Some(b'Y')) => (0, 'Y'),
            (false, Some(b'M')) => (1, 'M'),
            (false, Some(b'W')) => (2, 'W'),
            (false, Some(b'D')) => (3, 'D'),
            (true, Some(b'H')) => (4, 'H'),
            (true, Some(b'M')) => (5, 'M'),
            (true, Some(b'S')) => (6, 'S'),
            (false, _) => return Err(c.unexpected("a designator Y, M, W or D")),
            (true, _) => return Err(c.unexpected("a designator H, M or S")),
        };
        c.pos += 1;
        if let Some(last) = last_rank {
            if rank == last {
                return Err(c.error_at(designator_at, Problem::DuplicateDesignator(name)));
            }
            if rank < last {
                return Err(c.error_at(designator_at, Problem::DesignatorOrder(name)));
            }
        }
        last_rank = Some(rank);
        let mut component = Component::whole(whole);
        if let Some((nanos, digits)) = fraction {
            if rank <= 1 {
                return Err(c.error_at(at, Problem::FractionOnCalendarUnit));
            }
            component.fraction_nanos = nanos;
            component.fraction_digits = digits;
            fraction_seen = true;
        }
        slots[rank] = Some(component);
    }
    if slots.iter().all(Option::is_none) {
        return Err(c.error_at(0, Problem::EmptyDuration));
    }
    if slots[2].is_some() && slots.iter().filter(|s| s.is_some()).count() > 1 {
        return Err(c.error_at(0, Problem::WeeksCombined));
    }
    let [years, months, weeks, days, hours, minutes, seconds] = slots;
    Ok(Duration {
        notation: DurationNotation::Designators,
        years,
        months,
        weeks,
        days,
        hours,
        minutes,
        seconds,
    })
}

/// Wall-clock nanoseconds since 1970-01-01T00:00 of a date-time in its own offset.
pub(crate) fn local_nanos(t: &DateTime<FixedOffset>) -> i128 {
    let local = t.naive_local().and_utc();
    i128::from(local.timestamp()) * NANOS_PER_SECOND + i128::from(local.timestamp_subsec_nanos())
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike};

    fn ok(s: &str) -> RepeatingInterval {
        match parse(s) {
            Ok(r) => r,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn err(s: &str) -> ParseError {
        match parse(s) {
            Ok(r) => panic!("{s:?} should be rejected, parsed as {r}"),
            Err(e) => e,
        }
    }

    fn problem(s: &str) -> Problem {
        err(s).problem
    }

    fn start(s: &str) -> DateTime<FixedOffset> {
        ok(s).start().unwrap_or_else(|| panic!("{s} has a start"))
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    // Rule 1: shape.
    #[test]
    fn the_three_forms_parse() {
        let r = ok("R/2016-08-24T08:00:00Z/P1D");
        assert!(matches!(r.form(), IntervalForm::StartDuration { .. }));
        let r = ok("R2/P1M/2022-10-01T13:00:00Z");
        assert!(matches!(r.form(), IntervalForm::DurationEnd { .. }));
        assert_eq!(r.end(), Some(at("2022-10-01T13:00:00Z")));
        let r = ok("R2/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z");
        assert!(matches!(r.form(), IntervalForm::StartEnd { .. }));
    }

    #[test]
    fn shape_errors() {
        assert_eq!(problem(""), Problem::Empty);
        assert_eq!(problem("2016-08-24T08:00:00Z/P1D"), Problem::MissingR);
        assert_eq!(problem("R/P1D"), Problem::PartCount { found: 2 });
        assert_eq!(problem("R"), Problem::PartCount { found: 1 });
        assert_eq!(
            problem("R/2016-08-24T08:00:00Z/P1D/P1D"),
            Problem::PartCount { found: 4 }
        );
        assert_eq!(problem("R/P1D/P2D"), Problem::TwoDurations);
        assert_eq!(
            problem("r/2016-08-24T08:00:00Z/P1D"),
            Problem::Lowercase('r')
        );
        let e = err("R/2016-08-24T08:00:00Z/p1D");
        assert_eq!((e.part, e.offset), (Part::Duration, 23));
        assert_eq!(e.problem, Problem::Lowercase('p'));
    }

    #[test]
    fn ascii_only_and_no_whitespace() {
        let e = err("R/2016-08-24T08:00:00Z/P١D");
        assert_eq!((e.problem, e.offset), (Problem::NotAscii, 24));
        for s in [
            " R/2016-08-24T08:00:00Z/P1D",
            "R/2016-08-24T08:00:00Z/P1D ",
            "R /2016-08-24T08:00:00Z/P1D",
            "R/2016-08-24 08:00:00Z/P1D",
            "R/2016-08-24T08:00:00Z/P1D\n",
            "R/2016-08-24T08:00:00Z/\tP1D",
        ] {
            assert_eq!(problem(s), Problem::Whitespace, "{s:?}");
        }
        assert_eq!(err("R/2016-08-24 08:00:00Z/P1D").offset, 12);
    }

    #[test]
    fn uppercase_designators_only() {
        for (s, c) in [
            ("R/2016-08-24t08:00:00Z/P1D", 't'),
            ("R/2016-08-24T08:00:00z/P1D", 'z'),
            ("R/2016-08-24T08:00:00Z/P1d", 'd'),
            ("R/2016-08-24T08:00:00Z/PT1h", 'h'),
            ("R/2016-08-24T08:00:00Z/P1y", 'y'),
            ("R/2016-08-24T08:00:00Z/P1w", 'w'),
            ("R/2016-08-24T08:00:00Z/P1m", 'm'),
            ("R/2016-08-24T08:00:00Z/PT1s", 's'),
            ("R/2016-08-24T08:00:00Z/P1Dt1H", 't'),
        ] {
            assert_eq!(problem(s), Problem::Lowercase(c), "{s}");
        }
    }

    // Rule 2: repetitions.
    #[test]
    fn repetition_counts() {
        let reps = |s: &str| ok(&format!("{s}/2016-08-24T08:00:00Z/P1D")).repetitions();
        assert_eq!(reps("R"), Repetitions::Unbounded);
        assert_eq!(reps("R-1"), Repetitions::Unbounded);
        assert_eq!(reps("R0"), Repetitions::Bounded(0));
        assert_eq!(reps("R007"), Repetitions::Bounded(7));
        assert_eq!(
            reps("R18446744073709551615"),
            Repetitions::Bounded(u64::MAX)
        );
        assert_eq!(
            reps("R00018446744073709551615"),
            Repetitions::Bounded(u64::MAX)
        );
    }

    #[test]
    fn repetition_errors() {
        let p = |s: &str| problem(&format!("{s}/2016-08-24T08:00:00Z/P1D"));
        assert_eq!(p("R+2"), Problem::SignedRepetitions);
        assert_eq!(p("R-2"), Problem::SignedRepetitions);
        assert_eq!(p("R-0"), Problem::SignedRepetitions);
        assert_eq!(p("R-"), Problem::SignedRepetitions);
        assert_eq!(p("R1.5"), Problem::RepetitionsNotDigits);
        assert_eq!(p("R1e3"), Problem::RepetitionsNotDigits);
        assert_eq!(p("Rn"), Problem::RepetitionsNotDigits);
        assert_eq!(p("R١"), Problem::NotAscii);
        assert_eq!(p("R18446744073709551616"), Problem::RepetitionsTooLarge);
        assert_eq!(p("R99999999999999999999999"), Problem::RepetitionsTooLarge);
        let e = err("R1.5/2016-08-24T08:00:00Z/P1D");
        assert_eq!((e.part, e.offset), (Part::Repetitions, 2));
    }

    // Rule 3: date-times.
    #[test]
    fn calendar_ordinal_and_week_dates_agree() {
        let expected = at("2016-08-24T08:00:00Z");
        for s in [
            "R/2016-08-24T08:00:00Z/P1D",
            "R/2016-237T08:00:00Z/P1D",
            "R/2016-W34-3T08:00:00Z/P1D",
            "R/20160824T080000Z/P1D",
            "R/2016237T080000Z/P1D",
            "R/2016W343T080000Z/P1D",
        ] {
            assert_eq!(start(s), expected, "{s}");
        }
        // Week 1 of 2021 starts on Monday 2021-01-04; 2020 has 53 weeks.
        assert_eq!(start("R/2021-W01-1T00Z/P1D"), at("2021-01-04T00:00:00Z"));
        assert_eq!(start("R/2020-W53-7T00Z/P1D"), at("2021-01-03T00:00:00Z"));
        assert_eq!(start("R/2016-366T00Z/P1D"), at("2016-12-31T00:00:00Z"));
    }

    #[test]
    fn times_with_reduced_precision_and_fractions() {
        assert_eq!(start("R/2016-08-24T08Z/P1D"), at("2016-08-24T08:00:00Z"));
        assert_eq!(start("R/2016-08-24T08:30Z/P1D"), at("2016-08-24T08:30:00Z"));
        assert_eq!(start("R/2016-08-24T08.5Z/P1D"), at("2016-08-24T08:30:00Z"));
        assert_eq!(
            start("R/2016-08-24T08:30,5Z/P1D"),
            at("2016-08-24T08:30:30Z")
        );
        assert_eq!(
            start("R/2016-08-24T08:30:00.123456789Z/P1D"),
            at("2016-08-24T08:30:00.123456789Z")
        );
        assert_eq!(start("R/20160824T0830.25Z/P1D"), at("2016-08-24T08:30:15Z"));
        assert_eq!(
            problem("R/2016-08-24T08:30:00.Z/P1D"),
            Problem::FractionDigits
        );
        assert_eq!(
            problem("R/2016-08-24T08:30:00.1234567891Z/P1D"),
            Problem::FractionDigits
        );
        // A fraction only on the last component.
        assert!(matches!(
            problem("R/2016-08-24T08.5:30Z/P1D"),
            Problem::Unexpected { found: ':', .. }
        ));
    }

    #[test]
    fn zone_designator_is_required_and_kept() {
        assert_eq!(problem("R/2016-08-24T08:00:00/P1D"), Problem::MissingZone);
        let e = err("R3/2016-08-24T08:00:00/P1M");
        assert_eq!((e.part, e.offset), (Part::Start, 22));
        for (s, secs) in [
            ("R/2016-08-24T08:00:00Z/P1D", 0),
            ("R/2016-08-24T08:00:00+00:00/P1D", 0),
            ("R/2016-08-24T08:00:00+02:00/P1D", 7_200),
            ("R/2016-08-24T08:00:00-05:30/P1D", -19_800),
            ("R/20160824T080000+0200/P1D", 7_200),
            ("R/2016-08-24T08:00:00+02/P1D", 7_200),
            ("R/20160824T080000-02/P1D", -7_200),
            ("R/2016-08-24T08:00:00+23:59/P1D", 86_340),
        ] {
            assert_eq!(start(s).offset().local_minus_utc(), secs, "{s}");
        }
        assert_eq!(
            start("R/2016-08-24T08:00:00+02:00/P1D"),
            at("2016-08-24T06:00:00Z")
        );
    }

    #[test]
    fn offset_errors() {
        for s in [
            "R/2016-08-24T08:00:00-00:00/P1D",
            "R/20160824T080000-0000/P1D",
            "R/2016-08-24T08:00:00-00/P1D",
        ] {
            assert_eq!(problem(s), Problem::NegativeZeroOffset, "{s}");
        }
        assert_eq!(
            problem("R/2016-08-24T08:00:00+24:00/P1D"),
            Problem::OffsetOutOfRange
        );
        assert_eq!(
            problem("R/2016-08-24T08:00:00+01:60/P1D"),
            Problem::OffsetOutOfRange
        );
        assert!(matches!(
            problem("R/2016-08-24T08:00:00+1/P1D"),
            Problem::UnexpectedEnd { .. }
        ));
        assert!(matches!(
            problem("R/2016-08-24T08:00:00+01:0/P1D"),
            Problem::UnexpectedEnd { .. }
        ));
    }

    #[test]
    fn basic_and_extended_are_not_mixed() {
        for s in [
            "R/2016-08-24T080000Z/P1D",
            "R/20160824T08:00:00Z/P1D",
            "R/2016-08-24T08:00:00+0200/P1D",
            "R/20160824T080000+02:00/P1D",
            "R/2016-08-24T0800Z/P1D",
            "R/20160824T08:00Z/P1D",
            "R/2016-W34-3T0800Z/P1D",
            "R/2016237T08:00Z/P1D",
        ] {
            assert!(
                matches!(problem(s), Problem::MixedNotation { .. }),
                "{s}: {}",
                err(s)
            );
        }
        // `Z`, `±hh` and a bare hour count as either.
        ok("R/20160824T08Z/P1D");
        ok("R/2016-08-24T08+02/P1D");
        ok("R/20160824T08+02/P1D");
    }

    #[test]
    fn hour_24_is_the_end_of_the_day() {
        for s in [
            "R/2016-08-24T24:00:00Z/P1D",
            "R/2016-08-24T24:00Z/P1D",
            "R/2016-08-24T24Z/P1D",
            "R/2016-08-24T24:00:00.000Z/P1D",
        ] {
            assert_eq!(start(s), at("2016-08-25T00:00:00Z"), "{s}");
        }
        assert_eq!(start("R/2016-12-31T24:00Z/P1D"), at("2017-01-01T00:00:00Z"));
        for s in [
            "R/2016-08-24T24:00:01Z/P1D",
            "R/2016-08-24T24:01Z/P1D",
            "R/2016-08-24T24:00:00.5Z/P1D",
            "R/2016-08-24T25:00:00Z/P1D",
        ] {
            assert!(matches!(problem(s), Problem::HourOutOfRange(_)), "{s}");
        }
    }

    #[test]
    fn time_fields_in_range() {
        assert_eq!(problem("R/2016-12-31T23:59:60Z/P1D"), Problem::LeapSecond);
        assert_eq!(
            problem("R/2016-12-31T23:59:61Z/P1D"),
            Problem::SecondOutOfRange(61)
        );
        assert_eq!(
            problem("R/2016-12-31T23:60:00Z/P1D"),
            Problem::MinuteOutOfRange(60)
        );
    }

    #[test]
    fn dates_must_exist() {
        assert!(matches!(
            problem("R/2023-02-30T00Z/P1D"),
            Problem::NoSuchDate { .. }
        ));
        assert!(matches!(
            problem("R/2023-02-29T00Z/P1D"),
            Problem::NoSuchDate { .. }
        ));
        ok("R/2024-02-29T00Z/P1D");
        assert!(matches!(
            problem("R/2023-04-31T00Z/P1D"),
            Problem::NoSuchDate { .. }
        ));
        assert_eq!(
            problem("R/2023-13-01T00Z/P1D"),
            Problem::MonthOutOfRange(13)
        );
        assert_eq!(problem("R/2023-00-01T00Z/P1D"), Problem::MonthOutOfRange(0));
        assert!(matches!(
            problem("R/2023-12-00T00Z/P1D"),
            Problem::NoSuchDate { .. }
        ));
        assert!(matches!(
            problem("R/2016-W53-1T00Z/P1D"),
            Problem::NoSuchWeekDate { .. }
        ));
        assert!(matches!(
            problem("R/2016-W00-1T00Z/P1D"),
            Problem::NoSuchWeekDate { .. }
        ));
        assert!(matches!(
            problem("R/2016-W01-8T00Z/P1D"),
            Problem::NoSuchWeekDate { .. }
        ));
        assert!(matches!(
            problem("R/2023-366T00Z/P1D"),
            Problem::NoSuchOrdinalDate { .. }
        ));
        assert!(matches!(
            problem("R/2023-000T00Z/P1D"),
            Problem::NoSuchOrdinalDate { .. }
        ));
    }

    #[test]
    fn years_0001_to_9999() {
        assert_eq!(problem("R/0000-01-01T00Z/P1D"), Problem::YearOutOfRange);
        assert_eq!(start("R/0001-01-01T00Z/P1D").year(), 1);
        ok("R/9999-12-30T00Z/P1D");
        assert!(matches!(
            problem("R/10000-01-01T00Z/P1D"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            problem("R/+2016-08-24T00Z/P1D"),
            Problem::Unexpected { .. }
        ));
        // 9999-W52-7 is 10000-01-02.
        assert_eq!(problem("R/9999-W52-7T00Z/P1D"), Problem::YearOutOfRange);
    }

    #[test]
    fn complete_date_and_time_required() {
        assert_eq!(problem("R/2016-08-24/P1D"), Problem::MissingTime);
        assert!(matches!(
            problem("R/2016-08T08Z/P1D"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            problem("R/2016T08Z/P1D"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            problem("R/2016-08-24TZ/P1D"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            problem("R/2016-08-24T8Z/P1D"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            problem("R/2016-08-24T08:00:00ZZ/P1D"),
            Problem::Unexpected { .. }
        ));
    }

    #[test]
    fn rafiki_malformed_inputs_are_rejected() {
        for s in [
            "R4/2022-07-01T:13:00:00Z/P1M",
            "R4/2022-07-01Z13:00:00T/P1M",
            "R4/2022-07-01T13-00-00Z/P1M",
            "Rn/2022-07-01T13:00:00Z/P1M",
            "2022-07-01T13:00:00Z/P1M",
        ] {
            assert!(parse(s).is_err(), "{s}");
        }
    }

    // Rule 4: durations.
    fn duration(s: &str) -> Duration {
        *ok(&format!("R/2016-08-24T08:00:00Z/{s}"))
            .duration()
            .unwrap_or_else(|| panic!("{s} has a duration"))
    }

    fn duration_problem(s: &str) -> Problem {
        problem(&format!("R/2016-08-24T08:00:00Z/{s}"))
    }

    #[test]
    fn designator_durations() {
        let d = duration("P1Y2M3DT4H5M6S");
        assert_eq!(d.calendar_months(), Some(14));
        assert_eq!(
            d.exact_nanos(),
            ((3 * 24 + 4) * 3600 + 5 * 60 + 6) * NANOS_PER_SECOND
        );
        let d = duration("P2W");
        assert_eq!(d.weeks, Some(Component::whole(2)));
        assert_eq!(d.exact_nanos(), 14 * NANOS_PER_DAY);
        let d = duration("PT1.5H");
        assert_eq!(d.exact_nanos(), 5_400 * NANOS_PER_SECOND);
        let d = duration("P1DT0,5S");
        assert_eq!(d.exact_nanos(), NANOS_PER_DAY + NANOS_PER_SECOND / 2);
        let d = duration("P1Y0M");
        assert_eq!(d.months, Some(Component::whole(0)));
        assert_eq!(duration("P0.5W").exact_nanos(), 7 * NANOS_PER_DAY / 2);
        assert_eq!(duration("P0001D").days, Some(Component::whole(1)));
    }

    #[test]
    fn alternative_durations() {
        let d = duration("P0001-02-03T04:05:06");
        assert_eq!(d.notation, DurationNotation::AlternativeExtended);
        assert_eq!(d.calendar_months(), Some(14));
        assert_eq!(
            d.exact_nanos(),
            ((3 * 24 + 4) * 3600 + 5 * 60 + 6) * NANOS_PER_SECOND
        );
        let b = duration("P00010203T040506");
        assert_eq!(b.notation, DurationNotation::AlternativeBasic);
        assert_eq!(b.exact_nanos(), d.exact_nanos());
        assert_eq!(
            duration("P0000-00-00T00:00:01.5").exact_nanos(),
            3 * NANOS_PER_SECOND / 2
        );
        ok("R/2016-08-24T08:00:00Z/P0000-12-30T24:60:60");
        for (s, unit) in [
            ("P0000-13-00T00:00:00", "months"),
            ("P0000-00-31T00:00:00", "days"),
            ("P0000-00-00T25:00:00", "hours"),
            ("P0000-00-00T00:61:00", "minutes"),
            ("P0000-00-00T00:00:61", "seconds"),
            ("P00000031T000000", "days"),
        ] {
            assert!(
                matches!(duration_problem(s), Problem::CarryOver { unit: u, .. } if u == unit),
                "{s}"
            );
        }
        assert_eq!(
            duration_problem("P0000-00-00T00:00:00"),
            Problem::ZeroDuration
        );
        for s in [
            "P0001-02-03",
            "P0001-02-03T04:05",
            "P0001-02-03T040506",
            "P00010203T04:05:06",
        ] {
            assert!(
                parse(&format!("R/2016-08-24T08:00:00Z/{s}")).is_err(),
                "{s}"
            );
        }
    }

    #[test]
    fn duration_errors() {
        assert_eq!(duration_problem("P"), Problem::EmptyDuration);
        assert_eq!(duration_problem("PT"), Problem::EmptyTimePart);
        assert_eq!(duration_problem("P1DT"), Problem::EmptyTimePart);
        assert_eq!(duration_problem("P0D"), Problem::ZeroDuration);
        assert_eq!(duration_problem("PT0S"), Problem::ZeroDuration);
        assert_eq!(duration_problem("P0W"), Problem::ZeroDuration);
        assert_eq!(duration_problem("P0Y0M0DT0H0M0.0S"), Problem::ZeroDuration);
        assert_eq!(duration_problem("-P1D"), Problem::SignedDuration);
        assert_eq!(duration_problem("+P1D"), Problem::SignedDuration);
        assert_eq!(duration_problem("P-1D"), Problem::SignedDuration);
        assert_eq!(duration_problem("P1W2D"), Problem::WeeksCombined);
        assert_eq!(duration_problem("P1Y1W"), Problem::WeeksCombined);
        assert_eq!(duration_problem("P1.5Y"), Problem::FractionOnCalendarUnit);
        assert_eq!(duration_problem("P1.5M"), Problem::FractionOnCalendarUnit);
        assert_eq!(duration_problem("P1.5DT1H"), Problem::FractionNotLast);
        assert_eq!(duration_problem("PT1.5H1M"), Problem::FractionNotLast);
        assert_eq!(duration_problem("P1D1Y"), Problem::DesignatorOrder('Y'));
        assert_eq!(duration_problem("PT1S1H"), Problem::DesignatorOrder('H'));
        assert_eq!(duration_problem("P1D1D"), Problem::DuplicateDesignator('D'));
        assert!(matches!(
            duration_problem("P1H"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            duration_problem("PT1D"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            duration_problem("P1"),
            Problem::UnexpectedEnd { .. }
        ));
        assert!(matches!(duration_problem("PD"), Problem::Unexpected { .. }));
        assert!(matches!(
            duration_problem("P.5D"),
            Problem::Unexpected { .. }
        ));
        assert!(matches!(
            duration_problem("P1DTT1H"),
            Problem::Unexpected { .. }
        ));
        assert_eq!(
            duration_problem("P18446744073709551616D"),
            Problem::ComponentTooLarge
        );
        let e = err("R/2016-08-24T08:00:00Z/P1D1Y");
        assert_eq!((e.part, e.offset), (Part::Duration, 27));
    }

    // Rule 5 and 6.
    #[test]
    fn end_strictly_after_start() {
        assert_eq!(
            problem("R/2022-07-01T13:00:00Z/2022-07-01T13:00:00Z"),
            Problem::EndNotAfterStart
        );
        // Compared as instants: 15:00+02:00 is 13:00Z.
        assert_eq!(
            problem("R/2022-07-01T13:00:00Z/2022-07-01T15:00:00+02:00"),
            Problem::EndNotAfterStart
        );
        ok("R/2022-07-01T13:00:00Z/2022-07-01T15:00:01+02:00");
    }

    #[test]
    fn first_interval_within_supported_years() {
        ok("R/9999-12-01T00Z/P1M");
        ok("R/9999-12-31T00Z/PT24H");
        assert_eq!(
            problem("R/9999-12-31T00Z/PT25H"),
            Problem::OutsideSupportedYears
        );
        assert_eq!(
            problem("R/9999-12-01T00Z/P2M"),
            Problem::OutsideSupportedYears
        );
        assert_eq!(
            problem("R/P1D/0001-01-01T12Z"),
            Problem::OutsideSupportedYears
        );
        ok("R/P1D/0001-01-02T00Z");
        assert_eq!(
            problem("R/2016-08-24T08Z/P18446744073709551615Y"),
            Problem::OutsideSupportedYears
        );
        assert_eq!(
            problem("R/2016-08-24T08Z/P18446744073709551615W"),
            Problem::OutsideSupportedYears
        );
        let e = err("R/2016-08-24T08Z/P9999Y");
        assert_eq!((e.part, e.offset), (Part::Duration, 17));
    }

    #[test]
    fn errors_read_as_one_line_with_part_and_offset() {
        let e = err("R/2016-08-24T08:00:00Z/P1W2D");
        assert_eq!(
            e.to_string(),
            "invalid repeating interval: duration at byte 23: weeks (W) cannot be combined with other components"
        );
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "R/2016-08-24T08:00:00Z/P1D",
            "R0/2022-07-01T13:00:00Z/P1M",
            "R2/P1M/2022-10-01T13:00:00Z",
            "R2/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z",
            "R5/2016-08-24T08:00:00.25-05:30/P1Y0M2DT1.5S",
            "R/2016-08-24T08:00:00Z/P0001-02-03T04:05:06.5",
            "R/2016-08-24T08:00:00Z/P00010203T040506",
            "R/2016-08-24T08:00:00Z/P2W",
            "R/9999-12-31T00:00:00Z/PT1H",
        ] {
            let r = ok(s);
            assert_eq!(r.to_string(), s);
            assert_eq!(ok(&r.to_string()), r);
        }
        assert_eq!(
            ok("R-1/20160824T0800+0200/P1D").to_string(),
            "R/2016-08-24T08:00:00+02:00/P1D"
        );
        assert_eq!(
            ok("R007/2016-W34-3T24Z/PT1,5S").to_string(),
            "R7/2016-08-25T00:00:00Z/PT1.5S"
        );
        let end_of_time = ok("R1/P1D/9999-12-31T24:00Z");
        assert_eq!(end_of_time.to_string(), "R1/P1D/9999-12-31T24:00:00Z");
        assert_eq!(ok(&end_of_time.to_string()), end_of_time);
    }

    #[test]
    fn serde_as_the_string() -> Result<(), Box<dyn std::error::Error>> {
        let r = ok("R/2016-08-24T08:00:00Z/P1D");
        let json = serde_json::to_string(&r)?;
        assert_eq!(json, r#""R/2016-08-24T08:00:00Z/P1D""#);
        let back: RepeatingInterval = serde_json::from_str(&json)?;
        assert_eq!(back, r);
        let bad = serde_json::from_str::<RepeatingInterval>(r#""R/2016-08-24T08:00:00/P1D""#);
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("no zone designator"), "{message}");
        Ok(())
    }
}
