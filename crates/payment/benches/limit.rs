//! The limit check before a payment (`limit::check_order`): the window of the grant's interval
//! that contains the instant, the ledger's sum in it (binary search plus the window's entries),
//! the comparison. Target: under 5 µs per check, no I/O.
//!
//! `cargo bench -p grantflow-payment --bench limit -- --warm-up-time 1 --measurement-time 3`

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use grantflow_interval::Amount;
use grantflow_payment::limit::{self, DEFAULT_READING, Ledger, LedgerEntry};
use grantflow_payment::{PaymentAmount, PaymentOrder};
use grantflow_protocol::grant::OutgoingPaymentLimits;
use std::hint::black_box;

fn usd(v: u64) -> Amount {
    Amount::new(v, "USD", 2)
}

/// `payments` payments, `per_day` a day, from 2024-01-01 on.
fn ledger(payments: usize, per_day: usize) -> (Ledger, DateTime<Utc>) {
    let start: DateTime<Utc> = "2024-01-01T09:00:00Z".parse().unwrap_or_default();
    let step = TimeDelta::seconds(86_400 / i64::try_from(per_day).unwrap_or(1));
    let mut at = start;
    let entries = (0..payments).map(|_| {
        at += step;
        LedgerEntry {
            at,
            debit: usd(1),
            receive: usd(1),
        }
    });
    let ledger = Ledger::from_entries(entries.collect::<Vec<_>>());
    let last = ledger.entries().last().map_or(start, |e| e.at);
    (ledger, last)
}

fn bench(c: &mut Criterion) {
    let limits: OutgoingPaymentLimits = serde_json::from_str(
        r#"{"debitAmount":{"value":"100000","assetCode":"USD","assetScale":2},"interval":"R/2016-08-24T08:00:00Z/P1D"}"#,
    )
    .unwrap_or_else(|e| panic!("limits: {e}"));
    let order = PaymentOrder {
        wallet_address: "https://rs.example/alice".into(),
        receiver: "https://rs.example/bob/incoming-payments/1".into(),
        amount: PaymentAmount::Debit(usd(500)),
        metadata: None,
    };
    let mut group = c.benchmark_group("check_order");
    for (name, payments, per_day) in [
        (
            "daily P1D, 1000 payments (3 years of a daily schedule)",
            1_000,
            1,
        ),
        ("daily P1D, 100000 payments, 100 a day", 100_000, 100),
    ] {
        let (ledger, at) = ledger(payments, per_day);
        group.bench_function(name, |b| {
            b.iter(|| {
                let checked = limit::check_order(
                    Some(black_box(&limits)),
                    DEFAULT_READING,
                    black_box(&ledger),
                    None,
                    black_box(&order),
                    black_box(at),
                );
                black_box(checked.is_ok())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
