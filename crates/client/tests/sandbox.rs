//! The client against the project's Open Payments sandbox (a real server on loopback that
//! verifies every signature against the client's published JWKS and behaves like the reference
//! server): the two seed flows, the token lifecycle, payments, and the failures the driver must
//! tell apart, including a continue whose response is lost.

// A panic in a test helper is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use grantflow_client::{Client, Delivery, ErrorKind};
use grantflow_protocol::error::GnapErrorCode;
use grantflow_protocol::finish_hash::verify_finish_hash;
use grantflow_protocol::grant::{GrantRequest, GrantResponse, IssuedGrant, PendingGrant};
use grantflow_protocol::secret::Secret;
use grantflow_sandbox::{Fault, Route, Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};
use url::Url;

const CLIENT_NONCE: &str = "4edb2194-dbdf-46bb-9397-d5fd57b7c8a7";

async fn start(wait_seconds: u64) -> (SandboxHandle, Client) {
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let key = support::test_key();
    let wallet = sandbox
        .put_wallet_address(WalletAddressSpec::client(
            "client",
            "Grantflow Tests",
            key.public_jwks(support::KEY_ID),
        ))
        .unwrap();
    let client = support::client_for(&Url::parse(&wallet).unwrap());
    (sandbox, client)
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// The seed request: an outgoing-payment grant with a debit limit and a daily interval,
/// interactive, redirect finish with a nonce.
fn outgoing_grant_request(client: &Client, alice: &str, interval: bool) -> GrantRequest {
    let mut limits =
        serde_json::json!({"debitAmount": {"value": "500", "assetCode": "USD", "assetScale": 2}});
    if interval {
        limits["interval"] = "R/2016-08-24T08:00:00Z/P1D".into();
    }
    serde_json::from_value(serde_json::json!({
        "access_token": {"access": [
            {"type": "outgoing-payment", "actions": ["create", "read", "list"], "identifier": alice, "limits": limits},
            {"type": "quote", "actions": ["create", "read"]}
        ]},
        "client": client.grant_client(),
        "interact": {"start": ["redirect"], "finish": {"method": "redirect", "uri": "http://localhost:3344/finish", "nonce": CLIENT_NONCE}}
    }))
    .unwrap()
}

/// Requests the seed grant and returns it pending, with the grant endpoint used.
async fn request_pending(sandbox: &SandboxHandle, client: &Client) -> (PendingGrant, Url) {
    let alice = client
        .get_wallet_address(&url(&sandbox.wallet_address_url("alice")))
        .await
        .unwrap();
    let auth_server = url(&alice.auth_server);
    let request = outgoing_grant_request(client, &alice.id, true);
    match client.request_grant(&auth_server, &request).await.unwrap() {
        GrantResponse::Pending(p) => (p, auth_server),
        other => panic!("expected a pending grant, got {other:?}"),
    }
}

/// Approves the interaction and checks the finish hash; returns the `interact_ref`.
fn approve(sandbox: &SandboxHandle, pending: &PendingGrant, grant_endpoint: &Url) -> Secret {
    let outcome = sandbox
        .approve_interaction(&pending.interact.redirect)
        .unwrap();
    let interact_ref = outcome.interact_ref.unwrap();
    verify_finish_hash(
        &outcome.hash.unwrap(),
        CLIENT_NONCE,
        pending.interact.finish.expose(),
        interact_ref.expose(),
        grant_endpoint.as_str(),
    )
    .unwrap();
    interact_ref
}

async fn issued(sandbox: &SandboxHandle, client: &Client) -> IssuedGrant {
    let (pending, endpoint) = request_pending(sandbox, client).await;
    let interact_ref = approve(sandbox, &pending, &endpoint);
    let c = &pending.continue_;
    match client
        .continue_grant(&url(&c.uri), &c.access_token.value, Some(&interact_ref))
        .await
        .unwrap()
    {
        GrantResponse::Issued(i) => i,
        other => panic!("expected an issued grant, got {other:?}"),
    }
}

#[tokio::test]
async fn seed_flow_request_approve_continue_and_the_token_lifecycle() {
    let (sandbox, client) = start(0).await;
    let keys = client
        .get_wallet_address_keys(&url(&sandbox.wallet_address_url("client")))
        .await
        .unwrap();
    assert!(keys.find(support::KEY_ID).is_some());

    let (pending, endpoint) = request_pending(&sandbox, &client).await;
    let interact_ref = approve(&sandbox, &pending, &endpoint);
    let continue_uri = url(&pending.continue_.uri);
    let continue_token = pending.continue_.access_token.value.clone();
    let GrantResponse::Issued(grant) = client
        .continue_grant(&continue_uri, &continue_token, Some(&interact_ref))
        .await
        .unwrap()
    else {
        panic!("not issued")
    };
    assert!(!grant.access_token.value.is_empty());

    // interact_ref is single-use: a second continue is refused.
    let err = client
        .continue_grant(&continue_uri, &continue_token, Some(&interact_ref))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(err.gnap_code(), Some(&GnapErrorCode::RequestDenied));

    // Rotation gives a new token and a new manage URL; the old one is dead.
    let old = grant.access_token;
    let rotated = client
        .rotate_token(&url(&old.manage), &old.value)
        .await
        .unwrap()
        .access_token;
    assert_ne!(rotated.value, old.value);
    assert_ne!(rotated.manage, old.manage);
    let err = client
        .rotate_token(&url(&old.manage), &old.value)
        .await
        .unwrap_err();
    assert_eq!(err.gnap_code(), Some(&GnapErrorCode::InvalidClient));

    client
        .revoke_token(&url(&rotated.manage), &rotated.value)
        .await
        .unwrap();
    client
        .cancel_grant(&continue_uri, &continue_token)
        .await
        .unwrap();
    let err = client
        .cancel_grant(&continue_uri, &continue_token)
        .await
        .unwrap_err();
    assert_eq!(err.gnap_code(), Some(&GnapErrorCode::InvalidContinuation));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn continue_too_fast_is_a_typed_answer() {
    let (sandbox, client) = start(5).await;
    let (pending, endpoint) = request_pending(&sandbox, &client).await;
    let interact_ref = approve(&sandbox, &pending, &endpoint);
    let c = &pending.continue_;
    assert_eq!(c.wait, Some(5));
    let err = client
        .continue_grant(&url(&c.uri), &c.access_token.value, Some(&interact_ref))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(err.gnap_code(), Some(&GnapErrorCode::TooFast));
    assert_eq!(err.delivery(), Delivery::Received);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_lost_continue_response_is_ambiguous_and_its_effect_is_real() {
    let (sandbox, client) = start(0).await;
    let (pending, endpoint) = request_pending(&sandbox, &client).await;
    let interact_ref = approve(&sandbox, &pending, &endpoint);
    let c = &pending.continue_;
    sandbox.set_fault(Route::Continue, Fault::LoseResponse, Some(1));
    let err = client
        .continue_grant(&url(&c.uri), &c.access_token.value, Some(&interact_ref))
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::Unknown, "{err:?}");
    assert_eq!(err.attempts(), 1, "a POST is never retried");
    // The continue did happen: the token is gone for good, as the driver must assume.
    let err = client
        .continue_grant(&url(&c.uri), &c.access_token.value, Some(&interact_ref))
        .await
        .unwrap_err();
    assert_eq!(err.gnap_code(), Some(&GnapErrorCode::RequestDenied));
    // The way out: cancel the grant (idempotent DELETE) and start again.
    client
        .cancel_grant(&url(&c.uri), &c.access_token.value)
        .await
        .unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn idempotent_calls_ride_out_transient_faults_and_posts_do_not() {
    let (sandbox, client) = start(0).await;
    let alice = url(&sandbox.wallet_address_url("alice"));
    sandbox.set_fault(Route::WalletAddress, Fault::Status { status: 503 }, Some(2));
    let wallet = client.get_wallet_address(&alice).await.unwrap();
    sandbox.set_fault(Route::WalletAddress, Fault::DropConnection, Some(1));
    client.get_wallet_address(&alice).await.unwrap();

    sandbox.set_fault(Route::GrantRequest, Fault::Status { status: 503 }, Some(1));
    let request = outgoing_grant_request(&client, &wallet.id, false);
    let err = client
        .request_grant(&url(&wallet.auth_server), &request)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.attempts(), 1);
    // The fault is used up: the same request now goes through.
    client
        .request_grant(&url(&wallet.auth_server), &request)
        .await
        .unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn payments_with_an_issued_grant() {
    let (sandbox, client) = start(0).await;
    let alice = client
        .get_wallet_address(&url(&sandbox.wallet_address_url("alice")))
        .await
        .unwrap();
    let bob = client
        .get_wallet_address(&url(&sandbox.wallet_address_url("bob")))
        .await
        .unwrap();

    // Bob's incoming payment, on a non-interactive incoming-payment grant.
    let request: GrantRequest = serde_json::from_value(serde_json::json!({
        "access_token": {"access": [{"type": "incoming-payment", "actions": ["create", "read", "list", "complete"], "identifier": bob.id}]},
        "client": client.grant_client()
    }))
    .unwrap();
    let GrantResponse::Issued(incoming_grant) = client
        .request_grant(&url(&bob.auth_server), &request)
        .await
        .unwrap()
    else {
        panic!("incoming-payment grants are not interactive")
    };
    let incoming_token = &incoming_grant.access_token.value;
    let bob_rs = url(&bob.resource_server);
    let create = serde_json::from_value(serde_json::json!({
        "walletAddress": bob.id,
        "incomingAmount": {"value": "300", "assetCode": "USD", "assetScale": 2}
    }))
    .unwrap();
    let incoming = client
        .create_incoming_payment(&bob_rs, incoming_token, &create)
        .await
        .unwrap();
    let fetched = client
        .get_incoming_payment(&url(&incoming.id), incoming_token)
        .await
        .unwrap();
    assert_eq!(fetched.id, incoming.id);
    let page = grantflow_protocol::pagination::PageRequest::first(10).unwrap();
    let list = client
        .list_incoming_payments(&bob_rs, incoming_token, &bob.id, &page)
        .await
        .unwrap();
    assert!(list.result.iter().any(|p| p.id == incoming.id));
    let public = client
        .get_public_incoming_payment(&url(&incoming.id))
        .await
        .unwrap();
    assert_eq!(public.auth_server, bob.auth_server);

    // Alice pays it through a quote, on the interactive seed grant.
    let grant = issued(&sandbox, &client).await;
    let token = &grant.access_token.value;
    let alice_rs = url(&alice.resource_server);
    let quote = client
        .create_quote(
            &alice_rs,
            token,
            &serde_json::from_value(serde_json::json!({"walletAddress": alice.id, "receiver": incoming.id, "method": "ilp"})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        client.get_quote(&url(&quote.id), token).await.unwrap().id,
        quote.id
    );
    let payment = client
        .create_outgoing_payment(
            &alice_rs,
            token,
            &serde_json::from_value(
                serde_json::json!({"walletAddress": alice.id, "quoteId": quote.id}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let again = client
        .get_outgoing_payment(&url(&payment.id), token)
        .await
        .unwrap();
    assert_eq!(again.id, payment.id);
    let list = client
        .list_outgoing_payments(&alice_rs, token, &alice.id, &page)
        .await
        .unwrap();
    assert!(list.result.iter().any(|p| p.id == payment.id));
    let spent = client
        .get_outgoing_payment_grant_spent_amounts(&alice_rs, token)
        .await
        .unwrap();
    assert_eq!(
        spent.spent_debit_amount.map(|a| a.value),
        Some(payment.debit_amount.value)
    );

    let done = client
        .complete_incoming_payment(&url(&incoming.id), incoming_token)
        .await
        .unwrap();
    assert!(done.completed);

    // A revoked token is refused by the resource server.
    client
        .revoke_token(&url(&grant.access_token.manage), token)
        .await
        .unwrap();
    let err = client
        .get_outgoing_payment(&url(&payment.id), token)
        .await
        .unwrap_err();
    assert!(
        matches!(err.status().map(|s| s.as_u16()), Some(401 | 403)),
        "{err}"
    );
    assert!(matches!(err.kind(), ErrorKind::Status(_)));
    sandbox.shutdown().await;
}
