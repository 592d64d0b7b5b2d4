//! Issue 14's deployment in one test process: two engines on one PostgreSQL database, sharing
//! nothing in memory (each its own pool, its own `PgStore` and LISTEN connection, its own
//! worker id, commit task and in-process broadcast; they share the database, the sandbox and
//! the configuration every engine of one deployment shares: the client identity and the finish
//! token keys). The real sandbox answers over loopback.
//!
//! A grant requested through engine A (which runs no worker) has its finish redirect delivered
//! to engine B's callback listener and is continued by B; A's `subscribe` sees every change of
//! the grant, in order, nothing missing, exactly as the stored history has them, although A's
//! own broadcast only ever heard of the two transitions A committed itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::time::Duration;

use grantflow_driver::{Engine, FeedEntry, GrantChange, Interaction, Subscription};
use grantflow_machine::{Change, EventKind, StateKind};
use grantflow_store::{GrantId, GrantStore, PgStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use support::*;

/// A store over a pool of its own on the test's database.
async fn own_store(options: &PgConnectOptions) -> PgStore {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone())
        .await
        .unwrap();
    PgStore::from_pool(pool)
}

/// Reads `feed` until it has handed out a change of `id` at version `last` (bounded), keeping
/// that grant's changes; the rest of the feed must not be there (nothing else happens).
async fn changes_of<S: GrantStore>(
    feed: &mut Subscription<S>,
    id: GrantId,
    last: i64,
) -> Vec<(FeedEntry, GrantChange)> {
    let mut seen = Vec::new();
    while seen
        .last()
        .is_none_or(|(_, c): &(FeedEntry, GrantChange)| c.version < last)
    {
        let entry = tokio::time::timeout(Duration::from_secs(30), feed.next())
            .await
            .unwrap_or_else(|_| panic!("the feed stopped before version {last}: {seen:#?}"))
            .unwrap();
        let change = entry.grant().cloned().expect("a grant's change");
        assert_eq!(change.grant, id, "only this grant changes in this test");
        seen.push((entry, change));
    }
    seen
}

/// The changes an engine's own broadcast carried so far.
fn drain(own: &mut tokio::sync::broadcast::Receiver<GrantChange>) -> Vec<(i64, EventKind)> {
    let mut heard = Vec::new();
    while let Ok(c) = own.try_recv() {
        heard.push((c.version, c.event));
    }
    heard
}

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn a_grant_requested_on_one_engine_and_issued_by_the_other_is_seen_by_the_first(
    _pool: PgPoolOptions,
    options: PgConnectOptions,
) {
    let world = World::quick().await;
    // B: the worker process; its finish router is where the user's browser lands.
    let b: Engine<PgStore> = world.engine(own_store(&options).await, |_| {}).await;
    b.start_worker();
    let b_finish = b.config().finish_base_url.clone().unwrap();
    // A: the application's process; its grants' finish URIs point at B. No worker.
    let a: Engine<PgStore> = world
        .engine(own_store(&options).await, |c| {
            c.finish_base_url = Some(b_finish.clone());
        })
        .await;
    assert_ne!(a.config().worker_id, b.config().worker_id);

    let mut a_feed = a.subscribe().await.unwrap();
    let mut a_own = a.own_changes();
    let mut b_own = b.own_changes();
    let requested = a
        .request(world.outgoing("two-engines", Interaction::Redirect))
        .await
        .unwrap();
    let redirect = requested.redirect.clone().unwrap();

    // The user approves; the browser follows the finish redirect, which reaches B.
    let finish = world.approve(&redirect);
    assert!(
        finish.as_str().starts_with(b_finish.as_str()),
        "the finish redirect goes to B: {finish}"
    );
    assert_eq!(follow(finish.as_str()).await, 200);
    // A reads the grant as the application would: issued, by B.
    let issued = wait_kind(&a, requested.id, StateKind::Issued).await;

    // A hears every change through the feed, in order, nothing missing.
    let seen = changes_of(&mut a_feed, requested.id, issued.version).await;
    let history = a.history(requested.id).await.unwrap();
    assert_eq!(
        seen.iter()
            .map(|(_, c)| (c.version, c.event))
            .collect::<Vec<_>>(),
        history
            .iter()
            .map(|h| (h.version, h.event.kind()))
            .collect::<Vec<_>>(),
        "A's feed is the stored history"
    );
    assert_eq!(
        seen.iter().map(|(_, c)| c.event).collect::<Vec<_>>(),
        vec![
            EventKind::Request,
            EventKind::AnsweredPending,
            EventKind::FinishApproved,
            EventKind::AnsweredIssued
        ]
    );
    assert_eq!(
        seen.iter().map(|(_, c)| c.change).collect::<Vec<_>>(),
        vec![
            None,
            Some(Change::InteractionRequired),
            Some(Change::InteractionFinished),
            Some(Change::Issued)
        ]
    );
    for pair in seen.windows(2) {
        let ((p, before), (q, after)) = (&pair[0], &pair[1]);
        assert!(p.position < q.position, "positions increase: {seen:#?}");
        assert_eq!(
            before.kind, after.from,
            "each change starts where the last ended"
        );
    }
    assert_eq!(seen[0].1.from, StateKind::Initial);
    assert_eq!(seen.last().unwrap().1.kind, StateKind::Issued);
    // Entries carry the transition's time as recorded.
    for ((entry, _), h) in seen.iter().zip(&history) {
        assert_eq!(entry.at, h.at);
    }

    // Who made which change: A the request and its answer, B the callback and the continue.
    // A's own broadcast never heard of B's changes: the feed is how A learned of them.
    assert_eq!(
        drain(&mut a_own),
        vec![(1, EventKind::Request), (2, EventKind::AnsweredPending)]
    );
    assert_eq!(
        drain(&mut b_own),
        vec![
            (3, EventKind::FinishApproved),
            (4, EventKind::AnsweredIssued)
        ]
    );
    // And nothing of it is left on the feed: no change was handed out twice.
    assert!(a_feed.try_next_batch().await.unwrap().is_empty());
    a.shutdown().await;
    b.shutdown().await;
}
