//! The limit check before a payment: what the grant's `limits` leave in the current window, given
//! the engine's own ledger of what it paid under the grant (and, when it has them, the RS's spent
//! amounts), and whether an order or a quote fits.
//!
//! Pure: `at` is an argument. The window is the one `grantflow-interval` finds for the grant's
//! `limits.interval` in the [`Reading`] the AS uses ([`DEFAULT_READING`], the reference's, by
//! default). Without an interval the limit applies to the grant's whole life (the ledger's sum).
//!
//! The ledger must hold every payment the engine *may* have made under the grant (created, or with
//! a create in flight or of unknown outcome): a payment counts as soon as it could exist, so two
//! payments checked one after the other cannot both take the same headroom.
//!
//! Cost: a window lookup (O(1) in the distance from the anchor) plus a binary search of the
//! ledger (sorted by instant) and a sum over the window's entries: no I/O, no allocation.

use chrono::{DateTime, Utc};
use grantflow_interval::{Amount, Reading, Window};
use grantflow_protocol::grant::OutgoingPaymentLimits;
use grantflow_protocol::outgoing_payment::OutgoingPaymentGrantSpentAmounts;
use serde::{Deserialize, Serialize};

use crate::order::{PaymentAmount, PaymentOrder};

/// The reading the limit check uses unless told otherwise: the reference server's
/// (`Reading::RafikiCompatible`), because that is what an Open Payments AS enforces today.
pub const DEFAULT_READING: Reading = Reading::RafikiCompatible;

/// A limit window `[start, end)` and its index in the series (a stored copy of
/// [`grantflow_interval::Window`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitWindow {
    /// The first instant in the window.
    pub start: DateTime<Utc>,
    /// The first instant after the window.
    pub end: DateTime<Utc>,
    /// The window's index in the series.
    pub index: u64,
}

impl From<Window> for LimitWindow {
    fn from(w: Window) -> Self {
        Self {
            start: w.start,
            end: w.end,
            index: w.index,
        }
    }
}

impl std::fmt::Display for LimitWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}, {}) (window {})",
            self.start.to_rfc3339(),
            self.end.to_rfc3339(),
            self.index
        )
    }
}

/// Which of the grant's two amount limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSide {
    /// `limits.debitAmount`: what the sender may be debited.
    Debit,
    /// `limits.receiveAmount`: what the receivers may get.
    Receive,
}

impl std::fmt::Display for LimitSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Debit => "debitAmount",
            Self::Receive => "receiveAmount",
        })
    }
}

/// Why a payment does not fit the grant's limits. Each variant says what the application can do:
/// wait for the next window, pay less, or ask the user for a new grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "refused", rename_all = "snake_case")]
pub enum LimitRefused {
    /// More than the limit leaves in the window: pay at most `left`, or wait for the next window.
    #[error(
        "the grant's {side} limit leaves {left} in {}, {asked} asked; the next window starts {}",
        window.map_or_else(|| "the grant's life (no interval)".to_owned(), |w| w.to_string()),
        next_window_start.map_or_else(|| "never (the series ends with this window)".to_owned(), |t| t.to_rfc3339())
    )]
    Exceeded {
        /// Which limit.
        side: LimitSide,
        /// The amount the payment needs.
        asked: Amount,
        /// What the limit leaves in the window.
        left: Amount,
        /// The window (`None`: the grant has no interval, the limit is for its whole life).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<LimitWindow>,
        /// When the next window starts (and the limit resets); `None` when none follows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_window_start: Option<DateTime<Utc>>,
    },
    /// No window of the grant's interval contains the instant: nothing may be paid now (the
    /// reference answers 403). Wait for `next_window_start`, or ask the user for a new grant when
    /// there is none.
    #[error(
        "no window of the grant's interval contains {}; {}",
        at.to_rfc3339(),
        next_window_start.map_or_else(|| "the series is over: the user must consent again".to_owned(), |t| format!("the next window starts {}", t.to_rfc3339()))
    )]
    NoWindow {
        /// The instant checked.
        at: DateTime<Utc>,
        /// When the next window starts, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_window_start: Option<DateTime<Utc>>,
    },
    /// The payment is in another asset than the limit: the grant cannot pay it.
    #[error("the grant's {side} limit is {limit}, the payment is in another asset: {asked}")]
    AssetMismatch {
        /// Which limit.
        side: LimitSide,
        /// The limit.
        limit: Amount,
        /// The payment's amount.
        asked: Amount,
    },
    /// The grant may only pay `allowed` (`limits.receiver`).
    #[error("the grant may only pay {allowed}, not {receiver}")]
    ReceiverNotAllowed {
        /// The grant's `limits.receiver`.
        allowed: String,
        /// The order's receiver.
        receiver: String,
    },
}

/// What the grant's limits leave at an instant: the input the payment machine checks an order and
/// a quote against (carried by [`PaymentEvent::Order`](crate::PaymentEvent) and
/// [`PaymentEvent::Quoted`](crate::PaymentEvent), so replay sees the same numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headroom {
    /// The window the numbers are for (`None`: no interval, or no limit at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<LimitWindow>,
    /// What `debitAmount` leaves (`None`: no debit limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_left: Option<Amount>,
    /// What `receiveAmount` leaves (`None`: no receive limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_left: Option<Amount>,
    /// When the next window starts (`None`: no interval, or the series ends with this window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_window_start: Option<DateTime<Utc>>,
}

impl Headroom {
    /// No limit at all (a grant without `limits`).
    pub fn unlimited() -> Self {
        Self {
            window: None,
            debit_left: None,
            receive_left: None,
            next_window_start: None,
        }
    }

    /// Whether `asked` fits what the `side` limit leaves.
    pub fn admits(&self, side: LimitSide, asked: &Amount) -> Result<(), LimitRefused> {
        let left = match side {
            LimitSide::Debit => &self.debit_left,
            LimitSide::Receive => &self.receive_left,
        };
        let Some(left) = left else { return Ok(()) };
        if !left.same_asset(asked) {
            return Err(LimitRefused::AssetMismatch {
                side,
                limit: left.clone(),
                asked: asked.clone(),
            });
        }
        if asked.value > left.value {
            return Err(LimitRefused::Exceeded {
                side,
                asked: asked.clone(),
                left: left.clone(),
                window: self.window,
                next_window_start: self.next_window_start,
            });
        }
        Ok(())
    }

    /// Whether an order fits: the side it fixes (the other is known only once quoted).
    pub fn admits_order(&self, amount: &PaymentAmount) -> Result<(), LimitRefused> {
        match amount {
            PaymentAmount::Debit(a) => self.admits(LimitSide::Debit, a),
            PaymentAmount::Receive(a) => self.admits(LimitSide::Receive, a),
        }
    }

    /// Whether a quote fits: both of its amounts.
    pub fn admits_quote(&self, debit: &Amount, receive: &Amount) -> Result<(), LimitRefused> {
        self.admits(LimitSide::Debit, debit)?;
        self.admits(LimitSide::Receive, receive)
    }
}

/// One payment the engine made (or may have made) under a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The instant that picks its window (the reference counts a payment at its creation).
    pub at: DateTime<Utc>,
    /// What it debits.
    pub debit: Amount,
    /// What it delivers.
    pub receive: Amount,
}

/// What the engine paid under one grant, kept sorted by instant so a window's sum is a binary
/// search plus the window's entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    entries: Vec<LedgerEntry>,
}

/// Sums spent in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Spent {
    debit: u64,
    receive: u64,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger of these entries, in any order.
    pub fn from_entries(entries: impl IntoIterator<Item = LedgerEntry>) -> Self {
        let mut entries: Vec<_> = entries.into_iter().collect();
        entries.sort_by_key(|e| e.at);
        Self { entries }
    }

    /// Records one more payment.
    pub fn record(&mut self, entry: LedgerEntry) {
        let at = self.entries.partition_point(|e| e.at <= entry.at);
        self.entries.insert(at, entry);
    }

    /// The entries, by instant.
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// Sums in `[start, end)` (everything without a window), counting only entries in the limit's
    /// asset (a grant's wallet address has one asset; others cannot count against its limits).
    /// Sums saturate: a sum past `u64::MAX` is over any limit anyway.
    fn spent(&self, window: Option<&LimitWindow>, limits: &OutgoingPaymentLimits) -> Spent {
        let entries = match window {
            Some(w) => {
                let from = self.entries.partition_point(|e| e.at < w.start);
                let to = self.entries.partition_point(|e| e.at < w.end);
                &self.entries[from..to.max(from)]
            }
            None => &self.entries[..],
        };
        let in_asset =
            |limit: &Option<Amount>, a: &Amount| limit.as_ref().is_none_or(|l| l.same_asset(a));
        let mut spent = Spent::default();
        for e in entries {
            if in_asset(&limits.debit_amount, &e.debit) {
                spent.debit = spent.debit.saturating_add(e.debit.value);
            }
            if in_asset(&limits.receive_amount, &e.receive) {
                spent.receive = spent.receive.saturating_add(e.receive.value);
            }
        }
        spent
    }
}

/// What the grant's `limits` leave at `at`, given the engine's `ledger` and, when it has them, the
/// RS's spent amounts for the current window (`GET /outgoing-payment-grant`): the larger of the
/// two sums counts, so payments made by other clients of the grant are accounted for.
///
/// `limits` is `None` for a grant without limits: [`Headroom::unlimited`].
pub fn headroom(
    limits: Option<&OutgoingPaymentLimits>,
    reading: Reading,
    ledger: &Ledger,
    rs_spent: Option<&OutgoingPaymentGrantSpentAmounts>,
    at: DateTime<Utc>,
) -> Result<Headroom, LimitRefused> {
    let Some(limits) = limits else {
        return Ok(Headroom::unlimited());
    };
    let (window, next_window_start) = match &limits.interval {
        None => (None, None),
        Some(interval) => match interval.window_at(reading, at) {
            Some(w) => (
                Some(LimitWindow::from(w)),
                interval.next_window_start(reading, at),
            ),
            None => {
                return Err(LimitRefused::NoWindow {
                    at,
                    next_window_start: interval.next_window_start(reading, at),
                });
            }
        },
    };
    let ours = ledger.spent(window.as_ref(), limits);
    let theirs = |a: Option<&Amount>, limit: &Amount| {
        a.filter(|a| a.same_asset(limit)).map_or(0, |a| a.value)
    };
    let left = |limit: &Option<Amount>, ours: u64, rs: Option<&Amount>| {
        limit.as_ref().map(|l| {
            let spent = ours.max(theirs(rs, l));
            Amount::new(
                l.value.saturating_sub(spent),
                l.asset_code.clone(),
                l.asset_scale,
            )
        })
    };
    Ok(Headroom {
        window,
        debit_left: left(
            &limits.debit_amount,
            ours.debit,
            rs_spent.and_then(|s| s.spent_debit_amount.as_ref()),
        ),
        receive_left: left(
            &limits.receive_amount,
            ours.receive,
            rs_spent.and_then(|s| s.spent_receive_amount.as_ref()),
        ),
        next_window_start,
    })
}

/// The check before quoting: the order's receiver is one the grant may pay, and the side of the
/// amount it fixes fits what the limits leave at `at`. Returns the headroom to hand to the machine
/// with [`PaymentEvent::Order`](crate::PaymentEvent).
///
/// ```
/// use grantflow_interval::Amount;
/// use grantflow_payment::limit::{self, Ledger, LedgerEntry, LimitRefused, DEFAULT_READING};
/// use grantflow_payment::{PaymentAmount, PaymentOrder};
///
/// let limits = serde_json::from_str(
///     r#"{"debitAmount":{"value":"500","assetCode":"USD","assetScale":2},"interval":"R/2016-08-24T08:00:00Z/P1D"}"#,
/// )?;
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let usd = |v| Amount::new(v, "USD", 2);
/// let ledger = Ledger::from_entries([LedgerEntry { at: at("2026-12-03T09:00:00Z"), debit: usd(400), receive: usd(400) }]);
/// let order = PaymentOrder {
///     wallet_address: "https://rs.example/alice".into(),
///     receiver: "https://rs.example/bob/incoming-payments/1".into(),
///     amount: PaymentAmount::Debit(usd(200)),
///     metadata: None,
/// };
/// let refused = limit::check_order(Some(&limits), DEFAULT_READING, &ledger, None, &order, at("2026-12-03T10:00:00Z"));
/// match refused {
///     Err(LimitRefused::Exceeded { left, next_window_start, .. }) => {
///         assert_eq!(left.value, 100);
///         assert_eq!(next_window_start, Some(at("2026-12-04T08:00:00Z")));
///     }
///     other => panic!("{other:?}"),
/// }
/// // The next day is a new window.
/// assert!(limit::check_order(Some(&limits), DEFAULT_READING, &ledger, None, &order, at("2026-12-04T08:00:00Z")).is_ok());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn check_order(
    limits: Option<&OutgoingPaymentLimits>,
    reading: Reading,
    ledger: &Ledger,
    rs_spent: Option<&OutgoingPaymentGrantSpentAmounts>,
    order: &PaymentOrder,
    at: DateTime<Utc>,
) -> Result<Headroom, LimitRefused> {
    if let Some(allowed) = limits.and_then(|l| l.receiver.as_ref())
        && *allowed != order.receiver
    {
        return Err(LimitRefused::ReceiverNotAllowed {
            allowed: allowed.clone(),
            receiver: order.receiver.clone(),
        });
    }
    let room = headroom(limits, reading, ledger, rs_spent, at)?;
    room.admits_order(&order.amount)?;
    Ok(room)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn usd(v: u64) -> Amount {
        Amount::new(v, "USD", 2)
    }

    fn limits(json: &str) -> OutgoingPaymentLimits {
        serde_json::from_str(json).unwrap()
    }

    fn entry(at: &str, v: u64) -> LedgerEntry {
        LedgerEntry {
            at: t(at),
            debit: usd(v),
            receive: usd(v),
        }
    }

    const DAILY: &str = r#"{"debitAmount":{"value":"500","assetCode":"USD","assetScale":2},"interval":"R/2016-08-24T08:00:00Z/P1D"}"#;

    #[test]
    fn the_window_boundary_is_half_open() {
        let l = limits(DAILY);
        let ledger = Ledger::from_entries([
            entry("2026-12-03T07:59:59Z", 300), // the previous window
            entry("2026-12-03T08:00:00Z", 100), // this one
            entry("2026-12-04T08:00:00Z", 400), // the next one
        ]);
        let room = headroom(
            Some(&l),
            DEFAULT_READING,
            &ledger,
            None,
            t("2026-12-03T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(room.debit_left, Some(usd(400)));
        assert_eq!(room.receive_left, None);
        assert_eq!(
            room.window.map(|w| w.start),
            Some(t("2026-12-03T08:00:00Z"))
        );
        assert_eq!(room.next_window_start, Some(t("2026-12-04T08:00:00Z")));
    }

    #[test]
    fn the_rs_spent_amounts_count_when_larger() {
        let l = limits(DAILY);
        let ledger = Ledger::from_entries([entry("2026-12-03T09:00:00Z", 100)]);
        let rs: OutgoingPaymentGrantSpentAmounts = serde_json::from_str(
            r#"{"spentDebitAmount":{"value":"450","assetCode":"USD","assetScale":2},"spentReceiveAmount":{"value":"450","assetCode":"USD","assetScale":2}}"#,
        )
        .unwrap();
        let room = headroom(
            Some(&l),
            DEFAULT_READING,
            &ledger,
            Some(&rs),
            t("2026-12-03T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(room.debit_left, Some(usd(50)));
        // Ours is larger: ours counts.
        let ledger = Ledger::from_entries([entry("2026-12-03T09:00:00Z", 480)]);
        let room = headroom(
            Some(&l),
            DEFAULT_READING,
            &ledger,
            Some(&rs),
            t("2026-12-03T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(room.debit_left, Some(usd(20)));
    }

    #[test]
    fn outside_the_series_nothing_may_be_paid() {
        let l = limits(
            r#"{"debitAmount":{"value":"500","assetCode":"USD","assetScale":2},"interval":"R1/2026-12-01T00:00:00Z/P1D"}"#,
        );
        // Rafiki's reading of R1: two windows, Dec 1 and Dec 2.
        let err = headroom(
            Some(&l),
            DEFAULT_READING,
            &Ledger::new(),
            None,
            t("2026-12-03T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            LimitRefused::NoWindow {
                at: t("2026-12-03T00:00:00Z"),
                next_window_start: None
            }
        );
        assert!(err.to_string().contains("consent again"), "{err}");
        let err = headroom(
            Some(&l),
            DEFAULT_READING,
            &Ledger::new(),
            None,
            t("2026-11-30T00:00:00Z"),
        )
        .unwrap_err();
        assert!(
            matches!(err, LimitRefused::NoWindow { next_window_start: Some(s), .. } if s == t("2026-12-01T00:00:00Z"))
        );
    }

    #[test]
    fn without_an_interval_the_limit_is_for_the_grants_life() {
        let l = limits(r#"{"receiveAmount":{"value":"1000","assetCode":"USD","assetScale":2}}"#);
        let ledger = Ledger::from_entries([
            entry("2020-01-01T00:00:00Z", 600),
            entry("2026-01-01T00:00:00Z", 300),
        ]);
        let room = headroom(
            Some(&l),
            DEFAULT_READING,
            &ledger,
            None,
            t("2026-12-03T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            (
                room.window,
                room.receive_left.clone(),
                room.debit_left.clone()
            ),
            (None, Some(usd(100)), None)
        );
        assert!(room.admits_order(&PaymentAmount::Debit(usd(5_000))).is_ok());
        assert!(matches!(
            room.admits_order(&PaymentAmount::Receive(usd(101))),
            Err(LimitRefused::Exceeded {
                side: LimitSide::Receive,
                ..
            })
        ));
        assert!(matches!(
            room.admits_quote(&usd(1), &Amount::new(1, "EUR", 2)),
            Err(LimitRefused::AssetMismatch {
                side: LimitSide::Receive,
                ..
            })
        ));
    }

    #[test]
    fn the_receiver_limit_is_checked_first() {
        let l = limits(r#"{"receiver":"https://rs.example/bob/incoming-payments/1"}"#);
        let order = PaymentOrder {
            wallet_address: "https://rs.example/alice".into(),
            receiver: "https://rs.example/carol/incoming-payments/2".into(),
            amount: PaymentAmount::Debit(usd(1)),
            metadata: None,
        };
        let err = check_order(
            Some(&l),
            DEFAULT_READING,
            &Ledger::new(),
            None,
            &order,
            t("2026-12-03T00:00:00Z"),
        )
        .unwrap_err();
        assert!(matches!(err, LimitRefused::ReceiverNotAllowed { .. }));
        assert!(
            check_order(
                None,
                DEFAULT_READING,
                &Ledger::new(),
                None,
                &order,
                t("2026-12-03T00:00:00Z")
            )
            .is_ok()
        );
    }

    #[test]
    fn record_keeps_the_ledger_sorted() {
        let mut ledger = Ledger::new();
        for (at, v) in [
            ("2026-12-03T10:00:00Z", 1),
            ("2026-12-03T08:00:00Z", 2),
            ("2026-12-03T09:00:00Z", 3),
        ] {
            ledger.record(entry(at, v));
        }
        let values: Vec<u64> = ledger.entries().iter().map(|e| e.debit.value).collect();
        assert_eq!(values, [2, 3, 1]);
    }
}
