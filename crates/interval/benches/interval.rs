//! Parse and window-lookup costs, with a naive window-by-window walk beside the near lookups.
//!
//! Run: `cargo bench -p grantflow-interval`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use chrono::{DateTime, Months, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use grantflow_interval::{Reading, RepeatingInterval};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn interval(s: &str) -> RepeatingInterval {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for s in [
        "R/2016-08-24T08:00:00Z/P1D",
        "R12/2022-07-01T13:00:00+02:00/P1M",
        "R2/P1M/2022-10-01T13:00:00Z",
        "R/20160824T080000Z/PT1H30M",
        "R2/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z",
    ] {
        group.bench_function(s, |b| b.iter(|| black_box(s).parse::<RepeatingInterval>()));
    }
    group.finish();
}

/// What the reference server does: start at the anchor and step window by window (chained, in
/// UTC, months clamped by chrono) until the window contains the instant.
fn naive_walk(
    start: DateTime<Utc>,
    months: u32,
    exact: chrono::Duration,
    at: DateTime<Utc>,
) -> Option<(DateTime<Utc>, u64)> {
    if at < start {
        return None;
    }
    let (mut s, mut index) = (start.naive_utc(), 0u64);
    loop {
        let e = s.checked_add_months(Months::new(months))? + exact;
        if at.naive_utc() < e.and_utc().naive_utc() {
            return Some((s.and_utc(), index));
        }
        (s, index) = (e, index + 1);
    }
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("window_at");
    let cases = [
        (
            "near P1D +100 windows",
            "R/2016-08-24T08:00:00Z/P1D",
            "2016-12-02T12:00:00Z",
        ),
        (
            "near P1M +24 windows",
            "R/2024-01-31T00:00:00Z/P1M",
            "2026-01-15T00:00:00Z",
        ),
        (
            "far PT1S 3e8 windows",
            "R/2016-08-24T08:00:00Z/PT1S",
            "2026-01-01T00:00:00.5Z",
        ),
        (
            "far P1M year 1 to 9999",
            "R/0001-01-31T00:00:00Z/P1M",
            "9999-12-31T12:00:00Z",
        ),
        (
            "far duration/end P1M",
            "R/P1M/9999-12-31T00:00:00Z",
            "0001-06-15T00:00:00Z",
        ),
        (
            "near mixed P1M1D +24 windows",
            "R/2024-01-31T00:00:00Z/P1M1D",
            "2026-02-15T00:00:00Z",
        ),
    ];
    for (name, s, at) in cases {
        let r = interval(s);
        let at = t(at);
        for reading in [Reading::Iso8601, Reading::RafikiCompatible] {
            assert!(r.window_at(reading, at).is_some(), "{s} {reading:?}");
            group.bench_function(format!("{name} {}", reading.name()), |b| {
                b.iter(|| black_box(&r).window_at(reading, black_box(at)))
            });
        }
    }
    // The Rafiki reading of a mixed duration is chained. Months and whole days: jumps over the
    // regular calendar from a table per duration (8 kept), real steps at the 75 irregular
    // Februaries between years 1 and 9999 (`crates/interval/src/chain.rs`). Warm: the same series
    // again.
    for (name, s, at) in [
        (
            "far mixed P1M1D year 1 to 9999 rafiki (warm)",
            "R/0001-01-31T00:00:00Z/P1M1D",
            "9999-12-31T00:00:00Z",
        ),
        (
            "far mixed duration/end P1M1D rafiki (warm)",
            "R/P1M1D/9999-12-31T00:00:00Z",
            "0001-06-15T00:00:00Z",
        ),
    ] {
        let (r, at) = (interval(s), t(at));
        assert!(r.window_at(Reading::RafikiCompatible, at).is_some(), "{s}");
        group.bench_function(name, |b| {
            b.iter(|| black_box(&r).window_at(Reading::RafikiCompatible, black_box(at)))
        });
    }
    // A new anchor on every lookup (60 series in turn, nothing of them kept): the cost of any
    // lookup once the duration's jump table exists. P1M14D has no clamp-free runs at all.
    let far = t("9999-12-31T00:00:00Z");
    for duration in ["P1M1D", "P1M14D", "P1Y1D"] {
        let anchors: Vec<RepeatingInterval> = (0..60)
            .map(|m| {
                interval(&format!(
                    "R/0001-01-{:02}T00:{m:02}:00.5Z/{duration}",
                    1 + m % 28
                ))
            })
            .collect();
        let mut turn = 0;
        group.bench_function(
            format!("far mixed {duration} year 1 to 9999 rafiki (new anchor each lookup)"),
            |b| {
                b.iter(|| {
                    turn = (turn + 1) % anchors.len();
                    black_box(&anchors[turn]).window_at(Reading::RafikiCompatible, black_box(far))
                })
            },
        );
    }
    // A new duration on every lookup (20 in turn, more than the 8 tables kept): each lookup
    // builds its duration's table first. The first far lookup of a duration in a process.
    let durations: Vec<RepeatingInterval> = (1..=20)
        .map(|d| interval(&format!("R/0001-01-31T00:00:00Z/P1M{d}D")))
        .collect();
    let mut turn = 0;
    group.bench_function(
        "far mixed P1M<n>D year 1 to 9999 rafiki (new duration each lookup: builds its table)",
        |b| {
            b.iter(|| {
                turn = (turn + 1) % durations.len();
                black_box(&durations[turn]).window_at(Reading::RafikiCompatible, black_box(far))
            })
        },
    );
    // The same 20 durations, 8 years from the anchor (58-93 windows): no table is built for a
    // lookup this near (it steps), so this is the first lookup of a typical recurring limit.
    let mid = t("2032-03-01T00:00:00Z");
    let recent: Vec<RepeatingInterval> = (1..=20)
        .map(|d| interval(&format!("R/2024-01-31T00:00:00Z/P1M{d}D")))
        .collect();
    let mut turn = 0;
    group.bench_function(
        "mid mixed P1M<n>D +8 years rafiki (new duration each lookup: steps, no table)",
        |b| {
            b.iter(|| {
                turn = (turn + 1) % recent.len();
                black_box(&recent[turn]).window_at(Reading::RafikiCompatible, black_box(mid))
            })
        },
    );
    // Months with a time of day. In multiples of 30 minutes (P1M1DT1H): jumps by blocks of
    // steps (24 here, one turn of the time of day). Other time parts (P1M1DT1M: 1 440 steps a
    // turn): no jump table, the chain is walked once per series into a checkpoint table (32
    // series kept). For each: a new anchor each lookup (60 in turn: for P1M1DT1M each walks
    // from its anchor), the same series again (warm), and for P1M1DT1H a new duration each
    // lookup (20 in turn, more than the 8 tables kept: builds its table).
    for time in ["1H", "1M"] {
        let anchors: Vec<RepeatingInterval> = (0..60)
            .map(|m| interval(&format!("R/0001-01-31T00:{m:02}:00.5Z/P1M1DT{time}")))
            .collect();
        let mut turn = 0;
        group.bench_function(
            format!("far mixed P1M1DT{time} year 1 to 9999 rafiki (new anchor each lookup)"),
            |b| {
                b.iter(|| {
                    turn = (turn + 1) % anchors.len();
                    black_box(&anchors[turn]).window_at(Reading::RafikiCompatible, black_box(far))
                })
            },
        );
        if time == "1H" {
            let durations: Vec<RepeatingInterval> = (1..=20)
                .map(|d| interval(&format!("R/0001-01-31T00:00:00Z/P1M{d}DT{time}")))
                .collect();
            let mut turn = 0;
            group.bench_function(
                "far mixed P1M<n>DT1H year 1 to 9999 rafiki (new duration each lookup: builds its table)",
                |b| {
                    b.iter(|| {
                        turn = (turn + 1) % durations.len();
                        black_box(&durations[turn])
                            .window_at(Reading::RafikiCompatible, black_box(far))
                    })
                },
            );
        }
        let warm = &anchors[0];
        group.bench_function(
            format!("far mixed P1M1DT{time} year 1 to 9999 rafiki (warm)"),
            |b| b.iter(|| black_box(warm).window_at(Reading::RafikiCompatible, black_box(far))),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("naive_walk");
    for (name, start, months, exact, at) in [
        (
            "near P1D +100 windows",
            "2016-08-24T08:00:00Z",
            0,
            chrono::Duration::days(1),
            "2016-12-02T12:00:00Z",
        ),
        (
            "near P1M +24 windows",
            "2024-01-31T00:00:00Z",
            1,
            chrono::Duration::zero(),
            "2026-01-15T00:00:00Z",
        ),
    ] {
        let (start, at) = (t(start), t(at));
        let ours = interval(&format!(
            "R/{}/{}",
            start.to_rfc3339(),
            if months == 1 { "P1M" } else { "P1D" }
        ))
        .window_at(Reading::RafikiCompatible, at)
        .map(|w| (w.start, w.index));
        assert_eq!(naive_walk(start, months, exact, at), ours, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| naive_walk(black_box(start), months, exact, black_box(at)))
        });
    }
    group.finish();
}

criterion_group!(benches, parse, lookup);
criterion_main!(benches);
