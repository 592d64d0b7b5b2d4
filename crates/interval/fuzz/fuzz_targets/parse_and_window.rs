//! Fuzzes the parser, and window lookups on whatever parses. No input may panic, and whatever
//! parses must format back to a string that parses to the same value.
//!
//! Input: the interval text, then optionally a 0xFF byte and 8 bytes choosing an instant.

#![no_main]

use grantflow_interval::chrono::{DateTime, Utc};
use grantflow_interval::{Reading, RepeatingInterval};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, tail) = match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(interval) = text.parse::<RepeatingInterval>() else {
        return;
    };
    let again: RepeatingInterval = match interval.to_string().parse() {
        Ok(r) => r,
        Err(e) => panic!("{text:?} formatted as {interval} does not parse: {e}"),
    };
    assert_eq!(again, interval, "{text:?}");

    // An instant within years 0001-9999 picked by the tail.
    let mut raw = [0u8; 8];
    for (r, b) in raw.iter_mut().zip(tail) {
        *r = *b;
    }
    const LOW: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const SPAN: u64 = 315_537_897_600; // to 10000-01-01T00:00:00Z
    let secs = LOW + (u64::from_le_bytes(raw) % SPAN) as i64;
    let Some(at) = DateTime::<Utc>::from_timestamp(secs, 0) else {
        return;
    };
    for reading in [Reading::Iso8601, Reading::RafikiCompatible] {
        let found = interval.window_at(reading, at);
        if let Some(w) = found {
            assert!(w.contains(at), "{text:?} {reading:?} {at}: {w:?}");
            assert_eq!(interval.window(reading, w.index), Some(w));
        }
        let _ = interval.next_window_start(reading, at);
        let _ = interval.has_ended(reading, at);
        let _ = interval.series_end(reading);
        let mut previous = None;
        for w in interval.windows_from(reading, at).take(3) {
            assert!(w.start < w.end, "{text:?} {reading:?}: {w:?}");
            if let Some(p) = previous {
                assert_eq!(w.start, p, "{text:?} {reading:?}: not contiguous");
            }
            previous = Some(w.end);
        }
    }
});
