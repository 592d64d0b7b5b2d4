//! Client key rotation against the sandbox, which verifies every signature against the keys the
//! client's wallet address publishes at that moment: publish the new key, switch, retire the old
//! one, with a grant in the middle of its interaction all along.

// A panic in a test helper is the test failing.
#![allow(clippy::unwrap_used)]

use grantflow_client::{Client, ClientKeys};
use grantflow_protocol::error::GnapErrorCode;
use grantflow_protocol::grant::{GrantRequest, GrantResponse, PendingGrant};
use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};
use url::Url;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// Publishes `jwks` at the sandbox's client wallet address (what the wallet provider does when
/// the operator uploads a JWKS); returns the wallet address URL.
fn publish(sandbox: &SandboxHandle, jwks: Jwks) -> Url {
    url(&sandbox
        .put_wallet_address(WalletAddressSpec::client("client", "Rotating", jwks))
        .unwrap())
}

/// An incoming-payment grant request: non-interactive at the sandbox, so it is issued at once.
fn incoming_request(client: &Client, alice: &str) -> GrantRequest {
    serde_json::from_value(serde_json::json!({
        "access_token": {"access": [
            {"type": "incoming-payment", "actions": ["create", "read"], "identifier": alice}
        ]},
        "client": client.grant_client(),
    }))
    .unwrap()
}

/// An interactive outgoing-payment grant request, to be continued after the rotation.
fn outgoing_request(client: &Client, alice: &str) -> GrantRequest {
    serde_json::from_value(serde_json::json!({
        "access_token": {"access": [
            {"type": "outgoing-payment", "actions": ["create", "read"], "identifier": alice,
             "limits": {"debitAmount": {"value": "500", "assetCode": "USD", "assetScale": 2}}}
        ]},
        "client": client.grant_client(),
        "interact": {"start": ["redirect"]}
    }))
    .unwrap()
}

#[tokio::test]
async fn publish_switch_retire_without_a_refused_request() {
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let key1 = PrivateKey::generate();
    let key2 = PrivateKey::generate();
    let keys = ClientKeys::new("k1", key1.clone()).unwrap();
    let wallet = publish(&sandbox, keys.public_jwks());
    let client = Client::builder_with_keys(wallet.clone(), keys.clone())
        .build()
        .unwrap();
    // A clone made before the rotation, as a worker's tasks hold them.
    let clone = client.clone();
    let alice = client
        .get_wallet_address(&url(&sandbox.wallet_address_url("alice")))
        .await
        .unwrap();
    let auth = url(&alice.auth_server);

    // Signed with key 1: issued.
    assert!(matches!(
        client
            .request_grant(&auth, &incoming_request(&client, &alice.id))
            .await
            .unwrap(),
        GrantResponse::Issued(_)
    ));
    // A grant waiting for its user across the whole rotation.
    let GrantResponse::Pending(pending) = client
        .request_grant(&auth, &outgoing_request(&client, &alice.id))
        .await
        .unwrap()
    else {
        panic!("expected a pending grant")
    };

    // 1. Publish key 2 beside key 1; requests are still signed with key 1 and verify.
    keys.add("k2", key2.clone()).unwrap();
    publish(&sandbox, keys.public_jwks());
    assert_eq!(sandbox_kids(&client, &wallet).await, ["k1", "k2"]);
    assert_eq!(clone.key_id(), "k1");
    issue(&clone, &auth, &alice.id).await;

    // 2. Switch: every clone signs with key 2 from its next request on.
    keys.activate("k2").unwrap();
    assert_eq!(clone.key_id(), "k2");
    issue(&clone, &auth, &alice.id).await;

    // 3. Retire key 1: publish key 2 alone. The clone still verifies (it signs with key 2) ...
    keys.retire("k1").unwrap();
    publish(&sandbox, keys.public_jwks());
    assert_eq!(sandbox_kids(&client, &wallet).await, ["k2"]);
    issue(&clone, &auth, &alice.id).await;
    // ... and the grant requested under key 1 is polled under key 2.
    poll(&client, &pending).await;

    // A request signed with key 1 is now refused, and so is another key signing as `k2`: a
    // key id names one key.
    for (kid, key) in [("k1", key1), ("k2", PrivateKey::generate())] {
        let signer = Client::builder(wallet.clone(), kid, key).build().unwrap();
        let err = signer
            .request_grant(&auth, &incoming_request(&signer, &alice.id))
            .await
            .unwrap_err();
        assert_eq!(
            err.gnap_code(),
            Some(&GnapErrorCode::InvalidClient),
            "{kid}: {err}"
        );
    }
}

/// The key ids the client's wallet address publishes now, as any server reads them.
async fn sandbox_kids(client: &Client, wallet: &Url) -> Vec<String> {
    client
        .get_wallet_address_keys(wallet)
        .await
        .unwrap()
        .keys
        .into_iter()
        .map(|k| k.kid)
        .collect()
}

async fn issue(client: &Client, auth: &Url, alice: &str) {
    let answer = client
        .request_grant(auth, &incoming_request(client, alice))
        .await
        .unwrap();
    assert!(matches!(answer, GrantResponse::Issued(_)), "{answer:?}");
}

/// A bodiless continue of a grant whose user has not decided: answered, so it verified.
async fn poll(client: &Client, pending: &PendingGrant) {
    let c = &pending.continue_;
    let answer = client
        .continue_grant(&url(&c.uri), &c.access_token.value, None)
        .await;
    match answer {
        Ok(GrantResponse::Continuation(_)) => {}
        other => panic!("expected the grant to be still pending, got {other:?}"),
    }
}
