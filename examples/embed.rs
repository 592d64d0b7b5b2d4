//! The engine inside an axum application, with the finish callback mounted.
//!
//! The application has three routes of its own and mounts grantflow's finish callback under
//! `/grantflow`:
//!
//! - `POST /subscriptions?wallet=<user's wallet address>`: asks the engine for an outgoing-payment
//!   grant (a 10.00 debit limit per day) and answers with the grant id and the URL to send the
//!   user to;
//! - `GET /subscriptions/{id}`: the grant's state;
//! - `GET /grantflow/finish/...`: where the user's browser comes back after consenting;
//!   grantflow verifies the hash, records the callback, continues the grant, and redirects the
//!   browser to `/welcome` (or `/sorry`) of the application.
//!
//! To run on its own, the example starts a sandbox (the user's wallet `alice` and the
//! application's wallet address with its key), the application on a loopback port, and plays
//! the user: subscribe, consent, come back. It exits once the grant is issued.
//!
//! ```text
//! cargo run --example embed
//! ```
//!
//! In your application, replace the sandbox by your settings: the client wallet address, its
//! key, `sqlite:` or `postgres://` for the store, and the public URL the browser reaches.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json};
use axum::routing::{get, post};
use grantflow::client::Client;
use grantflow::driver::{
    ClientCalls, Engine, EngineConfig, GrantOrder, Interaction, RedirectPages, finish_router_with,
};
use grantflow::machine::StateKind;
use grantflow::protocol::amount::Amount;
use grantflow::protocol::grant::{
    AccessAction, AccessItem, OutgoingPaymentAccess, OutgoingPaymentLimits,
};
use grantflow::protocol::keys::PrivateKey;
use grantflow::sandbox::{Sandbox, SandboxConfig, WalletAddressSpec};
use grantflow::seal::{KeyId, KeyRing, SealingStore, StorageKey};
use grantflow::store::{AnyStore, GrantId};
use serde::Deserialize;
use serde_json::json;
use url::Url;

/// What the application's handlers share.
#[derive(Clone)]
struct App {
    engine: Engine<SealingStore<AnyStore>>,
    /// To read the user's wallet address (its `authServer`).
    client: Client,
}

#[derive(Deserialize)]
struct Subscribe {
    wallet: Url,
}

/// `POST /subscriptions?wallet=...`.
async fn subscribe(State(app): State<App>, Query(q): Query<Subscribe>) -> impl IntoResponse {
    let wallet = match app.client.get_wallet_address(&q.wallet).await {
        Ok(w) => w,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let order = GrantOrder {
        // One subscription per wallet address in this example: asking twice gives one grant.
        idempotency_key: format!("subscription:{}", wallet.id),
        grant_endpoint: wallet.auth_server.clone(),
        access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
            identifier: wallet.id.clone(),
            actions: vec![AccessAction::Create, AccessAction::Read],
            limits: Some(OutgoingPaymentLimits {
                receiver: None,
                debit_amount: Some(Amount::new(1000, wallet.asset_code, wallet.asset_scale)),
                receive_amount: None,
                interval: "R/2026-01-01T00:00:00Z/P1D".parse().ok(),
            }),
        })],
        interaction: Interaction::Redirect,
    };
    match app.engine.request(order).await {
        Ok(g) => Json(json!({ "grant": g.id.to_string(), "redirect": g.redirect })).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// `GET /subscriptions/{id}`.
async fn subscription(State(app): State<App>, Path(id): Path<uuid::Uuid>) -> impl IntoResponse {
    match app.engine.get(GrantId(id)).await {
        Ok(view) => {
            Json(json!({ "grant": id.to_string(), "state": view.kind().as_str() })).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

/// The application's router, with grantflow's finish callback nested under `/grantflow`.
fn router(app: App, base: &Url) -> anyhow::Result<Router> {
    let pages = RedirectPages {
        approved: base.join("welcome")?,
        other: base.join("sorry")?,
    };
    Ok(Router::new()
        .route("/subscriptions", post(subscribe))
        .route("/subscriptions/{id}", get(subscription))
        .route(
            "/welcome",
            get(|| async { Html("<p>Subscribed. Thank you!</p>") }),
        )
        .route(
            "/sorry",
            get(|| async { Html("<p>No subscription this time.</p>") }),
        )
        .with_state(app.clone())
        .nest("/grantflow", finish_router_with(app.engine, pages)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A stand-in for the outside world: the user's wallet (alice) and ours, on a sandbox.
    let key = PrivateKey::generate();
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 0,
        ..SandboxConfig::default()
    })
    .await?;
    let our_wallet = sandbox.put_wallet_address(WalletAddressSpec::client(
        "shop",
        "Example Shop",
        key.public_jwks("shop-key"),
    ))?;

    // The application: a listener, the engine on SQLite, one worker, the router.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base: Url = format!("http://{}/", listener.local_addr()?).parse()?;
    let client = Client::builder(our_wallet.parse()?, "shop-key", key).build()?;
    // Tokens and nonces are sealed in the database under a storage key; a real deployment loads
    // its key file (`KeyRing::from_file`), made once by `grantflow keys storage generate`.
    // The same keys make the finish URIs' path tokens, which are then never stored.
    let storage_keys = Arc::new(KeyRing::new(vec![StorageKey::generate(KeyId::new(
        "shop-run",
    )?)])?);
    let store = SealingStore::new(
        AnyStore::connect("sqlite::memory:", 1).await?,
        storage_keys.clone(),
    );
    let config = EngineConfig::new("shop-1", our_wallet.clone())
        .with_finish_base_url(base.join("grantflow")?)
        .with_finish_token_keys(storage_keys);
    let engine = Engine::new(store, Arc::new(ClientCalls::new(client.clone())), config)?;
    engine.start_worker();
    let app = App {
        engine: engine.clone(),
        client,
    };
    let router = router(app, &base)?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("application listening on {base}");

    // The user subscribes, consents at their wallet, and comes back.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let answer: serde_json::Value = http
        .post(base.join("subscriptions")?)
        .query(&[("wallet", sandbox.wallet_address_url("alice"))])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let grant = answer["grant"].as_str().context("no grant id")?.to_owned();
    let redirect = answer["redirect"].as_str().context("no redirect URL")?;
    println!("subscription {grant}: send the user to {redirect}");
    let outcome = sandbox.approve_interaction(redirect)?;
    let back = outcome.redirect.context("no finish redirect")?;
    let landed = http.get(back.expose()).send().await?;
    let location = landed
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    println!("the browser came back and was sent to {location}");
    if !location.contains("/welcome") {
        bail!("the callback was not accepted: {location}");
    }

    let id = GrantId(grant.parse()?);
    let view = engine
        .wait_for(id, Duration::from_secs(30), |v| {
            v.kind() == StateKind::Issued || v.is_final()
        })
        .await?;
    let state: serde_json::Value = http
        .get(base.join(&format!("subscriptions/{grant}"))?)
        .send()
        .await?
        .json()
        .await?;
    println!("subscription {grant} is {}", state["state"]);
    if view.kind() != StateKind::Issued {
        bail!("expected an issued grant, got {}", view.kind());
    }
    let token = engine.access_token(id).await?;
    println!(
        "an access token is ready for payments (expires {})",
        token
            .expires_at
            .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339())
    );

    engine.shutdown().await;
    server.abort();
    sandbox.shutdown().await;
    Ok(())
}
