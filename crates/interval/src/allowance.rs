//! How much of a limit is left in the window of an instant, and whether a new debit fits.
//!
//! The limit applies to each window separately (spending resets when a new window starts). A
//! debit counts in the window that contains its instant; the sum never overflows silently.

use chrono::{DateTime, Utc};

use crate::amount::Amount;
use crate::value::RepeatingInterval;
use crate::window::{Reading, Window};

/// A debit already made (or proposed): how much, and when it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debit {
    /// The amount debited.
    pub amount: Amount,
    /// The instant that picks its window (Rafiki uses the payment's creation time).
    pub at: DateTime<Utc>,
}

/// Why an allowance could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowanceError {
    /// A debit is in another asset (code or scale) than the limit.
    #[error(
        "debit {index} is {found}, but the limit is in {expected_code} at scale {expected_scale}"
    )]
    AssetMismatch {
        /// Position of the debit in the list given.
        index: usize,
        /// The debit's amount.
        found: Amount,
        /// The limit's asset code.
        expected_code: String,
        /// The limit's asset scale.
        expected_scale: u8,
    },
    /// The debits in one window add up to more than `u64::MAX`.
    #[error("the debits in the window starting {window_start} add up to more than {max}", max = u64::MAX)]
    Overflow {
        /// Start of the window whose sum overflowed.
        window_start: DateTime<Utc>,
    },
}

/// What is left in the window of an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remaining {
    /// The window of the instant; `None` when the series has no window there (nothing may be
    /// debited: the reference server refuses such a payment).
    pub window: Option<Window>,
    /// Sum of the debits in that window.
    pub spent: Amount,
    /// The limit minus `spent`, or zero if the debits already exceed the limit.
    pub left: Amount,
}

/// Whether a new debit fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// It fits; `left_after` remains in the window once it is made.
    Fits {
        /// The window it counts in.
        window: Window,
        /// What is left after it.
        left_after: Amount,
    },
    /// It is larger than what is left.
    ExceedsLimit {
        /// The window it would count in.
        window: Window,
        /// What is left before it.
        left: Amount,
    },
    /// No window contains its instant (before the series, after it, or past its repetitions).
    NoWindow,
}

/// A limit amount applied to each window of a repeating interval, in one reading.
///
/// ```
/// use grantflow_interval::{Allowance, Amount, Debit, Fit, Reading};
///
/// let interval = "R/2016-08-24T08:00:00Z/P1D".parse().unwrap();
/// let allowance = Allowance::new(&interval, Reading::Iso8601, Amount::new(500, "USD", 2));
/// let at = |s: &str| s.parse().unwrap();
/// let debits = [Debit { amount: Amount::new(300, "USD", 2), at: at("2026-01-01T09:00:00Z") }];
/// let left = allowance.remaining(&debits, at("2026-01-01T10:00:00Z")).unwrap().left;
/// assert_eq!(left.value, 200);
/// // The next day is a new window.
/// let left = allowance.remaining(&debits, at("2026-01-02T10:00:00Z")).unwrap().left;
/// assert_eq!(left.value, 500);
/// let next = Debit { amount: Amount::new(201, "USD", 2), at: at("2026-01-01T11:00:00Z") };
/// assert!(matches!(allowance.check(&debits, &next).unwrap(), Fit::ExceedsLimit { .. }));
/// ```
#[derive(Debug, Clone)]
pub struct Allowance<'a> {
    interval: &'a RepeatingInterval,
    reading: Reading,
    limit: Amount,
}

impl<'a> Allowance<'a> {
    /// `limit` per window of `interval`, in `reading`.
    pub fn new(interval: &'a RepeatingInterval, reading: Reading, limit: Amount) -> Self {
        Self {
            interval,
            reading,
            limit,
        }
    }

    /// The limit per window.
    pub fn limit(&self) -> &Amount {
        &self.limit
    }

    /// What is left in the window of `at`, given every debit made so far (in any window).
    pub fn remaining(
        &self,
        debits: &[Debit],
        at: DateTime<Utc>,
    ) -> Result<Remaining, AllowanceError> {
        for (index, debit) in debits.iter().enumerate() {
            if !debit.amount.same_asset(&self.limit) {
                return Err(AllowanceError::AssetMismatch {
                    index,
                    found: debit.amount.clone(),
                    expected_code: self.limit.asset_code.clone(),
                    expected_scale: self.limit.asset_scale,
                });
            }
        }
        let Some(window) = self.interval.window_at(self.reading, at) else {
            return Ok(Remaining {
                window: None,
                spent: self.limit.with_value(0),
                left: self.limit.with_value(0),
            });
        };
        let mut spent: u64 = 0;
        for debit in debits.iter().filter(|d| window.contains(d.at)) {
            spent = spent
                .checked_add(debit.amount.value)
                .ok_or(AllowanceError::Overflow {
                    window_start: window.start,
                })?;
        }
        Ok(Remaining {
            window: Some(window),
            spent: self.limit.with_value(spent),
            left: self
                .limit
                .with_value(self.limit.value.saturating_sub(spent)),
        })
    }

    /// Whether `debit` fits in what is left of its window, given the debits made so far.
    pub fn check(&self, debits: &[Debit], debit: &Debit) -> Result<Fit, AllowanceError> {
        if !debit.amount.same_asset(&self.limit) {
            return Err(AllowanceError::AssetMismatch {
                index: debits.len(),
                found: debit.amount.clone(),
                expected_code: self.limit.asset_code.clone(),
                expected_scale: self.limit.asset_scale,
            });
        }
        let remaining = self.remaining(debits, debit.at)?;
        let Some(window) = remaining.window else {
            return Ok(Fit::NoWindow);
        };
        Ok(match remaining.left.value.checked_sub(debit.amount.value) {
            Some(after) => Fit::Fits {
                window,
                left_after: self.limit.with_value(after),
            },
            None => Fit::ExceedsLimit {
                window,
                left: remaining.left,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn usd(value: u64) -> Amount {
        Amount::new(value, "USD", 2)
    }

    fn debit(value: u64, at: &str) -> Debit {
        Debit {
            amount: usd(value),
            at: t(at),
        }
    }

    fn interval(s: &str) -> RepeatingInterval {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn spending_resets_per_window() -> Result<(), AllowanceError> {
        let r = interval("R2/2022-07-01T13:00:00Z/P1M");
        let a = Allowance::new(&r, Reading::RafikiCompatible, usd(1_000));
        let debits = [
            debit(400, "2022-07-02T00:00:00Z"),
            debit(500, "2022-07-31T00:00:00Z"),
            debit(100, "2022-08-01T13:00:00Z"),
        ];
        let july = a.remaining(&debits, t("2022-07-15T00:00:00Z"))?;
        assert_eq!((july.spent.value, july.left.value), (900, 100));
        let august = a.remaining(&debits, t("2022-08-15T00:00:00Z"))?;
        assert_eq!((august.spent.value, august.left.value), (100, 900));
        let september = a.remaining(&debits, t("2022-09-15T00:00:00Z"))?;
        assert_eq!(september.left.value, 1_000);
        // Past the last repetition: no window, nothing left.
        let after = a.remaining(&debits, t("2022-10-15T00:00:00Z"))?;
        assert_eq!((after.window, after.left.value), (None, 0));
        // The ISO reading has no September window for R2.
        let iso = Allowance::new(&r, Reading::Iso8601, usd(1_000));
        assert_eq!(
            iso.remaining(&debits, t("2022-09-15T00:00:00Z"))?.window,
            None
        );
        Ok(())
    }

    #[test]
    fn a_debit_fits_exactly_or_not() -> Result<(), AllowanceError> {
        let r = interval("R/2016-08-24T08:00:00Z/P1D");
        let a = Allowance::new(&r, Reading::Iso8601, usd(500));
        let debits = [debit(300, "2026-01-01T09:00:00Z")];
        assert!(matches!(
            a.check(&debits, &debit(200, "2026-01-01T10:00:00Z"))?,
            Fit::Fits { left_after, .. } if left_after.value == 0
        ));
        assert!(matches!(
            a.check(&debits, &debit(201, "2026-01-01T10:00:00Z"))?,
            Fit::ExceedsLimit { left, .. } if left.value == 200
        ));
        // A single debit larger than the limit never fits.
        assert!(matches!(
            a.check(&[], &debit(501, "2026-01-02T10:00:00Z"))?,
            Fit::ExceedsLimit { .. }
        ));
        assert_eq!(
            a.check(&debits, &debit(1, "2016-08-24T07:59:59Z"))?,
            Fit::NoWindow
        );
        Ok(())
    }

    #[test]
    fn overspent_windows_have_nothing_left() -> Result<(), AllowanceError> {
        let r = interval("R/2016-08-24T08:00:00Z/P1D");
        let a = Allowance::new(&r, Reading::Iso8601, usd(500));
        let debits = [debit(600, "2026-01-01T09:00:00Z")];
        let left = a.remaining(&debits, t("2026-01-01T10:00:00Z"))?;
        assert_eq!((left.spent.value, left.left.value), (600, 0));
        Ok(())
    }

    #[test]
    fn overflow_is_an_error() {
        let r = interval("R/2016-08-24T08:00:00Z/P1D");
        let a = Allowance::new(&r, Reading::Iso8601, usd(u64::MAX));
        let debits = [
            debit(u64::MAX, "2026-01-01T09:00:00Z"),
            debit(1, "2026-01-01T09:30:00Z"),
        ];
        assert_eq!(
            a.remaining(&debits, t("2026-01-01T10:00:00Z")),
            Err(AllowanceError::Overflow {
                window_start: t("2026-01-01T08:00:00Z")
            })
        );
        // In another window the same debits do not count.
        assert!(a.remaining(&debits, t("2026-01-02T10:00:00Z")).is_ok());
    }

    #[test]
    fn other_assets_are_refused() {
        let r = interval("R/2016-08-24T08:00:00Z/P1D");
        let a = Allowance::new(&r, Reading::Iso8601, usd(500));
        let eur = Debit {
            amount: Amount::new(1, "EUR", 2),
            at: t("2026-01-01T09:00:00Z"),
        };
        let cents = Debit {
            amount: Amount::new(1, "USD", 3),
            at: t("2026-01-01T09:00:00Z"),
        };
        assert!(matches!(
            a.remaining(std::slice::from_ref(&eur), t("2026-01-01T10:00:00Z")),
            Err(AllowanceError::AssetMismatch { index: 0, .. })
        ));
        assert!(matches!(
            a.check(&[], &cents),
            Err(AllowanceError::AssetMismatch { index: 0, .. })
        ));
        let message = a
            .check(&[], &eur)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            message,
            "debit 0 is 1 EUR (scale 2), but the limit is in USD at scale 2"
        );
    }
}
