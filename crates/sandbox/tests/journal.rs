//! The request journal: every protocol request, with its grant, status, error code, whether the
//! server acted, whether the answer was delivered, and the faults applied; through the library
//! API and `GET /_sandbox/journal`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

mod common;

use std::time::Duration;

use common::start;
use grantflow_sandbox::{Fault, JournalEntry, Route};

/// (route, status, error, acted, delivered) of an entry: what the tests compare.
type Summary<'a> = (Route, Option<u16>, Option<&'a str>, bool, bool);

fn summary(entries: &[JournalEntry]) -> Vec<Summary<'_>> {
    entries
        .iter()
        .map(|e| (e.route, e.status, e.error.as_deref(), e.acted, e.delivered))
        .collect()
}

#[tokio::test]
async fn a_lifecycle_is_journaled_request_by_request() {
    let (sandbox, client) = start(5).await;
    let (curi, ctoken, cont) = client.approved_grant(&sandbox).await;
    let ctoken = ctoken.as_str();
    client
        .call("POST", &curi, Some(ctoken), Some(&cont))
        .await
        .assert_error(400, "too_fast");
    sandbox.clock().advance(Duration::from_secs(5));
    let issued = client.call("POST", &curi, Some(ctoken), Some(&cont)).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let (token, manage) = issued.access_token();
    let rotated = client.call("POST", &manage, Some(&token), None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    // Another grant's requests are journaled under that grant.
    let other = client.list_grant(&sandbox).await;

    let of_grant = sandbox.journal_of_grant(&curi);
    assert_eq!(
        summary(&of_grant),
        [
            (Route::GrantRequest, Some(200), None, true, true),
            (Route::Continue, Some(400), Some("too_fast"), false, true),
            (Route::Continue, Some(200), None, true, true),
            (Route::TokenRotate, Some(200), None, true, true),
        ]
    );
    let grant = of_grant[0].grant;
    assert!(grant.is_some());
    assert!(
        of_grant
            .iter()
            .all(|e| e.grant == grant && e.faults.is_empty())
    );
    assert!(of_grant.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        of_grant[2].received_at - of_grant[1].received_at,
        chrono::Duration::seconds(5)
    );
    assert_eq!(sandbox.journal_of_grant(other.continue_uri()).len(), 1);

    // Reading, with or without a token, is not acting; an unknown grant has no grant.
    assert_eq!(
        client
            .list_incoming(&sandbox, &other.access_token().0)
            .await
            .status,
        200
    );
    client.get(&sandbox.wallet_address_url("alice")).await;
    let last = sandbox.journal_since(of_grant[3].seq);
    assert_eq!(
        last.iter()
            .map(|e| (e.route, e.acted, e.grant.is_some()))
            .collect::<Vec<_>>(),
        [
            (Route::GrantRequest, true, true),
            (Route::IncomingPaymentList, false, true),
            (Route::WalletAddress, false, false),
        ]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_are_journaled_with_what_the_server_did() {
    let (sandbox, client) = start(0).await;
    let (curi, ctoken, cont) = client.approved_grant(&sandbox).await;
    let ctoken = ctoken.as_str();
    let seq = sandbox.journal().last().unwrap().seq;

    // Never arrived, refused by a 500, then acted with the answer lost; the re-send is refused.
    sandbox.set_fault(Route::Continue, Fault::DropConnection, Some(1));
    assert!(
        client
            .send("POST", &curi, Some(ctoken), Some(&cont))
            .await
            .is_err()
    );
    sandbox.set_fault(Route::Continue, Fault::Status { status: 500 }, Some(1));
    assert_eq!(
        client
            .call("POST", &curi, Some(ctoken), Some(&cont))
            .await
            .status,
        500
    );
    sandbox.set_fault(Route::Continue, Fault::LoseResponse, Some(1));
    assert!(
        client
            .send("POST", &curi, Some(ctoken), Some(&cont))
            .await
            .is_err()
    );
    client
        .call("POST", &curi, Some(ctoken), Some(&cont))
        .await
        .assert_error(401, "request_denied");

    let entries = sandbox.journal_since(seq);
    assert_eq!(
        summary(&entries),
        [
            (Route::Continue, None, None, false, false),
            (
                Route::Continue,
                Some(500),
                Some("request_denied"),
                false,
                true
            ),
            (Route::Continue, Some(200), None, true, false),
            (
                Route::Continue,
                Some(401),
                Some("request_denied"),
                false,
                true
            ),
        ]
    );
    let faults: Vec<_> = entries.iter().map(|e| e.faults.clone()).collect();
    assert_eq!(
        faults,
        [
            vec![Fault::DropConnection],
            vec![Fault::Status { status: 500 }],
            vec![Fault::LoseResponse],
            vec![],
        ]
    );
    // The acting attempt whose answer was lost names the grant.
    assert_eq!(entries[2].continue_uri.as_deref(), Some(curi.as_str()));

    // The control API gives the same entries as JSON, and is itself not journaled.
    let url = format!("{}/_sandbox/journal?since={seq}", sandbox.base_url());
    let raw = client.get(&url).await.body;
    let listed: Vec<JournalEntry> = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(listed, entries);
    assert_eq!(raw[2]["route"], "continue");
    assert_eq!(raw[2]["faults"][0]["kind"], "lose_response");
    assert_eq!(sandbox.journal_since(seq), entries);

    let cleared = client
        .http
        .delete(format!("{}/_sandbox/journal", sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

/// A client that times out while its request sits in injected latency goes away; the sandbox
/// drops the request unhandled and journals it as such (no status, not acted, not delivered).
#[tokio::test]
async fn a_request_whose_client_gave_up_is_journaled_unhandled() {
    let (sandbox, client) = start(0).await;
    let (curi, ctoken, cont) = client.approved_grant(&sandbox).await;
    let seq = sandbox.journal().last().map_or(0, |e| e.seq);
    let slow = Fault::latency(Duration::from_millis(1500));
    sandbox.set_fault(Route::Continue, slow, Some(1));
    let gave_up = tokio::time::timeout(
        Duration::from_millis(200),
        client.send("POST", &curi, Some(&ctoken), Some(&cont)),
    )
    .await;
    assert!(gave_up.is_err(), "the client should have timed out");
    // The entry appears when the sandbox sees the client gone; wait past the latency too, so a
    // request kept and handled late would show.
    for _ in 0..40 {
        if !sandbox.journal_since(seq).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let entries = sandbox.journal_since(seq);
    assert_eq!(
        summary(&entries),
        [(Route::Continue, None, None, false, false)]
    );
    assert_eq!(entries[0].faults, [slow]);
    // Nothing happened: the continue still works.
    let r = client.call("POST", &curi, Some(&ctoken), Some(&cont)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    sandbox.shutdown().await;
}
