//! A client whose wallet address lives elsewhere: the sandbox fetches its `jwks.json` (and its
//! `publicName`) over HTTP, as the reference authorization server does. The client's wallet
//! address is a small axum server of the test's own, on another loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use grantflow_protocol::keys::PrivateKey;
use serde_json::{Value, json};

use common::{Answer, TestClient, start};
use grantflow_sandbox::SandboxHandle;

/// What the client's own server answers at `/shop/jwks.json`, and how often it was asked.
#[derive(Clone, Default)]
struct Published {
    jwks: Arc<Mutex<(u16, String)>>,
    fetches: Arc<AtomicUsize>,
}

fn json_response(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

impl Published {
    fn set(&self, status: StatusCode, body: impl Into<String>) {
        *self.jwks.lock().unwrap() = (status.as_u16(), body.into());
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// Serves a wallet address `/shop` (public name "Remote Shop") whose `jwks.json` is whatever
/// `Published` holds; returns the wallet address URL.
async fn serve_wallet(published: Published) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let wallet = format!("{base}/shop");
    let document = json!({
        "id": wallet,
        "publicName": "Remote Shop",
        "assetCode": "USD",
        "assetScale": 2,
        "authServer": format!("{base}/auth"),
        "resourceServer": format!("{base}/rs"),
    })
    .to_string();
    let app = Router::new()
        .route(
            "/shop",
            get(move || {
                let document = document.clone();
                async move { json_response(StatusCode::OK, document) }
            }),
        )
        .route(
            "/shop/jwks.json",
            get(|State(p): State<Published>| async move {
                p.fetches.fetch_add(1, Ordering::SeqCst);
                let (status, body) = p.jwks.lock().unwrap().clone();
                json_response(StatusCode::from_u16(status).unwrap(), body).into_response()
            }),
        )
        .with_state(published);
    tokio::spawn(async move { axum::serve(listener, app).await });
    wallet
}

/// A JWKS publishing each key under its kid.
fn jwks(keys: &[(&PrivateKey, &str)]) -> Value {
    json!({"keys": keys.iter().map(|(key, kid)| key.public_jwk(kid)).collect::<Vec<_>>()})
}

fn remote_client(wallet: &str, key: PrivateKey, kid: &str) -> TestClient {
    TestClient::new(wallet.to_owned(), key, kid)
}

/// A quote grant request for `client`, signed with `key` under `kid`.
async fn quote_grant_signed_by(
    sandbox: &SandboxHandle,
    client: &TestClient,
    key: &PrivateKey,
    kid: &str,
) -> Answer {
    let body = quote_grant(client);
    client
        .send_signed_with(
            key,
            kid,
            "POST",
            sandbox.auth_server_url(),
            None,
            Some(&body),
        )
        .await
        .unwrap()
}

fn quote_grant(client: &TestClient) -> Value {
    json!({"access_token": {"access": [{"type": "quote", "actions": ["create"]}]},
           "client": client.wallet})
}

#[tokio::test]
async fn a_client_wallet_address_served_elsewhere_is_verified_with_its_fetched_keys() {
    let (sandbox, _) = start(0).await;
    let key = PrivateKey::from_seed(&[9; 32]);
    let published = Published::default();
    published.set(StatusCode::OK, jwks(&[(&key, "shop-1")]).to_string());
    let wallet = serve_wallet(published.clone()).await;
    let client = remote_client(&wallet, key, "shop-1");

    // The interactive outgoing-payment grant: keys and public name fetched from the wallet.
    let body = client.outgoing_grant_body(&sandbox.wallet_address_url("alice"), 500, true);
    let pending = client.request_grant(&sandbox, &body).await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    assert!(
        pending.redirect().contains("clientName=Remote+Shop"),
        "{}",
        pending.redirect()
    );
    assert!(published.fetches() >= 1);
    // The continue is verified with the same client's keys: issued.
    let issued = client.approve_and_continue(&sandbox, &pending).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let (_token, manage) = issued.access_token();

    assert!(manage.starts_with(sandbox.base_url()), "{manage}");

    // Another key under the published kid: the fetched key is the one that verifies.
    let impostor = PrivateKey::from_seed(&[10; 32]);
    let r = quote_grant_signed_by(&sandbox, &client, &impostor, "shop-1").await;
    r.assert_error(401, "invalid_client");
    assert_eq!(r.description(), Some("invalid signature"));

    // A key published now is fetched at once for its unknown kid.
    let next = PrivateKey::from_seed(&[11; 32]);
    published.set(
        StatusCode::OK,
        jwks(&[(&client.key, "shop-1"), (&next, "shop-2")]).to_string(),
    );
    let r = quote_grant_signed_by(&sandbox, &client, &next, "shop-2").await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A retired key keeps verifying while the fetched set is kept, and stops once it is stale.
    published.set(StatusCode::OK, jwks(&[(&next, "shop-2")]).to_string());
    let r = client.request_grant(&sandbox, &quote_grant(&client)).await;
    assert_eq!(r.status, 200, "kept for a few seconds: {}", r.body);
    sandbox.clock().advance(Duration::from_secs(6));
    let r = client.request_grant(&sandbox, &quote_grant(&client)).await;
    r.assert_error(400, "invalid_client");
    assert_eq!(r.description(), Some("could not determine client"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_or_invalid_jwks_is_the_reference_error() {
    let (sandbox, _) = start(0).await;
    let key = PrivateKey::from_seed(&[12; 32]);

    // Nothing listens at the wallet address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = remote_client(
        &format!("http://{closed}/shop"),
        PrivateKey::from_seed(&[12; 32]),
        "k",
    );
    let r = client.request_grant(&sandbox, &quote_grant(&client)).await;
    r.assert_error(400, "invalid_client");
    assert_eq!(r.description(), Some("could not determine client"));

    // The wallet answers, but not with a key set: not JSON, not found, a JWKS without the key.
    let published = Published::default();
    let wallet = serve_wallet(published.clone()).await;
    let client = remote_client(&wallet, key, "k");
    for (status, body) in [
        (StatusCode::OK, "not json".to_owned()),
        (StatusCode::OK, json!({"keys": "none"}).to_string()),
        (StatusCode::NOT_FOUND, json!({"error": "no"}).to_string()),
        (StatusCode::OK, json!({"keys": []}).to_string()),
    ] {
        published.set(status, body.clone());
        let r = client.request_grant(&sandbox, &quote_grant(&client)).await;
        r.assert_error(400, "invalid_client");
        assert_eq!(
            r.description(),
            Some("could not determine client"),
            "{status} {body}"
        );
    }
    assert!(published.fetches() >= 4);
    sandbox.shutdown().await;
}
