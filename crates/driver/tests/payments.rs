//! The payment machine (`grantflow-payment`) over the real client against the sandbox on
//! loopback, with the engine handing out the grant's token: the first piece of issue 16's driver
//! side (the durable loop with the store is not built yet, so the machine is stepped here). A lost
//! create answer is resolved by `GET` of the payment by its quote's id, and the RS holds exactly
//! one payment; an inactive token is rotated once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::sync::Arc;

use chrono::Utc;
use grantflow_driver::{Engine, GrantOrder, Interaction, make_payment_call};
use grantflow_machine::StateKind;
use grantflow_payment::{
    Edge, Headroom, PaymentAmount, PaymentConfig, PaymentEvent, PaymentOrder, PaymentState,
    transition,
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
    let order = Arc::new(PaymentOrder {
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
