//! Replays the fuzzer's interesting inputs (`tests/fuzz_corpus.hex`, from the `parse_and_window`
//! target in `fuzz/`) with the target's own checks, so every `cargo test` re-runs them: no input
//! panics, whatever parses formats back to the same value, and window lookups hold their
//! invariants.

use chrono::{DateTime, Utc};
use grantflow_interval::{Reading, RepeatingInterval};

fn decode(line: &str) -> Vec<u8> {
    (0..line.len() / 2)
        .map(|i| {
            u8::from_str_radix(&line[2 * i..2 * i + 2], 16)
                .unwrap_or_else(|e| panic!("{line}: {e}"))
        })
        .collect()
}

/// The fuzz target's body; returns whether the interval part parsed.
fn check(data: &[u8]) -> bool {
    let (text, tail) = match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    let Ok(interval) = text.parse::<RepeatingInterval>() else {
        return false;
    };
    let again: RepeatingInterval = interval
        .to_string()
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} formatted as {interval} does not parse: {e}"));
    assert_eq!(again, interval, "{text:?}");
    let mut raw = [0u8; 8];
    for (r, b) in raw.iter_mut().zip(tail) {
        *r = *b;
    }
    const LOW: i64 = -62_135_596_800;
    const SPAN: u64 = 315_537_897_600;
    let secs = LOW + (u64::from_le_bytes(raw) % SPAN) as i64;
    let Some(at) = DateTime::<Utc>::from_timestamp(secs, 0) else {
        return true;
    };
    for reading in [Reading::Iso8601, Reading::RafikiCompatible] {
        if let Some(w) = interval.window_at(reading, at) {
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
    true
}

#[test]
fn fuzz_corpus_replays_cleanly() {
    let corpus = include_str!("fuzz_corpus.hex");
    let inputs: Vec<Vec<u8>> = corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(decode)
        .collect();
    assert!(inputs.len() > 100, "the corpus has {} inputs", inputs.len());
    let parsed = inputs.iter().filter(|data| check(data)).count();
    // Both sides are exercised: inputs that parse and inputs that are rejected.
    assert!(
        parsed > 10 && parsed < inputs.len(),
        "{parsed} of {} parsed",
        inputs.len()
    );
}
