//! The parser against the accepted syntax of `shared/reference/repeating-intervals.md`: what
//! parses, what each rejection says and where.

use chrono::{DateTime, Datelike, FixedOffset};

use super::*;
use crate::calendar::NANOS_PER_SECOND;
use crate::value::{Component, Duration, DurationNotation};

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
