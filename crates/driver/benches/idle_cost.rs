//! What an idle issued grant costs the user's authorization server (issue 12): AS calls and
//! event rows per grant per simulated day, with the engine's defaults and the sandbox's default
//! token lifetime (600 s, the reference's). Figures in `docs/PERFORMANCE.md`.
//!
//! `cargo bench -p grantflow-driver --bench idle_cost` (20 grants over 30 simulated days);
//! `cargo test -p grantflow-driver --bench idle_cost` runs 1 grant over 8 simulated days, as a
//! check that it works. Several days, because rotation on demand still rotates an idle grant's
//! token once per keep-alive period (7 days by default): one simulated day would miss it.
//!
//! Simulated time: the sandbox and the engine run on manual clocks moved together. The bench
//! jumps both to the earliest `next_wake_at` among the grants, waits until every grant is at
//! rest again (issued, nothing due), and repeats until the simulated days have passed; no real time is slept
//! for simulated time. tokio's own clock stays real: the calls cross real loopback sockets, whose
//! timeouts a paused tokio clock would fire early.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is a failure

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use grantflow_client::Client;
use grantflow_driver::{
    CallFuture, Calls, ClientCalls, Engine, EngineConfig, GrantOrder, GrantView, Interaction,
    LookupFuture, ManualClock,
};
use grantflow_machine::{Effect, StateKind};
use grantflow_protocol::grant::{AccessAction, AccessItem, IncomingPaymentAccess};
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{Sandbox, SandboxClock, SandboxConfig, SandboxHandle, WalletAddressSpec};
use grantflow_store::{GrantId, GrantStore, SqliteStore};

const KID: &str = "idle-bench-key";
const DAY: TimeDelta = TimeDelta::days(1);

/// [`ClientCalls`], counting the calls it makes by kind.
struct CountingCalls {
    inner: ClientCalls,
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

fn kind(effect: &Effect) -> &'static str {
    match effect {
        Effect::SendGrantRequest { .. } => "grant request",
        Effect::Continue { .. } => "continue",
        Effect::Poll { .. } => "poll",
        Effect::Cancel { .. } => "cancel",
        Effect::Rotate { .. } => "rotate",
        Effect::RevokeToken { .. } => "revoke token",
        _ => "other",
    }
}

impl Calls for CountingCalls {
    fn call<'a>(&'a self, effect: &'a Effect) -> CallFuture<'a> {
        *self.counts.lock().unwrap().entry(kind(effect)).or_default() += 1;
        self.inner.call(effect)
    }

    fn auth_server<'a>(&'a self, wallet_address: &'a str) -> LookupFuture<'a> {
        self.inner.auth_server(wallet_address)
    }
}

impl CountingCalls {
    fn total(&self) -> u64 {
        self.counts.lock().unwrap().values().sum()
    }

    fn by_kind(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().unwrap().clone()
    }
}

struct World {
    sandbox: SandboxHandle,
    clock: ManualClock,
    calls: Arc<CountingCalls>,
    engine: Engine<SqliteStore>,
}

impl World {
    async fn start() -> Self {
        let start = Utc::now().trunc_subsecs(6);
        let sandbox = Sandbox::start(SandboxConfig {
            wait_seconds: 0,
            clock: SandboxClock::manual(start),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let key = PrivateKey::from_seed(&[11; 32]);
        let wallet = sandbox
            .put_wallet_address(WalletAddressSpec::client(
                "idle-client",
                "Idle bench client",
                key.public_jwks(KID),
            ))
            .unwrap();
        let client = Client::builder(wallet.parse().unwrap(), KID, key)
            .build()
            .unwrap();
        let calls = Arc::new(CountingCalls {
            inner: ClientCalls::new(client),
            counts: Mutex::default(),
        });
        let clock = ManualClock::new(start);
        // The engine's defaults, on the manual clock.
        let config = EngineConfig::new(EngineConfig::unique_worker_id("idle"), wallet)
            .with_clock(clock.clone());
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let engine = Engine::new(store, calls.clone(), config).unwrap();
        Self {
            sandbox,
            clock,
            calls,
            engine,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        grantflow_driver::Clock::now(&self.clock)
    }

    /// Moves both clocks to `at`.
    fn set(&self, at: DateTime<Utc>) {
        self.sandbox.clock().set(at);
        self.clock.set(at);
    }

    /// Requests `n` non-interactive grants (issued at once) and waits until all are issued.
    async fn issued_grants(&self, n: usize) -> Vec<GrantId> {
        let bob = self.sandbox.wallet_address_url("bob");
        let endpoint = self.engine.grant_endpoint_for(&bob).await.unwrap();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let requested = self
                .engine
                .request(GrantOrder {
                    idempotency_key: format!("idle-{i}"),
                    grant_endpoint: endpoint.clone(),
                    access: vec![AccessItem::IncomingPayment(IncomingPaymentAccess {
                        actions: vec![AccessAction::Create, AccessAction::Read],
                        identifier: Some(bob.clone()),
                    })],
                    interaction: Interaction::None,
                })
                .await
                .unwrap();
            ids.push(requested.id);
        }
        for id in &ids {
            self.at_rest(*id).await;
        }
        ids
    }

    /// Waits (real time) until the grant is at rest: issued, not leased by a worker, nothing due
    /// before the clock's now. While a worker holds it, the store's `next_wake_at` is the lease's
    /// end, `now + lease` on the stopped clock: that instant does not count as at rest.
    async fn at_rest(&self, id: GrantId) -> GrantView {
        let now = self.now();
        let lease_end =
            now.trunc_subsecs(6) + TimeDelta::from_std(self.engine.config().lease).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let record = self.engine.store().get(id).await.unwrap().unwrap();
            let view = self.engine.get(id).await.unwrap();
            if record.lease.is_none()
                && view.kind() == StateKind::Issued
                && view.state.call_in_flight().is_none()
                && view
                    .next_wake_at
                    .is_none_or(|at| at > now && at != lease_end)
            {
                return view;
            }
            if Instant::now() > deadline {
                let history: Vec<String> = self
                    .engine
                    .history(id)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| format!("{} {}", e.at.format("%H:%M:%S%.3f"), e.event.kind()))
                    .collect();
                panic!(
                    "grant {id} is not at rest at {now} after 30 s: it is {} with next_wake_at \
                     {:?}; history: {history:?}",
                    view.kind(),
                    view.next_wake_at,
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn event_rows(&self, ids: &[GrantId]) -> usize {
        let mut rows = 0;
        for id in ids {
            rows += self.engine.history(*id).await.unwrap().len();
        }
        rows
    }
}

async fn run(grants: usize, days: i64) {
    let world = World::start().await;
    world.engine.start_worker();
    let ids = world.issued_grants(grants).await;
    let (calls_before, rows_before) = (world.calls.total(), world.event_rows(&ids).await);
    let kinds_before = world.calls.by_kind();
    let start = world.now();
    let end = start + DAY * days as i32;
    let real = Instant::now();
    let mut wakes = 0u64;
    loop {
        let mut next: Option<DateTime<Utc>> = None;
        for id in &ids {
            let view = world.engine.get(*id).await.unwrap();
            if let Some(at) = view.next_wake_at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        let Some(at) = next.filter(|at| *at <= end) else {
            break;
        };
        world.set(at.max(world.now()));
        wakes += 1;
        for id in &ids {
            world.at_rest(*id).await;
        }
    }
    world.set(end);
    for id in &ids {
        world.at_rest(*id).await;
    }
    let calls = world.calls.total() - calls_before;
    let rows = world.event_rows(&ids).await - rows_before;
    let per_grant = |x: u64| x as f64 / grants as f64 / days as f64;
    let by_kind: Vec<String> = world
        .calls
        .by_kind()
        .into_iter()
        .map(|(k, v)| (k, v - kinds_before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k} {:.2}", per_grant(v)))
        .collect();
    println!(
        "idle cost: {grants} issued grants idle for {days} simulated days (engine defaults, token lifetime 600 s): \
         {:.2} AS calls and {:.2} event rows per grant per day ({}; {wakes} wake-ups simulated in {:.1}s real time)",
        per_grant(calls),
        per_grant(rows as u64),
        if by_kind.is_empty() {
            "no calls".to_owned()
        } else {
            by_kind.join(", ")
        },
        real.elapsed().as_secs_f64()
    );
    world.engine.shutdown().await;
    world.sandbox.shutdown().await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (grants, days) = if full { (20, 30) } else { (1, 8) };
    rt.block_on(run(grants, days));
}
