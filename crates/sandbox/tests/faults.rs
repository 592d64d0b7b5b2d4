//! Fault injection, as the driver's crash tests use it: latency, error statuses, dropped
//! connections (nothing happened) and lost responses (it happened, the answer is lost), through
//! the library API and the `/_sandbox/` HTTP API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

mod common;

use std::time::{Duration, Instant};

use common::start;
use grantflow_sandbox::{Fault, Route};
use serde_json::json;

/// Sends a control-API request and reads its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn dropped_connection_does_not_act() {
    let (sandbox, client) = start(0).await;
    let (curi, ctoken, body) = client.approved_grant(&sandbox).await;
    sandbox.set_fault(Route::Continue, Fault::DropConnection, Some(1));
    let err = client
        .send("POST", &curi, Some(&ctoken), Some(&body))
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err}");
    assert!(sandbox.faults().is_empty(), "a one-shot fault is used up");
    // Nothing happened: the continue still works.
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn lost_response_acts_then_drops() {
    let (sandbox, client) = start(0).await;
    let (curi, ctoken, body) = client.approved_grant(&sandbox).await;
    sandbox.set_fault(Route::Continue, Fault::LoseResponse, Some(1));
    client
        .send("POST", &curi, Some(&ctoken), Some(&body))
        .await
        .unwrap_err();
    // The token was issued: the interact_ref is used up, as at the reference.
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    r.assert_error(401, "request_denied");
    // Cancel still reaches the issued grant.
    let r = client.call("DELETE", &curi, Some(&ctoken), None).await;
    assert_eq!(r.status, 204);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn throttled_answers_429_with_retry_after_and_does_not_act() {
    let (sandbox, client) = start(0).await;
    let (curi, ctoken, body) = client.approved_grant(&sandbox).await;
    sandbox.set_fault(
        Route::Continue,
        Fault::Throttled {
            retry_after_seconds: 30,
        },
        Some(1),
    );
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    r.assert_error(429, "too_many_attempts");
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("30")
    );
    let entry = sandbox.journal().pop().unwrap();
    assert!(!entry.acted && entry.delivered, "{entry:?}");
    // Nothing happened: the continue still works.
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn status_and_latency_faults() {
    let (sandbox, client) = start(0).await;
    sandbox.set_fault(Route::WalletAddress, Fault::Status { status: 503 }, None);
    let alice = sandbox.wallet_address_url("alice");
    for _ in 0..2 {
        let r = client.get(&alice).await;
        assert_eq!(r.status, 503);
        assert!(r.description().unwrap().contains("wallet_address"));
    }
    sandbox.clear_fault(Route::WalletAddress);
    assert_eq!(client.get(&alice).await.status, 200);

    sandbox.set_fault(
        Route::WalletAddress,
        Fault::latency(Duration::from_millis(300)),
        Some(1),
    );
    let started = Instant::now();
    assert_eq!(client.get(&alice).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn http_control_api() {
    let (sandbox, client) = start(0).await;
    let base = sandbox.base_url().to_owned();
    let http = &client.http;

    // Faults over HTTP.
    let r = http
        .put(format!("{base}/_sandbox/faults/token_rotate"))
        .json(&json!({"kind": "status", "status": 500, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let listed = json_of(http.get(format!("{base}/_sandbox/faults"))).await;
    assert_eq!(listed["token_rotate"]["kind"], "status");
    assert_eq!(listed["token_rotate"]["times"], 2);
    assert_eq!(sandbox.faults()[&Route::TokenRotate].times, Some(2));
    let r = http
        .put(format!("{base}/_sandbox/faults/nope"))
        .json(&json!({"kind": "drop_connection"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        http.delete(format!("{base}/_sandbox/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(sandbox.faults().is_empty());

    // Approve over HTTP.
    let body = client.outgoing_grant_body(&sandbox.wallet_address_url("alice"), 500, true);
    let p = client.request_grant(&sandbox, &body).await;
    let redirect = p.redirect();
    let id = redirect
        .split("/interact/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let outcome = json_of(http.post(format!("{base}/_sandbox/interactions/{id}/approve"))).await;
    assert!(
        outcome["redirect"]
            .as_str()
            .unwrap()
            .contains("interact_ref=")
    );
    let again = http
        .post(format!("{base}/_sandbox/interactions/{id}/deny"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    let unknown = http
        .post(format!(
            "{base}/_sandbox/interactions/00000000-0000-4000-8000-000000000000/approve"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // The clock over HTTP.
    let before = sandbox.clock().now();
    let r = json_of(
        http.post(format!("{base}/_sandbox/clock/advance"))
            .json(&json!({"seconds": 3600})),
    )
    .await;
    assert!(r["now"].is_string());
    assert_eq!((sandbox.clock().now() - before).num_seconds(), 3600);

    // Hosting a wallet address over HTTP.
    let r = json_of(
        http.put(format!("{base}/_sandbox/wallet-addresses/carol"))
            .json(&json!({"publicName": "Carol", "assetCode": "EUR", "assetScale": 2})),
    )
    .await;
    assert_eq!(r["id"], sandbox.wallet_address_url("carol"));
    assert_eq!(
        client.get(&sandbox.wallet_address_url("carol")).await.body["assetCode"],
        "EUR"
    );
    let r = http
        .put(format!("{base}/_sandbox/wallet-addresses/auth"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_the_port() {
    let (sandbox, client) = start(0).await;
    let alice = sandbox.wallet_address_url("alice");
    let addr = sandbox.local_addr();
    sandbox.set_fault(
        Route::WalletAddress,
        Fault::latency(Duration::from_secs(60)),
        None,
    );
    // A request stuck in injected latency does not hold shutdown past its grace period.
    let stuck = tokio::spawn({
        let http = client.http.clone();
        async move { http.get(alice).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    sandbox.shutdown().await;
    assert!(stuck.await.unwrap().is_err());
    assert!(tokio::net::TcpListener::bind(addr).await.is_ok());
}
