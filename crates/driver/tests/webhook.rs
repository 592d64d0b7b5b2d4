//! Webhook delivery of the change feed, end to end (issue 14), on both databases, against the
//! real sandbox and a receiver (axum) on loopback: while the receiver is down (connection
//! refused, then answering 503) grants go through their lifecycles; once it is up it receives
//! every change, each signature verifies (checked by a verifier written here from the
//! documented format, not by the signer), in feed order (so in order per grant), nothing
//! missing compared with the feed and the grants' histories. And one deliverer per consumer
//! name: two engines delivering under one name send each change once, the second resumes where
//! the first stopped, and a dead deliverer's lease holds delivery off only until it lapses.
//!
//! Back-offs wait on the engines' manual clock: the tests move it, nothing sleeps for the
//! back-off and no assertion depends on timing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use grantflow_driver::metrics::{self, WebhookFailure};
use grantflow_driver::{Clock, Engine, Interaction, ManualClock, WebhookConfig, WebhookSecret};
use grantflow_machine::StateKind;
use grantflow_sandbox::SandboxConfig;
use grantflow_store::{GrantId, GrantStore};
use hmac::{Hmac, Mac};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::Value;
use sha2::Sha256;
use support::*;

const SECRET: &[u8] = b"whsec-test-0b9c2f";

/// How far a signature's `t` may be from the receiver's clock (the test's manual clock, which
/// races ahead a second per step while requests are in flight; a receiver would use minutes).
const TOLERANCE_SECONDS: i64 = 3600;

/// The receiver's verifier, written from the documented format (docs/operations.md,
/// "Webhooks"), not with the signer: `grantflow-signature: t=<unix seconds>,v1=<hex>` where the
/// hex is HMAC-SHA256 with the shared secret over `<t>.<body>`; `t` near the receiver's clock.
fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        if let Some(value) = part.strip_prefix("t=") {
            t = value.parse::<i64>().ok();
        } else if let Some(value) = part.strip_prefix("v1=") {
            v1.push(value.to_owned());
        }
    }
    let Some(t) = t else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (now - t).abs() <= TOLERANCE_SECONDS && v1.contains(&expected)
}

/// One POST the receiver took.
#[derive(Debug, Clone)]
struct Received {
    status: u16,
    body: Value,
    position_header: String,
    verified: bool,
}

struct Shared {
    /// What the receiver answers.
    status: Mutex<StatusCode>,
    /// Every request, in order of arrival.
    received: Mutex<Vec<Received>>,
    /// The receiver's clock (the test's manual time).
    clock: ManualClock,
}

/// A webhook receiver on a loopback port: first not listening (connection refused), then
/// answering the status set.
struct Receiver {
    addr: SocketAddr,
    /// The port, bound but not listening while the receiver is down (so no other socket can
    /// take it meanwhile).
    socket: Option<tokio::net::TcpSocket>,
    shared: Arc<Shared>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver that is down: its port is bound without listening, so connecting is refused.
    async fn down(clock: ManualClock) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        Self {
            addr,
            socket: Some(socket),
            shared: Arc::new(Shared {
                status: Mutex::new(StatusCode::SERVICE_UNAVAILABLE),
                received: Mutex::new(Vec::new()),
                clock,
            }),
            server: None,
        }
    }

    /// A receiver that is up and answers 200.
    async fn up(clock: ManualClock) -> Self {
        let mut receiver = Self::down(clock).await;
        receiver.answer(StatusCode::OK);
        receiver.listen().await;
        receiver
    }

    fn url(&self) -> url::Url {
        format!("http://{}/hooks/grantflow?receiver-token=abc", self.addr)
            .parse()
            .unwrap()
    }

    fn answer(&self, status: StatusCode) {
        *self.shared.status.lock().unwrap() = status;
    }

    /// Starts serving on the port (after [`down`](Self::down)).
    async fn listen(&mut self) {
        let listener = self.socket.take().unwrap().listen(128).unwrap();
        let app = axum::Router::new()
            .route("/hooks/grantflow", axum::routing::post(take))
            .with_state(self.shared.clone());
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The changes acknowledged (2xx), each once (by position), in order of first arrival.
    fn delivered(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.received()
            .into_iter()
            .filter(|r| r.status == 200 && seen.insert(r.position_header.clone()))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

async fn take(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let now = shared.clock.now().timestamp();
    let status = *shared.status.lock().unwrap();
    shared.received.lock().unwrap().push(Received {
        status: status.as_u16(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        position_header: header("grantflow-position"),
        verified: verify(SECRET, &header("grantflow-signature"), &body, now),
    });
    status
}

/// The process's metrics recorder (tests of this file may share a process: counts only grow).
fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().unwrap();
            metrics::describe();
            handle
        })
        .clone()
}

/// The value of the exposition line starting with `series` (0 if absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn deliveries(text: &str, outcome: &str) -> f64 {
    sample(
        text,
        &format!("{}{{outcome=\"{outcome}\"}}", metrics::WEBHOOK_DELIVERIES),
    )
}

/// Delivery to `receiver`, backing off from 1 s to 8 s (on the manual clock).
fn webhook(receiver: &Receiver) -> WebhookConfig {
    let mut config = WebhookConfig::new(receiver.url(), WebhookSecret::new(SECRET).unwrap());
    config.first_retry = Duration::from_secs(1);
    config.max_retry = Duration::from_secs(8);
    config.lease = Duration::from_secs(30);
    config
}

/// Moves manual time a second at a time (a moment of real time after each) until `done`.
async fn drive(world: &World, what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        world.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(done(), "never happened: {what}");
}

/// How many changes the grants made (their histories' lengths). Not counted from the feed: on a
/// shared PostgreSQL cluster any transaction running elsewhere may hold back the newest changes
/// for a moment, while the histories are read directly.
async fn changes_of<S: GrantStore>(engine: &Engine<S>, grants: &[GrantId]) -> usize {
    let mut total = 0;
    for id in grants {
        total += engine.history(*id).await.unwrap().len();
    }
    total
}

/// Waits (real time, up to 60 s, the manual clock standing still) until `done`.
async fn settle(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done(), "never happened: {what}");
}

/// Checks what the receiver acknowledged against the feed and the grants' histories: every
/// change once, in feed order, signed, each body telling its grant's history in order.
async fn assert_everything_delivered<S: GrantStore>(
    engine: &Engine<S>,
    receiver: &Receiver,
    grants: &[GrantId],
) {
    let feed = engine.changes_after(None, 10_000).await.unwrap();
    let delivered = receiver.delivered();
    let positions: Vec<String> = delivered
        .iter()
        .map(|r| r.position_header.clone())
        .collect();
    let expected: Vec<String> = feed.iter().map(|e| e.position.to_string()).collect();
    assert_eq!(
        positions, expected,
        "delivered in feed order, nothing missing"
    );
    for r in receiver.received() {
        assert!(r.verified, "a signature did not verify: {r:?}");
        assert_eq!(r.body["position"], r.position_header.as_str(), "{r:?}");
    }
    let documented = [
        "position", "at", "type", "grant", "version", "from", "event", "state", "change",
    ];
    let mut by_grant: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in &delivered {
        let fields = r.body.as_object().unwrap();
        assert!(
            fields.keys().all(|k| documented.contains(&k.as_str())),
            "undocumented field in {fields:?}"
        );
        assert_eq!(r.body["type"], "grant");
        by_grant
            .entry(r.body["grant"].as_str().unwrap().to_owned())
            .or_default()
            .push(&r.body);
    }
    assert_eq!(by_grant.len(), grants.len());
    for id in grants {
        let history = engine.history(*id).await.unwrap();
        let bodies = &by_grant[&id.to_string()];
        assert_eq!(bodies.len(), history.len(), "grant {id}: every change");
        for (body, entry) in bodies.iter().zip(&history) {
            assert_eq!(body["version"], entry.version, "grant {id}: in order");
            assert_eq!(
                body["event"],
                serde_json::to_value(entry.event.kind()).unwrap(),
                "grant {id} v{}",
                entry.version
            );
        }
        let last = bodies.last().unwrap();
        let now = engine.get(*id).await.unwrap();
        assert_eq!(last["state"], serde_json::to_value(now.kind()).unwrap());
    }
}

mod scenarios {
    use super::*;

    /// The receiver is down (refused, then 503) while grants are issued, rotated, revoked,
    /// denied and canceled; once up it gets every change, signed, in order, nothing missing.
    pub async fn a_receiver_down_then_up_gets_every_change_in_order<S: GrantStore>(store: S) {
        let metrics_text = recorder();
        let before = metrics_text.render();
        let world = World::manual(SandboxConfig {
            wait_seconds: 0,
            ..SandboxConfig::default()
        })
        .await;
        let clock = world.clock.clone().unwrap();
        let mut receiver = Receiver::down(clock.clone()).await;
        let engine = world.engine(store, |_| {}).await;
        engine.start_worker();
        engine.start_webhook(webhook(&receiver)).unwrap();

        // Lifecycles while nobody receives: issued, rotated and revoked; denied; canceled.
        let issued = world.approved_with_callback(&engine, "wh-issued").await;
        world.drive_until(&engine, issued, StateKind::Issued).await;
        engine.rotate(issued).await.unwrap();
        engine.revoke(issued).await.unwrap();
        world.drive_until(&engine, issued, StateKind::Revoked).await;
        let denied = engine
            .request(world.outgoing("wh-denied", Interaction::Redirect))
            .await
            .unwrap();
        world
            .deny_and_follow(denied.redirect.as_ref().unwrap())
            .await;
        world
            .drive_until(&engine, denied.id, StateKind::Rejected)
            .await;
        let canceled = engine
            .request(world.outgoing("wh-canceled", Interaction::Redirect))
            .await
            .unwrap();
        engine.cancel(canceled.id).await.unwrap();
        world
            .drive_until(&engine, canceled.id, StateKind::Canceled)
            .await;
        let kept = engine.request(world.incoming("wh-kept")).await.unwrap();
        assert_eq!(kept.kind, StateKind::Issued);
        assert!(receiver.received().is_empty(), "nothing listens yet");

        // Up, but answering 503: attempts arrive, none is acknowledged.
        receiver.listen().await;
        drive(&world, "two refused attempts", || {
            receiver.received().len() >= 2
        })
        .await;
        assert!(receiver.delivered().is_empty());
        let first = receiver.received()[0].position_header.clone();
        assert!(
            receiver
                .received()
                .iter()
                .all(|r| r.position_header == first),
            "the first change is retried; nothing after it is sent before it is acknowledged"
        );

        // Up: everything arrives.
        receiver.answer(StatusCode::OK);
        let grants = [issued, denied.id, canceled.id, kept.id];
        let total = changes_of(&engine, &grants).await;
        drive(&world, "every change delivered", || {
            receiver.delivered().len() >= total
        })
        .await;
        assert_everything_delivered(&engine, &receiver, &grants).await;

        // Counted: failures by reason, deliveries and their lag. The receiver counts a delivery
        // when it answers, the engine when the answer reaches it: wait for the engine's count.
        #[allow(clippy::cast_precision_loss)]
        let delivered = total as f64;
        let lags = format!("{}_count", metrics::WEBHOOK_DELIVERY_LAG);
        settle("the engine counts every delivery", || {
            let now = metrics_text.render();
            deliveries(&now, "delivered") - deliveries(&before, "delivered") >= delivered
                && sample(&now, &lags) - sample(&before, &lags) >= delivered
        })
        .await;
        let after = metrics_text.render();
        let grew = |outcome: &str| deliveries(&after, outcome) - deliveries(&before, outcome);
        assert!(
            grew(WebhookFailure::Unreachable.as_str()) >= 1.0,
            "refused: {after}"
        );
        assert!(
            grew(WebhookFailure::Rejected.as_str()) >= 2.0,
            "503: {after}"
        );
        assert!(grew("delivered") >= delivered, "{after}");
        assert!(
            sample(&after, &lags) - sample(&before, &lags) >= delivered,
            "{after}"
        );
        engine.shutdown().await;
    }

    /// Two engines deliver under one consumer name: each change arrives once (one deliverer at
    /// a time), and when the one delivering shuts down the other resumes from the recorded
    /// position: nothing missed, nothing sent twice. The manual clock stands still, so no lease
    /// lapses: the takeover is the shutdown's release.
    pub async fn one_deliverer_per_consumer_and_a_takeover_resumes<S: GrantStore>(store: S) {
        let world = World::manual(SandboxConfig {
            wait_seconds: 0,
            ..SandboxConfig::default()
        })
        .await;
        let receiver = Receiver::up(world.clock.clone().unwrap()).await;
        let first = world
            .engine(store.clone(), |c| {
                c.poll_interval = Duration::from_millis(100)
            })
            .await;
        let second = world
            .engine(store, |c| c.poll_interval = Duration::from_millis(100))
            .await;
        first.start_webhook(webhook(&receiver)).unwrap();
        second.start_webhook(webhook(&receiver)).unwrap();

        let mut grants = Vec::new();
        for key in ["one-a", "one-b", "one-c"] {
            grants.push(first.request(world.incoming(key)).await.unwrap().id);
        }
        let total = changes_of(&first, &grants).await;
        settle("the first changes delivered", || {
            receiver.delivered().len() >= total
        })
        .await;

        // Whichever engine delivered stops (releasing the consumer); the other carries on.
        first.shutdown().await;
        for key in ["two-a", "two-b"] {
            grants.push(second.request(world.incoming(key)).await.unwrap().id);
        }
        second.revoke(grants[3]).await.unwrap();
        let total = changes_of(&second, &grants).await;
        settle("the later changes delivered", || {
            receiver.delivered().len() >= total
        })
        .await;
        assert_everything_delivered(&second, &receiver, &grants).await;
        assert_eq!(
            receiver.received().len(),
            total,
            "each change sent once: {:#?}",
            receiver.received()
        );
        second.shutdown().await;
    }

    /// A process that took the consumer and died (its lease still running) holds delivery off
    /// until the lease lapses on the clock; then this engine takes over and delivers
    /// everything, and the dead process's lease can no longer move the position.
    pub async fn a_dead_deliverers_lease_lapses_and_delivery_resumes<S: GrantStore>(store: S) {
        let world = World::manual(SandboxConfig {
            wait_seconds: 0,
            ..SandboxConfig::default()
        })
        .await;
        let clock = world.clock.clone().unwrap();
        let receiver = Receiver::up(clock.clone()).await;
        let now = clock.now();
        let dead = store
            .claim_consumer(
                "webhook",
                "dead-worker",
                now,
                now + chrono::TimeDelta::seconds(30),
            )
            .await
            .unwrap()
            .expect("a new consumer is free");
        let engine = world
            .engine(store, |c| c.poll_interval = Duration::from_millis(100))
            .await;
        engine.start_webhook(webhook(&receiver)).unwrap();
        let mut grants = Vec::new();
        for key in ["dead-a", "dead-b"] {
            grants.push(engine.request(world.incoming(key)).await.unwrap().id);
        }
        // Several claim rounds of real time while the dead lease runs: nothing is sent.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(receiver.received().is_empty(), "{:?}", receiver.received());

        world.advance(Duration::from_secs(31));
        let total = changes_of(&engine, &grants).await;
        settle("delivery after the lease lapsed", || {
            receiver.delivered().len() >= total
        })
        .await;
        assert_everything_delivered(&engine, &receiver, &grants).await;
        let late = engine
            .store()
            .advance_consumer(&dead, None, clock.now(), clock.now())
            .await;
        assert!(
            matches!(late, Err(grantflow_store::StoreError::ConsumerLeaseLost(_))),
            "{late:?}"
        );
        engine.shutdown().await;
    }
}

per_backend!(
    a_receiver_down_then_up_gets_every_change_in_order,
    one_deliverer_per_consumer_and_a_takeover_resumes,
    a_dead_deliverers_lease_lapses_and_delivery_resumes,
);

/// Delivery throughput to a receiver on loopback that answers at once, on PostgreSQL: 400
/// issued grants (800 changes) delivered, every one (asserted), and the rate printed. Not
/// run by default (a figure, not a check):
/// `cargo nextest run -p grantflow-driver --test webhook --run-ignored only --no-capture`.
#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
#[ignore = "a measurement: run with --run-ignored only"]
async fn delivery_throughput(pool: sqlx::PgPool) {
    let world = World::manual(SandboxConfig::default()).await;
    let receiver = Receiver::up(world.clock.clone().unwrap()).await;
    let engine = world
        .engine(grantflow_store::PgStore::from_pool(pool), |_| {})
        .await;
    let mut grants = Vec::new();
    for i in 0..400 {
        let key = format!("throughput-{i}");
        grants.push(engine.request(world.incoming(&key)).await.unwrap().id);
    }
    let total = changes_of(&engine, &grants).await;
    let start = std::time::Instant::now();
    engine.start_webhook(webhook(&receiver)).unwrap();
    settle("every change delivered", || {
        receiver.delivered().len() >= total
    })
    .await;
    let took = start.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / took.as_secs_f64();
    eprintln!("{total} changes delivered in {took:.2?}: {rate:.0} per second");
    assert_everything_delivered(&engine, &receiver, &grants).await;
    engine.shutdown().await;
}
