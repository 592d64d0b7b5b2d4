//! The window lookups against the reference tables, the closed forms and jumps against a walk
//! from the anchor, and the iterator.

use super::series::{SATURATED, min_days_in_month};
use super::*;
use crate::calendar::NANOS_PER_SECOND;

fn interval(s: &str) -> RepeatingInterval {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The window as `start/end` in RFC 3339 UTC, or `None`.
fn at(s: &str, reading: Reading, instant: &str) -> Option<(String, String, u64)> {
    interval(s).window_at(reading, t(instant)).map(|w| {
        (
            w.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            w.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            w.index,
        )
    })
}

fn starts(s: &str, reading: Reading, n: usize) -> Vec<String> {
    let r = interval(s);
    let from = t("0001-01-01T00:00:00Z");
    r.windows_from(reading, from)
        .take(n)
        .map(|w| w.start.format("%Y-%m-%d").to_string())
        .collect()
}

fn w(start: &str, end: &str, index: u64) -> Option<(String, String, u64)> {
    Some((start.to_string(), end.to_string(), index))
}

use Reading::{Iso8601 as Iso, RafikiCompatible as Rafiki};

// Rafiki's own public table (limits.test.ts), in the Rafiki-compatible reading.
#[test]
fn rafiki_table_a_start_duration_and_duration_end() {
    for s in ["R2/2022-07-01T13:00:00Z/P1M", "R2/P1M/2022-10-01T13:00:00Z"] {
        let jul = ("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z");
        let aug = ("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z");
        let sep = ("2022-09-01T13:00:00Z", "2022-10-01T13:00:00Z");
        let forward = s.starts_with("R2/2022");
        let idx = |k: u64| if forward { k } else { 2 - k };
        assert_eq!(at(s, Rafiki, "2022-07-01T12:59:59Z"), None, "{s}");
        for (instant, (a, b), k) in [
            ("2022-07-01T13:00:00Z", jul, 0),
            ("2022-07-10T13:00:00Z", jul, 0),
            ("2022-08-10T13:00:00Z", aug, 1),
            ("2022-09-10T13:00:00Z", sep, 2),
            ("2022-10-01T12:59:59Z", sep, 2),
        ] {
            assert_eq!(at(s, Rafiki, instant), w(a, b, idx(k)), "{s} at {instant}");
        }
        assert_eq!(at(s, Rafiki, "2022-10-01T13:00:00Z"), None, "{s}");
    }
}

#[test]
fn rafiki_table_b_start_end_steps_by_the_first_length() {
    let s = "R2/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z";
    assert_eq!(at(s, Rafiki, "2022-07-01T12:59:59Z"), None);
    let first = w("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z", 0);
    assert_eq!(at(s, Rafiki, "2022-07-01T13:00:00Z"), first);
    assert_eq!(at(s, Rafiki, "2022-07-10T13:00:00Z"), first);
    assert_eq!(
        at(s, Rafiki, "2022-08-10T13:00:00Z"),
        w("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z", 1)
    );
    let third = w("2022-09-01T13:00:00Z", "2022-10-02T13:00:00Z", 2);
    assert_eq!(at(s, Rafiki, "2022-09-10T13:00:00Z"), third);
    assert_eq!(at(s, Rafiki, "2022-10-02T12:59:59Z"), third);
    assert_eq!(at(s, Rafiki, "2022-10-02T13:00:00Z"), None);
}

#[test]
fn rafiki_table_c_unbounded() {
    for s in ["R/2022-07-01T13:00:00Z/P1M", "R-1/2022-07-01T13:00:00Z/P1M"] {
        assert_eq!(at(s, Rafiki, "2022-07-01T12:59:59Z"), None);
        let jul = w("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z", 0);
        assert_eq!(at(s, Rafiki, "2022-07-01T13:00:00Z"), jul);
        assert_eq!(at(s, Rafiki, "2022-07-10T13:00:00Z"), jul);
        assert_eq!(
            at(s, Rafiki, "2022-08-10T13:00:00Z"),
            w("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z", 1)
        );
        assert_eq!(
            at(s, Rafiki, "2032-01-10T13:00:00Z"),
            w("2032-01-01T13:00:00Z", "2032-02-01T13:00:00Z", 114)
        );
    }
}

#[test]
fn rafiki_derived_cases() {
    let s = "R0/2022-07-01T13:00:00Z/P1M";
    assert_eq!(
        at(s, Rafiki, "2022-07-15T00:00:00Z"),
        w("2022-07-01T13:00:00Z", "2022-08-01T13:00:00Z", 0)
    );
    assert_eq!(at(s, Rafiki, "2022-08-01T13:00:00Z"), None);
    let s = "R/2024-01-31T00:00:00Z/P1M";
    assert_eq!(
        at(s, Rafiki, "2024-02-29T12:00:00Z"),
        w("2024-02-29T00:00:00Z", "2024-03-29T00:00:00Z", 1)
    );
    let mar = w("2024-03-29T00:00:00Z", "2024-04-29T00:00:00Z", 2);
    assert_eq!(at(s, Rafiki, "2024-03-29T00:00:00Z"), mar);
    assert_eq!(at(s, Rafiki, "2024-03-31T00:00:00Z"), mar);
}

#[test]
fn month_end_iso_does_not_drift_rafiki_sticks() {
    let s = "R/2024-01-31T00:00:00Z/P1M";
    assert_eq!(
        starts(s, Iso, 5),
        [
            "2024-01-31",
            "2024-02-29",
            "2024-03-31",
            "2024-04-30",
            "2024-05-31"
        ]
    );
    assert_eq!(
        starts(s, Rafiki, 5),
        [
            "2024-01-31",
            "2024-02-29",
            "2024-03-29",
            "2024-04-29",
            "2024-05-29"
        ]
    );
    // The 29th forever after, also far away (closed form, not a walk).
    assert_eq!(
        at(s, Rafiki, "2100-03-30T00:00:00Z"),
        w("2100-03-28T00:00:00Z", "2100-04-28T00:00:00Z", 914)
    );
}

#[test]
fn rafiki_duration_end_clamps_backwards() {
    // Base [2024-02-29, 2024-03-31), then [01-29, 02-29), [12-29, 01-29).
    let s = "R/P1M/2024-03-31T00:00:00Z";
    let r = interval(s);
    let got: Vec<_> = r
        .windows_from(Rafiki, t("2023-12-30T00:00:00Z"))
        .take(3)
        .map(|w| (w.start.format("%m-%d").to_string(), w.index))
        .collect();
    assert_eq!(
        got,
        [
            ("12-29".into(), 2),
            ("01-29".into(), 1),
            ("02-29".into(), 0)
        ]
    );
    // ISO: E - j·D from the anchor, clamped each time on its own: 03-31, 02-29, 01-31, 12-31.
    let got: Vec<_> = r
        .windows_from(Iso, t("2023-12-31T00:00:00Z"))
        .take(3)
        .map(|w| (w.start.format("%m-%d").to_string(), w.index))
        .collect();
    assert_eq!(
        got,
        [
            ("12-31".into(), 2),
            ("01-31".into(), 1),
            ("02-29".into(), 0)
        ]
    );
}

#[test]
fn repetitions_differ_between_readings() {
    let s = "R2/2022-07-01T13:00:00Z/P1M";
    assert_eq!(at(s, Iso, "2022-08-10T00:00:00Z").map(|w| w.2), Some(1));
    assert_eq!(at(s, Iso, "2022-09-10T00:00:00Z"), None);
    assert_eq!(at(s, Rafiki, "2022-09-10T00:00:00Z").map(|w| w.2), Some(2));
    let r0 = "R0/2022-07-01T13:00:00Z/P1M";
    assert_eq!(at(r0, Iso, "2022-07-10T00:00:00Z"), None);
    assert!(interval(r0).has_ended(Iso, t("2000-01-01T00:00:00Z")));
    assert_eq!(
        interval(r0)
            .windows_from(Iso, t("2000-01-01T00:00:00Z"))
            .count(),
        0
    );
    let r1 = "R1/2022-07-01T13:00:00Z/P1M";
    assert!(at(r1, Iso, "2022-07-10T00:00:00Z").is_some());
    assert_eq!(at(r1, Iso, "2022-08-10T00:00:00Z"), None);
    assert_eq!(interval(r1).window_count(Iso), Some(1));
    assert_eq!(interval(r1).window_count(Rafiki), Some(2));
    assert_eq!(
        interval("R/2022-07-01T13:00:00Z/P1M").window_count(Iso),
        None
    );
}

#[test]
fn iso_duration_end_counts_backwards() {
    let s = "R2/P1M/2022-10-01T13:00:00Z";
    assert_eq!(
        at(s, Iso, "2022-09-10T00:00:00Z"),
        w("2022-09-01T13:00:00Z", "2022-10-01T13:00:00Z", 0)
    );
    assert_eq!(
        at(s, Iso, "2022-08-10T00:00:00Z"),
        w("2022-08-01T13:00:00Z", "2022-09-01T13:00:00Z", 1)
    );
    assert_eq!(at(s, Iso, "2022-07-10T00:00:00Z"), None);
    assert_eq!(at(s, Iso, "2022-10-01T13:00:00Z"), None);
}

#[test]
fn iso_works_on_the_anchor_wall_clock_rafiki_in_utc() {
    // 2024-01-31T23:00-02:00 is 2024-02-01T01:00Z.
    let s = "R/2024-01-31T23:00:00-02:00/P1M";
    // ISO: Jan 31 local + 1 month = Feb 29 23:00-02:00 = Mar 1 01:00Z.
    assert_eq!(
        interval(s).window(Iso, 1).map(|w| w.start),
        Some(t("2024-03-01T01:00:00Z"))
    );
    // Rafiki: Feb 1 01:00Z + 1 month = Mar 1 01:00Z, and so on, no clamp at all.
    assert_eq!(
        interval(s).window(Rafiki, 2).map(|w| w.start),
        Some(t("2024-04-01T01:00:00Z"))
    );
    assert_eq!(
        interval(s).window(Iso, 2).map(|w| w.start),
        Some(t("2024-04-01T01:00:00Z"))
    );
    assert_eq!(
        interval(s).window(Iso, 3).map(|w| w.start),
        Some(t("2024-05-01T01:00:00Z"))
    );
}

#[test]
fn start_end_steps_by_exact_length_in_both_readings() {
    let s = "R3/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z";
    for reading in [Iso, Rafiki] {
        assert_eq!(
            interval(s).window(reading, 2).map(|w| (w.start, w.end)),
            Some((t("2022-09-01T13:00:00Z"), t("2022-10-02T13:00:00Z")))
        );
    }
    assert_eq!(interval(s).window(Iso, 3), None);
    assert!(interval(s).window(Rafiki, 3).is_some());
}

#[test]
fn boundaries_belong_to_the_later_window() {
    let s = "R/2016-08-24T08:00:00Z/P1D";
    for reading in [Iso, Rafiki] {
        assert_eq!(at(s, reading, "2016-08-25T08:00:00Z").map(|w| w.2), Some(1));
        assert_eq!(
            at(s, reading, "2016-08-25T07:59:59.999999999Z").map(|w| w.2),
            Some(0)
        );
    }
}

#[test]
fn far_lookups_are_exact() {
    // 3·10⁸ windows from the anchor.
    let s = "R/2016-08-24T08:00:00Z/PT1S";
    for reading in [Iso, Rafiki] {
        let w = interval(s).window_at(reading, t("2026-01-01T00:00:00.5Z"));
        assert_eq!(w.map(|w| w.start), Some(t("2026-01-01T00:00:00Z")));
        assert_eq!(w.map(|w| w.index), Some(295_200_000));
    }
    let s = "R/0001-01-31T00:00:00Z/P1M";
    let iso = interval(s).window_at(Iso, t("9999-12-31T12:00:00Z"));
    assert_eq!(iso.map(|w| w.start), Some(t("9999-12-31T00:00:00Z")));
    assert_eq!(iso.map(|w| w.index), Some(9998 * 12 + 11));
    // Rafiki: the first February (year 1, common) clamps to the 28th for good.
    let rafiki = interval(s).window_at(Rafiki, t("9999-12-31T12:00:00Z"));
    assert_eq!(rafiki.map(|w| w.start), Some(t("9999-12-28T00:00:00Z")));
    let mixed = interval("R/0001-01-31T00:00:00Z/P1M1D");
    let walked = mixed.window_at(Rafiki, t("2000-01-01T00:00:00Z"));
    assert!(walked.is_some_and(|w| w.contains(t("2000-01-01T00:00:00Z"))));
}

#[test]
fn sticky_clamp_closed_form_matches_the_chain() {
    for s in [
        "R/2024-01-31T00:00:00Z/P1M",
        "R/2023-08-31T05:00:00Z/P1M",
        "R/2020-02-29T00:00:00Z/P1Y",
        "R/2020-02-29T00:00:00Z/P4Y",
        "R/2096-02-29T00:00:00Z/P4Y",
        "R/2024-01-30T00:00:00Z/P2M",
        "R/2024-05-31T00:00:00Z/P3M",
        "R/2024-05-31T00:00:00Z/P7M",
        "R/2024-05-31T00:00:00Z/P1Y1M",
        "R/P1M/2024-03-31T00:00:00Z",
        "R/P5M/2024-10-31T00:00:00Z",
        "R/P4Y/2024-02-29T00:00:00Z",
    ] {
        let series = Series::new(&interval(s), Rafiki);
        assert_eq!(series.step, Step::ChainedMonths, "{s}");
        let mut chained = series.anchor;
        for i in 0..1_300u128 {
            assert_eq!(series.boundary(i), chained, "{s} boundary {i}");
            chained = series.chain(chained);
        }
    }
}

#[test]
fn integer_chain_step_matches_the_nanosecond_chain() {
    for s in [
        "R/2024-01-31T00:00:00Z/P1M1D",
        "R/2024-01-31T23:30:00Z/P1MT1H",
        "R/2023-12-31T12:00:00Z/P1M100D",
        "R/2023-12-31T12:00:00Z/P2Y1DT0.5S",
        "R/2023-01-29T00:00:00Z/P1M1.5D",
        "R/P1M1D/2024-03-31T00:00:00Z",
        "R/P1MT13H/2024-03-31T06:00:00Z",
        "R/P3M45D/2024-05-31T00:00:00Z",
        "R/P1Y0M2000D/2024-02-29T00:00:00Z",
    ] {
        let series = Series::new(&interval(s), Rafiki);
        assert_eq!(series.step, Step::ChainedMixed, "{s}");
        let (mut fast, mut slow) = (series.chain_start(), series.anchor);
        for i in 0..600 {
            assert_eq!(fast.nanos(), slow, "{s} step {i}");
            if !series.chain_step(&mut fast) {
                break;
            }
            slow = series.chain(slow);
        }
    }
}

#[test]
fn chained_mixed_iteration_across_checkpoints() {
    for s in [
        "R/P1M1D/2024-03-31T00:00:00Z",
        "R/2024-01-31T00:00:00Z/P1M1D",
    ] {
        let r = interval(s);
        let from = if s.starts_with("R/P") {
            t("1960-01-01T00:00:00Z")
        } else {
            t("2030-01-01T00:00:00Z")
        };
        let windows: Vec<Window> = r.windows_from(Rafiki, from).take(700).collect();
        assert!(windows.len() > 600, "{s}: {}", windows.len());
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{s}");
        }
        for w in windows.iter().step_by(37) {
            assert_eq!(r.window(Rafiki, w.index), Some(*w), "{s}");
        }
    }
}

impl Series {
    /// The oracle for [`Series::walk`]: walk the chain from the anchor, step by step.
    fn walk_from_anchor(&self, t: i128) -> Option<(u128, i128)> {
        let before = self.before_instant(t)?;
        let mut c = self.chain_start();
        if self.count == 0 || !before(&c) {
            return None;
        }
        let mut i = 0u128;
        loop {
            let mut next = c;
            if i + 1 >= self.count || !self.chain_step(&mut next) || !before(&next) {
                return Some((i, c.nanos()));
            }
            (i, c) = (i + 1, next);
        }
    }
}

/// A chained mixed series from generated parts (`None` when the date does not exist).
#[allow(clippy::too_many_arguments)]
fn mixed_series(
    (year, month, day): (i32, u32, u32),
    (hour, minute, second, nanos): (u32, u32, u32, u32),
    months: u32,
    (days, hours, minutes, seconds): (u32, u32, u32, u32),
    fraction: Option<u32>,
    backward: bool,
    repetitions: Option<u32>,
) -> Option<(String, Series)> {
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    let anchor = format!(
        "{}T{hour:02}:{minute:02}:{second:02}.{nanos:09}Z",
        date.format("%Y-%m-%d")
    );
    let seconds = match fraction {
        Some(f) => format!("{seconds}.{f:09}"),
        None => seconds.to_string(),
    };
    let duration = format!("P{months}M{days}DT{hours}H{minutes}M{seconds}S");
    let r = repetitions.map_or(String::new(), |n| n.to_string());
    let s = if backward {
        format!("R{r}/{duration}/{anchor}")
    } else {
        format!("R{r}/{anchor}/{duration}")
    };
    let series = Series::new(&s.parse().ok()?, Rafiki);
    (series.step == Step::ChainedMixed).then_some((s, series))
}

#[test]
fn checkpoint_walk_matches_the_walk_from_the_anchor_far_away() {
    for s in [
        "R/0001-01-31T00:00:00Z/P1M1D",
        "R/0001-01-01T23:59:59.999999999Z/P1MT1.000000001S",
        "R/P1M1D/9999-12-31T00:00:00Z",
        "R/P1MT23H/9999-03-31T12:00:00Z",
        "R100000/0001-05-31T00:00:00Z/P1M1D",
        "R/0001-01-31T00:00:00Z/P1M14D",
        "R/0001-02-29T00:00:00Z/P1Y1D",
        "R/0004-02-29T00:00:00Z/P1Y1D",
        "R/P13M40D/9999-12-31T23:00:00Z",
        "R/P1M7D/9999-03-31T00:00:00Z",
        "R/1899-12-30T00:00:00Z/P1M30D",
        "R/0001-01-30T00:00:00Z/P2400M1460D",
        "R/0001-01-31T00:00:00Z/P1M1DT12H",
        "R/0001-01-31T10:20:00Z/P1MT30M",
        "R/P2M3DT5H/9999-12-31T00:00:00Z",
        "R/P1MT1M/9999-12-31T00:00:00Z",
    ] {
        let Ok(r) = s.parse::<RepeatingInterval>() else {
            // P1Y1D from year 1 (no 29 February in year 1) does not parse: skip it.
            assert!(s.contains("0001-02-29"), "{s}");
            continue;
        };
        let series = Series::new(&r, Rafiki);
        assert_eq!(series.step, Step::ChainedMixed, "{s}");
        for at in [
            "0001-01-01T00:00:00Z",
            "0001-03-01T00:00:00Z",
            "2024-02-29T12:00:00Z",
            "5000-07-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
        ]
        .map(t)
        .into_iter()
        // Years 10 000 and 12 000, beyond the checkpoint table.
        .chain(
            [253_402_300_800, 316_516_204_800]
                .map(|secs| DateTime::from_timestamp(secs, 0).unwrap_or_else(|| panic!("{secs}"))),
        ) {
            let wall = series.wall(at);
            assert_eq!(
                series.walk(wall),
                series.walk_from_anchor(wall),
                "{s} at {at}"
            );
        }
    }
}

/// `walk` at the `instants` (seconds), at the boundary found for the first one and just
/// before it, and at `near` (nanoseconds), and `boundary` at the `indices`: each the same
/// as walking from the anchor one step at a time.
fn matches_the_walk_from_the_anchor(
    s: &str,
    series: &Series,
    instants: &[i64],
    near: i128,
    indices: &[u128],
) -> Result<(), proptest::test_runner::TestCaseError> {
    let mut walls: Vec<i128> = instants
        .iter()
        .map(|secs| i128::from(*secs) * NANOS_PER_SECOND)
        .collect();
    // Exactly on a boundary, and just before it.
    if let Some((_, b)) = walls.first().and_then(|w| series.walk_from_anchor(*w)) {
        walls.extend([b, b - 1]);
    }
    walls.push(near);
    for wall in walls {
        proptest::prop_assert_eq!(
            series.walk(wall),
            series.walk_from_anchor(wall),
            "{} at {}",
            s,
            wall
        );
    }
    for &i in indices {
        let mut c = series.chain_start();
        let walked = (0..i).all(|_| series.chain_step(&mut c)).then(|| c.nanos());
        let expected = walked.unwrap_or(series.sign() * SATURATED);
        proptest::prop_assert_eq!(series.boundary(i), expected, "{} boundary {}", s, i);
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]
    #[test]
    fn checkpoint_lookups_match_the_walk_from_the_anchor(
        date in (1i32..=9999, 1u32..=12, 1u32..=31),
        time in (0u32..24, 0u32..60, 0u32..60, proptest::prop_oneof![
            proptest::strategy::Just(0u32), 0u32..1_000_000_000
        ]),
        months in 1u32..=30,
        exact in (0u32..=70, 0u32..24, 0u32..60, 0u32..60),
        fraction in proptest::option::of(1u32..1_000_000_000),
        backward: bool,
        repetitions in proptest::option::of(0u32..150_000),
        instants in proptest::collection::vec(-62_200_000_000i64..253_500_000_000, 4),
        indices in proptest::collection::vec(0u128..130_000, 3),
        near in -40i128..40,
    ) {
        let Some((s, series)) =
            mixed_series(date, time, months, exact, fraction, backward, repetitions)
        else {
            return Ok(());
        };
        matches_the_walk_from_the_anchor(
            &s,
            &series,
            &instants,
            series.anchor + near * 3_600 * NANOS_PER_SECOND,
            &indices,
        )?;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
    /// Months with whole days, or with a time part in multiples of 30 minutes: the chain is
    /// found by jumps over the regular calendar and real steps at the irregular Februaries
    /// (`chain.rs`), far and near.
    #[test]
    fn jump_lookups_match_the_walk_from_the_anchor(
        date in (1i32..=9999, 1u32..=12, 1u32..=31),
        time in (0u32..24, 0u32..60, 0u32..60, 0u32..1_000_000_000),
        months in proptest::prop_oneof![1u32..=14, 1u32..=2_400],
        days in proptest::prop_oneof![0u32..=40, 0u32..=1_460],
        half_hours in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..48],
        backward: bool,
        repetitions in proptest::option::of(0u32..150_000),
        instants in proptest::collection::vec(-62_200_000_000i64..253_500_000_000, 4),
        indices in proptest::collection::vec(
            proptest::prop_oneof![0u128..100, 0u128..130_000], 3),
        near in -2_000i128..2_000,
    ) {
        let Some((s, series)) =
            mixed_series(
                date,
                time,
                months,
                (days, half_hours / 2, half_hours % 2 * 30, 0),
                None,
                backward,
                repetitions,
            )
        else {
            return Ok(());
        };
        proptest::prop_assert!(series.jumps.is_some(), "{}", &s);
        matches_the_walk_from_the_anchor(
            &s,
            &series,
            &instants,
            series.anchor + near * 86_400 * NANOS_PER_SECOND,
            &indices,
        )?;
    }
}

proptest::proptest! {
    #[test]
    fn sticky_clamp_closed_form_matches_the_chain_everywhere(
        year in 1i32..9900,
        month in 1u32..=12,
        day in 25u32..=31,
        months in 1u32..=120,
        backward: bool,
    ) {
        let Some(date) = chrono::NaiveDate::from_ymd_opt(year, month, day) else {
            return Ok(());
        };
        let anchor = format!("{}T06:30:00Z", date.format("%Y-%m-%d"));
        let s = if backward {
            format!("R/P{months}M/{anchor}")
        } else {
            format!("R/{anchor}/P{months}M")
        };
        let Ok(r) = s.parse::<RepeatingInterval>() else {
            return Ok(());
        };
        let series = Series::new(&r, Rafiki);
        let mut chained = series.anchor;
        for i in 0..400u128 {
            proptest::prop_assert_eq!(series.boundary(i), chained, "{} boundary {}", s, i);
            chained = series.chain(chained);
        }
    }
}

#[test]
fn next_window_start_and_end_of_series() {
    let r = interval("R2/2022-07-01T13:00:00Z/P1M");
    assert_eq!(
        r.next_window_start(Iso, t("2022-01-01T00:00:00Z")),
        Some(t("2022-07-01T13:00:00Z"))
    );
    assert_eq!(
        r.next_window_start(Iso, t("2022-07-10T00:00:00Z")),
        Some(t("2022-08-01T13:00:00Z"))
    );
    assert_eq!(r.next_window_start(Iso, t("2022-08-10T00:00:00Z")), None);
    assert_eq!(
        r.next_window_start(Rafiki, t("2022-08-10T00:00:00Z")),
        Some(t("2022-09-01T13:00:00Z"))
    );
    assert!(!r.has_ended(Iso, t("2022-08-10T00:00:00Z")));
    assert!(r.has_ended(Iso, t("2022-09-01T13:00:00Z")));
    assert!(!r.has_ended(Rafiki, t("2022-09-01T13:00:00Z")));
    assert!(r.has_ended(Rafiki, t("2022-10-01T13:00:00Z")));
    let back = interval("R2/P1M/2022-10-01T13:00:00Z");
    assert_eq!(
        back.next_window_start(Iso, t("2022-01-01T00:00:00Z")),
        Some(t("2022-08-01T13:00:00Z"))
    );
    assert_eq!(
        back.next_window_start(Iso, t("2022-08-10T00:00:00Z")),
        Some(t("2022-09-01T13:00:00Z"))
    );
    assert_eq!(back.next_window_start(Iso, t("2022-09-10T00:00:00Z")), None);
    assert!(back.has_ended(Iso, t("2022-10-01T13:00:00Z")));
    assert!(!interval("R/P1D/2022-10-01T13:00:00Z").has_ended(Iso, t("0001-01-01T00:00:00Z")));
}

#[test]
fn iterator_before_inside_and_after() {
    let r = interval("R3/2016-08-24T08:00:00Z/P1D");
    let all: Vec<u64> = r
        .windows_from(Iso, t("2000-01-01T00:00:00Z"))
        .map(|w| w.index)
        .collect();
    assert_eq!(all, [0, 1, 2]);
    assert_eq!(r.windows_from(Iso, t("2016-08-27T08:00:00Z")).count(), 0);
    let rafiki: Vec<u64> = r
        .windows_from(Rafiki, t("2016-08-26T09:00:00Z"))
        .map(|w| w.index)
        .collect();
    assert_eq!(rafiki, [2, 3]);
    let back = interval("R3/P1D/2016-08-24T08:00:00Z");
    let got: Vec<u64> = back
        .windows_from(Iso, t("2000-01-01T00:00:00Z"))
        .map(|w| w.index)
        .collect();
    assert_eq!(got, [2, 1, 0]);
    let mixed = interval("R2/2024-01-31T00:00:00Z/P1M1D");
    let got: Vec<String> = mixed
        .windows_from(Rafiki, t("2024-01-01T00:00:00Z"))
        .map(|w| w.start.format("%m-%d").to_string())
        .collect();
    assert_eq!(got, ["01-31", "03-01", "04-02"]);
    let mixed_back = interval("R2/P1M1D/2024-03-31T00:00:00Z");
    let got: Vec<String> = mixed_back
        .windows_from(Rafiki, t("2023-01-01T00:00:00Z"))
        .map(|w| w.start.format("%m-%d").to_string())
        .collect();
    // Base: 03-31 - 1M = 02-29, - 1D = 02-28; then 01-28 - 1D = 01-27; 12-27 - 1D = 12-26.
    assert_eq!(got, ["12-26", "01-27", "02-28"]);
}

#[test]
fn min_days_in_month_examples() {
    // From January 2024 stepping one month: Feb 2024 (29) is the first clamp.
    let jan2024 = 2024 * 12;
    assert_eq!(min_days_in_month(jan2024, 1, 1), 29);
    assert_eq!(min_days_in_month(jan2024, 1, 12 * 4), 28);
    assert_eq!(min_days_in_month(jan2024 + 2, 1, 1), 30);
    // Every 4 years from Feb 2020: leap until 2100.
    let feb2020 = 2020 * 12 + 1;
    assert_eq!(min_days_in_month(feb2020, 48, 19), 29);
    assert_eq!(min_days_in_month(feb2020, 48, 20), 28);
    // Every 400 years from Feb 2000: always leap.
    assert_eq!(min_days_in_month(2000 * 12 + 1, 4800, 1_000), 29);
}
