//! Recurring schedules end to end: the engine (worker, store, `Engine::pay`) against the sandbox,
//! on manual time shared by both, on both databases. A daily schedule over 30 simulated days,
//! with a lost create answer, a failing quote and a worker killed mid-way, pays exactly 30 times
//! (counted at the sandbox's RS); a schedule whose grant's series ends asks for consent again
//! and goes on under the new grant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_driver::{
    Engine, FeedChange, GrantOrder, Interaction, ScheduleCadence, ScheduleOrder, ScheduleView,
};
use grantflow_interval::{Reading, RepeatingInterval};
use grantflow_machine::StateKind;
use grantflow_payment::PaymentAmount;
use grantflow_payment::schedule::ScheduleStateKind;
use grantflow_protocol::amount::Amount;
use grantflow_sandbox::{Fault, Route, SandboxConfig};
use grantflow_store::{GrantId, GrantStore, ScheduleId};
use serde_json::json;
use support::*;

/// The seed's interval: a window a day from 08:00 UTC.
const SEED_INTERVAL: &str = "R/2016-08-24T08:00:00Z/P1D";

/// An issued grant for alice's outgoing payments (limits as `order` has them) and quotes.
async fn payment_grant<S: GrantStore>(
    world: &World,
    engine: &Engine<S>,
    mut order: GrantOrder,
) -> GrantId {
    order.access.push(
        serde_json::from_value(json!({"type": "quote", "actions": ["create", "read"]})).unwrap(),
    );
    let requested = engine.request(order).await.unwrap();
    let redirect = requested.redirect.clone().expect("a redirect URL");
    assert_eq!(world.approve_and_follow(&redirect).await, 200);
    world
        .drive_until(engine, requested.id, StateKind::Issued)
        .await;
    requested.id
}

/// An open incoming payment at bob's, on a non-interactive grant.
async fn receiver<S: GrantStore>(world: &World, engine: &Engine<S>) -> String {
    let bob = world.sandbox.wallet_address_url("bob");
    let order = GrantOrder {
        idempotency_key: "receive".into(),
        grant_endpoint: world.sandbox.auth_server_url().to_owned(),
        access: vec![serde_json::from_value(
            json!({"type": "incoming-payment", "actions": ["create", "read"], "identifier": bob}),
        )
        .unwrap()],
        interaction: Interaction::None,
    };
    let id = engine.request(order).await.unwrap().id;
    world.drive_until(engine, id, StateKind::Issued).await;
    let token = engine.access_token(id).await.unwrap().value;
    let rs = world.sandbox.resource_server_url().parse().unwrap();
    let create = serde_json::from_value(json!({"walletAddress": bob})).unwrap();
    world
        .client
        .create_incoming_payment(&rs, &token, &create)
        .await
        .unwrap()
        .id
}

/// How many outgoing payments the RS holds for alice (listed with `grant`'s token).
async fn paid_at_rs<S: GrantStore>(world: &World, engine: &Engine<S>, grant: GrantId) -> usize {
    let token = engine.access_token(grant).await.unwrap().value;
    let rs = world.sandbox.resource_server_url().parse().unwrap();
    let page = grantflow_protocol::pagination::PageRequest::first(100).unwrap();
    world
        .client
        .list_outgoing_payments(&rs, &token, &world.alice(), &page)
        .await
        .unwrap()
        .result
        .len()
}

/// The start of the seed interval's window that contains `at`.
fn window_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let interval: RepeatingInterval = SEED_INTERVAL.parse().unwrap();
    interval
        .window_at(Reading::RafikiCompatible, at)
        .unwrap()
        .start
}

fn now(world: &World) -> DateTime<Utc> {
    world.sandbox.clock().now()
}

/// The engine's settings for these tests: a schedule looks at its payment every 2 s and at its
/// grant request every 10 s (of manual time), so `drive` can move time in small steps and a
/// payment at work never sees its quote expire under it on a slow machine.
fn tune(config: &mut grantflow_driver::EngineConfig) {
    config.schedule.payment_check = TimeDelta::seconds(2);
    config.schedule.consent_check = TimeDelta::seconds(10);
}

/// Moves manual time forward 3 s at a time (a moment of real time after each) until the
/// schedule satisfies `done`.
async fn drive<S: GrantStore>(
    world: &World,
    engine: &Engine<S>,
    id: ScheduleId,
    what: &str,
    done: impl Fn(&ScheduleView) -> bool,
) -> ScheduleView {
    let mut last = None;
    for _ in 0..400 {
        for _ in 0..10 {
            if let Ok(view) = engine.schedule_status(id).await {
                if done(&view) {
                    return view;
                }
                last = Some(view);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        world.advance(Duration::from_secs(3));
    }
    panic!("schedule never {what}: {last:?}");
}

mod scenarios {
    use super::*;

    pub async fn a_daily_schedule_over_thirty_days_pays_thirty_times(store: impl GrantStore) {
        let world = World::manual(SandboxConfig::default()).await;
        let mut engine = world.engine(store.clone(), tune).await;
        let mut worker = engine.start_worker();
        let grant = payment_grant(
            &world,
            &engine,
            world.outgoing("pay", Interaction::Redirect),
        )
        .await;
        let receiver = receiver(&world, &engine).await;
        let first_window = window_start(now(&world));
        let schedule = engine
            .schedule(ScheduleOrder {
                idempotency_key: "daily".into(),
                grant,
                receiver: receiver.clone(),
                amount: PaymentAmount::Debit(Amount::new(100, "USD", 2)),
                cadence: ScheduleCadence::GrantWindows,
                start: None,
                end: Some(first_window + TimeDelta::days(30)),
                metadata: None,
            })
            .await
            .unwrap();
        // The same key: the same schedule.
        let again = engine
            .schedule(ScheduleOrder {
                idempotency_key: "daily".into(),
                grant,
                receiver,
                amount: PaymentAmount::Debit(Amount::new(100, "USD", 2)),
                cadence: ScheduleCadence::GrantWindows,
                start: None,
                end: None,
                metadata: None,
            })
            .await
            .unwrap();
        assert_eq!(again.id, schedule.id);
        for day in 0..30u64 {
            if day > 0 {
                let due = first_window + TimeDelta::days(i64::try_from(day).unwrap());
                let wait = (due - now(&world)).to_std().unwrap_or_default();
                world.advance(wait);
            }
            match day {
                // The create acts but its answer is lost: the payment finds it by the quote's id.
                3 => world.sandbox.set_fault(
                    Route::OutgoingPaymentCreate,
                    Fault::LoseResponse,
                    Some(1),
                ),
                // The quote fails twice with 503: retried with back-off.
                7 => world.sandbox.set_fault(
                    Route::QuoteCreate,
                    Fault::Status { status: 503 },
                    Some(2),
                ),
                // The worker is killed once the schedule decided to pay (as by kill -9); a new
                // engine on the same store takes over when the lease lapses.
                12 => {
                    drive(&world, &engine, schedule.id, "paying", |v| {
                        v.kind() == ScheduleStateKind::Paying || v.tally().paid > day
                    })
                    .await;
                    worker.abort();
                    engine = world.engine(store.clone(), tune).await;
                    worker = engine.start_worker();
                }
                _ => {}
            }
            let view = drive(&world, &engine, schedule.id, "paid", |v| {
                v.tally().paid > day
            })
            .await;
            assert_eq!(view.tally().paid, day + 1, "{view:?}");
        }
        let done = drive(&world, &engine, schedule.id, "completed", |v| {
            v.kind().is_final()
        })
        .await;
        assert_eq!(done.kind(), ScheduleStateKind::Completed);
        let tally = done.tally();
        assert_eq!(
            (tally.paid, tally.failed, tally.unknown, tally.skipped),
            (30, 0, 0, 0)
        );
        assert_eq!(paid_at_rs(&world, &engine, grant).await, 30);
        // The faults happened: two quotes refused with 503, one create whose answer was lost
        // and then found by a GET of the payment.
        let journal = world.sandbox.journal();
        let count = |route: Route, status: Option<u16>| {
            journal
                .iter()
                .filter(|e| e.route == route && status.is_none_or(|s| e.status == Some(s)))
                .count()
        };
        assert_eq!(count(Route::QuoteCreate, Some(503)), 2);
        assert_eq!(count(Route::OutgoingPaymentCreate, Some(201)), 30);
        assert!(count(Route::OutgoingPaymentGet, None) >= 1);
        worker.abort();
        engine.shutdown().await;
    }

    pub async fn a_schedule_asks_for_consent_again_when_the_grants_series_ends(
        store: impl GrantStore,
    ) {
        let world = World::manual(SandboxConfig::default()).await;
        let engine = world.engine(store, tune).await;
        engine.start_worker();
        // Two days of windows (R1: two windows in the reference's reading), from today's.
        let first_window = window_start(now(&world));
        let mut order = world.outgoing("short", Interaction::Redirect);
        let interval = format!("R1/{}/P1D", first_window.format("%Y-%m-%dT%H:%M:%SZ"));
        if let grantflow_protocol::grant::AccessItem::OutgoingPayment(o) = &mut order.access[0] {
            o.limits.as_mut().unwrap().interval = Some(interval.parse().unwrap());
        }
        let grant = payment_grant(&world, &engine, order).await;
        let receiver = receiver(&world, &engine).await;
        let mut feed = engine.subscribe().await.unwrap();
        let schedule = engine
            .schedule(ScheduleOrder {
                idempotency_key: "renewing".into(),
                grant,
                receiver,
                amount: PaymentAmount::Debit(Amount::new(100, "USD", 2)),
                cadence: ScheduleCadence::GrantWindows,
                start: None,
                end: Some(first_window + TimeDelta::days(3)),
                metadata: None,
            })
            .await
            .unwrap();
        for day in 0..2u64 {
            if day > 0 {
                let due = first_window + TimeDelta::days(1);
                world.advance((due - now(&world)).to_std().unwrap_or_default());
            }
            drive(&world, &engine, schedule.id, "paid", |v| {
                v.tally().paid > day
            })
            .await;
        }
        // Day 3 is past the grant's series: the schedule requests a new grant with its access.
        world.advance(
            (first_window + TimeDelta::days(2) - now(&world))
                .to_std()
                .unwrap_or_default(),
        );
        let waiting = drive(&world, &engine, schedule.id, "awaiting consent", |v| {
            v.kind() == ScheduleStateKind::AwaitingConsent
        })
        .await;
        assert_eq!(waiting.tally().paid, 2);
        // The request is made right after the state saying so is committed: wait for its
        // redirect.
        let key = format!("schedule/{}/consent/1", schedule.id);
        let mut renewal = None;
        for _ in 0..500 {
            renewal = engine.get_by_idempotency_key(&key).await.unwrap();
            if renewal.as_ref().is_some_and(|g| g.redirect().is_some()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let renewal = renewal.expect("the new grant was requested");
        let redirect = renewal
            .redirect()
            .unwrap_or_else(|| panic!("no redirect: {:?}", renewal.state))
            .to_owned();
        assert_eq!(world.approve_and_follow(&redirect).await, 200);
        world
            .drive_until(&engine, renewal.id, StateKind::Issued)
            .await;
        let done = drive(
            &world,
            &engine,
            schedule.id,
            "paid under the new grant",
            |v| v.tally().paid == 3,
        )
        .await;
        assert_eq!(done.grant(), Some(renewal.id.to_string().as_str()));
        let done = drive(&world, &engine, schedule.id, "completed", |v| {
            v.kind().is_final()
        })
        .await;
        assert_eq!(done.kind(), ScheduleStateKind::Completed);
        assert_eq!(paid_at_rs(&world, &engine, renewal.id).await, 3);
        // The change feed told the schedule's life, version by version, to its end.
        let mut versions = Vec::new();
        while versions.last() != Some(&done.version) {
            let entry = tokio::time::timeout(Duration::from_secs(10), feed.next())
                .await
                .unwrap()
                .unwrap();
            if let FeedChange::Schedule(update) = entry.change {
                assert_eq!(update.schedule, schedule.id);
                versions.push(update.version);
            }
        }
        assert_eq!(versions, (1..=done.version).collect::<Vec<_>>());
        engine.shutdown().await;
    }
}

per_backend!(
    a_daily_schedule_over_thirty_days_pays_thirty_times,
    a_schedule_asks_for_consent_again_when_the_grants_series_ends,
);
