//! Grant, token and wallet-address calls against a loopback server: what goes on the wire and
//! how answers are parsed.

// A panic in a test helper is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use grantflow_client::{Delivery, ErrorKind};
use grantflow_protocol::grant::{GrantRequest, GrantResponse};
use grantflow_protocol::secret::Secret;
use support::{Reply, Server, client_for};

const PENDING: &str = r#"{"interact":{"redirect":"https://as.example/interact/1/ABCDEF0123456789?clientName=x","finish":"ABCDEF0123456789"},"continue":{"access_token":{"value":"CONTINUETOKEN0000001"},"uri":"https://as.example/continue/4f2c","wait":5}}"#;
const ISSUED: &str = r#"{"access_token":{"value":"ACCESSTOKEN000000001","manage":"https://as.example/token/9a1b","expires_in":600,"access":[{"type":"outgoing-payment","actions":["create","read"],"identifier":"https://ilp.example/alice","limits":{"debitAmount":{"value":"500","assetCode":"USD","assetScale":2},"interval":"R/2016-08-24T08:00:00Z/P1D"}}]},"continue":{"access_token":{"value":"CONTINUETOKEN0000001"},"uri":"https://as.example/continue/4f2c"}}"#;
const POLLED: &str = r#"{"continue":{"access_token":{"value":"CONTINUETOKEN0000001"},"uri":"https://as.example/continue/4f2c","wait":5}}"#;
const ROTATED: &str = r#"{"access_token":{"value":"ACCESSTOKEN000000002","manage":"https://as.example/token/77aa","expires_in":600,"access":[{"type":"quote","actions":["create","read"]}]}}"#;

fn grant_request(wallet: &str) -> GrantRequest {
    serde_json::from_str(&format!(
        r#"{{"access_token":{{"access":[{{"type":"outgoing-payment","actions":["create","read"],"identifier":"https://ilp.example/alice","limits":{{"debitAmount":{{"value":"500","assetCode":"USD","assetScale":2}},"interval":"R/2016-08-24T08:00:00Z/P1D"}}}}]}},"client":"{wallet}","interact":{{"start":["redirect"],"finish":{{"method":"redirect","uri":"http://localhost:3344/finish","nonce":"CLIENTNONCE-4edb2194"}}}}}}"#
    ))
    .unwrap()
}

#[tokio::test]
async fn grant_request_posts_compact_signed_json_and_parses_pending() {
    let server = Server::always(Reply::json(200, PENDING)).await;
    let wallet = server.url("client");
    let client = client_for(&wallet);
    let request = grant_request(wallet.as_str());
    let answer = client.request_grant(&server.base, &request).await.unwrap();
    let GrantResponse::Pending(pending) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(pending.interact.finish.expose(), "ABCDEF0123456789");
    assert_eq!(pending.continue_.wait, Some(5));

    let seen = server.single();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path_and_query, "/");
    assert_eq!(seen.body, serde_json::to_vec(&request).unwrap());
    assert!(!seen.body.contains(&b' '), "body must be compact");
    assert_eq!(seen.header("content-type"), "application/json");
    assert_eq!(seen.header("content-length"), seen.body.len().to_string());
    assert_eq!(seen.header("accept"), "application/json");
    assert!(!seen.has("authorization"));
    assert!(seen.header("content-digest").starts_with("sha-512=:"));
    assert!(seen.header("signature").starts_with("sig1=:"));
    assert_eq!(
        support::verify(&seen),
        [
            "@method",
            "@target-uri",
            "content-digest",
            "content-length",
            "content-type"
        ]
    );
}

#[tokio::test]
async fn grant_request_checks_before_sending() {
    let server = Server::always(Reply::json(200, PENDING)).await;
    let wallet = server.url("client");
    let client = client_for(&wallet);
    let mut request = grant_request(wallet.as_str());
    request.access_token = None;
    let err = client
        .request_grant(&server.base, &request)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidRequest { .. }),
        "{err}"
    );
    assert_eq!(err.delivery(), Delivery::NotSent);

    let both: GrantRequest = serde_json::from_str(
        &serde_json::to_string(&grant_request(wallet.as_str()))
            .unwrap()
            .replace(
                r#""interval""#,
                r#""receiveAmount":{"value":"1","assetCode":"USD","assetScale":2},"interval""#,
            ),
    )
    .unwrap();
    let err = client.request_grant(&server.base, &both).await.unwrap_err();
    assert!(err.to_string().contains("not both"), "{err}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn continue_with_interact_ref_sends_token_and_body() {
    let server = Server::always(Reply::json(200, ISSUED)).await;
    let client = client_for(&server.url("client"));
    let uri = server.url("continue/4f2c");
    let token = Secret::new("CONTINUETOKEN0000001");
    let interact_ref = Secret::new("4IFWWIKYBC2PQ6U56NL1");
    let answer = client
        .continue_grant(&uri, &token, Some(&interact_ref))
        .await
        .unwrap();
    let GrantResponse::Issued(issued) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(issued.access_token.value.expose(), "ACCESSTOKEN000000001");
    assert_eq!(issued.access_token.expires_in, Some(600));

    let seen = server.single();
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query.as_str()),
        ("POST", "/continue/4f2c")
    );
    assert_eq!(seen.header("authorization"), "GNAP CONTINUETOKEN0000001");
    assert_eq!(
        &seen.body[..],
        br#"{"interact_ref":"4IFWWIKYBC2PQ6U56NL1"}"#
    );
    assert_eq!(
        support::verify(&seen),
        [
            "@method",
            "@target-uri",
            "authorization",
            "content-digest",
            "content-length",
            "content-type"
        ]
    );
}

#[tokio::test]
async fn continue_without_interact_ref_polls_without_a_body() {
    let server = Server::always(Reply::json(200, POLLED)).await;
    let client = client_for(&server.url("client"));
    let token = Secret::new("CONTINUETOKEN0000001");
    let answer = client
        .continue_grant(&server.url("continue/4f2c"), &token, None)
        .await
        .unwrap();
    assert!(
        matches!(answer, GrantResponse::Continuation(_)),
        "{answer:?}"
    );
    let seen = server.single();
    assert_eq!(seen.method, "POST");
    assert!(seen.body.is_empty());
    assert!(!seen.has("content-type"));
    assert!(!seen.has("content-digest"));
    assert_eq!(
        support::verify(&seen),
        ["@method", "@target-uri", "authorization"]
    );
}

#[tokio::test]
async fn cancel_deletes_the_continuation() {
    let server = Server::always(Reply::empty(204)).await;
    let client = client_for(&server.url("client"));
    let token = Secret::new("CONTINUETOKEN0000001");
    client
        .cancel_grant(&server.url("continue/4f2c"), &token)
        .await
        .unwrap();
    let seen = server.single();
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query.as_str()),
        ("DELETE", "/continue/4f2c")
    );
    assert_eq!(seen.header("authorization"), "GNAP CONTINUETOKEN0000001");
    assert!(!seen.has("content-type"));
    assert_eq!(
        support::verify(&seen),
        ["@method", "@target-uri", "authorization"]
    );
}

#[tokio::test]
async fn rotate_posts_without_body_and_returns_the_new_token() {
    let server = Server::always(Reply::json(200, ROTATED)).await;
    let client = client_for(&server.url("client"));
    let token = Secret::new("ACCESSTOKEN000000001");
    let rotated = client
        .rotate_token(&server.url("token/9a1b"), &token)
        .await
        .unwrap();
    assert_eq!(rotated.access_token.value.expose(), "ACCESSTOKEN000000002");
    assert_eq!(rotated.access_token.manage, "https://as.example/token/77aa");
    let seen = server.single();
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query.as_str()),
        ("POST", "/token/9a1b")
    );
    assert_eq!(seen.header("authorization"), "GNAP ACCESSTOKEN000000001");
    assert!(seen.body.is_empty());
    assert_eq!(
        support::verify(&seen),
        ["@method", "@target-uri", "authorization"]
    );
}

#[tokio::test]
async fn revoke_deletes_the_token() {
    let server = Server::always(Reply::empty(204)).await;
    let client = client_for(&server.url("client"));
    let token = Secret::new("ACCESSTOKEN000000001");
    client
        .revoke_token(&server.url("token/9a1b"), &token)
        .await
        .unwrap();
    let seen = server.single();
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query.as_str()),
        ("DELETE", "/token/9a1b")
    );
    assert_eq!(
        support::verify(&seen),
        ["@method", "@target-uri", "authorization"]
    );
}

#[tokio::test]
async fn wallet_address_keys_are_fetched_unsigned() {
    let jwks = r#"{"keys":[{"kid":"k1","alg":"EdDSA","kty":"OKP","crv":"Ed25519","x":"0rDE1Vl8kF_JHTKZrCSTY9yk7MgvA2ltJJQ6D6tBjmY"}]}"#;
    let server = Server::always(Reply::json(200, jwks)).await;
    let client = client_for(&server.url("client"));
    let keys = client
        .get_wallet_address_keys(&server.url("alice"))
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert!(keys.find("k1").is_some());
    let seen = server.single();
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query.as_str()),
        ("GET", "/alice/jwks.json")
    );
    assert!(!seen.has("signature"));
    assert!(!seen.has("signature-input"));
    assert!(!seen.has("authorization"));
    assert!(!seen.has("content-type"));
}

#[tokio::test]
async fn with_timeout_changes_only_the_timeout() {
    let server =
        Server::always(Reply::json(200, ROTATED).after(std::time::Duration::from_millis(400)))
            .await;
    let client = client_for(&server.url("client"));
    let hasty = client.with_timeout(std::time::Duration::from_millis(100));
    assert_eq!(hasty.key_id(), client.key_id());
    let token = Secret::new("ACCESSTOKEN000000001");
    let err = hasty
        .rotate_token(&server.url("token/1"), &token)
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    client
        .rotate_token(&server.url("token/1"), &token)
        .await
        .unwrap();
    assert!(matches!(
        client.grant_client(),
        grantflow_protocol::grant::Client::WalletAddress(w) if w == server.url("client").as_str()
    ));
}
