//! Fixtures: an order, quotes and payments shaped like the reference RS's.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use grantflow_interval::Amount;
use grantflow_payment::{
    Headroom, PaymentAmount, PaymentConfig, PaymentEvent, PaymentInfo, PaymentOrder, PaymentState,
    QuoteInfo, Refusal, Transition, transition,
};

/// The RS's base URL.
pub const RS: &str = "https://rs.example";

/// 2026-12-03T09:00:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap()
}

pub fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

pub fn usd(v: u64) -> Amount {
    Amount::new(v, "USD", 2)
}

pub fn order(value: u64) -> Arc<PaymentOrder> {
    Arc::new(PaymentOrder {
        wallet_address: format!("{RS}/alice"),
        receiver: format!("{RS}/bob/incoming-payments/ip-1"),
        amount: PaymentAmount::Debit(usd(value)),
        metadata: None,
    })
}

pub fn quote(n: u32, value: u64, expires_at: Option<DateTime<Utc>>) -> QuoteInfo {
    QuoteInfo {
        id: format!("{RS}/quotes/q-{n}"),
        debit_amount: usd(value),
        receive_amount: usd(value),
        expires_at,
    }
}

pub fn payment_of(q: &QuoteInfo, at: DateTime<Utc>, failed: bool) -> PaymentInfo {
    PaymentInfo {
        id: q.payment_url().unwrap(),
        quote_id: Some(q.id.clone()),
        debit_amount: q.debit_amount.clone(),
        receive_amount: q.receive_amount.clone(),
        sent_amount: q.debit_amount.clone(),
        failed,
        created_at: at,
    }
}

pub fn refused(status: u16, description: &str) -> PaymentEvent {
    PaymentEvent::Refused {
        refusal: Refusal {
            status,
            code: None,
            description: Some(description.to_owned()),
        },
    }
}

pub fn debit_left(v: u64) -> Headroom {
    Headroom {
        debit_left: Some(usd(v)),
        ..Headroom::unlimited()
    }
}

/// Applies `event` and returns the transition, panicking with the error.
pub fn step(state: &PaymentState, event: PaymentEvent, at: DateTime<Utc>) -> Transition {
    transition(state, event, at, &PaymentConfig::default()).unwrap_or_else(|e| panic!("{e}"))
}
