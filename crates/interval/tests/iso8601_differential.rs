//! The hand-written parser against the `iso8601` crate, on the parts both read: date-times and
//! durations (`iso8601` has no repeating intervals). `docs/intervals.md` ("Why a hand-written
//! parser") says why the crate does not build on `iso8601`; this test holds the two to each other:
//!
//! - wherever both accept an input, they read the same value (to the millisecond, `iso8601`'s
//!   resolution), except where a listed difference says otherwise;
//! - every difference is listed in [`DIFFERENCES`] with its reason and inputs that show it, and
//!   the test checks each of those inputs still behaves as listed (so a fixed or new behaviour on
//!   either side shows up here).
//!
//! A date-time is read by us as the start of `R1/<date-time>/PT1S`, a duration as the duration of
//! `R/2000-01-01T00:00:00Z/<duration>`. `iso8601`'s values are converted by this file (not by its
//! `chrono` feature, whose week-date conversion reads the weekday one day late: `2016-W34-3` comes
//! out as 2016-08-25, a Thursday).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Weekday};
use grantflow_interval::RepeatingInterval;
use proptest::prelude::*;

/// Which side accepts an input the other rejects, or whether both accept and read it differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Only `iso8601` accepts these.
    OnlyIso8601,
    /// Only our parser accepts these.
    OnlyOurs,
    /// Both accept, with different values.
    BothDiffer,
}

/// A difference between the two parsers, why it is there, and inputs that show it.
struct Difference {
    name: &'static str,
    side: Side,
    reason: &'static str,
    /// Date-time inputs that show it.
    date_times: &'static [&'static str],
    /// Duration inputs that show it.
    durations: &'static [&'static str],
}

/// Every known difference. An input listed here must keep behaving as its entry says.
const DIFFERENCES: &[Difference] = &[
    Difference {
        name: "zone required",
        side: Side::OnlyIso8601,
        reason: "a limit's anchor without a zone is ambiguous (the reference requires one); \
                 iso8601 reads it as UTC",
        date_times: &["2016-08-24T08:00:00", "2016-08-24T08:00"],
        durations: &[],
    },
    Difference {
        name: "basic and extended not mixed",
        side: Side::OnlyIso8601,
        reason: "ISO 8601 forbids mixing basic and extended notation within one representation; \
                 iso8601 accepts each part in either",
        date_times: &[
            "2016-08-24T080000Z",
            "20160824T08:00:00Z",
            "2016-08-24T08:00:00+0100",
        ],
        durations: &[],
    },
    Difference {
        name: "-00:00",
        side: Side::OnlyIso8601,
        reason: "RFC 3339 gives -00:00 the meaning 'offset unknown', which cannot anchor a \
                 series; iso8601 reads it as UTC",
        date_times: &["2016-08-24T08:00:00-00:00"],
        durations: &[],
    },
    Difference {
        name: "years 0001-9999",
        side: Side::OnlyIso8601,
        reason: "the reference accepts years 0001-9999 only; iso8601 takes year 0000 and a signed \
                 year",
        date_times: &[
            "0000-01-01T00:00:00Z",
            "-2016-08-24T08:00:00Z",
            "+2016-08-24T08:00:00Z",
        ],
        durations: &[],
    },
    Difference {
        name: "fields checked",
        side: Side::OnlyIso8601,
        reason: "a date that does not exist, a leap second or an offset of 24 hours is an error \
                 here; iso8601 checks digits and ranges per field only",
        date_times: &[
            "2016-02-30T00:00:00Z",
            "2015-02-29T00:00:00Z",
            "2016-08-24T23:59:60Z",
            "2016-08-24T08:00:00+24:00",
        ],
        durations: &[],
    },
    Difference {
        name: "nanoseconds",
        side: Side::OnlyIso8601,
        reason: "values are exact to the nanosecond, so more than 9 fraction digits are rejected \
                 rather than rounded (rounding could move a boundary); iso8601 keeps \
                 milliseconds and drops the rest",
        date_times: &["2016-08-24T08:00:00.1234567890Z"],
        durations: &["PT1.1234567891S"],
    },
    Difference {
        name: "reduced precision hour",
        side: Side::OnlyOurs,
        reason: "ISO 8601 allows a time of hours only, with a fraction (the reference lists it); \
                 iso8601 needs minutes",
        date_times: &["2016-08-24T08Z", "2016-08-24T08.5Z", "20160824T08,25Z"],
        durations: &[],
    },
    Difference {
        name: "fraction of a minute",
        side: Side::BothDiffer,
        reason: "a fraction on the minutes is a fraction of a minute (08:30.5 is 08:30:30); \
                 iso8601 reads its digits as milliseconds (08:30:00.500)",
        date_times: &["2016-08-24T08:30.5Z", "20160824T0830,25Z"],
        durations: &[],
    },
    Difference {
        name: "zero duration",
        side: Side::OnlyIso8601,
        reason: "a zero duration repeats forever without moving, so it cannot step a series",
        date_times: &[],
        durations: &["PT0S", "P0D", "P0Y0M", "P0W"],
    },
    Difference {
        name: "empty time part",
        side: Side::OnlyIso8601,
        reason: "ISO 8601 requires at least one component after T; iso8601 accepts a bare T",
        date_times: &[],
        durations: &["PT", "P1DT"],
    },
    Difference {
        name: "weeks alone",
        side: Side::OnlyIso8601,
        reason: "weeks cannot be combined with other components (ISO 8601-1:2019 5.5.2.4); \
                 iso8601 reads the weeks and silently drops the rest",
        date_times: &[],
        durations: &["P1W1D", "P2WT1H"],
    },
    Difference {
        name: "fraction of a day or week",
        side: Side::OnlyOurs,
        reason: "ISO 8601 allows a decimal fraction on the lowest-order component, days and weeks \
                 included (a day is 24 hours, a week 7 days); iso8601 takes one on hours, \
                 minutes and seconds only",
        date_times: &[],
        durations: &["P1.5D", "P1.5W", "P0,5D"],
    },
    Difference {
        name: "fraction of an hour or minute",
        side: Side::BothDiffer,
        reason: "a fraction on the hours or minutes is that fraction of the unit (PT1.5H is 90 \
                 minutes); iso8601 drops it or reads it as milliseconds",
        date_times: &[],
        durations: &["PT1.5H", "PT1.5M", "PT1H1.5M"],
    },
    Difference {
        name: "first interval within 0001-9999",
        side: Side::OnlyIso8601,
        reason: "the reference's rule 6: the first interval lies within years 0001-9999, so a \
                 duration that takes the anchor past 9999 is an error here; iso8601 parses the \
                 duration alone",
        date_times: &[],
        durations: &["P10000Y", "P8001Y", "PT80000000H"],
    },
    Difference {
        name: "components over u32",
        side: Side::BothDiffer,
        reason: "a component is a u64 here; iso8601 keeps u32 fields and reads seconds past \
                 u32::MAX as zero",
        date_times: &[],
        durations: &["PT4294967296S", "PT4294967297S"],
    },
];

/// A reading of a date-time both sides can be compared on: local date-time and offset, in
/// milliseconds (`iso8601`'s resolution).
type DateTimeValue = (NaiveDateTime, i32);

fn ours_date_time(s: &str) -> Option<DateTimeValue> {
    let r: RepeatingInterval = format!("R1/{s}/PT1S").parse().ok()?;
    let start: DateTime<FixedOffset> = r.start()?;
    Some((
        to_millis(start.naive_local()),
        start.offset().local_minus_utc(),
    ))
}

fn to_millis(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.and_utc().timestamp_subsec_nanos();
    t - chrono::Duration::nanoseconds(i64::from(nanos % 1_000_000))
}

fn theirs_date_time(s: &str) -> Option<Option<DateTimeValue>> {
    let parsed = iso8601::datetime(s).ok()?;
    Some(convert_date_time(&parsed))
}

/// `iso8601`'s fields as a value; `None` when the fields name no instant (February 30th).
fn convert_date_time(d: &iso8601::DateTime) -> Option<DateTimeValue> {
    let date = match d.date {
        iso8601::Date::YMD { year, month, day } => NaiveDate::from_ymd_opt(year, month, day)?,
        iso8601::Date::Week { year, ww, d } => {
            let weekday = [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ]
            .get(usize::try_from(d).ok()?.checked_sub(1)?)
            .copied()?;
            NaiveDate::from_isoywd_opt(year, ww, weekday)?
        }
        iso8601::Date::Ordinal { year, ddd } => NaiveDate::from_yo_opt(year, ddd)?,
    };
    let t = d.time;
    if t.second > 59 {
        return None;
    }
    let millis = ((i64::from(t.hour) * 60 + i64::from(t.minute)) * 60 + i64::from(t.second))
        * 1_000
        + i64::from(t.millisecond);
    let local = date.and_hms_opt(0, 0, 0)? + chrono::Duration::milliseconds(millis);
    let offset = t.tz_offset_hours * 3_600 + t.tz_offset_minutes * 60;
    FixedOffset::east_opt(offset)?;
    Some((local, offset))
}

/// A duration as calendar months and exact milliseconds.
type DurationValue = (u64, i128);

fn ours_duration(s: &str) -> Option<DurationValue> {
    let r: RepeatingInterval = format!("R/2000-01-01T00:00:00Z/{s}").parse().ok()?;
    let d = r.duration()?;
    Some((d.calendar_months()?, d.exact_nanos() / 1_000_000))
}

fn theirs_duration(s: &str) -> Option<DurationValue> {
    Some(match iso8601::duration(s).ok()? {
        iso8601::Duration::YMDHMS {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millisecond,
        } => (
            u64::from(year) * 12 + u64::from(month),
            (((i128::from(day) * 24 + i128::from(hour)) * 60 + i128::from(minute)) * 60
                + i128::from(second))
                * 1_000
                + i128::from(millisecond),
        ),
        iso8601::Duration::Weeks(w) => (0, i128::from(w) * 7 * 86_400_000),
    })
}

/// Whether a date-time's time has a fraction on its hours or minutes (not its seconds): the
/// values then differ by a listed difference.
fn fraction_before_seconds(date_time: &str) -> bool {
    let Some((_, time)) = date_time.split_once('T') else {
        return false;
    };
    let digits_before_fraction = time
        .split(['Z', '+', '-'])
        .next()
        .and_then(|t| t.split_once(['.', ',']))
        .map(|(whole, _)| whole.bytes().filter(u8::is_ascii_digit).count());
    matches!(digits_before_fraction, Some(2 | 4))
}

/// Whether a duration has a fraction on a component other than its seconds.
fn duration_fraction_before_seconds(duration: &str) -> bool {
    duration
        .split_once(['.', ','])
        .is_some_and(|(_, rest)| !rest.contains('S'))
}

#[test]
fn every_listed_difference_still_holds() {
    for d in DIFFERENCES {
        assert!(
            !d.date_times.is_empty() || !d.durations.is_empty(),
            "{}: no example",
            d.name
        );
        let cases = d
            .date_times
            .iter()
            .map(|s| {
                let theirs = theirs_date_time(s).map(|v| v.is_some());
                (s, ours_date_time(s).is_some(), theirs.is_some(), {
                    let ours = ours_date_time(s);
                    let theirs = theirs_date_time(s).flatten();
                    ours.is_some() && theirs.is_some() && ours != theirs
                })
            })
            .chain(d.durations.iter().map(|s| {
                let (ours, theirs) = (ours_duration(s), theirs_duration(s));
                (
                    s,
                    ours.is_some(),
                    theirs.is_some(),
                    ours.is_some() && theirs.is_some() && ours != theirs,
                )
            }));
        for (s, ours, theirs, values_differ) in cases {
            let holds = match d.side {
                Side::OnlyIso8601 => theirs && !ours,
                Side::OnlyOurs => ours && !theirs,
                Side::BothDiffer => values_differ,
            };
            assert!(
                holds,
                "{s:?} no longer shows '{}' ({:?}: ours {ours}, iso8601 {theirs}): {}",
                d.name, d.side, d.reason
            );
        }
    }
}

/// Inputs both accept, in every notation both know: the same values.
#[test]
fn both_read_the_same_values() {
    for s in [
        "2016-08-24T08:00:00Z",
        "20160824T080000Z",
        "2016-237T08:00:00Z",
        "2016237T080000Z",
        "2016-W34-3T08:00:00Z",
        "2016W343T080000Z",
        "2016-08-24T08:00Z",
        "2016-08-24T08:00:00.123Z",
        "2016-08-24T08:00:00,5+05:30",
        "2016-08-24T08:00:00.123456789Z",
        "2016-08-24T24:00:00Z",
        "2016-08-24T08:00:00+01",
        "2016-08-24T08:00:00-11:45",
        "9999-12-31T23:59:58.999Z",
        "0001-01-01T00:00:00Z",
    ] {
        let ours = ours_date_time(s);
        assert!(ours.is_some(), "{s}: we reject it");
        assert_eq!(ours, theirs_date_time(s).flatten(), "{s}");
    }
    for s in [
        "P1D",
        "P1W",
        "P1M",
        "PT1M",
        "P1Y2M3DT4H5M6S",
        "PT1.5S",
        "PT1,25S",
        "PT0.123456789S",
        "PT36H",
        "P1Y0M",
        "P0001-02-03T04:05:06",
        "P00010203T040506",
    ] {
        let ours = ours_duration(s);
        assert!(ours.is_some(), "{s}: we reject it");
        assert_eq!(ours, theirs_duration(s), "{s}");
    }
}

/// Date-times from a grammar of both sides' notations, near misses included.
fn date_time_text() -> impl Strategy<Value = String> {
    let year = prop_oneof![Just(2016u32), 0u32..=9999];
    let date = (
        0usize..6,
        year,
        0u32..=13,
        0u32..=32,
        0u32..=54,
        0u32..=8,
        0u32..=367,
    )
        .prop_map(|(form, y, m, d, w, wd, o)| match form {
            0 => format!("{y:04}-{m:02}-{d:02}"),
            1 => format!("{y:04}{m:02}{d:02}"),
            2 => format!("{y:04}-W{w:02}-{wd}"),
            3 => format!("{y:04}W{w:02}{wd}"),
            4 => format!("{y:04}-{o:03}"),
            _ => format!("{y:04}{o:03}"),
        });
    let fraction = prop_oneof![
        Just(String::new()),
        (prop_oneof![Just('.'), Just(',')], "[0-9]{1,11}").prop_map(|(s, d)| format!("{s}{d}")),
    ];
    let time =
        (0usize..6, 0u32..=25, 0u32..=60, 0u32..=61, fraction).prop_map(|(form, h, m, s, f)| {
            match form {
                0 => format!("{h:02}:{m:02}:{s:02}{f}"),
                1 => format!("{h:02}{m:02}{s:02}{f}"),
                2 => format!("{h:02}:{m:02}{f}"),
                3 => format!("{h:02}{m:02}{f}"),
                4 => format!("{h:02}{f}"),
                _ => format!("{h:02}:{m:02}:{s:02}"),
            }
        });
    let zone = prop_oneof![
        Just("Z".to_owned()),
        Just(String::new()),
        (
            prop_oneof![Just('+'), Just('-')],
            0u32..=25,
            0u32..=60,
            0usize..3
        )
            .prop_map(|(sign, h, m, form)| match form {
                0 => format!("{sign}{h:02}"),
                1 => format!("{sign}{h:02}:{m:02}"),
                _ => format!("{sign}{h:02}{m:02}"),
            }),
    ];
    (date, time, zone).prop_map(|(d, t, z)| format!("{d}T{t}{z}"))
}

/// Durations from a grammar of designators and the alternative notation, near misses included.
fn duration_text() -> impl Strategy<Value = String> {
    let component = prop_oneof![Just(None), (0u64..=400).prop_map(Some)];
    let designators = (
        proptest::collection::vec(component, 7),
        prop_oneof![Just(None), "[0-9]{1,10}".prop_map(Some)],
    )
        .prop_map(|(values, fraction)| {
            let mut date = String::new();
            let mut time = String::new();
            let units = ['Y', 'M', 'W', 'D', 'H', 'M', 'S'];
            let last = values.iter().rposition(Option::is_some);
            for (i, (v, unit)) in values.iter().zip(units).enumerate() {
                if let Some(v) = v {
                    let part = if i < 4 { &mut date } else { &mut time };
                    part.push_str(&v.to_string());
                    if let (Some(f), true) = (&fraction, Some(i) == last) {
                        part.push('.');
                        part.push_str(f);
                    }
                    part.push(unit);
                }
            }
            if time.is_empty() {
                format!("P{date}")
            } else {
                format!("P{date}T{time}")
            }
        });
    let alternative = (
        0u32..=9999,
        0u32..=13,
        0u32..=31,
        0u32..=25,
        0u32..=60,
        0u32..=60,
        any::<bool>(),
    )
        .prop_map(|(y, mo, d, h, mi, s, extended)| {
            if extended {
                format!("P{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
            } else {
                format!("P{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}")
            }
        });
    prop_oneof![4 => designators, 1 => alternative]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Wherever both accept a date-time, they read the same instant and offset (to the
    /// millisecond), except for a fraction on the hours or minutes ("fraction of a minute").
    #[test]
    fn date_times_agree_wherever_both_accept(s in date_time_text()) {
        if let (Some(ours), Some(Some(theirs))) = (ours_date_time(&s), theirs_date_time(&s)) {
            if !fraction_before_seconds(&s) {
                prop_assert_eq!(ours, theirs, "{}", s);
            }
        }
    }

    /// Wherever both accept a duration, they read the same months and milliseconds, except for a
    /// fraction on the hours or minutes ("fraction of an hour or minute").
    #[test]
    fn durations_agree_wherever_both_accept(s in duration_text()) {
        if let (Some(ours), Some(theirs)) = (ours_duration(&s), theirs_duration(&s)) {
            if !duration_fraction_before_seconds(&s) {
                prop_assert_eq!(ours, theirs, "{}", s);
            }
        }
    }
}
