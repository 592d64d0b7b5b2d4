//! The engine's figures, measured on the machine it runs on (see `docs/PERFORMANCE.md`).
//!
//! `cargo bench -p grantflow-driver --bench engine` runs everything at full size against
//! `DATABASE_URL` (PostgreSQL; the bench creates and drops its own scratch databases there) and an
//! in-process sandbox on loopback. Without `--bench` (as `cargo test --benches` runs it) it runs a
//! short mode that only checks every part works. `GRANTFLOW_BENCH=overhead,e2e,...` picks parts.
//!
//! - `overhead`: grants whose calls complete at once (an in-process `Calls` that answers like
//!   the AS), claimed and advanced by 4 workers (4 engines) on PostgreSQL: transitions per second.
//! - `e2e`: complete interactive lifecycles per second against the sandbox over loopback, with
//!   signatures made and verified: request, approve, finish callback, continue, issued.
//! - `latency`: from the finish callback arriving to the continue call leaving (sandbox `wait` 0).
//! - `recovery`: a worker holding 1,000 leased grants is killed; how long the others take.
//! - `memory`: resident memory while 100,000 grants wait for interaction and a worker runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is a broken bench

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_client::Client;
use grantflow_driver::{CallFuture, Calls, ClientCalls, Engine, GrantOrder, Interaction};
use grantflow_machine::{Effect, StateKind};
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{Sandbox, SandboxConfig, WalletAddressSpec};
use grantflow_store::{GrantId, GrantStore, PgStore};
use serde_json::json;
use support::{InstantCalls, engine_config, rss_kib, scratch, seed_state};

/// Never answers: a worker stuck in calls (its leases are what the recovery part measures).
struct HangingCalls;

impl Calls for HangingCalls {
    fn call<'a>(&'a self, _effect: &'a Effect) -> CallFuture<'a> {
        Box::pin(std::future::pending())
    }
}

/// The real client, noting when each continue call leaves.
struct TimedCalls {
    inner: ClientCalls,
    continue_left: Mutex<Option<Instant>>,
}

impl Calls for TimedCalls {
    fn call<'a>(&'a self, effect: &'a Effect) -> CallFuture<'a> {
        if matches!(effect, Effect::Continue { .. }) {
            *self.continue_left.lock().unwrap() = Some(Instant::now());
        }
        self.inner.call(effect)
    }
}

/// Inserts `n` grants with `state`, due at `wake`, in batches (no events: the bench only appends).
async fn seed(store: &PgStore, n: usize, state: &str, wake: DateTime<Utc>) {
    let mut left = n;
    while left > 0 {
        let batch = left.min(20_000);
        sqlx::query(
            "INSERT INTO grantflow_grants (id, state, version, next_wake_at, created_at, updated_at)
             SELECT gen_random_uuid(), $1::jsonb, 3, $2, now(), now() FROM generate_series(1, $3)",
        )
        .bind(state)
        .bind(wake)
        .bind(batch as i64)
        .execute(store.pool())
        .await
        .unwrap();
        left -= batch;
    }
    sqlx::query("ANALYZE grantflow_grants")
        .execute(store.pool())
        .await
        .unwrap();
}

async fn count(store: &PgStore, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn overhead(url: &str, full: bool) {
    let n = if full { 100_000 } else { 2_000 };
    let store = scratch(url, "grantflow_bench_overhead", 24).await;
    seed(
        &store,
        n,
        &seed_state(true, TimeDelta::seconds(660)),
        Utc::now() - TimeDelta::minutes(1),
    )
    .await;
    let calls: Arc<dyn Calls> = Arc::new(InstantCalls::new());
    let engines: Vec<_> = (0..4)
        .map(|i| {
            Engine::new(
                store.clone(),
                calls.clone(),
                engine_config(&format!("bench{i}"), Duration::from_secs(30)),
            )
            .unwrap()
        })
        .collect();
    let started = Instant::now();
    for e in &engines {
        e.start_worker();
    }
    let want = 2 * n as i64;
    loop {
        let done = count(&store, "SELECT count(*) FROM grantflow_grant_events").await;
        if done >= want {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "overhead drain stalled at {done}/{want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let el = started.elapsed();
    for e in &engines {
        e.shutdown().await;
    }
    let issued = count(
        &store,
        "SELECT count(*) FROM grantflow_grants WHERE state->'grant'->>'state' = 'finalized'",
    )
    .await;
    assert_eq!(issued, n as i64, "every grant ended issued");
    println!(
        "overhead: {want} transitions ({n} grants x 2: continue in flight, issued) in {:.2}s = {:.0} transitions/s (4 workers, PostgreSQL)",
        el.as_secs_f64(),
        want as f64 / el.as_secs_f64()
    );
}

struct World {
    sandbox: grantflow_sandbox::SandboxHandle,
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
    let key = PrivateKey::from_seed(&[9; 32]);
    let wallet = sandbox
        .put_wallet_address(WalletAddressSpec::client(
            "bench",
            "Bench",
            key.public_jwks("k1"),
        ))
        .unwrap();
    let client = Client::builder(wallet.parse().unwrap(), "k1", key)
        .build()
        .unwrap();
    World {
        sandbox,
        client,
        wallet,
    }
}

fn order(w: &World, key: String) -> GrantOrder {
    GrantOrder {
        idempotency_key: key,
        grant_endpoint: w.sandbox.auth_server_url().to_owned(),
        access: vec![
            serde_json::from_value(json!({
                "type": "outgoing-payment", "actions": ["create", "read"],
                "identifier": w.sandbox.wallet_address_url("alice"),
                "limits": {"debitAmount": {"value": "500", "assetCode": "USD", "assetScale": 2},
                           "interval": "R/2016-08-24T08:00:00Z/P1D"}
            }))
            .unwrap(),
        ],
        interaction: Interaction::Redirect,
    }
}

/// One interactive lifecycle: request, approve, hand the finish redirect over, wait for issued.
async fn lifecycle<S: GrantStore>(w: &World, engine: &Engine<S>, key: String) -> Duration {
    let g = engine.request(order(w, key)).await.unwrap();
    let (finish, token) = approve(w, g.redirect.as_deref().unwrap());
    let t = Instant::now();
    finish_until_issued(engine, g.id, &finish, &token).await;
    t.elapsed()
}

/// Approves the interaction at the sandbox as the user would; the finish redirect and the
/// callback token (its last path segment).
fn approve(w: &World, redirect: &str) -> (url::Url, String) {
    let outcome = w.sandbox.approve_interaction(redirect).unwrap();
    let finish = url::Url::parse(outcome.redirect.unwrap().expose()).unwrap();
    let token = finish
        .path_segments()
        .unwrap()
        .next_back()
        .unwrap()
        .to_owned();
    (finish, token)
}

/// Hands the finish redirect over to the engine and waits for the grant to be issued.
async fn finish_until_issued<S: GrantStore>(
    engine: &Engine<S>,
    id: GrantId,
    finish: &url::Url,
    token: &str,
) {
    engine
        .finish_callback(id, token, finish.query().unwrap())
        .await
        .unwrap();
    engine
        .wait_for(id, Duration::from_secs(30), |v| {
            v.kind() == StateKind::Issued
        })
        .await
        .unwrap();
}

async fn e2e<S: GrantStore>(store: S, label: &str, full: bool) {
    let w = world().await;
    let n = if full { 3_000 } else { 20 };
    let concurrency = 32;
    let mut config = engine_config("e2e", Duration::from_secs(30));
    config.client_wallet_address = w.wallet.clone();
    config.finish_base_url = Some("http://127.0.0.1:9/gf".parse().unwrap());
    let engine = Engine::new(store, Arc::new(ClientCalls::new(w.client.clone())), config).unwrap();
    let w = Arc::new(w);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (w, engine, next) = (w.clone(), engine.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    lifecycle(&w, &engine, format!("e2e-{i}")).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let el = started.elapsed();
    engine.shutdown().await;
    println!(
        "e2e ({label}): {n} interactive lifecycles (request, approve, finish callback, continue, issued; signed and verified) in {:.2}s = {:.0} lifecycles/s ({concurrency} at a time)",
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );
}

async fn latency<S: GrantStore>(store: S, label: &str, full: bool) {
    let w = world().await;
    let n = if full { 300 } else { 5 };
    let mut config = engine_config("latency", Duration::from_secs(30));
    config.client_wallet_address = w.wallet.clone();
    config.finish_base_url = Some("http://127.0.0.1:9/gf".parse().unwrap());
    let calls = Arc::new(TimedCalls {
        inner: ClientCalls::new(w.client.clone()),
        continue_left: Mutex::new(None),
    });
    let engine = Engine::new(store, calls.clone(), config).unwrap();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let g = engine.request(order(&w, format!("lat-{i}"))).await.unwrap();
        let (finish, token) = approve(&w, g.redirect.as_deref().unwrap());
        *calls.continue_left.lock().unwrap() = None;
        let t = Instant::now();
        finish_until_issued(&engine, g.id, &finish, &token).await;
        let left = calls
            .continue_left
            .lock()
            .unwrap()
            .expect("a continue was sent");
        samples.push(left.duration_since(t));
    }
    engine.shutdown().await;
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "latency ({label}): finish callback -> continue leaving: median {:.2} ms, p90 {:.2} ms, max {:.2} ms ({n} callbacks, one at a time)",
        ms(samples[n / 2]),
        ms(samples[n * 9 / 10]),
        ms(samples[n - 1])
    );
}

async fn recovery(url: &str, full: bool) {
    let n = if full { 1_000 } else { 50 };
    let lease = Duration::from_secs(if full { 10 } else { 2 });
    let store = scratch(url, "grantflow_bench_recovery", 16).await;
    seed(
        &store,
        n,
        &seed_state(true, TimeDelta::seconds(660)),
        Utc::now() - TimeDelta::minutes(1),
    )
    .await;
    let mut config = engine_config("doomed", lease);
    config.claim_batch = 1_000;
    config.max_concurrent_grants = 2_000;
    let doomed = Engine::new(store.clone(), Arc::new(HangingCalls), config).unwrap();
    let worker = doomed.start_worker();
    // Wait until the doomed worker holds every grant with its call in flight.
    let started = Instant::now();
    while count(&store, "SELECT count(*) FROM grantflow_grant_events").await < n as i64 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the doomed worker did not claim everything"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.abort();
    let killed = Instant::now();
    let calls: Arc<dyn Calls> = Arc::new(InstantCalls::new());
    let others: Vec<_> = (0..2)
        .map(|i| {
            Engine::new(
                store.clone(),
                calls.clone(),
                engine_config(&format!("survivor{i}"), lease),
            )
            .unwrap()
        })
        .collect();
    for e in &others {
        e.start_worker();
    }
    let finalized =
        "SELECT count(*) FROM grantflow_grants WHERE state->'grant'->>'state' = 'finalized'";
    while count(&store, finalized).await < n as i64 {
        assert!(
            killed.elapsed() < lease + Duration::from_secs(60),
            "recovery stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let el = killed.elapsed();
    for e in &others {
        e.shutdown().await;
    }
    println!(
        "recovery: a worker holding {n} leased grants (calls in flight) killed; 2 other workers finished all of them {:.2}s after the kill (lease {}s; target lease + 5 s)",
        el.as_secs_f64(),
        lease.as_secs()
    );
    assert!(
        el < lease + Duration::from_secs(5),
        "recovery slower than lease + 5 s"
    );
}

async fn memory(url: &str, full: bool) {
    let n = if full { 100_000 } else { 1_000 };
    let secs = if full { 30 } else { 2 };
    let store = scratch(url, "grantflow_bench_memory", 8).await;
    let deadline = TimeDelta::days(1);
    seed(
        &store,
        n,
        &seed_state(false, deadline),
        Utc::now() + deadline,
    )
    .await;
    let engine = Engine::new(
        store.clone(),
        Arc::new(InstantCalls::new()),
        engine_config("memory", Duration::from_secs(30)),
    )
    .unwrap();
    let before = rss_kib();
    engine.start_worker();
    let mut samples = Vec::new();
    for _ in 0..secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(rss_kib());
    }
    engine.shutdown().await;
    let waiting = count(&store, "SELECT count(*) FROM grantflow_grants WHERE state->'grant'->>'state' = 'awaiting_interaction'").await;
    assert_eq!(waiting, n as i64);
    println!(
        "memory: {n} grants awaiting interaction, one worker running {secs}s: RSS {} KiB before the worker, {} KiB after 1 s, {} KiB at the end (max {} KiB)",
        before,
        samples[0],
        samples[samples.len() - 1],
        samples.iter().max().unwrap()
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let parts = std::env::var("GRANTFLOW_BENCH")
        .unwrap_or_else(|_| "overhead,e2e,latency,recovery,memory".into());
    let want = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pg = std::env::var("DATABASE_URL").ok();
        if pg.is_none() {
            // In CI (`CI=true`) a missing database fails the run instead of skipping its parts.
            let in_ci =
                std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            assert!(
                !in_ci,
                "DATABASE_URL is not set, and CI is set: run scripts/test (it starts a throwaway PostgreSQL)"
            );
            println!("DATABASE_URL is not set: the PostgreSQL parts are SKIPPED");
        }
        if let (true, Some(url)) = (want("overhead"), &pg) {
            overhead(url, full).await;
        }
        if want("e2e") {
            if let Some(url) = &pg {
                e2e(
                    scratch(url, "grantflow_bench_e2e", 16).await,
                    "PostgreSQL",
                    full,
                )
                .await;
            }
            let sqlite = grantflow_store::SqliteStore::connect("sqlite::memory:")
                .await
                .unwrap();
            e2e(sqlite, "SQLite in memory", full).await;
        }
        if want("latency") {
            if let Some(url) = &pg {
                latency(
                    scratch(url, "grantflow_bench_latency", 8).await,
                    "PostgreSQL",
                    full,
                )
                .await;
            }
            let sqlite = grantflow_store::SqliteStore::connect("sqlite::memory:")
                .await
                .unwrap();
            latency(sqlite, "SQLite in memory", full).await;
        }
        if let (true, Some(url)) = (want("recovery"), &pg) {
            recovery(url, full).await;
        }
        if let (true, Some(url)) = (want("memory"), &pg) {
            memory(url, full).await;
        }
    });
}
