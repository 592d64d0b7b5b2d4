//! Limit windows: which window of a grant's `limits.interval` an instant falls in, computed by
//! `grantflow-interval` in the configured reading (Rafiki-compatible by default, because that is
//! what the reference server enforces).

use chrono::{DateTime, Utc};
use grantflow_interval::{Reading, RepeatingInterval};

/// A limit window `[start, end)`.
pub(crate) type Span = (DateTime<Utc>, DateTime<Utc>);

/// The window `[start, end)` of `interval` that contains `at`; `None` when no window does
/// (before the series, after it, or past its last repetition). The interval was parsed
/// strictly when the grant was requested.
pub(crate) fn window_at(
    interval: &RepeatingInterval,
    reading: Reading,
    at: DateTime<Utc>,
) -> Option<Span> {
    interval.window_at(reading, at).map(|w| (w.start, w.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn window_at(i: &str, r: Reading, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        super::window_at(&i.parse().unwrap(), r, at)
    }

    #[test]
    fn rafiki_reading_matches_the_reference_table() {
        let r = Reading::RafikiCompatible;
        let i = "R2/2022-07-01T13:00:00Z/P1M";
        assert_eq!(window_at(i, r, t("2022-07-01T12:59:59Z")), None);
        assert_eq!(
            window_at(i, r, t("2022-08-10T13:00:00Z")),
            Some((t("2022-08-01T13:00:00Z"), t("2022-09-01T13:00:00Z")))
        );
        assert_eq!(window_at(i, r, t("2022-10-01T13:00:00Z")), None);
        // The seed's interval: daily windows from 2016-08-24T08:00Z, forever.
        assert_eq!(
            window_at("R/2016-08-24T08:00:00Z/P1D", r, t("2026-11-25T07:59:59Z")),
            Some((t("2026-11-24T08:00:00Z"), t("2026-11-25T08:00:00Z")))
        );
    }
}
