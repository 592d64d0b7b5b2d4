//! A duration, kept as written: designators (`P1M1DT2H`, one decimal fraction on the last
//! component) or the alternative notation (`P0001-02-03T04:05:06`, `P00010203T040506`).

use super::cursor::{Cursor, Notation};
use super::error::{ParseError, Part, Problem};
use crate::value::{Component, Duration, DurationNotation};

pub(super) fn parse_duration(bytes: &[u8], base: usize) -> Result<Duration, ParseError> {
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
