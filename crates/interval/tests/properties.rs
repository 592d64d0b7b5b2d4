//! Property tests: format/parse round trip, window invariants, and window lookup against an
//! independent window-by-window model built on chrono's own calendar arithmetic.

use chrono::{DateTime, Duration as Span, FixedOffset, Months, NaiveDate, TimeZone, Utc};
use grantflow_interval::{Reading, RepeatingInterval, Window};
use proptest::prelude::*;

/// A generated series: its string, and what it means (for the model).
#[derive(Debug, Clone)]
struct Case {
    text: String,
    /// `None` = unbounded.
    repetitions: Option<u64>,
    start: DateTime<FixedOffset>,
    form: Form,
}

#[derive(Debug, Clone)]
enum Form {
    StartDuration { months: u32, exact: Span },
    DurationEnd { months: u32, exact: Span },
    StartEnd { end: DateTime<FixedOffset> },
}

fn offset_text(seconds: i32, basic: bool) -> String {
    if seconds == 0 {
        return "Z".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let m = seconds.unsigned_abs() / 60;
    if basic {
        format!("{sign}{:02}{:02}", m / 60, m % 60)
    } else {
        format!("{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

fn date_time_text(t: &DateTime<FixedOffset>, style: u8) -> String {
    let off = offset_text(t.offset().local_minus_utc(), style % 2 == 1);
    let l = t.naive_local();
    match style {
        0 => format!("{}{off}", l.format("%Y-%m-%dT%H:%M:%S%.f")),
        1 => format!("{}{off}", l.format("%Y%m%dT%H%M%S%.f")),
        2 => format!("{}{off}", l.format("%Y-%jT%H:%M:%S%.f")),
        _ => format!("{}{off}", l.format("%GW%V%uT%H%M%S%.f")),
    }
}

fn duration_text(months: u32, days: u32, seconds: u32, nanos: u32) -> String {
    let (y, m) = (months / 12, months % 12);
    let mut s = String::from("P");
    if y > 0 {
        s += &format!("{y}Y");
    }
    if m > 0 {
        s += &format!("{m}M");
    }
    if days > 0 {
        s += &format!("{days}D");
    }
    if seconds > 0 || nanos > 0 {
        s += &format!("T{}H{}M{}", seconds / 3600, seconds / 60 % 60, seconds % 60);
        if nanos > 0 {
            s += &format!(".{nanos:09}");
        }
        s += "S";
    }
    s
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            1900i32..2100,
            1u32..=12,
            1u32..=31,
            0u32..86_400,
            prop_oneof![Just(0u32), 0u32..1_000_000_000],
        ),
        prop_oneof![Just(0i32), (-1439i32..=1439).prop_map(|m| m * 60)],
        0u8..4,
        prop_oneof![Just(None), (0u64..40).prop_map(Some)],
        0u8..3,
        (
            0u32..30,
            0u32..40,
            0u32..200_000,
            prop_oneof![Just(0u32), 1u32..1_000_000_000],
        ),
        1i64..100_000_000,
    )
        .prop_filter_map(
            "a valid date and a non-zero duration",
            |(
                (y, mo, d, secs, nanos),
                offset,
                style,
                repetitions,
                form,
                (months, days, seconds, dnanos),
                span,
            )| {
                let date = NaiveDate::from_ymd_opt(y, mo, d)?;
                let local = date.and_hms_nano_opt(secs / 3600, secs / 60 % 60, secs % 60, nanos)?;
                let start = FixedOffset::east_opt(offset)?
                    .from_local_datetime(&local)
                    .single()?;
                let reps = match repetitions {
                    None => "R".to_string(),
                    Some(n) => format!("R{n}"),
                };
                let exact = Span::days(i64::from(days))
                    + Span::seconds(i64::from(seconds))
                    + Span::nanoseconds(i64::from(dnanos));
                let duration = duration_text(months, days, seconds, dnanos);
                let (text, form) = match form {
                    0 | 1 if months == 0 && exact.is_zero() => return None,
                    0 => (
                        format!("{reps}/{}/{duration}", date_time_text(&start, style)),
                        Form::StartDuration { months, exact },
                    ),
                    1 => (
                        format!("{reps}/{duration}/{}", date_time_text(&start, style)),
                        Form::DurationEnd { months, exact },
                    ),
                    _ => {
                        let end = start + Span::seconds(span);
                        (
                            format!(
                                "{reps}/{}/{}",
                                date_time_text(&start, style),
                                date_time_text(&end, 0)
                            ),
                            Form::StartEnd { end },
                        )
                    }
                };
                Some(Case {
                    text,
                    repetitions,
                    start,
                    form,
                })
            },
        )
}

fn parse(case: &Case) -> RepeatingInterval {
    case.text
        .parse()
        .unwrap_or_else(|e| panic!("{} should parse: {e}", case.text))
}

/// Boundary `i` by the model: chrono's month addition (which clamps) on the reading's clock.
/// Forwards `b(i)` grows; backwards (`duration/end`) it shrinks. `None` when out of chrono range.
fn model_boundaries(case: &Case, reading: Reading, n: usize) -> Vec<DateTime<Utc>> {
    let anchor = case.start;
    let (months, exact, sign) = match &case.form {
        Form::StartDuration { months, exact } => (*months, *exact, 1),
        Form::DurationEnd { months, exact } => (*months, *exact, -1),
        Form::StartEnd { end } => (0, *end - anchor, 1),
    };
    let step = |t: chrono::NaiveDateTime, k: u32| {
        let moved = if sign > 0 {
            t.checked_add_months(Months::new(months * k))
        } else {
            t.checked_sub_months(Months::new(months * k))
        };
        moved.map(|m| m + exact * (sign * k as i32))
    };
    let mut out = Vec::new();
    match reading {
        Reading::Iso8601 => {
            let local = anchor.naive_local();
            for k in 0..n as u32 {
                let Some(b) = step(local, k) else { break };
                out.push(
                    (b - Span::seconds(i64::from(anchor.offset().local_minus_utc()))).and_utc(),
                );
            }
        }
        Reading::RafikiCompatible => {
            let mut b = anchor.naive_utc();
            for _ in 0..n {
                out.push(b.and_utc());
                let Some(next) = step(b, 1) else { break };
                b = next;
            }
        }
    }
    out
}

fn model_window(case: &Case, reading: Reading, at: DateTime<Utc>, n: usize) -> Option<Window> {
    let b = model_boundaries(case, reading, n);
    let count = match (case.repetitions, reading) {
        (None, _) => usize::MAX,
        (Some(r), Reading::Iso8601) => r as usize,
        (Some(r), Reading::RafikiCompatible) => r as usize + 1,
    };
    let backward = matches!(case.form, Form::DurationEnd { .. });
    (0..b.len().saturating_sub(1).min(count)).find_map(|i| {
        let (start, end) = if backward {
            (b[i + 1], b[i])
        } else {
            (b[i], b[i + 1])
        };
        (start <= at && at < end).then_some(Window {
            start,
            end,
            index: i as u64,
        })
    })
}

/// Exact steps, or whole months from a day ≤ 28 in UTC: both readings then give the same windows.
fn nothing_clamps(case: &Case) -> bool {
    let exact = matches!(case.form, Form::StartEnd { .. })
        || matches!(
            case.form,
            Form::StartDuration { months: 0, .. } | Form::DurationEnd { months: 0, .. }
        );
    let utc_no_clamp = case.start.offset().local_minus_utc() == 0
        && matches!(case.form, Form::StartDuration { exact, .. } | Form::DurationEnd { exact, .. } if exact.is_zero())
        && chrono::Datelike::day(&case.start) <= 28;
    exact || utc_no_clamp
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn format_parse_round_trip(case in case()) {
        let r = parse(&case);
        let text = r.to_string();
        let back: RepeatingInterval = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, r);
        prop_assert_eq!(back.to_string(), text);
        prop_assert_eq!(
            back.start().map(|t| t.offset().local_minus_utc()),
            r.start().map(|t| t.offset().local_minus_utc())
        );
        prop_assert_eq!(
            back.end().map(|t| t.offset().local_minus_utc()),
            r.end().map(|t| t.offset().local_minus_utc())
        );
        // What was written is what was parsed.
        let anchor = match case.form { Form::DurationEnd { .. } => r.end(), _ => r.start() };
        prop_assert_eq!(anchor, Some(case.start));
        prop_assert_eq!(anchor.map(|a| a.offset().local_minus_utc()), Some(case.start.offset().local_minus_utc()));
    }

    #[test]
    fn windows_are_contiguous_ordered_and_indexed(case in case(), reading_iso: bool, offset_days in -400i64..4000) {
        let reading = if reading_iso { Reading::Iso8601 } else { Reading::RafikiCompatible };
        let r = parse(&case);
        let from = case.start.to_utc() + Span::days(offset_days);
        let windows: Vec<Window> = r.windows_from(reading, from).take(30).collect();
        let backward = matches!(case.form, Form::DurationEnd { .. });
        for w in &windows {
            prop_assert!(w.start < w.end, "{w:?}");
            prop_assert_eq!(r.window(reading, w.index), Some(*w));
            prop_assert_eq!(r.window_at(reading, w.start), Some(*w));
        }
        for pair in windows.windows(2) {
            prop_assert_eq!(pair[0].end, pair[1].start);
            let expected = if backward { pair[0].index.checked_sub(1) } else { pair[0].index.checked_add(1) };
            prop_assert_eq!(Some(pair[1].index), expected);
        }
        if let Some(first) = windows.first() {
            prop_assert!(first.end > from);
        }
    }

    #[test]
    fn window_of_an_instant_contains_it(case in case(), reading_iso: bool, offset_secs in -10_000_000i64..2_000_000_000) {
        let reading = if reading_iso { Reading::Iso8601 } else { Reading::RafikiCompatible };
        let r = parse(&case);
        let at = case.start.to_utc() + Span::seconds(offset_secs);
        match r.window_at(reading, at) {
            Some(w) => {
                prop_assert!(w.contains(at), "{w:?} {at}");
                prop_assert!(!r.has_ended(reading, at));
                if let Some(next) = r.next_window_start(reading, at) {
                    prop_assert_eq!(next, w.end);
                }
            }
            None => {
                if let Some(next) = r.next_window_start(reading, at) {
                    prop_assert!(next > at);
                    prop_assert!(r.window_at(reading, next).is_some());
                }
            }
        }
    }

    #[test]
    fn lookup_matches_a_window_by_window_model(case in case(), reading_iso: bool, offset_secs in -10_000_000i64..400_000_000) {
        let reading = if reading_iso { Reading::Iso8601 } else { Reading::RafikiCompatible };
        let r = parse(&case);
        let at = case.start.to_utc() + Span::seconds(offset_secs);
        let expected = model_window(&case, reading, at, 400);
        let got = r.window_at(reading, at);
        // The model only looks at 400 windows; beyond them it knows nothing.
        if expected.is_some() || got.is_none_or(|w| w.index < 398) {
            prop_assert_eq!(got, expected, "{} at {}", case.text, at);
        }
    }

    #[test]
    fn readings_agree_where_nothing_clamps(case in case().prop_filter("exact or never clamped", nothing_clamps), offset_secs in -10_000_000i64..2_000_000_000) {
        let r = parse(&case);
        let at = case.start.to_utc() + Span::seconds(offset_secs);
        let iso = r.window_at(Reading::Iso8601, at);
        let rafiki = r.window_at(Reading::RafikiCompatible, at);
        match (iso, rafiki) {
            (Some(a), b) => prop_assert_eq!(Some(a), b),
            // Rafiki has one window more (Rn = n + 1) where ISO has none.
            (None, Some(b)) => prop_assert_eq!(r.window_count(Reading::Iso8601), Some(u128::from(b.index))),
            (None, None) => {}
        }
    }
}
