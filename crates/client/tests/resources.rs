//! Wallet address, incoming payment, quote and outgoing payment calls against a loopback server:
//! URLs, query strings, signatures, bodies, and the reference client's response checks.

// A panic in a test helper is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use grantflow_client::{Delivery, ErrorKind};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::incoming_payment::CreateIncomingPayment;
use grantflow_protocol::outgoing_payment::CreateOutgoingPayment;
use grantflow_protocol::pagination::PageRequest;
use grantflow_protocol::quote::{CreateQuote, QuoteAmount, QuoteMethod};
use grantflow_protocol::secret::Secret;
use support::{Reply, Server, client_for, verify};

const WALLET: &str = r#"{"id":"https://ilp.example/alice","publicName":"Alice","assetCode":"USD","assetScale":2,"authServer":"https://auth.example/tenant","resourceServer":"https://ilp.example/op"}"#;
const INCOMING: &str = r#"{"id":"https://ilp.example/incoming-payments/ip1","walletAddress":"https://ilp.example/alice","completed":false,"incomingAmount":{"value":"2500","assetCode":"USD","assetScale":2},"receivedAmount":{"value":"0","assetCode":"USD","assetScale":2},"expiresAt":"2030-01-01T00:00:00.000Z","metadata":{"externalRef":"INV-1"},"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z","methods":[{"type":"ilp","ilpAddress":"test.ilp.alice","sharedSecret":"c2hhcmVkLXNlY3JldA"}]}"#;
const QUOTE: &str = r#"{"id":"https://ilp.example/quotes/q1","walletAddress":"https://ilp.example/alice","receiver":"https://ilp.example/incoming-payments/ip1","receiveAmount":{"value":"2500","assetCode":"USD","assetScale":2},"debitAmount":{"value":"2510","assetCode":"USD","assetScale":2},"method":"ilp","expiresAt":"2030-01-01T00:00:00.000Z","createdAt":"2026-01-01T00:00:00.000Z"}"#;
const OUTGOING: &str = r#"{"id":"https://ilp.example/outgoing-payments/op1","walletAddress":"https://ilp.example/alice","quoteId":"https://ilp.example/quotes/q1","failed":false,"receiver":"https://ilp.example/incoming-payments/ip1","receiveAmount":{"value":"2500","assetCode":"USD","assetScale":2},"debitAmount":{"value":"2510","assetCode":"USD","assetScale":2},"sentAmount":{"value":"0","assetCode":"USD","assetScale":2},"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z"}"#;

fn token() -> Secret {
    Secret::new("ACCESSTOKEN000000001")
}

fn page(items: &str) -> String {
    format!(
        r#"{{"pagination":{{"startCursor":"a","endCursor":"b","hasNextPage":true,"hasPreviousPage":false}},"result":[{items}]}}"#
    )
}

const SIGNED_GET: [&str; 3] = ["@method", "@target-uri", "authorization"];
const SIGNED_BODY: [&str; 6] = [
    "@method",
    "@target-uri",
    "authorization",
    "content-digest",
    "content-length",
    "content-type",
];

#[tokio::test]
async fn wallet_address_is_fetched_unsigned() {
    let server = Server::always(Reply::json(200, WALLET)).await;
    let client = client_for(&server.url("client"));
    let wallet = client
        .get_wallet_address(&server.url("alice"))
        .await
        .unwrap();
    assert_eq!(wallet.auth_server, "https://auth.example/tenant");
    assert_eq!(wallet.resource_server, "https://ilp.example/op");
    let seen = server.single();
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query.as_str()),
        ("GET", "/alice")
    );
    assert!(!seen.has("signature") && !seen.has("authorization"));
    assert_eq!(seen.header("accept"), "application/json");
}

#[tokio::test]
async fn incoming_payment_create_get_complete_list() {
    let completed = INCOMING.replace(r#""completed":false"#, r#""completed":true"#);
    let listed = page(&format!("{INCOMING},{completed}"));
    let server = Server::start(
        move |r, _| match (r.method.as_str(), r.path_and_query.as_str()) {
            ("POST", "/op/incoming-payments") => Reply::json(201, INCOMING),
            ("GET", "/op/incoming-payments/ip1") => Reply::json(200, INCOMING),
            ("POST", "/op/incoming-payments/ip1/complete") => Reply::json(200, &completed),
            ("GET", _) => Reply::json(200, &listed),
            _ => Reply::empty(404),
        },
    )
    .await;
    let client = client_for(&server.url("client"));
    let rs = server.url("op");
    let create: CreateIncomingPayment = serde_json::from_str(
        r#"{"walletAddress":"https://ilp.example/alice","incomingAmount":{"value":"2500","assetCode":"USD","assetScale":2},"metadata":{"description":"Zoë's invoice"}}"#,
    )
    .unwrap();
    let created = client
        .create_incoming_payment(&rs, &token(), &create)
        .await
        .unwrap();
    assert_eq!(created.id, "https://ilp.example/incoming-payments/ip1");
    let url = server.url("op/incoming-payments/ip1");
    let got = client.get_incoming_payment(&url, &token()).await.unwrap();
    assert_eq!(got.incoming_amount, Some(Amount::new(2500, "USD", 2)));
    let done = client
        .complete_incoming_payment(&url, &token())
        .await
        .unwrap();
    assert!(done.completed);
    let list = client
        .list_incoming_payments(
            &rs,
            &token(),
            "https://ilp.example/alice",
            &PageRequest::first(10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(list.result.len(), 2);
    assert!(list.pagination.has_next_page);

    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].body, serde_json::to_vec(&create).unwrap());
    assert_eq!(
        seen[0].header("content-length"),
        seen[0].body.len().to_string()
    );
    assert_eq!(verify(&seen[0]), SIGNED_BODY);
    assert_eq!(verify(&seen[1]), SIGNED_GET);
    assert_eq!(
        (
            seen[2].method.as_str(),
            seen[2].path_and_query.as_str(),
            seen[2].body.is_empty()
        ),
        ("POST", "/op/incoming-payments/ip1/complete", true)
    );
    assert_eq!(verify(&seen[2]), SIGNED_GET);
    assert_eq!(
        seen[3].path_and_query,
        "/op/incoming-payments?wallet-address=https%3A%2F%2Filp.example%2Falice&first=10"
    );
    assert_eq!(verify(&seen[3]), SIGNED_GET);
}

#[tokio::test]
async fn public_incoming_payment_is_unsigned() {
    let server = Server::always(Reply::json(
        200,
        r#"{"authServer":"https://auth.example/tenant"}"#,
    ))
    .await;
    let client = client_for(&server.url("client"));
    let public = client
        .get_public_incoming_payment(&server.url("op/incoming-payments/ip1"))
        .await
        .unwrap();
    assert_eq!(public.auth_server, "https://auth.example/tenant");
    assert!(public.received_amount.is_none());
    let seen = server.single();
    assert!(!seen.has("signature") && !seen.has("authorization"));
}

#[tokio::test]
async fn incoming_payment_answers_are_checked_like_the_reference_client() {
    let completed = INCOMING.replace(r#""completed":false"#, r#""completed":true"#);
    let server = Server::always(Reply::json(201, &completed)).await;
    let client = client_for(&server.url("client"));
    let create: CreateIncomingPayment =
        serde_json::from_str(r#"{"walletAddress":"https://ilp.example/alice"}"#).unwrap();
    let err = client
        .create_incoming_payment(&server.url("op"), &token(), &create)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidResponse { .. }),
        "{err:?}"
    );
    assert_eq!(err.delivery(), Delivery::Received);

    let not_completed = Server::always(Reply::json(200, INCOMING)).await;
    let err = client
        .complete_incoming_payment(&not_completed.url("op/incoming-payments/ip1"), &token())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not marked completed"), "{err}");

    let mixed = INCOMING.replace(
        r#""receivedAmount":{"value":"0","assetCode":"USD""#,
        r#""receivedAmount":{"value":"0","assetCode":"EUR""#,
    );
    let mixed = Server::always(Reply::json(200, &mixed)).await;
    let err = client
        .get_incoming_payment(&mixed.url("op/incoming-payments/ip1"), &token())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("different assets"), "{err}");
}

#[tokio::test]
async fn quote_create_and_get() {
    let server = Server::start(|r, _| match r.method.as_str() {
        "POST" => Reply::json(201, QUOTE),
        _ => Reply::json(200, QUOTE),
    })
    .await;
    let client = client_for(&server.url("client"));
    let create = CreateQuote {
        wallet_address: "https://ilp.example/alice".into(),
        receiver: "https://ilp.example/incoming-payments/ip1".into(),
        method: QuoteMethod::Ilp,
        amount: QuoteAmount::Debit(Amount::new(2510, "USD", 2)),
    };
    let quote = client
        .create_quote(&server.url("op/"), &token(), &create)
        .await
        .unwrap();
    assert_eq!(quote.debit_amount.value, 2510);
    let again = client
        .get_quote(&server.url("op/quotes/q1"), &token())
        .await
        .unwrap();
    assert_eq!(again, quote);
    let seen = server.requests();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path_and_query.as_str()),
        ("POST", "/op/quotes")
    );
    assert_eq!(seen[0].body, serde_json::to_vec(&create).unwrap());
    assert!(String::from_utf8_lossy(&seen[0].body).contains(r#""debitAmount""#));
    assert_eq!(verify(&seen[0]), SIGNED_BODY);
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path_and_query.as_str()),
        ("GET", "/op/quotes/q1")
    );
    assert_eq!(verify(&seen[1]), SIGNED_GET);
}

#[tokio::test]
async fn outgoing_payment_create_get_list_and_spent_amounts() {
    let listed = page(OUTGOING);
    let spent = r#"{"spentDebitAmount":{"value":"2510","assetCode":"USD","assetScale":2},"spentReceiveAmount":null}"#;
    let server = Server::start(
        move |r, _| match (r.method.as_str(), r.path_and_query.as_str()) {
            ("POST", "/op/outgoing-payments") => Reply::json(201, OUTGOING),
            ("GET", "/op/outgoing-payments/op1") => Reply::json(200, OUTGOING),
            ("GET", "/op/outgoing-payment-grant") => Reply::json(200, spent),
            ("GET", _) => Reply::json(200, &listed),
            _ => Reply::empty(404),
        },
    )
    .await;
    let client = client_for(&server.url("client"));
    let rs = server.url("op");
    let from_quote = CreateOutgoingPayment::FromQuote {
        wallet_address: "https://ilp.example/alice".into(),
        quote_id: "https://ilp.example/quotes/q1".into(),
        metadata: None,
    };
    let direct = CreateOutgoingPayment::FromIncomingPayment {
        wallet_address: "https://ilp.example/alice".into(),
        incoming_payment: "https://ilp.example/incoming-payments/ip1".into(),
        debit_amount: Amount::new(2510, "USD", 2),
        metadata: None,
    };
    let created = client
        .create_outgoing_payment(&rs, &token(), &from_quote)
        .await
        .unwrap();
    assert_eq!(
        created.quote_id.as_deref(),
        Some("https://ilp.example/quotes/q1")
    );
    client
        .create_outgoing_payment(&rs, &token(), &direct)
        .await
        .unwrap();
    let got = client
        .get_outgoing_payment(&server.url("op/outgoing-payments/op1"), &token())
        .await
        .unwrap();
    assert_eq!(got, created);
    let list = client
        .list_outgoing_payments(
            &rs,
            &token(),
            "https://ilp.example/alice",
            &PageRequest::before(5, "c+1").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(list.result.len(), 1);
    let spent = client
        .get_outgoing_payment_grant_spent_amounts(&rs, &token())
        .await
        .unwrap();
    assert_eq!(spent.spent_debit_amount, Some(Amount::new(2510, "USD", 2)));
    assert_eq!(spent.spent_receive_amount, None);

    let seen = server.requests();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0].body, serde_json::to_vec(&from_quote).unwrap());
    assert_eq!(seen[1].body, serde_json::to_vec(&direct).unwrap());
    assert_eq!(verify(&seen[0]), SIGNED_BODY);
    assert_eq!(verify(&seen[1]), SIGNED_BODY);
    assert_eq!(verify(&seen[2]), SIGNED_GET);
    assert_eq!(
        seen[3].path_and_query,
        "/op/outgoing-payments?wallet-address=https%3A%2F%2Filp.example%2Falice&last=5&cursor=c%2B1"
    );
    assert_eq!(verify(&seen[3]), SIGNED_GET);
    assert_eq!(
        (seen[4].method.as_str(), seen[4].path_and_query.as_str()),
        ("GET", "/op/outgoing-payment-grant")
    );
    assert_eq!(verify(&seen[4]), SIGNED_GET);
}

#[tokio::test]
async fn outgoing_payment_answers_are_checked_like_the_reference_client() {
    let client_server = Server::always(Reply::empty(404)).await;
    let client = client_for(&client_server.url("client"));
    let cases = [
        (
            OUTGOING.replace(
                r#""sentAmount":{"value":"0""#,
                r#""sentAmount":{"value":"9999""#,
            ),
            "exceeds",
        ),
        (
            OUTGOING.replace(
                r#""sentAmount":{"value":"0","assetCode":"USD""#,
                r#""sentAmount":{"value":"0","assetCode":"EUR""#,
            ),
            "different assets",
        ),
        (
            OUTGOING
                .replace(
                    r#""sentAmount":{"value":"0""#,
                    r#""sentAmount":{"value":"2510""#,
                )
                .replace(r#""failed":false"#, r#""failed":true"#),
            "marked failed",
        ),
    ];
    for (body, expected) in cases {
        let server = Server::always(Reply::json(200, &body)).await;
        let err = client
            .get_outgoing_payment(&server.url("op/outgoing-payments/op1"), &token())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{expected}: {err}");
        assert_eq!(err.attempts(), 1, "a broken document is not retried");
    }
}
