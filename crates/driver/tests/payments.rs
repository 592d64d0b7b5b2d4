//! Payments against the sandbox on loopback. First the payment machine stepped by hand over the
//! real client, with the engine handing out the grant's token (a lost create answer is resolved
//! by `GET` of the payment by its quote's id; an inactive token is rotated once); then the
//! durable path (`Engine::pay`, the worker, the store) on both databases (`scenarios`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use grantflow_driver::{
    Engine, EngineError, FeedChange, GrantOrder, Interaction, LimitRefused, PaymentOrder,
    PaymentView, make_payment_call,
};
use grantflow_machine::StateKind;
use grantflow_payment::{
    Edge, GrantEnd, Headroom, PaymentAmount, PaymentChange, PaymentConfig, PaymentEvent,
    PaymentEventKind, PaymentState, PaymentStateKind, transition,
};
use grantflow_protocol::amount::Amount;
use grantflow_sandbox::{Fault, Route};
use grantflow_store::{GrantId, GrantStore};
use serde_json::json;
use support::*;

/// An issued grant for alice's outgoing payments (the seed's limit) and quotes.
async fn payment_grant<S: GrantStore>(world: &World, engine: &Engine<S>) -> GrantId {
    let mut order = world.outgoing("pay", Interaction::Redirect);
    order.access.push(
        serde_json::from_value(json!({"type": "quote", "actions": ["create", "read"]})).unwrap(),
    );
    let requested = engine.request(order).await.unwrap();
    let redirect = requested.redirect.clone().expect("a redirect URL");
    assert_eq!(world.approve_and_follow(&redirect).await, 200);
    wait_kind(engine, requested.id, StateKind::Issued).await;
    requested.id
}

/// An open incoming payment at bob's (no amount fixed), on a non-interactive grant.
async fn receiver<S: GrantStore>(world: &World, engine: &Engine<S>) -> String {
    let bob = world.sandbox.wallet_address_url("bob");
    let order = GrantOrder {
        idempotency_key: "receive".into(),
        grant_endpoint: world.sandbox.auth_server_url().to_owned(),
        access: vec![
            serde_json::from_value(json!({"type": "incoming-payment", "actions": ["create", "read"], "identifier": bob}))
                .unwrap(),
        ],
        interaction: Interaction::None,
    };
    let id = engine.request(order).await.unwrap().id;
    wait_kind(engine, id, StateKind::Issued).await;
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

/// Steps one payment of 3.00 USD from alice to `receiver` until it is final: every call made with
/// the grant's token from the engine (rotated when the machine asks), every wake-up at once.
async fn pay<S: GrantStore>(
    world: &World,
    engine: &Engine<S>,
    grant: GrantId,
    receiver: String,
    mut token: grantflow_protocol::Secret,
) -> (PaymentState, Vec<Edge>) {
    let cfg = PaymentConfig::default();
    let order = Arc::new(grantflow_payment::PaymentOrder {
        wallet_address: world.alice(),
        receiver,
        amount: PaymentAmount::Debit(Amount::new(300, "USD", 2)),
        metadata: None,
    });
    let rs = world.sandbox.resource_server_url().parse().unwrap();
    let mut event = PaymentEvent::Order {
        order,
        headroom: Headroom::unlimited(),
    };
    let mut state = PaymentState::Initial;
    let mut edges = Vec::new();
    for _ in 0..30 {
        let now = state
            .next_wake_at()
            .map_or_else(Utc::now, |at| at.max(Utc::now()));
        let t = transition(&state, event, now, &cfg).unwrap();
        edges.push(t.edge);
        state = t.state;
        if state.kind().is_final() {
            break;
        }
        event = match t.effect {
            Some(effect) => {
                if effect.refresh_token {
                    token = engine
                        .access_token_refused(grant, &token)
                        .await
                        .unwrap()
                        .value;
                }
                make_payment_call(&world.client, &rs, &token, &effect.call)
                    .await
                    .into_event(|_| Headroom::unlimited())
            }
            None => PaymentEvent::Wake,
        };
    }
    (state, edges)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_answer_is_found_by_the_quotes_id_and_paid_once() {
    let world = World::quick().await;
    let engine = world.engine(sqlite().await, |_| {}).await;
    let grant = payment_grant(&world, &engine).await;
    let receiver = receiver(&world, &engine).await;
    world.sandbox.clear_journal();
    // The create acts but its answer is lost; the first GET meets a 503 (which the client
    // retries by itself: a GET is idempotent).
    world
        .sandbox
        .set_fault(Route::OutgoingPaymentCreate, Fault::LoseResponse, Some(1));
    world.sandbox.set_fault(
        Route::OutgoingPaymentGet,
        Fault::Status { status: 503 },
        Some(1),
    );
    let token = engine.access_token(grant).await.unwrap().value;
    let (state, edges) = pay(&world, &engine, grant, receiver, token.clone()).await;
    assert_eq!(
        edges,
        [
            Edge::Ordered,
            Edge::QuoteAccepted,
            Edge::CreateAmbiguous,
            Edge::Confirmed
        ]
    );
    let PaymentState::Sent(sent) = state else {
        panic!("not sent: {:?}", state.reason())
    };
    assert_eq!(sent.payment.id, sent.quote.payment_url().unwrap());
    // Exactly one payment at the RS, and one create that acted.
    let rs = world.sandbox.resource_server_url().parse().unwrap();
    let page = grantflow_protocol::pagination::PageRequest::first(10).unwrap();
    let listed = world
        .client
        .list_outgoing_payments(&rs, &token, &world.alice(), &page)
        .await
        .unwrap();
    let ids: Vec<_> = listed.result.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&sent.payment.id));
    let creates = world
        .sandbox
        .journal()
        .into_iter()
        .filter(|e| e.route == Route::OutgoingPaymentCreate)
        .map(|e| (e.acted, e.delivered))
        .collect::<Vec<_>>();
    assert_eq!(creates, [(true, false)]);
    let gets = world
        .sandbox
        .journal()
        .into_iter()
        .filter(|e| e.route == Route::OutgoingPaymentGet)
        .map(|e| e.status)
        .collect::<Vec<_>>();
    assert_eq!(gets, [Some(503), Some(200)]);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_token_is_rotated_once_then_the_payment_goes_on() {
    let world = World::quick().await;
    let engine = world.engine(sqlite().await, |_| {}).await;
    let grant = payment_grant(&world, &engine).await;
    let receiver = receiver(&world, &engine).await;
    let stale = engine.access_token(grant).await.unwrap().value;
    // Someone rotated the grant's token: the one the payment starts with is inactive.
    engine.rotate(grant).await.unwrap();
    let (state, edges) = pay(&world, &engine, grant, receiver, stale).await;
    assert_eq!(
        edges,
        [
            Edge::Ordered,
            Edge::QuoteTokenInactive,
            Edge::QuoteDue,
            Edge::QuoteAccepted,
            Edge::Created
        ]
    );
    assert!(
        matches!(state, PaymentState::Sent(_)),
        "{:?}",
        state.reason()
    );
    engine.shutdown().await;
}

/// The outgoing payments at the RS under alice's wallet address (listed with the grant's token).
async fn outgoing_payments<S: GrantStore>(
    world: &World,
    engine: &Engine<S>,
    grant: GrantId,
) -> Vec<grantflow_protocol::outgoing_payment::OutgoingPayment> {
    let token = engine.access_token(grant).await.unwrap().value;
    let rs = world.sandbox.resource_server_url().parse().unwrap();
    let page = grantflow_protocol::pagination::PageRequest::first(100).unwrap();
    world
        .client
        .list_outgoing_payments(&rs, &token, &world.alice(), &page)
        .await
        .unwrap()
        .result
}

/// A payment order of `cents` USD cents to `receiver` under `grant`.
fn order(grant: GrantId, receiver: &str, cents: u64, key: &str) -> PaymentOrder {
    PaymentOrder {
        grant,
        receiver: receiver.to_owned(),
        amount: PaymentAmount::Debit(Amount::new(cents, "USD", 2)),
        idempotency_key: key.to_owned(),
        metadata: None,
    }
}

/// A world on `store` with a running worker, an issued payment grant and a receiver.
async fn paying<S: GrantStore>(store: S) -> (World, Engine<S>, GrantId, String) {
    let world = World::quick().await;
    let engine = world.engine(store, |_| {}).await;
    engine.start_worker();
    let grant = payment_grant(&world, &engine).await;
    let receiver = receiver(&world, &engine).await;
    (world, engine, grant, receiver)
}

/// Orders `order` and waits until the payment is final; panics unless it was sent.
async fn pay_sent<S: GrantStore>(engine: &Engine<S>, order: PaymentOrder) -> PaymentView {
    let id = engine.pay(order).await.unwrap();
    let view = engine
        .wait_for_payment(id, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(view.sent().is_some(), "not sent: {:?}", view.reason());
    view
}

/// The durable engine path (`Engine::pay`, the worker, the store), on both databases.
mod scenarios {
    use super::*;

    /// `Engine::pay` quotes and pays once; ordering again with the key returns the same payment;
    /// the change feed tells the payment's transitions with its grant.
    pub async fn a_payment_is_sent_once_and_the_feed_tells_it(store: impl GrantStore) {
        let (world, engine, grant, receiver) = paying(store).await;
        let mut feed = engine.subscribe().await.unwrap();
        let view = pay_sent(&engine, order(grant, &receiver, 300, "first")).await;
        let (id, sent) = (view.id, view.sent().unwrap());
        assert_eq!(sent.payment.debit_amount.value, 300);
        assert_eq!(view.grant, grant);
        // The same key: the same payment, nothing new at the RS.
        let again = engine
            .pay(order(grant, &receiver, 300, "first"))
            .await
            .unwrap();
        assert_eq!(again, id);
        assert!(matches!(
            engine.pay(order(grant, &receiver, 301, "first")).await,
            Err(EngineError::PaymentKeyReused { payment, .. }) if payment == id
        ));
        let paid = outgoing_payments(&world, &engine, grant).await;
        assert_eq!(paid.len(), 1, "{paid:?}");
        assert_eq!(paid[0].id, sent.payment.id);
        // The feed: every version of the payment, in order, ending Sent.
        let mut versions = Vec::new();
        while versions.last() != Some(&view.version) {
            let entry = tokio::time::timeout(Duration::from_secs(10), feed.next())
                .await
                .unwrap()
                .unwrap();
            if let FeedChange::Payment(p) = entry.change {
                assert_eq!((p.payment, p.grant), (id, grant));
                versions.push(p.version);
                if p.version == view.version {
                    assert_eq!(p.kind, PaymentStateKind::Sent);
                    assert_eq!(p.change, Some(PaymentChange::Sent));
                }
            }
        }
        assert_eq!(versions, (1..=view.version).collect::<Vec<_>>());
        // Replay of the recorded events reproduces the state.
        let mut replayed = PaymentState::Initial;
        for e in engine.payment_history(id).await.unwrap() {
            replayed = transition(&replayed, e.event, e.at, &PaymentConfig::default())
                .unwrap()
                .state;
        }
        assert_eq!(replayed, view.state);
        engine.shutdown().await;
    }

    /// The worker resolves a lost create answer by the quote's id: one payment at the RS.
    pub async fn a_lost_create_answer_is_resolved_by_the_worker(store: impl GrantStore) {
        let (world, engine, grant, receiver) = paying(store).await;
        world
            .sandbox
            .set_fault(Route::OutgoingPaymentCreate, Fault::LoseResponse, Some(1));
        let id = pay_sent(&engine, order(grant, &receiver, 250, "lost"))
            .await
            .id;
        let edges: Vec<_> = engine
            .payment_history(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event.kind())
            .collect();
        assert!(edges.contains(&PaymentEventKind::Ambiguous), "{edges:?}");
        assert_eq!(outgoing_payments(&world, &engine, grant).await.len(), 1);
        engine.shutdown().await;
    }

    /// A limit reached mid-window refuses the next payment, before any call, naming the window,
    /// what is left and when the next window starts.
    pub async fn a_limit_reached_mid_window_refuses_with_the_window(store: impl GrantStore) {
        let (world, engine, grant, receiver) = paying(store).await;
        // The seed's limit: 50.00 USD a day. 30.00 goes through.
        pay_sent(&engine, order(grant, &receiver, 3000, "a")).await;
        world.sandbox.clear_journal();
        let refused = engine.pay(order(grant, &receiver, 3000, "b")).await;
        let Err(EngineError::LimitRefused { refused, .. }) = refused else {
            panic!("not refused by the limit: {refused:?}")
        };
        let LimitRefused::Exceeded {
            left,
            window: Some(window),
            next_window_start,
            ..
        } = *refused
        else {
            panic!("{refused:?}")
        };
        assert_eq!(left.value, 2000);
        let now = chrono::Utc::now();
        assert!(window.start <= now && now < window.end, "{window}");
        assert_eq!(window.end - window.start, chrono::TimeDelta::days(1));
        assert_eq!(
            window.start.format("%H:%M:%S").to_string(),
            "08:00:00",
            "the seed's interval starts its days at 08:00"
        );
        assert_eq!(next_window_start, Some(window.end));
        assert!(
            !world
                .sandbox
                .journal()
                .iter()
                .any(|e| e.route == Route::QuoteCreate),
            "refused before quoting"
        );
        assert!(engine.payment_by_key(grant, "b").await.unwrap().is_none());
        // What is left still fits.
        pay_sent(&engine, order(grant, &receiver, 2000, "c")).await;
        assert_eq!(outgoing_payments(&world, &engine, grant).await.len(), 2);
        engine.shutdown().await;
    }

    /// A revoked grant pays nothing: the user must consent again.
    pub async fn a_revoked_grant_needs_consent_again(store: impl GrantStore) {
        let (_world, engine, grant, receiver) = paying(store).await;
        engine.revoke(grant).await.unwrap();
        let refused = engine.pay(order(grant, &receiver, 100, "after")).await;
        assert!(
            matches!(
                refused,
                Err(EngineError::ConsentNeeded {
                    end: GrantEnd::Revoked,
                    ..
                })
            ),
            "{refused:?}"
        );
        engine.shutdown().await;
    }

    /// A grant revoked while its payment backs off fails the payment: the user must consent
    /// again; nothing was paid.
    pub async fn a_grant_revoked_mid_payment_fails_it_asking_for_consent(store: impl GrantStore) {
        let (world, engine, grant, receiver) = paying(store).await;
        world
            .sandbox
            .set_fault(Route::QuoteCreate, Fault::Status { status: 503 }, None);
        let id = engine
            .pay(order(grant, &receiver, 100, "revoked"))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !world
            .sandbox
            .journal()
            .iter()
            .any(|e| e.route == Route::QuoteCreate)
        {
            assert!(std::time::Instant::now() < deadline, "the quote never came");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        engine.revoke(grant).await.unwrap();
        let view = engine
            .wait_for_payment(id, Duration::from_secs(30))
            .await
            .unwrap();
        let PaymentState::Failed(failed) = &view.state else {
            panic!("not failed: {:?}", view.state.kind())
        };
        assert!(
            matches!(
                failed.failure,
                grantflow_payment::Failure::ConsentNeeded {
                    end: GrantEnd::Revoked,
                    maybe_paid_from: None
                }
            ),
            "{:?}",
            failed.failure
        );
        assert!(view.reason().unwrap().contains("consent again"));
        engine.shutdown().await;
    }
}

per_backend!(
    a_grant_revoked_mid_payment_fails_it_asking_for_consent,
    a_payment_is_sent_once_and_the_feed_tells_it,
    a_lost_create_answer_is_resolved_by_the_worker,
    a_limit_reached_mid_window_refuses_with_the_window,
    a_revoked_grant_needs_consent_again,
);
