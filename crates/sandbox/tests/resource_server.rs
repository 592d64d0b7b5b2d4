//! The resource server, black-box over TCP: incoming payments, quotes, outgoing payments with
//! limits per window, spent amounts, inactive tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

mod common;

use std::time::Duration;

use common::{Answer, KID, TestClient, start};
use grantflow_protocol::keys::PrivateKey;
use grantflow_sandbox::{Fault, Route, SandboxHandle};
use serde_json::json;

/// An issued token for one access item of a non-interactive `kind` with `actions`, with its
/// manage URL.
async fn token_for(
    sandbox: &SandboxHandle,
    client: &TestClient,
    kind: &str,
    actions: &[&str],
) -> (String, String) {
    let r = client
        .simple_grant(sandbox, json!([{"type": kind, "actions": actions}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.access_token()
}

/// An outgoing-payment token for alice with the seed's limit (`limit` cents per day), obtained
/// through the interactive flow.
async fn outgoing_token(
    sandbox: &SandboxHandle,
    client: &TestClient,
    limit: u64,
) -> (String, String) {
    let body = client.outgoing_grant_body(&sandbox.wallet_address_url("alice"), limit, true);
    let p = client.request_grant(sandbox, &body).await;
    let r = client.approve_and_continue(sandbox, &p).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.access_token()
}

async fn incoming_payment(
    sandbox: &SandboxHandle,
    client: &TestClient,
    token: &str,
    amount: Option<u64>,
) -> Answer {
    let mut body = json!({"walletAddress": sandbox.wallet_address_url("bob")});
    if let Some(v) = amount {
        body["incomingAmount"] =
            json!({"value": v.to_string(), "assetCode": "USD", "assetScale": 2});
    }
    client
        .call(
            "POST",
            &format!("{}/incoming-payments", sandbox.resource_server_url()),
            Some(token),
            Some(&body),
        )
        .await
}

async fn pay(
    sandbox: &SandboxHandle,
    client: &TestClient,
    token: &str,
    receiver: &str,
    cents: u64,
) -> Answer {
    let body = json!({
        "walletAddress": sandbox.wallet_address_url("alice"),
        "incomingPayment": receiver,
        "debitAmount": {"value": cents.to_string(), "assetCode": "USD", "assetScale": 2}
    });
    client
        .call(
            "POST",
            &format!("{}/outgoing-payments", sandbox.resource_server_url()),
            Some(token),
            Some(&body),
        )
        .await
}

#[tokio::test]
async fn incoming_payments_create_get_list_complete() {
    let (sandbox, client) = start(0).await;
    let (token, _) = token_for(
        &sandbox,
        &client,
        "incoming-payment",
        &["create", "read", "list", "complete"],
    )
    .await;
    let created = incoming_payment(&sandbox, &client, &token, Some(1234)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["receivedAmount"]["value"], "0");
    assert_eq!(created.body["completed"], false);
    assert_eq!(created.body["methods"][0]["type"], "ilp");
    let id = created.id();

    let got = client.call("GET", &id, Some(&token), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["incomingAmount"]["value"], "1234");
    let public = client.get(&id).await;
    assert_eq!(public.body["authServer"], sandbox.auth_server_url());
    assert!(public.body.get("incomingAmount").is_none());

    for _ in 0..2 {
        incoming_payment(&sandbox, &client, &token, None).await;
    }
    let list_url = format!(
        "{}/incoming-payments?wallet-address={}&first=2",
        sandbox.resource_server_url(),
        sandbox.wallet_address_url("bob")
    );
    let page = client.call("GET", &list_url, Some(&token), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["result"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["pagination"]["hasNextPage"], true);
    let cursor = page.body["pagination"]["endCursor"].as_str().unwrap();
    let next = client
        .call(
            "GET",
            &format!("{list_url}&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(next.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(next.body["pagination"]["hasNextPage"], false);
    assert_eq!(next.body["pagination"]["hasPreviousPage"], true);

    let done = client
        .call("POST", &format!("{id}/complete"), Some(&token), None)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["completed"], true);

    // Wrong asset.
    let bad = client
        .call(
            "POST",
            &format!("{}/incoming-payments", sandbox.resource_server_url()),
            Some(&token),
            Some(&json!({"walletAddress": sandbox.wallet_address_url("bob"),
                         "incomingAmount": {"value": "1", "assetCode": "EUR", "assetScale": 2}})),
        )
        .await;
    assert_eq!(bad.status, 400);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn token_checks_in_the_reference_order() {
    let (sandbox, client) = start(0).await;
    let (token, manage) =
        token_for(&sandbox, &client, "incoming-payment", &["create", "read"]).await;
    let url = format!("{}/incoming-payments", sandbox.resource_server_url());
    let body = json!({"walletAddress": sandbox.wallet_address_url("bob")});

    // No token: 401 with the GNAP challenge.
    let r = client.call("POST", &url, None, Some(&body)).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers["www-authenticate"].to_str().unwrap(),
        format!("GNAP as_uri={}", sandbox.auth_server_url())
    );
    // A token without the access: Insufficient Grant.
    let (quote_token, _) = token_for(&sandbox, &client, "quote", &["create"]).await;
    let r = client
        .call("POST", &url, Some(&quote_token), Some(&body))
        .await;
    assert_eq!(
        (r.status, r.description()),
        (403, Some("Insufficient Grant"))
    );
    // Unsigned with a good token: signature refused.
    let r = client
        .send_unsigned("POST", &url, Some(&token), Some(&body))
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    // Expired: Inactive Token.
    sandbox.clock().advance(Duration::from_secs(600));
    let r = client.call("POST", &url, Some(&token), Some(&body)).await;
    assert_eq!((r.status, r.description()), (403, Some("Inactive Token")));
    // Rotated (expired tokens rotate): the new one works.
    let rotated = client.call("POST", &manage, Some(&token), None).await;
    let new = rotated.body["access_token"]["value"].as_str().unwrap();
    let r = client.call("POST", &url, Some(new), Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Revoked: Inactive Token.
    let manage = rotated.body["access_token"]["manage"].as_str().unwrap();
    assert_eq!(
        client.call("DELETE", manage, Some(new), None).await.status,
        204
    );
    let r = client.call("POST", &url, Some(new), Some(&body)).await;
    assert_eq!((r.status, r.description()), (403, Some("Inactive Token")));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn create_routes_check_the_signature_before_reading_the_body() {
    let (sandbox, client) = start(0).await;
    let rs = sandbox.resource_server_url();
    let (ip_token, _) = token_for(&sandbox, &client, "incoming-payment", &["create"]).await;
    let (quote_token, _) = token_for(&sandbox, &client, "quote", &["create"]).await;
    let (op_token, _) = outgoing_token(&sandbox, &client, 1000).await;
    let stranger = PrivateKey::from_seed(&[7; 32]);
    // Neither a JSON body of the route's shape nor a hosted wallet address.
    let malformed = json!({"walletAddress": 5, "debitAmount": "lots"});
    for (route, token) in [
        ("incoming-payments", &ip_token),
        ("quotes", &quote_token),
        ("outgoing-payments", &op_token),
    ] {
        let url = format!("{rs}/{route}");
        // Unsigned: the signature error, not the body's.
        let r = client
            .send_unsigned("POST", &url, Some(token), Some(&malformed))
            .await
            .unwrap();
        r.assert_error(401, "invalid_signature");
        // Signed by a key the client does not publish, under its key id: the same.
        let r = client
            .send_signed_with(&stranger, KID, "POST", &url, Some(token), Some(&malformed))
            .await
            .unwrap();
        r.assert_error(401, "invalid_signature");
        assert_eq!(
            r.headers["www-authenticate"].to_str().unwrap(),
            format!("GNAP as_uri={}", sandbox.auth_server_url()),
            "{route}"
        );
        // Signed by the client: now the body is read, and refused with a code.
        let r = client
            .call("POST", &url, Some(token), Some(&malformed))
            .await;
        r.assert_error(400, "invalid_request");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn outgoing_payments_respect_the_limit_per_window() {
    let (sandbox, client) = start(0).await;
    let (ip_token, _) = token_for(&sandbox, &client, "incoming-payment", &["create", "read"]).await;
    let receiver = incoming_payment(&sandbox, &client, &ip_token, None)
        .await
        .id();
    // 5.00 USD per day, windows from 08:00Z (the manual clock starts at 12:00Z).
    let (token, manage) = outgoing_token(&sandbox, &client, 500).await;

    let r = pay(&sandbox, &client, &token, &receiver, 300).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["sentAmount"]["value"], "300");
    assert_eq!(r.body["grantSpentDebitAmount"]["value"], "300");
    let r = pay(&sandbox, &client, &token, &receiver, 201).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = pay(&sandbox, &client, &token, &receiver, 200).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["grantSpentDebitAmount"]["value"], "500");

    let spent_url = format!("{}/outgoing-payment-grant", sandbox.resource_server_url());
    let spent = client.call("GET", &spent_url, Some(&token), None).await;
    assert_eq!(
        spent.body["spentDebitAmount"]["value"], "500",
        "{}",
        spent.body
    );

    // Next day's window (from 08:00Z tomorrow): the allowance is back.
    // (The token expired meanwhile: rotate it, as a client does; spending is per grant.)
    sandbox.clock().advance(Duration::from_secs(20 * 3600));
    let r = client.call("GET", &spent_url, Some(&token), None).await;
    assert_eq!((r.status, r.description()), (403, Some("Inactive Token")));
    let rotated = client.call("POST", &manage, Some(&token), None).await;
    let (token, _) = rotated.access_token();
    let (ip_token, _) = token_for(&sandbox, &client, "incoming-payment", &["create", "read"]).await;
    let spent = client.call("GET", &spent_url, Some(&token), None).await;
    assert_eq!(
        spent.body["spentDebitAmount"]["value"], "0",
        "{}",
        spent.body
    );
    let r = pay(&sandbox, &client, &token, &receiver, 500).await;
    assert_eq!(r.status, 201, "{}", r.body);

    // The receiver got everything.
    let got = client.call("GET", &receiver, Some(&ip_token), None).await;
    assert_eq!(got.body["receivedAmount"]["value"], "1000");

    // Listing and reading with the grant's read/list actions.
    let list = client
        .call(
            "GET",
            &format!(
                "{}/outgoing-payments?wallet-address={}",
                sandbox.resource_server_url(),
                sandbox.wallet_address_url("alice")
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        list.body["result"].as_array().unwrap().len(),
        3,
        "{}",
        list.body
    );
    let first = list.body["result"][0]["id"].as_str().unwrap();
    let got = client.call("GET", first, Some(&token), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["debitAmount"]["value"], "300");
    sandbox.shutdown().await;
}

/// A receiver for 2.50 USD at bob's, and alice's quote for it: (incoming-payment token, receiver
/// URL, quote token, the quote answer).
async fn quoted_receiver(
    sandbox: &SandboxHandle,
    client: &TestClient,
) -> (String, String, String, Answer) {
    let (ip_token, _) = token_for(sandbox, client, "incoming-payment", &["create", "read"]).await;
    let receiver = incoming_payment(sandbox, client, &ip_token, Some(250))
        .await
        .id();
    let (q_token, _) = token_for(sandbox, client, "quote", &["create", "read"]).await;
    let quote = client.call(
            "POST",
            &format!("{}/quotes", sandbox.resource_server_url()),
            Some(&q_token),
            Some(&json!({"walletAddress": sandbox.wallet_address_url("alice"), "receiver": receiver, "method": "ilp"})),
        ).await;
    assert_eq!(quote.status, 201, "{}", quote.body);
    (ip_token, receiver, q_token, quote)
}

#[tokio::test]
async fn quotes_feed_outgoing_payments_once() {
    let (sandbox, client) = start(0).await;
    let (ip_token, receiver, q_token, quote) = quoted_receiver(&sandbox, &client).await;
    assert_eq!(quote.body["debitAmount"]["value"], "250");
    let quote_id = quote.id();
    assert_eq!(
        client
            .call("GET", &quote_id, Some(&q_token), None)
            .await
            .status,
        200
    );

    let (token, _) = outgoing_token(&sandbox, &client, 1000).await;
    let body = json!({"walletAddress": sandbox.wallet_address_url("alice"), "quoteId": quote_id});
    let url = format!("{}/outgoing-payments", sandbox.resource_server_url());
    let r = client.call("POST", &url, Some(&token), Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["quoteId"], quote_id.as_str());
    // The quote is spent, and the receiver is now complete.
    let r = client.call("POST", &url, Some(&token), Some(&body)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let got = client.call("GET", &receiver, Some(&ip_token), None).await;
    assert_eq!(got.body["completed"], true);

    // An expired quote is refused.
    let receiver2 = incoming_payment(&sandbox, &client, &ip_token, Some(100))
        .await
        .id();
    let quote = client.call(
            "POST",
            &format!("{}/quotes", sandbox.resource_server_url()),
            Some(&q_token),
            Some(&json!({"walletAddress": sandbox.wallet_address_url("alice"), "receiver": receiver2, "method": "ilp"})),
        ).await;
    sandbox.clock().advance(Duration::from_secs(301));
    let body =
        json!({"walletAddress": sandbox.wallet_address_url("alice"), "quoteId": quote.body["id"]});
    let r = client.call("POST", &url, Some(&token), Some(&body)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    sandbox.shutdown().await;
}

/// As the reference: a payment from a quote takes the quote's id, so a client whose answer was
/// lost finds the payment by the quote's id, and a re-send is refused as "invalid quote" (no
/// second payment). The journal shows the lost answer.
#[tokio::test]
async fn an_outgoing_payment_takes_its_quotes_id_and_a_lost_answer_is_recoverable() {
    let (sandbox, client) = start(0).await;
    let (_, _, _, quote) = quoted_receiver(&sandbox, &client).await;
    let quote_id = quote.id();
    let payment_url = quote_id.replace("/quotes/", "/outgoing-payments/");
    let (token, _) = outgoing_token(&sandbox, &client, 1000).await;
    // Not there before the create.
    let r = client.call("GET", &payment_url, Some(&token), None).await;
    assert_eq!(r.status, 404, "{}", r.body);

    sandbox.clear_journal();
    sandbox.set_fault(Route::OutgoingPaymentCreate, Fault::LoseResponse, Some(1));
    let body = json!({"walletAddress": sandbox.wallet_address_url("alice"), "quoteId": quote_id});
    let url = format!("{}/outgoing-payments", sandbox.resource_server_url());
    client
        .send("POST", &url, Some(&token), Some(&body))
        .await
        .unwrap_err();
    // The payment exists, under the quote's id.
    let r = client.call("GET", &payment_url, Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], payment_url.as_str());
    assert_eq!(r.body["quoteId"], quote_id.as_str());
    // A re-send is refused as the reference refuses it, and pays nothing.
    let again = client.call("POST", &url, Some(&token), Some(&body)).await;
    again.assert_error(400, "invalid_request");
    assert_eq!(
        again.body["error"]["description"], "invalid quote",
        "{}",
        again.body
    );
    let spent = client
        .call(
            "GET",
            &format!("{}/outgoing-payment-grant", sandbox.resource_server_url()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        spent.body["spentDebitAmount"]["value"], "250",
        "{}",
        spent.body
    );
    let creates: Vec<_> = sandbox
        .journal()
        .into_iter()
        .filter(|e| e.route == Route::OutgoingPaymentCreate)
        .map(|e| (e.status, e.acted, e.delivered, e.faults))
        .collect();
    assert_eq!(
        creates,
        [
            (Some(201), true, false, vec![Fault::LoseResponse]),
            (Some(400), false, true, vec![]),
        ]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn payments_outside_every_window_are_refused() {
    let (sandbox, client) = start(0).await;
    let (ip_token, _) = token_for(&sandbox, &client, "incoming-payment", &["create"]).await;
    let receiver = incoming_payment(&sandbox, &client, &ip_token, None)
        .await
        .id();
    // One window (R0) that ended long ago.
    let mut body = client.outgoing_grant_body(&sandbox.wallet_address_url("alice"), 500, true);
    body["access_token"]["access"][0]["limits"]["interval"] = json!("R0/2016-08-24T08:00:00Z/P1D");
    let p = client.request_grant(&sandbox, &body).await;
    let r = client.approve_and_continue(&sandbox, &p).await;
    let (token, _) = r.access_token();
    let r = pay(&sandbox, &client, &token, &receiver, 1).await;
    assert_eq!(r.status, 403, "{}", r.body);
    sandbox.shutdown().await;
}
