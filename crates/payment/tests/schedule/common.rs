//! Fixtures: a daily schedule, its order, and a step helper.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use grantflow_interval::{Amount, Reading};
use grantflow_payment::schedule::{
    Cadence, ScheduleConfig, ScheduleEvent, ScheduleOrder, ScheduleState, ScheduleTransition,
    transition,
};
use grantflow_payment::{PaymentAmount, PaymentOrder};

/// 2026-12-01T09:00:00Z, the anchor of the daily cadence.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

pub fn days(d: i64) -> TimeDelta {
    TimeDelta::days(d)
}

pub fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

pub fn payment() -> Arc<PaymentOrder> {
    Arc::new(PaymentOrder {
        wallet_address: "https://rs.example/alice".into(),
        receiver: "https://rs.example/bob/incoming-payments/ip-1".into(),
        amount: PaymentAmount::Debit(Amount::new(500, "USD", 2)),
        metadata: None,
    })
}

/// Every day at 09:00 from `t0`, `n` days (`None`: forever).
pub fn daily(n: Option<i64>) -> Arc<ScheduleOrder> {
    Arc::new(ScheduleOrder {
        payment: payment(),
        cadence: Cadence::Interval {
            interval: "R/2026-12-01T09:00:00Z/P1D".parse().unwrap(),
            reading: Reading::Iso8601,
        },
        start: t0(),
        end: n.map(|n| t0() + days(n)),
    })
}

pub fn order(order: Arc<ScheduleOrder>, grant: Option<&str>) -> ScheduleEvent {
    ScheduleEvent::Order {
        schedule: "s1".into(),
        order,
        grant: grant.map(str::to_owned),
    }
}

/// Applies `event` with the default configuration, panicking with the error.
pub fn step(state: &ScheduleState, event: ScheduleEvent, at: DateTime<Utc>) -> ScheduleTransition {
    step_with(state, event, at, &ScheduleConfig::default())
}

pub fn step_with(
    state: &ScheduleState,
    event: ScheduleEvent,
    at: DateTime<Utc>,
    config: &ScheduleConfig,
) -> ScheduleTransition {
    transition(state, event, at, config).unwrap_or_else(|e| panic!("{e}"))
}

pub fn paid(key: &str) -> ScheduleEvent {
    ScheduleEvent::Paid {
        key: key.into(),
        payment: format!(
            "https://rs.example/outgoing-payments/{}",
            key.replace('/', "-")
        ),
    }
}
