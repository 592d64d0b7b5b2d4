//! Limits said in words, for people: an instant (`24 Aug 2016 08:00 UTC`), a series
//! (`every day from 24 Aug 2016 08:00 UTC, with no end`) and an amount (`5.00 USD`). The
//! sandbox's consent page and the operator console say them the same way.
//!
//! Plain text (no markup): the caller escapes it for where it goes.

use chrono::{DateTime, FixedOffset, Timelike, Utc};

use crate::amount::Amount;
use crate::value::{Duration, IntervalForm, RepeatingInterval};
use crate::window::Reading;

/// An instant as people read it: `24 Aug 2016 08:00 UTC` (seconds only when not zero).
pub fn instant_in_words(at: DateTime<Utc>) -> String {
    if at.timestamp_subsec_nanos() == 0 && at.second() == 0 {
        at.format("%-d %b %Y %H:%M UTC").to_string()
    } else {
        at.format("%-d %b %Y %H:%M:%S UTC").to_string()
    }
}

/// How often the periods repeat: `every day`, `every 2 months`, or, for a duration that mixes
/// units or has a fraction, `every period of P1M1D`.
pub fn step_in_words(duration: &Duration) -> String {
    let written = [
        (duration.years, "year"),
        (duration.months, "month"),
        (duration.weeks, "week"),
        (duration.days, "day"),
        (duration.hours, "hour"),
        (duration.minutes, "minute"),
        (duration.seconds, "second"),
    ];
    let mut present = written.iter().filter_map(|(c, unit)| c.map(|c| (c, *unit)));
    match (present.next(), present.next()) {
        (Some((c, unit)), None) if c.fraction_digits == 0 && c.whole == 1 => {
            format!("every {unit}")
        }
        (Some((c, unit)), None) if c.fraction_digits == 0 => format!("every {} {unit}s", c.whole),
        _ => format!("every period of {duration}"),
    }
}

/// The series in words, in `reading` (which decides how many periods it has):
/// `every day from 24 Aug 2016 08:00 UTC, with no end`.
pub fn series_in_words(interval: &RepeatingInterval, reading: Reading) -> String {
    let utc = |t: DateTime<FixedOffset>| instant_in_words(t.with_timezone(&Utc));
    let mut text = match interval.form() {
        IntervalForm::StartDuration { start, duration } => {
            format!("{} from {}", step_in_words(duration), utc(*start))
        }
        IntervalForm::DurationEnd { duration, end } => {
            format!(
                "{}, the last period ending {}",
                step_in_words(duration),
                utc(*end)
            )
        }
        IntervalForm::StartEnd { start, end } => format!(
            "every period as long as the first, which runs from {} to {}",
            utc(*start),
            utc(*end)
        ),
    };
    match interval.window_count(reading) {
        None => text.push_str(", with no end"),
        Some(1) => text.push_str(", one period only"),
        Some(n) => text.push_str(&format!(", {n} periods in all")),
    }
    text
}

impl Amount {
    /// The amount in units of its asset: `500` at scale 2 in USD is `5.00 USD`.
    pub fn in_units(&self) -> String {
        let digits = self.value.to_string();
        let scale = usize::from(self.asset_scale);
        let number = if scale == 0 {
            digits
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{int}.{frac}")
        } else {
            format!("0.{}{digits}", "0".repeat(scale - digits.len()))
        };
        format!("{number} {}", self.asset_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_decimals() {
        let usd = |value, scale| Amount::new(value, "USD", scale);
        assert_eq!(usd(500, 2).in_units(), "5.00 USD");
        assert_eq!(usd(5, 2).in_units(), "0.05 USD");
        assert_eq!(usd(12345, 0).in_units(), "12345 USD");
        assert_eq!(usd(0, 3).in_units(), "0.000 USD");
    }

    #[test]
    fn steps_in_words() {
        let step = |i: &str| {
            let i: RepeatingInterval = i.parse().unwrap();
            step_in_words(i.duration().unwrap())
        };
        assert_eq!(step("R/2016-08-24T08:00:00Z/P1W"), "every week");
        assert_eq!(step("R/2016-08-24T08:00:00Z/PT12H"), "every 12 hours");
        assert_eq!(
            step("R/2016-08-24T08:00:00Z/P1M1D"),
            "every period of P1M1D"
        );
        assert_eq!(
            step("R/2016-08-24T08:00:00Z/PT0.5H"),
            "every period of PT0.5H"
        );
    }

    #[test]
    fn series_in_words_count_periods_in_the_reading() {
        let series = |i: &str, r| series_in_words(&i.parse().unwrap(), r);
        assert_eq!(
            series("R/2016-08-24T08:00:00Z/P1D", Reading::RafikiCompatible),
            "every day from 24 Aug 2016 08:00 UTC, with no end"
        );
        assert_eq!(
            series(
                "R2/2022-07-01T15:00:00+02:00/P2M",
                Reading::RafikiCompatible
            ),
            "every 2 months from 1 Jul 2022 13:00 UTC, 3 periods in all"
        );
        assert_eq!(
            series("R2/2022-07-01T15:00:00+02:00/P2M", Reading::Iso8601),
            "every 2 months from 1 Jul 2022 13:00 UTC, 2 periods in all"
        );
    }
}
