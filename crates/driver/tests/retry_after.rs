//! `Retry-After` on a refusal delays the grant's next wake-up (capped), on top of the machine's
//! own back-off. The server here is a scripted `Calls` answering 503 with `Retry-After: 120`: the
//! sandbox sends no `Retry-After`, and the classification of real client errors into outcomes
//! (`classify`) is exercised by the sandbox tests of the other files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use grantflow_driver::{
    CallFuture, CallOutcome, Calls, Engine, EngineConfig, GrantOrder, Interaction, ManualClock,
};
use grantflow_machine::{Effect, Event, StateKind};
use grantflow_protocol::GnapError;
use grantflow_store::SqliteStore;

struct Busy503;

impl Calls for Busy503 {
    fn call<'a>(&'a self, _effect: &'a Effect) -> CallFuture<'a> {
        Box::pin(async {
            CallOutcome {
                event: Event::Refused {
                    status: 503,
                    error: GnapError::default(),
                },
                retry_after: Some(Duration::from_secs(120)),
            }
        })
    }
}

async fn request(max_retry_after: Duration) -> grantflow_driver::GrantView {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let mut config =
        EngineConfig::new("w", "https://client.example/me").with_clock(ManualClock::new(t0()));
    config.max_retry_after = max_retry_after;
    let engine = Engine::new(store, Arc::new(Busy503), config).unwrap();
    let access = serde_json::from_value(serde_json::json!([
        {"type": "incoming-payment", "actions": ["create", "read"]}
    ]))
    .unwrap();
    let g = engine
        .request(GrantOrder {
            idempotency_key: "k".into(),
            grant_endpoint: "https://auth.example/".into(),
            access,
            interaction: Interaction::None,
        })
        .await
        .unwrap();
    assert_eq!(g.kind, StateKind::Requested, "the request is to be retried");
    engine.get(g.id).await.unwrap()
}

/// The engine's clock stands at this instant for the whole test.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
}

#[tokio::test]
async fn retry_after_delays_the_next_attempt() {
    let g = request(Duration::from_secs(3600)).await;
    assert_eq!(g.next_wake_at, Some(t0() + TimeDelta::seconds(120)));
    // The machine's own back-off (1 s) would have woken it much sooner.
    let machine_due = g.state.next_wake_at().unwrap();
    assert!(machine_due < t0() + TimeDelta::seconds(120));
}

#[tokio::test]
async fn retry_after_is_capped() {
    let g = request(Duration::from_secs(10)).await;
    assert_eq!(g.next_wake_at, Some(t0() + TimeDelta::seconds(10)));
}
