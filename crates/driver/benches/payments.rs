//! Payments per second end to end (issue 16): `Engine::pay` against the sandbox on loopback
//! (quote, spent amounts, outgoing payment: each step committed before its call), on SQLite and,
//! with `DATABASE_URL`, on PostgreSQL; and the cost of the limit check before quoting
//! (`limit::check_order` over a grant's ledger, no I/O). Figures in `docs/PERFORMANCE.md`.
//!
//! `cargo bench -p grantflow-driver --bench payments` (200 payments, 50 at a time, plus one at a
//! time for the latency); `cargo test -p grantflow-driver --bench payments` runs 10, as a check
//! that it works.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is a failure

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use grantflow_client::Client;
use grantflow_driver::{
    ClientCalls, Engine, EngineConfig, GrantOrder, Interaction, PaymentAmount, PaymentOrder,
};
use grantflow_machine::StateKind;
use grantflow_payment::limit::{self, DEFAULT_READING, Ledger, LedgerEntry};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};
use grantflow_store::{GrantId, GrantStore, SqliteStore};
use serde_json::json;

mod support;

const KID: &str = "pay-bench-key";

struct World {
    sandbox: SandboxHandle,
    client: Client,
    wallet: String,
}

async fn world() -> World {
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let key = PrivateKey::generate();
    let wallet = sandbox
        .put_wallet_address(WalletAddressSpec::client(
            "pay-bench",
            "Payment bench",
            key.public_jwks(KID),
        ))
        .unwrap();
    let client = Client::builder(wallet.parse().unwrap(), KID, key)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    World {
        sandbox,
        client,
        wallet,
    }
}

fn engine<S: GrantStore>(w: &World, store: S) -> Engine<S> {
    let mut config = EngineConfig::new(EngineConfig::unique_worker_id("pay-bench"), &w.wallet);
    config.poll_interval = Duration::from_millis(100);
    Engine::new(store, Arc::new(ClientCalls::new(w.client.clone())), config).unwrap()
}

async fn issued<S: GrantStore>(engine: &Engine<S>, order: GrantOrder) -> GrantId {
    let id = engine.request(order).await.unwrap().id;
    engine
        .wait_for(id, Duration::from_secs(30), |g| {
            g.kind() == StateKind::Issued
        })
        .await
        .unwrap();
    id
}

/// An issued grant for alice's outgoing payments (a limit far above the run) and quotes, and an
/// open incoming payment at bob's.
async fn setup<S: GrantStore>(w: &World, engine: &Engine<S>) -> (GrantId, String) {
    let alice = w.sandbox.wallet_address_url("alice");
    let bob = w.sandbox.wallet_address_url("bob");
    let access = vec![
        serde_json::from_value(json!({
            "type": "outgoing-payment", "actions": ["create", "read", "list"], "identifier": alice,
            "limits": {"debitAmount": {"value": "1000000000", "assetCode": "USD", "assetScale": 2},
                       "interval": "R/2016-08-24T08:00:00Z/P1D"}
        }))
        .unwrap(),
        serde_json::from_value(json!({"type": "quote", "actions": ["create", "read"]})).unwrap(),
    ];
    let requested = engine
        .request(GrantOrder {
            idempotency_key: "pay".into(),
            grant_endpoint: w.sandbox.auth_server_url().to_owned(),
            access,
            interaction: Interaction::Poll,
        })
        .await
        .unwrap();
    w.sandbox
        .approve_interaction(requested.redirect.as_deref().unwrap())
        .unwrap();
    engine
        .wait_for(requested.id, Duration::from_secs(60), |g| {
            g.kind() == StateKind::Issued
        })
        .await
        .unwrap();
    let receive = issued(
        engine,
        GrantOrder {
            idempotency_key: "receive".into(),
            grant_endpoint: w.sandbox.auth_server_url().to_owned(),
            access: vec![
                serde_json::from_value(json!({"type": "incoming-payment",
                    "actions": ["create", "read"], "identifier": bob}))
                .unwrap(),
            ],
            interaction: Interaction::None,
        },
    )
    .await;
    let token = engine.access_token(receive).await.unwrap().value;
    let rs = w.sandbox.resource_server_url().parse().unwrap();
    let create = serde_json::from_value(json!({"walletAddress": bob})).unwrap();
    let receiver = w
        .client
        .create_incoming_payment(&rs, &token, &create)
        .await
        .unwrap()
        .id;
    (requested.id, receiver)
}

/// Pays `n` payments of 1.00, `at_once` at a time; returns the elapsed time and each payment's
/// latency (order to `Sent`).
async fn pay_many<S: GrantStore>(
    engine: &Engine<S>,
    grant: GrantId,
    receiver: &str,
    n: usize,
    at_once: usize,
    tag: &str,
) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(at_once) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in chunk {
            let engine = engine.clone();
            let order = PaymentOrder {
                grant,
                receiver: receiver.to_owned(),
                amount: PaymentAmount::Debit(Amount::new(100, "USD", 2)),
                idempotency_key: format!("{tag}-{i}"),
                metadata: None,
            };
            tasks.spawn(async move {
                let t = Instant::now();
                let id = engine.pay(order).await.unwrap();
                let view = engine
                    .wait_for_payment(id, Duration::from_secs(120))
                    .await
                    .unwrap();
                assert!(view.sent().is_some(), "{:?}", view.reason());
                t.elapsed()
            });
        }
        while let Some(latency) = tasks.join_next().await {
            latencies.push(latency.unwrap());
        }
    }
    latencies.sort();
    (started.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // The index is within the slice: p is in [0, 1].
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn run_on<S: GrantStore>(what: &str, store: S, n: usize, at_once: usize) {
    let w = world().await;
    let engine = engine(&w, store);
    engine.start_worker();
    let (grant, receiver) = setup(&w, &engine).await;
    let (one_total, one) = pay_many(&engine, grant, &receiver, n.min(20), 1, "one").await;
    let (total, many) = pay_many(&engine, grant, &receiver, n, at_once, "many").await;
    #[allow(clippy::cast_precision_loss)]
    let per_second = n as f64 / total.as_secs_f64();
    println!(
        "{what}: one at a time: {} payments in {:.2} s, latency p50 {:.1} ms, p99 {:.1} ms",
        one.len(),
        one_total.as_secs_f64(),
        percentile(&one, 0.5).as_secs_f64() * 1e3,
        percentile(&one, 0.99).as_secs_f64() * 1e3,
    );
    println!(
        "{what}: {n} payments, {at_once} at a time: {:.2} s, {per_second:.1} payments/s, latency p50 {:.1} ms, p99 {:.1} ms",
        total.as_secs_f64(),
        percentile(&many, 0.5).as_secs_f64() * 1e3,
        percentile(&many, 0.99).as_secs_f64() * 1e3,
    );
    engine.shutdown().await;
    w.sandbox.shutdown().await;
}

/// The limit check over a ledger of `entries` payments (a day's window of the seed's interval).
fn limit_check(entries: usize, rounds: u32) {
    let limits = serde_json::from_value(json!({
        "debitAmount": {"value": "100000000", "assetCode": "USD", "assetScale": 2},
        "interval": "R/2016-08-24T08:00:00Z/P1D"
    }))
    .unwrap();
    let now = Utc::now();
    let ledger = Ledger::from_entries((0..entries).map(|i| LedgerEntry {
        at: now - chrono::TimeDelta::minutes(i64::try_from(i).unwrap() * 10),
        debit: Amount::new(100, "USD", 2),
        receive: Amount::new(100, "USD", 2),
    }));
    let order = grantflow_payment::PaymentOrder {
        wallet_address: "https://rs.example/alice".into(),
        receiver: "https://rs.example/bob/incoming-payments/1".into(),
        amount: PaymentAmount::Debit(Amount::new(100, "USD", 2)),
        metadata: None,
    };
    // Warm the interval's caches once.
    limit::check_order(Some(&limits), DEFAULT_READING, &ledger, None, &order, now).unwrap();
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(limit::check_order(
            Some(&limits),
            DEFAULT_READING,
            std::hint::black_box(&ledger),
            None,
            &order,
            now,
        ))
        .unwrap();
    }
    println!(
        "limit check, ledger of {entries} payments: {:.2} µs per check ({rounds} checks)",
        started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, at_once, rounds) = if full {
        (200, 50, 200_000)
    } else {
        (10, 5, 1_000)
    };
    for entries in [0, 100, 1000] {
        limit_check(entries, rounds);
    }
    support::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::connect(&format!(
            "sqlite:{}",
            dir.path().join("payments.db").display()
        ))
        .await
        .unwrap();
        run_on("SQLite file", sqlite, n, at_once).await;
    });
    if let Some(url) = support::database_url("payments on PostgreSQL") {
        support::block_on(async {
            let name = format!("pay_bench_{}", std::process::id());
            let store = support::scratch(&url, &name, 16).await;
            run_on("PostgreSQL", store, n, at_once).await;
            support::drop_scratch(&url, &name).await;
        });
    }
}
