//! The authorization server, black-box over TCP: the reference's lifecycle, checks, statuses and
//! codes (protocol notes §1.5-1.9, §8).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

mod common;

use std::time::Duration;

use common::{Answer, start, t0};
use grantflow_protocol::finish_hash::{FinishHashEncoding, verify_finish_hash};
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{SandboxClock, SandboxConfig};
use serde_json::json;

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn wallet_addresses_and_keys() {
    let (sandbox, client) = start(5).await;
    let alice = client.get(&sandbox.wallet_address_url("alice")).await;
    assert_eq!(alice.status, 200);
    assert_eq!(alice.body["id"], sandbox.wallet_address_url("alice"));
    assert_eq!(alice.body["publicName"], "Alice");
    assert_eq!(alice.body["assetCode"], "USD");
    assert_eq!(alice.body["assetScale"], 2);
    assert_eq!(alice.body["authServer"], sandbox.auth_server_url());
    assert_eq!(alice.body["resourceServer"], sandbox.resource_server_url());
    let keys = client.get(&format!("{}/jwks.json", client.wallet)).await;
    assert_eq!(keys.body["keys"][0]["kid"], common::KID);
    assert_eq!(keys.body["keys"][0]["alg"], "EdDSA");
    assert_eq!(
        client
            .get(&sandbox.wallet_address_url("nobody"))
            .await
            .status,
        404
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn incoming_payment_grant_is_issued_at_once() {
    let (sandbox, client) = start(5).await;
    let r = client
        .simple_grant(
            &sandbox,
            json!([{"type": "incoming-payment", "actions": ["create", "read"]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = &r.body["access_token"];
    assert_eq!(token["value"].as_str().unwrap().len(), 20);
    assert_eq!(token["expires_in"], 600);
    assert!(token["manage"].as_str().unwrap().contains("/auth/token/"));
    assert_eq!(token["access"][0]["type"], "incoming-payment");
    assert!(r.continue_uri().contains("/auth/continue/"));
    assert!(r.body["continue"].get("wait").is_none());
    assert!(r.body.get("interact").is_none());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn grant_request_validation_errors() {
    let (sandbox, client) = start(5).await;
    let alice = sandbox.wallet_address_url("alice");
    let as_url = sandbox.auth_server_url();

    // Outgoing payment without interact.
    let mut body = client.outgoing_grant_body(&alice, 500, true);
    body.as_object_mut().unwrap().remove("interact");
    let r = client.request_grant(&sandbox, &body).await;
    r.assert_error(400, "invalid_request");
    assert_eq!(
        r.description(),
        Some("missing required request field 'interact'")
    );

    // list-all on incoming payments forces interaction, which needs an identifier.
    let body = json!({"access_token": {"access": [{"type": "incoming-payment", "actions": ["list-all"]}]},
                      "client": client.wallet, "interact": {"start": ["redirect"]}});
    let r = client.request_grant(&sandbox, &body).await;
    r.assert_error(400, "invalid_request");
    assert_eq!(r.description(), Some("access identifier required"));

    // Both amounts.
    let mut body = client.outgoing_grant_body(&alice, 500, true);
    body["access_token"]["access"][0]["limits"]["receiveAmount"] =
        json!({"value": "1", "assetCode": "USD", "assetScale": 2});
    let r = client.request_grant(&sandbox, &body).await;
    assert_eq!(r.status, 400, "{}", r.body);

    // A JWK client cannot ask for an interactive grant.
    let mut body = client.outgoing_grant_body(&alice, 500, true);
    body["client"] = json!({"jwk": client.key.public_jwk(common::KID)});
    let r = client.request_grant(&sandbox, &body).await;
    r.assert_error(400, "invalid_client");

    // A client wallet address without publicName cannot either.
    sandbox
        .put_wallet_address(grantflow_sandbox::WalletAddressSpec {
            public_name: None,
            ..grantflow_sandbox::WalletAddressSpec::client(
                "anon",
                "x",
                client.key.public_jwks(common::KID),
            )
        })
        .unwrap();
    let mut body = client.outgoing_grant_body(&alice, 500, true);
    body["client"] = json!(sandbox.wallet_address_url("anon"));
    let r = client.request_grant(&sandbox, &body).await;
    r.assert_error(400, "invalid_client");
    assert_eq!(
        r.description(),
        Some("missing required request field 'client'")
    );

    // Malformed body, correctly signed: 400 with a code (the reference's validator gives none).
    let r = client
        .call(
            "POST",
            as_url,
            None,
            Some(&json!({"client": client.wallet, "access_token": {"access": [{"type": "nope"}]}})),
        )
        .await;
    r.assert_error(400, "invalid_request");
    assert!(r.description().is_some());

    // Unknown tenant.
    let r = client
        .call(
            "POST",
            &format!("{}/auth/other", sandbox.base_url()),
            None,
            Some(&json!({})),
        )
        .await;
    r.assert_error(404, "invalid_request");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn signatures_are_verified_strictly() {
    let (sandbox, client) = start(5).await;
    let as_url = sandbox.auth_server_url();
    let body = json!({"access_token": {"access": [{"type": "quote", "actions": ["create"]}]}, "client": client.wallet});

    let r = client
        .send_unsigned("POST", as_url, None, Some(&body))
        .await
        .unwrap();
    r.assert_error(401, "invalid_client");
    assert_eq!(r.description(), Some("invalid signature headers"));

    // Signed by a key the client's wallet address does not publish under that kid.
    let other = PrivateKey::from_seed(&[7; 32]);
    let r = client
        .send_signed_with(&other, common::KID, "POST", as_url, None, Some(&body))
        .await
        .unwrap();
    r.assert_error(401, "invalid_client");
    assert_eq!(r.description(), Some("invalid signature"));

    // An unknown kid.
    let r = client
        .send_signed_with(&other, "other-kid", "POST", as_url, None, Some(&body))
        .await
        .unwrap();
    r.assert_error(400, "invalid_client");

    // A JWK client signs with the key in the body.
    let jwk_body = json!({"access_token": {"access": [{"type": "quote", "actions": ["create"]}]},
                          "client": {"jwk": other.public_jwk("jwk-kid")}});
    let r = client
        .send_signed_with(&other, "jwk-kid", "POST", as_url, None, Some(&jwk_body))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    sandbox.shutdown().await;
}

/// Requests the seed's outgoing-payment grant; returns the pending response.
async fn pending(
    sandbox: &grantflow_sandbox::SandboxHandle,
    client: &common::TestClient,
    finish: bool,
) -> Answer {
    let body = client.outgoing_grant_body(&sandbox.wallet_address_url("alice"), 500, finish);
    let r = client.request_grant(sandbox, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

#[tokio::test]
async fn interactive_grant_lifecycle_matches_the_reference() {
    let (sandbox, client) = start(5).await;
    let p = pending(&sandbox, &client, true).await;
    let redirect = p.redirect();
    let as_nonce = p.body["interact"]["finish"].as_str().unwrap();
    assert_eq!(as_nonce.len(), 16);
    assert!(redirect.contains("/auth/interact/"));
    assert!(redirect.contains(as_nonce));
    assert_eq!(
        query_param(redirect, "clientName").as_deref(),
        Some("Test Client")
    );
    assert_eq!(
        query_param(redirect, "clientUri").as_deref(),
        Some(client.wallet.as_str())
    );
    let cont = &p.body["continue"];
    assert_eq!(cont["wait"], 5);
    let ctoken = p.continue_token().unwrap().to_owned();
    assert_eq!(ctoken.len(), 20);
    let curi = p.continue_uri().to_owned();

    // Approve at once, then continue at once: too_fast (the wait counts from the grant request).
    let outcome = sandbox.approve_interaction(redirect).unwrap();
    let finish = outcome.redirect.as_ref().unwrap().expose().to_owned();
    assert!(finish.starts_with("http://localhost:3344/finish?grant=1&hash="));
    let hash = query_param(&finish, "hash").unwrap();
    let interact_ref = query_param(&finish, "interact_ref").unwrap();
    assert_eq!(hash, outcome.hash.clone().unwrap());
    // The reference's encoding: padded standard base64; it verifies against the grant endpoint.
    assert!(hash.ends_with('='));
    verify_finish_hash(
        &hash,
        "client-nonce-0123456789",
        as_nonce,
        &interact_ref,
        sandbox.auth_server_url(),
    )
    .unwrap();

    let body = json!({"interact_ref": interact_ref});
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    r.assert_error(400, "too_fast");
    assert_eq!(
        r.description(),
        Some("continued grant faster than \"wait\" period")
    );

    // A bodiless poll on a grant with a finish method.
    sandbox.clock().advance(Duration::from_secs(5));
    let r = client.call("POST", &curi, Some(&ctoken), None).await;
    r.assert_error(401, "request_denied");
    assert_eq!(r.description(), Some("grant cannot be polled"));

    // Wrong continue token; unknown interact_ref; body without interact_ref.
    let r = client
        .call("POST", &curi, Some("00000000000000000000"), Some(&body))
        .await;
    r.assert_error(401, "invalid_continuation");
    let r = client
        .call(
            "POST",
            &curi,
            Some(&ctoken),
            Some(&json!({"interact_ref": "3f3c4e6e-0000-4000-8000-000000000000"})),
        )
        .await;
    r.assert_error(404, "invalid_continuation");
    let r = client
        .call("POST", &curi, Some(&ctoken), Some(&json!({})))
        .await;
    r.assert_error(401, "invalid_request");

    // The continue: token issued, same continue, no wait.
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["access_token"]["expires_in"], 600);
    assert_eq!(
        r.body["access_token"]["access"][0]["limits"]["interval"],
        "R/2016-08-24T08:00:00Z/P1D"
    );
    assert_eq!(r.body["continue"]["uri"], curi.as_str());
    assert!(r.body["continue"].get("wait").is_none());
    let (token, manage) = r.access_token();

    // Single-use interact_ref.
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    r.assert_error(401, "request_denied");
    assert_eq!(r.description(), Some("grant interaction not approved"));

    // Rotation: new value and manage URL; the old one is gone.
    let r = client.call("POST", &manage, Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (token2, manage2) = r.access_token();
    assert_ne!(manage2, manage);
    assert_ne!(token2, token);
    let r = client.call("POST", &manage, Some(&token), None).await;
    r.assert_error(401, "invalid_client");
    assert_eq!(r.description(), Some("invalid access token"));
    let r = client
        .send_unsigned("POST", &manage2, Some(&token2), None)
        .await
        .unwrap();
    r.assert_error(401, "invalid_client");
    assert_eq!(r.description(), Some("invalid signature headers"));

    // An expired token can be rotated.
    sandbox.clock().advance(Duration::from_secs(601));
    let r = client.call("POST", &manage2, Some(&token2), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (token3, manage3) = r.access_token();

    // Revoke: 204, then the token is unknown.
    let r = client.call("DELETE", &manage3, Some(&token3), None).await;
    assert_eq!(r.status, 204);
    let r = client.call("DELETE", &manage3, Some(&token3), None).await;
    r.assert_error(401, "invalid_client");

    // Cancel: 204; again, or continue after: invalid_continuation.
    let r = client.call("DELETE", &curi, Some(&ctoken), None).await;
    assert_eq!(r.status, 204);
    let r = client.call("DELETE", &curi, Some(&ctoken), None).await;
    r.assert_error(401, "invalid_continuation");
    let r = client.call("POST", &curi, Some(&ctoken), Some(&body)).await;
    r.assert_error(401, "invalid_continuation");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn polling_mode_without_finish() {
    let (sandbox, client) = start(5).await;
    let p = pending(&sandbox, &client, false).await;
    let curi = p.continue_uri().to_owned();
    let ctoken = p.continue_token().unwrap().to_owned();

    let r = client.call("POST", &curi, Some(&ctoken), None).await;
    r.assert_error(400, "too_fast");
    assert_eq!(
        r.description(),
        Some("polled grant faster than \"wait\" period")
    );

    sandbox.clock().advance(Duration::from_secs(5));
    let r = client.call("POST", &curi, Some(&ctoken), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["continue"]["wait"], 5);
    assert!(r.body.get("access_token").is_none());

    // Approved through the consent step: no redirect (the reference answers 202).
    let outcome = sandbox.approve_interaction(p.redirect()).unwrap();
    assert!(outcome.redirect.is_none());

    // The successful poll moved lastContinuedAt: too fast again until the wait passed.
    let r = client.call("POST", &curi, Some(&ctoken), None).await;
    r.assert_error(400, "too_fast");
    sandbox.clock().advance(Duration::from_secs(5));
    let r = client.call("POST", &curi, Some(&ctoken), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["access_token"]["value"].is_string());

    sandbox.clock().advance(Duration::from_secs(5));
    let r = client.call("POST", &curi, Some(&ctoken), None).await;
    r.assert_error(401, "request_denied");
    assert_eq!(r.description(), Some("grant cannot be continued"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rejection_and_restart() {
    let (sandbox, client) = start(0).await;
    let p = pending(&sandbox, &client, true).await;
    let redirect = p.redirect();
    let outcome = sandbox.deny_interaction(redirect).unwrap();
    assert_eq!(outcome.result.as_deref(), Some("grant_rejected"));
    let finish = outcome.redirect.unwrap().expose().to_owned();
    assert_eq!(
        query_param(&finish, "result").as_deref(),
        Some("grant_rejected")
    );
    assert!(query_param(&finish, "hash").is_none());

    // Starting the interaction again: redirected with invalid_interaction.
    let r = client.http.get(redirect).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    assert_eq!(
        query_param(location, "result").as_deref(),
        Some("invalid_interaction")
    );
    assert_eq!(
        query_param(location, "message").as_deref(),
        Some("invalid interaction")
    );

    // Deciding again: the grant is rejected.
    let err = sandbox.approve_interaction(redirect).unwrap_err();
    assert!(
        matches!(
            err,
            grantflow_sandbox::SandboxError::Interaction { status: 401, .. }
        ),
        "{err}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn interactions_expire() {
    let (sandbox, client) = start(0).await;
    let p = pending(&sandbox, &client, true).await;
    let redirect = p.redirect().to_owned();
    sandbox.clock().advance(Duration::from_secs(601));
    let err = sandbox.approve_interaction(&redirect).unwrap_err();
    assert!(
        matches!(
            err,
            grantflow_sandbox::SandboxError::Interaction { status: 400, .. }
        ),
        "{err}"
    );

    // Through the browser: the finish step redirects with "interaction expired".
    let page = client.http.get(&redirect).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = common::session_cookie(&page);
    let finish_url = redirect.split('?').next().unwrap().to_owned() + "/finish";
    let r = client
        .http
        .get(&finish_url)
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    assert_eq!(
        query_param(location, "message").as_deref(),
        Some("interaction expired")
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn consent_page_in_a_browser() {
    let (sandbox, client) = start(0).await;
    let p = pending(&sandbox, &client, true).await;
    let redirect = p.redirect().to_owned();
    let page = client.http.get(&redirect).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = common::session_cookie(&page);
    let html = page.text().await.unwrap();
    for needle in [
        "Test Client",
        "5.00 USD",
        "R/2016-08-24T08:00:00Z/P1D",
        "value=\"accept\"",
        "value=\"reject\"",
        "<form method=\"post\"",
        "autofocus",
        "outgoing payments",
        "every day from 24 Aug 2016 08:00 UTC, with no end",
        "this period: from 25 Nov 2026 08:00 UTC to 26 Nov 2026 08:00 UTC",
    ] {
        assert!(
            html.contains(needle),
            "consent page lacks {needle:?}:\n{html}"
        );
    }
    assert!(!html.contains("No limit"), "{html}");
    let base = redirect.split('?').next().unwrap().to_owned();

    // Finish without the session cookie: invalid session.
    let r = client
        .http
        .get(format!("{base}/finish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Deciding without the session cookie is refused.
    let r = client
        .http
        .post(format!("{base}/choice"))
        .form(&[("choice", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Approve through the form, follow to finish with the cookie.
    let r = client
        .http
        .post(format!("{base}/choice"))
        .header("Cookie", &cookie)
        .form(&[("choice", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    let r = client
        .http
        .get(format!("{}{next}", sandbox.base_url()))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    let interact_ref = query_param(location, "interact_ref").unwrap();
    let hash = query_param(location, "hash").unwrap();
    verify_finish_hash(
        &hash,
        "client-nonce-0123456789",
        p.body["interact"]["finish"].as_str().unwrap(),
        &interact_ref,
        sandbox.auth_server_url(),
    )
    .unwrap();
    let r = client
        .call(
            "POST",
            p.continue_uri(),
            p.continue_token(),
            Some(&json!({"interact_ref": interact_ref})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rfc9635_hash_encoding_is_configurable() {
    let (sandbox, client) = common::start_with(SandboxConfig {
        wait_seconds: 0,
        finish_hash_encoding: FinishHashEncoding::Rfc9635,
        clock: SandboxClock::manual(t0()),
        ..SandboxConfig::default()
    })
    .await;
    let p = pending(&sandbox, &client, true).await;
    let outcome = sandbox.approve_interaction(p.redirect()).unwrap();
    let hash = outcome.hash.unwrap();
    assert_eq!(hash.len(), 43);
    assert!(!hash.contains(['=', '+', '/']));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn concurrent_continues_issue_one_token() {
    let (sandbox, client) = start(0).await;
    let p = pending(&sandbox, &client, true).await;
    let outcome = sandbox.approve_interaction(p.redirect()).unwrap();
    let body = json!({"interact_ref": outcome.interact_ref.unwrap().expose()});
    let curi = p.continue_uri();
    let ctoken = p.continue_token();
    let attempts = (0..8).map(|_| client.send("POST", curi, ctoken, Some(&body)));
    let results = futures_join_all(attempts).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.status != 200)
            .all(|r| r.code() == Some("request_denied"))
    );

    // Concurrent rotations of one token: one wins.
    let issued = results.iter().find(|r| r.status == 200).unwrap();
    let manage = issued.body["access_token"]["manage"].as_str().unwrap();
    let token = issued.body["access_token"]["value"].as_str();
    let rotations =
        futures_join_all((0..8).map(|_| client.send("POST", manage, token, None))).await;
    assert_eq!(
        rotations.iter().filter(|r| r.status == 200).count(),
        1,
        "{rotations:?}"
    );
    sandbox.shutdown().await;
}

async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<Answer>
where
    F: std::future::Future<Output = Result<Answer, reqwest::Error>>,
{
    futures::future::join_all(futures)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn two_content_types_are_refused_with_415() {
    let (sandbox, client) = start(0).await;
    let r = client
        .http
        .post(sandbox.auth_server_url())
        .header("Content-Type", "application/json")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let body: serde_json::Value = r.json().await.unwrap();
    // The reference's body has no code; RFC 9635 requires one.
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    let r = client
        .get(&format!("{}/auth/nowhere/at/all", sandbox.base_url()))
        .await;
    assert_eq!(r.status, 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn keys_are_looked_up_on_every_request() {
    let (sandbox, client) = start(0).await;
    let p = pending(&sandbox, &client, true).await;
    // The client replaces its published key: requests signed with the old one are refused.
    let new_key = PrivateKey::from_seed(&[99; 32]);
    sandbox
        .put_wallet_address(grantflow_sandbox::WalletAddressSpec::client(
            "client",
            "Test Client",
            new_key.public_jwks("new-kid"),
        ))
        .unwrap();
    let curi = p.continue_uri();
    let ctoken = p.continue_token();
    let r = client.call("DELETE", curi, ctoken, None).await;
    r.assert_error(400, "invalid_client");
    let r = client
        .send_signed_with(&new_key, "new-kid", "DELETE", curi, ctoken, None)
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.body);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn after_rejection_and_after_cancel() {
    let (sandbox, client) = start(0).await;
    // Rejected, with a finish URI: continuing with an interact_ref finds no grant.
    let p = pending(&sandbox, &client, true).await;
    sandbox.deny_interaction(p.redirect()).unwrap();
    let curi = p.continue_uri();
    let ctoken = p.continue_token();
    let r = client
        .call(
            "POST",
            curi,
            ctoken,
            Some(&json!({"interact_ref": "anything"})),
        )
        .await;
    r.assert_error(404, "invalid_continuation");

    // Rejected, polling mode: the poll says the grant cannot be continued.
    let p = pending(&sandbox, &client, false).await;
    sandbox.deny_interaction(p.redirect()).unwrap();
    let r = client
        .call("POST", p.continue_uri(), p.continue_token(), None)
        .await;
    r.assert_error(401, "request_denied");
    assert_eq!(r.description(), Some("grant cannot be continued"));

    // Canceled while pending: the user can no longer decide, the page redirects.
    let p = pending(&sandbox, &client, true).await;
    let redirect = p.redirect();
    let r = client
        .call("DELETE", p.continue_uri(), p.continue_token(), None)
        .await;
    assert_eq!(r.status, 204);
    let err = sandbox.approve_interaction(redirect).unwrap_err();
    assert!(
        matches!(
            err,
            grantflow_sandbox::SandboxError::Interaction { status: 401, .. }
        ),
        "{err}"
    );
    let page = client.http.get(redirect).send().await.unwrap();
    assert_eq!(page.status(), 302);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn deleting_an_issued_grant_revokes_it_and_its_tokens() {
    // Reference §9: DELETE <continue uri> on an issued grant is 204; its tokens are inactive at
    // the resource server and can no longer be rotated.
    let (sandbox, client) = start(0).await;
    let r = client.list_grant(&sandbox).await;
    let (token, manage) = r.access_token();
    let (curi, ctoken) = (
        r.continue_uri().to_owned(),
        r.continue_token().unwrap().to_owned(),
    );
    assert_eq!(client.list_incoming(&sandbox, &token).await.status, 200);

    let r = client.call("DELETE", &curi, Some(&ctoken), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = client.list_incoming(&sandbox, &token).await;
    assert_eq!((r.status, r.description()), (403, Some("Inactive Token")));
    client
        .call("POST", &manage, Some(&token), None)
        .await
        .assert_error(401, "invalid_client");
    client
        .call("DELETE", &curi, Some(&ctoken), None)
        .await
        .assert_error(401, "invalid_continuation");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_signature_is_verified_before_the_body_is_read() {
    let (sandbox, client) = start(0).await;
    let as_url = sandbox.auth_server_url();
    let malformed =
        json!({"client": client.wallet, "access_token": {"access": [{"type": "nope"}]}});

    // Unsigned: the signature answer, not the body's.
    let r = client
        .send_unsigned("POST", as_url, None, Some(&malformed))
        .await
        .unwrap();
    r.assert_error(401, "invalid_client");
    assert_eq!(r.description(), Some("invalid signature headers"));

    // Signed by a key the client does not publish.
    let stranger = PrivateKey::from_seed(&[7; 32]);
    let r = client
        .send_signed_with(
            &stranger,
            common::KID,
            "POST",
            as_url,
            None,
            Some(&malformed),
        )
        .await
        .unwrap();
    r.assert_error(401, "invalid_client");
    assert_eq!(r.description(), Some("invalid signature"));

    // Signed, but the body sent is not the body signed: the digest refuses it.
    let signed_body = serde_json::to_vec(&json!({"client": client.wallet})).unwrap();
    let headers = grantflow_protocol::signature::sign_request(
        &grantflow_protocol::signature::SignableRequest {
            method: "POST",
            target_uri: as_url,
            authorization: None,
            body: Some(&signed_body),
        },
        &client.key,
        common::KID,
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    let mut request = client.http.post(as_url);
    for (name, value) in headers.iter() {
        request = request.header(name, value);
    }
    let tampered = serde_json::to_vec(&malformed).unwrap();
    let response = request
        .header("Content-Length", tampered.len().to_string())
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_client");

    // A signed body that names no client: whose keys are unknown.
    let r = client
        .call("POST", as_url, None, Some(&json!(["not", "a", "grant"])))
        .await;
    r.assert_error(400, "invalid_client");
    assert_eq!(r.description(), Some("could not determine client"));

    // A continue with a body that is not JSON, correctly signed: 400 with a code.
    let (curi, ctoken, _) = client.approved_grant(&sandbox).await;
    let r = client
        .call("POST", &curi, Some(&ctoken), Some(&json!("not an object")))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.code().is_some(), "{}", r.body);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn any_key_the_client_publishes_verifies_during_a_rotation() {
    // Client key rotation: publish the new key beside the old one, sign with either, retire the
    // old one. The signature's keyid picks the key among those the JWKS lists.
    let (sandbox, client) = start(0).await;
    let new_key = PrivateKey::from_seed(&[99; 32]);
    let publish = |keys: Vec<grantflow_protocol::jwk::Jwk>| {
        sandbox
            .put_wallet_address(grantflow_sandbox::WalletAddressSpec::client(
                "client",
                "Test Client",
                grantflow_protocol::jwk::Jwks { keys },
            ))
            .unwrap();
    };
    publish(vec![
        client.key.public_jwk(common::KID),
        new_key.public_jwk("new-kid"),
    ]);
    let body = json!({"access_token": {"access": [{"type": "quote", "actions": ["create"]}]},
                      "client": client.wallet});
    let as_url = sandbox.auth_server_url();
    let old = client.call("POST", as_url, None, Some(&body)).await;
    assert_eq!(old.status, 200, "{}", old.body);
    let new = client
        .send_signed_with(&new_key, "new-kid", "POST", as_url, None, Some(&body))
        .await
        .unwrap();
    assert_eq!(new.status, 200, "{}", new.body);
    // A grant made under the old key is managed with the new one.
    let (token, manage) = old.access_token();
    let r = client
        .send_signed_with(&new_key, "new-kid", "POST", &manage, Some(&token), None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // A keyid naming one key with the other key's signature is refused.
    let r = client
        .send_signed_with(&new_key, common::KID, "POST", as_url, None, Some(&body))
        .await
        .unwrap();
    r.assert_error(401, "invalid_client");

    // The old key retired: refused, the new one still works.
    publish(vec![new_key.public_jwk("new-kid")]);
    client
        .call("POST", as_url, None, Some(&body))
        .await
        .assert_error(400, "invalid_client");
    let r = client
        .send_signed_with(&new_key, "new-kid", "POST", as_url, None, Some(&body))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    sandbox.shutdown().await;
}
