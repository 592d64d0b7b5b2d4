//! PostgreSQL goes away while a call is at the AS and comes back after its answer arrived: the
//! engine keeps the answer and commits it once the database is back, instead of dropping it.
//!
//! A continue's answer carries the grant's access token and cannot be fetched again (the
//! reference refuses a second continue with the same `interact_ref`: 401 `request_denied`), so a
//! dropped answer used to end the grant `Lost` after a database outage of any length, even one
//! of a few milliseconds that happened to cover the commit. On a private cluster of this test
//! (the shared one must never be stopped).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::time::{Duration, Instant};

use grantflow_machine::StateKind;
use grantflow_sandbox::{Fault, Route};
use grantflow_store::PgStore;
use support::private_postgres::PrivatePostgres;
use support::*;

/// How long the sandbox holds the continue before answering: long enough to stop PostgreSQL
/// while the call is in flight, on a slow machine.
const CONTINUE_LATENCY: Duration = Duration::from_secs(8);

/// How long the engine's pool waits for a connection before a query fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continue_answer_received_while_the_database_is_down_is_committed_when_it_is_back() {
    let Some(pg) = PrivatePostgres::launch() else {
        return;
    };
    let mut world = World::quick().await;
    world.set_call_timeout(CONTINUE_LATENCY * 3);
    // Migrated by `connect`; then a pool that gives up on a connection after 1 s, so the
    // commit of the answer fails (instead of waiting for the database inside the pool).
    PgStore::connect(&pg.url(), 1).await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(&pg.url())
        .await
        .unwrap();
    let store = PgStore::from_pool(pool);
    // No worker: the only actor is the continue the finish callback starts, so nothing else can
    // resolve the grant while its answer waits for the database.
    let engine = world.engine(store, |_| {}).await;
    world
        .sandbox
        .set_fault(Route::Continue, Fault::latency(CONTINUE_LATENCY), Some(1));

    let id = world
        .approved_with_callback(&engine, "outage-mid-continue")
        .await;
    // The continue is in flight (committed before the call, as always).
    wait_kind(&engine, id, StateKind::Continuing).await;
    tokio::task::block_in_place(|| pg.stop());
    let continues = |delivered: bool| {
        world
            .sandbox
            .journal()
            .into_iter()
            .filter(|e| e.route == Route::Continue && e.delivered == delivered)
            .count()
    };
    assert_eq!(
        continues(true),
        0,
        "PostgreSQL took longer than the continue's latency to stop: the test proves nothing"
    );

    // The AS answers (and issues the token) while the database is down.
    let deadline = Instant::now() + CONTINUE_LATENCY * 4;
    while continues(true) == 0 {
        assert!(Instant::now() < deadline, "the continue was never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Keep the database down well past the pool's timeout: the engine's commit of the answer
    // fails (more than once).
    tokio::time::sleep(ACQUIRE_TIMEOUT * 4).await;
    tokio::task::block_in_place(|| pg.start());

    let issued = wait_kind(&engine, id, StateKind::Issued).await;
    assert!(
        issued.state.access_token().is_some(),
        "issued without a token"
    );
    assert_eq!(continues(true), 1, "one continue, answered once");
    assert_eq!(
        world
            .sandbox
            .journal()
            .iter()
            .filter(|e| e.route == Route::Continue)
            .count(),
        1,
        "the continue was never sent again"
    );
    assert_replays(&engine, id).await;
    engine.shutdown().await;
}
