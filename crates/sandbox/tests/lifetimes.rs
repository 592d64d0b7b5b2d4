//! Lifetimes and the clock: any configured lifetime, however small or large, behaves (no panic
//! from time arithmetic), and the manual clock alone drives expiry (the driver's token-lifetime
//! tests rely on both).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

mod common;

use std::time::Duration;

use common::{TestClient, start_with, t0};
use grantflow_sandbox::{SandboxClock, SandboxConfig, SandboxHandle};
use serde_json::json;

/// The status of a list of bob's incoming payments with `token`.
async fn list_incoming(sandbox: &SandboxHandle, client: &TestClient, token: &str) -> u16 {
    client.list_incoming(sandbox, token).await.status
}

#[tokio::test]
async fn short_token_lifetimes_expire_on_the_manual_clock() {
    for lifetime in [1u64, 2, 5] {
        let (sandbox, client) = start_with(SandboxConfig {
            wait_seconds: 0,
            access_token_lifetime_seconds: lifetime,
            clock: SandboxClock::manual(t0()),
            ..SandboxConfig::default()
        })
        .await;
        let r = client.list_grant(&sandbox).await;
        assert_eq!(r.body["access_token"]["expires_in"], lifetime);
        let (token, manage) = r.access_token();

        // Usable until its last second, inactive from `lifetime` on: only the clock moves.
        assert_eq!(list_incoming(&sandbox, &client, &token).await, 200);
        sandbox.clock().advance(Duration::from_secs(lifetime - 1));
        assert_eq!(list_incoming(&sandbox, &client, &token).await, 200);
        sandbox.clock().advance(Duration::from_secs(1));
        assert_eq!(list_incoming(&sandbox, &client, &token).await, 403);

        // The expired token rotates into a fresh one of the same lifetime.
        let r = client.call("POST", &manage, Some(&token), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["access_token"]["expires_in"], lifetime);
        let (fresh, _) = r.access_token();
        assert_eq!(list_incoming(&sandbox, &client, &fresh).await, 200);
        sandbox.clock().advance(Duration::from_secs(lifetime));
        assert_eq!(list_incoming(&sandbox, &client, &fresh).await, 403);
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn huge_lifetimes_saturate_instead_of_panicking() {
    let (sandbox, client) = start_with(SandboxConfig {
        wait_seconds: 0,
        access_token_lifetime_seconds: u64::MAX,
        interaction_lifetime_seconds: u64::MAX,
        quote_lifetime_seconds: u64::MAX,
        clock: SandboxClock::manual(t0()),
        ..SandboxConfig::default()
    })
    .await;
    // Interaction: start, approve, continue; the token never expires.
    let body = client.outgoing_grant_body(&sandbox.wallet_address_url("alice"), 500, true);
    let p = client.request_grant(&sandbox, &body).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let page = client.http.get(p.redirect()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let r = client.approve_and_continue(&sandbox, &p).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = client
        .simple_grant(
            &sandbox,
            json!([{"type": "incoming-payment", "actions": ["create", "list"]}]),
        )
        .await;
    let (token, _) = r.access_token();
    assert_eq!(list_incoming(&sandbox, &client, &token).await, 200);

    // A quote that never expires.
    let ip = client
        .call(
            "POST",
            &format!("{}/incoming-payments", sandbox.resource_server_url()),
            Some(&token),
            Some(&json!({"walletAddress": sandbox.wallet_address_url("bob")})),
        )
        .await;
    assert_eq!(ip.status, 201, "{}", ip.body);
    let r = client
        .simple_grant(&sandbox, json!([{"type": "quote", "actions": ["create"]}]))
        .await;
    let (quote_token, _) = r.access_token();
    let q = client
        .call(
            "POST",
            &format!("{}/quotes", sandbox.resource_server_url()),
            Some(&quote_token),
            Some(&json!({
                "walletAddress": sandbox.wallet_address_url("alice"),
                "receiver": ip.id(),
                "method": "ilp",
                "debitAmount": {"value": "100", "assetCode": "USD", "assetScale": 2}
            })),
        )
        .await;
    assert_eq!(q.status, 201, "{}", q.body);

    // The clock moved to the end of time stays there, and everything still answers.
    sandbox.clock().advance(Duration::MAX);
    let end = sandbox.clock().now();
    sandbox.clock().advance(Duration::from_secs(1));
    assert_eq!(sandbox.clock().now(), end);
    assert_eq!(list_incoming(&sandbox, &client, &token).await, 403);
    let r = client
        .call(
            "GET",
            &format!("{}/_sandbox/clock", sandbox.base_url()),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_huge_wait_is_too_fast_forever() {
    let (sandbox, client) = start_with(SandboxConfig {
        wait_seconds: u64::MAX,
        clock: SandboxClock::manual(t0()),
        ..SandboxConfig::default()
    })
    .await;
    let body = client.outgoing_grant_body(&sandbox.wallet_address_url("alice"), 500, false);
    let p = client.request_grant(&sandbox, &body).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let r = client
        .call("POST", p.continue_uri(), p.continue_token(), None)
        .await;
    r.assert_error(400, "too_fast");
    sandbox.shutdown().await;
}
