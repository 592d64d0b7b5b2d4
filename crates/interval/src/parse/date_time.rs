//! A complete date-time with its UTC offset: calendar (`2016-08-24`), ordinal (`2016-237`) and
//! week (`2016-W34-3`) dates, basic or extended, reduced precision and fractions, `24:00`.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};

use crate::calendar::{NANOS_PER_DAY, NANOS_PER_SECOND};

use super::cursor::{Cursor, Notation};
use super::error::{ParseError, Part, Problem};

pub(super) fn parse_date_time(
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
