//! The console's pages over real HTTP, for grants run against the real sandbox: the list and its
//! filters, a grant's page (facts, limits, timeline with edges, diagram), and no secret anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

#[path = "../../driver/tests/support/mod.rs"]
#[macro_use]
mod support;

use std::collections::BTreeSet;

use grantflow_console::{ConsoleConfig, console_router};
use grantflow_driver::{Engine, Interaction};
use grantflow_machine::{StateKind, visit_secrets};
use grantflow_store::{GrantId, GrantStore};
use support::{World, wait_kind};

/// Serves the console nested at `/console` on a loopback port; its base URL.
async fn serve<S: GrantStore>(engine: &Engine<S>, config: ConsoleConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/console", listener.local_addr().unwrap());
    let app = axum::Router::new().nest("/console", console_router(engine.clone(), config));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Every secret string in the grant's stored state and events (as the machine lists them).
async fn secrets_of<S: GrantStore>(store: &S, id: GrantId) -> BTreeSet<String> {
    let mut texts = vec![store.get(id).await.unwrap().unwrap().state];
    texts.extend(
        store
            .history(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event),
    );
    let mut found = BTreeSet::new();
    for text in texts {
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        visit_secrets::<()>(&mut json, &mut |_, value| {
            if let Some(s) = value.as_str() {
                found.insert(s.to_owned());
            }
            Ok(())
        })
        .unwrap();
    }
    found
}

per_backend!(
    pages_show_grants_their_timeline_and_path_and_never_a_secret,
    changes_arrive_as_server_sent_events_resume_after_the_last_id_and_end_at_shutdown,
    a_grants_page_shows_what_its_payments_spent_in_the_period,
);

/// Each scenario runs on PostgreSQL and SQLite (`per_backend!`).
mod scenarios {
    pub(crate) use super::{
        a_grants_page_shows_what_its_payments_spent_in_the_period,
        changes_arrive_as_server_sent_events_resume_after_the_last_id_and_end_at_shutdown,
        pages_show_grants_their_timeline_and_path_and_never_a_secret,
    };
}

async fn pages_show_grants_their_timeline_and_path_and_never_a_secret<S: GrantStore>(store: S) {
    let world = World::quick().await;
    let engine = world.engine(store, |_| {}).await;
    engine.start_worker();
    // An issued grant whose token was rotated once, and one waiting for its user.
    let issued = world
        .approved_with_callback(&engine, "console-issued")
        .await;
    wait_kind(&engine, issued, StateKind::Issued).await;
    engine.rotate(issued).await.unwrap();
    let waiting = engine
        .request(world.outgoing("console-waiting", Interaction::Redirect))
        .await
        .unwrap();
    let base = serve(&engine, ConsoleConfig::read_only()).await;

    // The list, with every accessibility basic.
    let (status, list) = get(&base).await;
    assert_eq!(status, 200, "{list}");
    assert!(
        list.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{list}"
    );
    assert!(list.contains("<title>Grants · grantflow console</title>"));
    for field in ["f-state", "f-wallet", "f-access", "f-after", "f-before"] {
        assert!(
            list.contains(&format!("<label for=\"{field}\">")),
            "{field}"
        );
    }
    assert!(list.contains(&format!("id=\"grant-{issued}\"")));
    assert!(list.contains(&format!("id=\"grant-{}\"", waiting.id)));
    assert!(list.contains("Read-only"));
    // Filters: by state, by access type, by wallet, by creation time.
    let (_, only_issued) = get(&format!("{base}?state=Issued")).await;
    assert!(only_issued.contains(&format!("id=\"grant-{issued}\"")));
    assert!(!only_issued.contains(&format!("id=\"grant-{}\"", waiting.id)));
    let (_, quotes) = get(&format!("{base}?access=quote")).await;
    assert!(quotes.contains("No grant matches."), "{quotes}");
    let (_, alice) = get(&format!("{base}?wallet={}", world.alice())).await;
    assert_eq!(alice.matches("<tr id=\"grant-").count(), 2, "{alice}");
    let (_, future) = get(&format!("{base}?created_after=2999-01-01T00:00")).await;
    assert!(future.contains("No grant matches."), "{future}");
    let (status, bad) = get(&format!("{base}?state=Pending")).await;
    assert_eq!(status, 400);
    assert!(bad.contains("role=\"alert\""), "{bad}");

    // The issued grant's page: facts, limits in words, timeline with edges, the path.
    let (status, page) = get(&format!("{base}/grants/{issued}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains(&format!(
        "<title>Grant {} · grantflow console</title>",
        &issued.to_string()[..8]
    )));
    assert!(
        page.contains("At most <strong>50.00 USD</strong> debited"),
        "{page}"
    );
    assert!(
        page.contains("every day from 24 Aug 2016 08:00 UTC, with no end"),
        "{page}"
    );
    assert!(page.contains("Current period"), "{page}");
    for edge in [
        "RequestSent",
        "PendingWithFinish",
        "FinishVerified",
        "ContinueIssued",
        "RotateOnCommand",
        "Rotated",
    ] {
        assert!(
            page.contains(&format!("<code>{edge}</code><br>")),
            "{edge} not in the timeline"
        );
    }
    assert!(
        page.contains("AS answered: issued: an access token for outgoing-payment"),
        "{page}"
    );
    assert!(
        page.contains("(continue with the interaction reference)"),
        "{page}"
    );
    assert!(
        page.contains(
            "Initial → Requested → AwaitingInteraction → Continuing → Issued → Rotating → Issued"
        ),
        "{page}"
    );
    assert!(page.contains("class=\"edge taken\""), "{page}");

    // No secret of either grant on any page.
    for id in [issued, waiting.id] {
        let (status, page) = get(&format!("{base}/grants/{id}")).await;
        assert_eq!(status, 200);
        let secrets = secrets_of(engine.store(), id).await;
        assert!(
            secrets.len() >= 3,
            "the test must know the grant's secrets: {secrets:?}"
        );
        for secret in &secrets {
            for html in [&page, &list] {
                assert!(
                    !html.contains(secret.as_str()),
                    "a secret is on a page: {secret}"
                );
            }
        }
    }
    assert!(!page.contains(waiting.redirect.as_deref().unwrap()));

    // Unknown grants.
    let (status, missing) = get(&format!("{base}/grants/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(status, 404, "{missing}");
    let (status, _) = get(&format!("{base}/grants/not-an-id")).await;
    assert_eq!(status, 404);
    engine.shutdown().await;
}

/// Reads the event stream until an event whose data contains every one of `needles`; the
/// events read so far. Fails after 30 s (far above any real wait).
async fn read_until(stream: &mut reqwest::Response, needles: &[&str]) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event with {needles:?} in: {seen}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended before {needles:?}: {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if seen
            .split("\n\n")
            .any(|event| needles.iter().all(|n| event.contains(n)))
        {
            return seen;
        }
    }
}

async fn changes_arrive_as_server_sent_events_resume_after_the_last_id_and_end_at_shutdown<
    S: GrantStore,
>(
    store: S,
) {
    let world = World::quick().await;
    let engine = world.engine(store, |_| {}).await;
    engine.start_worker();
    let base = serve(&engine, ConsoleConfig::read_only()).await;
    let mut stream = reqwest::get(format!("{base}/events")).await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let waiting = engine
        .request(world.outgoing("console-live", Interaction::Redirect))
        .await
        .unwrap();
    let grant = format!("\"grant\":\"{}\"", waiting.id);
    let seen = read_until(&mut stream, &[&grant, "\"kind\":\"AwaitingInteraction\""]).await;
    assert!(seen.contains("event: grant"), "{seen}");
    // The id of the first change: a browser reconnecting with it gets what came after.
    let first_id = seen
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_owned();
    engine.cancel(waiting.id).await.unwrap();
    read_until(&mut stream, &[&grant, "\"kind\":\"Canceled\""]).await;
    let mut resumed = reqwest::Client::new()
        .get(format!("{base}/events"))
        .header("Last-Event-ID", &first_id)
        .send()
        .await
        .unwrap();
    let again = read_until(&mut resumed, &[&grant, "\"kind\":\"Canceled\""]).await;
    assert!(!again.contains(&format!("id: {first_id}\n")), "{again}");

    // The row the list's script fetches.
    let (status, row) = get(&format!("{base}/grants/{}/row", waiting.id)).await;
    assert_eq!(status, 200);
    assert!(
        row.starts_with(&format!("<tr id=\"grant-{}\"", waiting.id)),
        "{row}"
    );
    assert!(row.contains("Canceled"), "{row}");
    let (status, script) = get(&format!("{base}/assets/console.js")).await;
    assert_eq!(status, 200);
    assert!(script.contains("new EventSource(base + \"/events\")"));

    // A graceful shutdown ends the streams, so it is not held open by a console tab.
    engine.shutdown().await;
    let end = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while stream.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(end.is_ok(), "the event stream outlived the engine");
}

/// A payment of 12.34 USD under a grant limited to 50.00 USD a day: the grant's page says what
/// grantflow's payments spent in the current period and what is left.
async fn a_grants_page_shows_what_its_payments_spent_in_the_period<S: GrantStore>(store: S) {
    let world = World::quick().await;
    let engine = world.engine(store, |_| {}).await;
    engine.start_worker();
    let grant = world.payment_grant(&engine, "spent").await;
    let receiver = world.open_incoming_payment(&engine).await;
    let base = serve(&engine, ConsoleConfig::default()).await;

    let (status, before) = get(&format!("{base}/grants/{grant}")).await;
    assert_eq!(status, 200);
    assert!(
        before.contains(
            "0.00 USD</strong> debited in this period by grantflow's payments; 50.00 USD left"
        ),
        "{before}"
    );

    let paid = engine
        .pay(grantflow_driver::PaymentOrder {
            grant,
            receiver,
            amount: grantflow_driver::PaymentAmount::Debit(grantflow_interval::Amount::new(
                1234, "USD", 2,
            )),
            idempotency_key: "spent-1".into(),
            metadata: None,
        })
        .await
        .unwrap();
    let view = engine
        .wait_for_payment(paid, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(view.sent().is_some(), "not sent: {:?}", view.reason());

    let (status, after) = get(&format!("{base}/grants/{grant}")).await;
    assert_eq!(status, 200);
    assert!(
        after.contains(
            "12.34 USD</strong> debited in this period by grantflow's payments; 37.66 USD left"
        ),
        "{after}"
    );
    engine.shutdown().await;
}
