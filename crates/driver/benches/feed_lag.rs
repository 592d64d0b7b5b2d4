//! Change-feed lag (issue 14): how long after a transition is made a subscriber in another
//! engine, on its own pool and LISTEN connection, receives it, under a steady load of
//! transitions on PostgreSQL. Figures in `docs/PERFORMANCE.md`.
//!
//! A writer engine requests non-interactive grants at a fixed pace (each request is two
//! transitions: the request, and the AS's answer issuing the grant, answered in process at once),
//! so the feed carries `GRANTFLOW_FEED_RATE` transitions a second (default 1,000) for
//! `GRANTFLOW_FEED_SECONDS` (default 10). A subscriber engine over a second store on the same
//! scratch database reads `Engine::subscribe` and records, for every change, the time it was
//! handed out minus the transition's recorded time (`FeedEntry::at`, taken by the writer's
//! clock when the transition was computed, before its commit): commit latency plus feed lag, an
//! upper bound of commit-to-subscriber lag. Both engines live in this process and read one
//! clock. At the end every change must have arrived exactly once.
//!
//! `cargo bench -p grantflow-driver --bench feed_lag` runs the full load; without `--bench` (as
//! `cargo test --benches` runs it) it runs 2 s at 200 transitions a second and only checks that
//! it works.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is a broken bench

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use grantflow_driver::{Engine, GrantOrder, Interaction};
use grantflow_protocol::grant::AccessItem;
use grantflow_store::PgStore;
use serde_json::json;
use support::{InstantCalls, block_on, database_url, drop_scratch, engine_config, scratch};

const SCRATCH: &str = "grantflow_bench_feed_lag";

/// A non-interactive incoming-payment grant order.
fn order(n: u64) -> GrantOrder {
    let item: AccessItem = serde_json::from_value(json!({
        "type": "incoming-payment",
        "actions": ["create", "read"]
    }))
    .unwrap();
    GrantOrder {
        idempotency_key: format!("lag-{n}"),
        grant_endpoint: "http://as.invalid/".to_owned(),
        access: vec![item],
        interaction: Interaction::None,
    }
}

/// The value at quantile `q` of sorted `ms`.
fn at(ms: &[f64], q: f64) -> f64 {
    ms[((ms.len() as f64 - 1.0) * q).round() as usize]
}

/// Requests grants at `rate / 2` a second for `secs` seconds (at most 256 requests in flight);
/// returns how many were requested and the wall time it took.
async fn write(engine: Engine<PgStore>, rate: u64, secs: u64) -> (u64, Duration) {
    let requests_per_sec = (rate / 2).max(1);
    let total = requests_per_sec * secs;
    let room = Arc::new(tokio::sync::Semaphore::new(256));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let mut sent = 0;
    while sent < total {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * requests_per_sec as f64) as u64;
        while sent < due.min(total) {
            let permit = room.clone().acquire_owned().await.unwrap();
            let (engine, done) = (engine.clone(), done.clone());
            let n = sent;
            tokio::spawn(async move {
                engine.request(order(n)).await.unwrap();
                done.fetch_add(1, Ordering::SeqCst);
                drop(permit);
            });
            sent += 1;
        }
    }
    let _ = room.acquire_many(256).await.unwrap();
    (done.load(Ordering::SeqCst), started.elapsed())
}

async fn run(url: &str, rate: u64, secs: u64) {
    let writer_store = scratch(url, SCRATCH, 8).await;
    let mut reader_url = url::Url::parse(url).unwrap();
    reader_url.set_path(SCRATCH);
    let reader_store = PgStore::connect(reader_url.as_str(), 4).await.unwrap();
    let writer = Engine::new(
        writer_store,
        Arc::new(InstantCalls::new()),
        engine_config("lag-writer", Duration::from_secs(30)),
    )
    .unwrap();
    let reader = Engine::new(
        reader_store,
        Arc::new(InstantCalls::new()),
        engine_config("lag-reader", Duration::from_secs(30)),
    )
    .unwrap();

    let mut feed = reader.subscribe().await.unwrap();
    let expected = Arc::new(AtomicU64::new(u64::MAX));
    let subscriber = {
        let expected = expected.clone();
        tokio::spawn(async move {
            let mut lags = Vec::new();
            let mut seen = HashSet::new();
            let mut idle = Duration::ZERO;
            while (seen.len() as u64) < expected.load(Ordering::SeqCst) {
                let Ok(entry) = tokio::time::timeout(Duration::from_secs(1), feed.next()).await
                else {
                    idle += Duration::from_secs(1);
                    assert!(idle < Duration::from_secs(60), "no change for 60 s");
                    continue;
                };
                idle = Duration::ZERO;
                let entry = entry.unwrap();
                let lag = (Utc::now() - entry.at).to_std().unwrap_or_default();
                lags.push(lag.as_secs_f64() * 1000.0);
                let change = entry.grant().cloned().unwrap();
                assert!(
                    seen.insert((change.grant, change.version)),
                    "a change handed out twice: {change:?}"
                );
            }
            lags
        })
    };

    let (requested, took) = write(writer.clone(), rate, secs).await;
    expected.store(requested * 2, Ordering::SeqCst);
    let mut lags = subscriber.await.unwrap();
    lags.sort_by(f64::total_cmp);
    println!(
        "feed lag: {rate} transitions/s offered for {secs} s, {:.0}/s made ({} transitions in \
         {:.2} s): transition -> subscriber p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lags.len() as f64 / took.as_secs_f64(),
        lags.len(),
        took.as_secs_f64(),
        at(&lags, 0.5),
        at(&lags, 0.9),
        at(&lags, 0.99),
        at(&lags, 1.0),
    );
    assert_eq!(
        lags.len() as u64,
        requested * 2,
        "every change arrived once"
    );
    writer.shutdown().await;
    reader.shutdown().await;
    drop((writer, reader));
    drop_scratch(url, SCRATCH).await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rate = var("GRANTFLOW_FEED_RATE", if full { 1_000 } else { 200 });
    let secs = var("GRANTFLOW_FEED_SECONDS", if full { 10 } else { 2 });
    let Some(url) = database_url("feed lag") else {
        return;
    };
    block_on(run(&url, rate, secs));
}
