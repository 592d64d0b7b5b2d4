//! The cost of sealing (docs/PERFORMANCE.md, "Sealing at rest"): `seal_text` and `open_text` of
//! the largest state of the machine's committed fixtures (a continuing grant: intent, interaction,
//! continuation; 6 secrets), and one commit (state and event row) through `SealingStore` beside the same
//! commit on the bare store, in one run, on SQLite in memory.
//!
//! `cargo bench -p grantflow-seal --bench sealing -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the bench failing

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use grantflow_seal::{KeyId, KeyRing, SealingStore, StorageKey, open_text, seal_text};
use grantflow_store::{
    Fence, GrantId, GrantStore, GrantSummary, NewGrant, SqliteStore, StateWrite,
};

/// The largest state in the machine's fixtures.
fn realistic_state() -> &'static str {
    include_str!("../../machine/tests/fixtures/state-v2.jsonl")
        .lines()
        .max_by_key(|l| l.len())
        .unwrap()
}

fn ring() -> Arc<KeyRing> {
    Arc::new(KeyRing::new(vec![StorageKey::generate(KeyId::new("bench").unwrap())]).unwrap())
}

fn texts(c: &mut Criterion) {
    let state = realistic_state();
    let ring = ring();
    let grant = GrantId::new_random();
    let sealed = seal_text(&ring, grant, state).unwrap();
    let mut g = c.benchmark_group(format!("state of {} bytes", state.len()));
    g.bench_function("seal_text", |b| {
        b.iter(|| seal_text(&ring, grant, black_box(state)).unwrap())
    });
    g.bench_function("open_text", |b| {
        b.iter(|| open_text(Some(&ring), grant, black_box(&sealed)).unwrap())
    });
    g.bench_function("serde_json round trip (for scale)", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_str(black_box(state)).unwrap();
            v.to_string()
        })
    });
    g.finish();
}

/// One unleased commit of the realistic state and an event, on `store`.
fn commit_bench<S: GrantStore>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: S,
) {
    let state = realistic_state().to_owned();
    let event = r#"{"event":"wake"}"#.to_owned();
    let id = GrantId::new_random();
    rt.block_on(store.create(
        NewGrant {
            id,
            idempotency_key: None,
            state: state.clone(),
            event: event.clone(),
            next_wake_at: None,
            lease: None,
            summary: GrantSummary::default(),
            change_summary: None,
        },
        chrono::Utc::now(),
    ))
    .unwrap();
    let version = Cell::new(1i64);
    c.bench_function(&format!("commit, {name}"), |b| {
        b.iter(|| {
            let now = chrono::Utc::now();
            let write = StateWrite {
                id,
                expected_version: version.get(),
                fence: Fence::Unleased,
                state: state.clone(),
                event: event.clone(),
                at: now,
                next_wake_at: None,
                summary: GrantSummary::default(),
                change_summary: None,
            };
            let result = rt.block_on(store.commit(vec![write], now)).unwrap();
            result[0].as_ref().unwrap();
            version.set(version.get() + 1);
        })
    });
}

fn commits(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bare = rt
        .block_on(SqliteStore::connect("sqlite::memory:"))
        .unwrap();
    commit_bench(c, &rt, "bare SqliteStore", bare);
    let inner = rt
        .block_on(SqliteStore::connect("sqlite::memory:"))
        .unwrap();
    commit_bench(
        c,
        &rt,
        "SealingStore over SqliteStore",
        SealingStore::new(inner, ring()),
    );
}

criterion_group!(benches, texts, commits);
criterion_main!(benches);
