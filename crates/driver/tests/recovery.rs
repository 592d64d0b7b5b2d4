//! Restarts, crashes and faults: every grant resumes from where it was; a lost response to a
//! non-idempotent call ends `Lost` with a clear reason; a connection dropped before the AS acted
//! is re-sent and succeeds; two workers on one database never run the same call twice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::time::Duration;

use grantflow_driver::Interaction;
use grantflow_machine::{CallKind, EventKind, GrantState, LostReason, Outcome, StateKind};
use grantflow_sandbox::{Fault, Route};
use grantflow_store::GrantStore;
use support::*;

fn lost(state: &GrantState) -> &grantflow_machine::Lost {
    match state {
        GrantState::Finalized(Outcome::Lost(l)) => l,
        other => panic!("not lost: {other:?}"),
    }
}

mod scenarios {
    use super::*;

    /// Requests grants, stops the worker and drops the engine, then starts a new engine (a new
    /// store connection to the same database): every grant resumes.
    pub async fn restart_resumes_every_grant<S: GrantStore, F, Fut>(connect: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = S>,
    {
        let world = World::manual_with_wait(1).await;
        let first = world.engine(connect().await, |_| {}).await;
        first.start_worker();
        let mut polled = Vec::new();
        let mut redirected = Vec::new();
        for i in 0..4 {
            polled.push(
                first
                    .request(world.outgoing(&format!("poll-{i}"), Interaction::Poll))
                    .await
                    .unwrap(),
            );
            redirected.push(
                first
                    .request(world.outgoing(&format!("redirect-{i}"), Interaction::Redirect))
                    .await
                    .unwrap(),
            );
        }
        // Let the first worker poll once (request, pending answer, then a wake and its answer),
        // then stop it and drop the engine.
        world.advance(Duration::from_secs(1));
        for g in &polled {
            first
                .wait_for(g.id, Duration::from_secs(20), |v| v.version >= 4)
                .await
                .unwrap();
        }
        first.shutdown().await;
        drop(first);

        // The users decide while no engine runs.
        let mut finishes = Vec::new();
        for g in &polled {
            world
                .sandbox
                .approve_interaction(g.redirect.as_ref().unwrap())
                .unwrap();
        }
        for g in &redirected {
            finishes.push((g.id, world.approve(g.redirect.as_ref().unwrap())));
        }

        let second = world.engine(connect().await, |_| {}).await;
        second.start_worker();
        // The application hands the callbacks it received over to the new engine.
        for (id, finish) in &finishes {
            let (got, outcome) = second.finish_callback_url(finish.as_str()).await.unwrap();
            assert_eq!(got, *id);
            assert_eq!(outcome, grantflow_driver::CallbackOutcome::Approved);
        }
        for g in polled.iter().chain(&redirected) {
            world.drive_until(&second, g.id, StateKind::Issued).await;
            assert_replays(&second, g.id).await;
        }
        second.shutdown().await;
    }

    pub async fn lost_continue_response_ends_lost<S: GrantStore>(store: S) {
        let world = World::manual_with_wait(0).await;
        let engine = world.engine(store, |_| {}).await;
        engine.start_worker();
        let g = engine
            .request(world.outgoing("lost-continue", Interaction::Redirect))
            .await
            .unwrap();
        world
            .sandbox
            .set_fault(Route::Continue, Fault::LoseResponse, Some(1));
        world.approve_and_follow(g.redirect.as_ref().unwrap()).await;
        let v = world.drive_until(&engine, g.id, StateKind::Lost).await;
        let l = lost(&v.state);
        assert_eq!(l.call, CallKind::Continue);
        assert!(
            matches!(l.reason, LostReason::RefusedAfterResend { .. }),
            "{}",
            l
        );
        assert!(l.to_string().contains("request a new grant"));
        let kinds = event_kinds(&engine, g.id).await;
        assert_eq!(
            kinds.iter().filter(|k| **k == EventKind::Ambiguous).count(),
            1,
            "one ambiguous outcome, one re-send: {kinds:?}"
        );
        assert_eq!(
            kinds.last(),
            Some(&EventKind::AnsweredNoContent),
            "canceled at the AS: {kinds:?}"
        );
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    pub async fn lost_rotate_response_ends_lost<S: GrantStore>(store: S) {
        let world = World::manual_with_wait(0).await;
        let engine = world.engine(store, |_| {}).await;
        engine.start_worker();
        let g = engine.request(world.incoming("lost-rotate")).await.unwrap();
        world
            .sandbox
            .set_fault(Route::TokenRotate, Fault::LoseResponse, Some(1));
        // The command returns once its calls are done: rotate (lost), re-send (refused), cancel.
        let _ = engine.rotate(g.id).await;
        let v = world.drive_until(&engine, g.id, StateKind::Lost).await;
        let l = lost(&v.state);
        assert_eq!(l.call, CallKind::Rotate);
        assert!(engine.access_token(g.id).await.is_err());
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    pub async fn dropped_connection_is_resent<S: GrantStore>(store: S) {
        let world = World::manual_with_wait(0).await;
        let engine = world.engine(store, |_| {}).await;
        engine.start_worker();
        let g = engine
            .request(world.outgoing("dropped", Interaction::Redirect))
            .await
            .unwrap();
        world
            .sandbox
            .set_fault(Route::Continue, Fault::DropConnection, Some(1));
        world.approve_and_follow(g.redirect.as_ref().unwrap()).await;
        world.drive_until(&engine, g.id, StateKind::Issued).await;
        let kinds = event_kinds(&engine, g.id).await;
        assert!(
            kinds.contains(&EventKind::Ambiguous) || kinds.contains(&EventKind::NotSent),
            "the dropped connection is recorded: {kinds:?}"
        );
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    pub async fn grant_request_retried_after_5xx<S: GrantStore>(store: S) {
        let world = World::manual_with_wait(0).await;
        let engine = world
            .engine(store, |c| {
                c.machine.retry_base_delay = chrono::TimeDelta::milliseconds(200);
            })
            .await;
        engine.start_worker();
        world
            .sandbox
            .set_fault(Route::GrantRequest, Fault::Status { status: 503 }, Some(2));
        let g = engine.request(world.incoming("retry-5xx")).await.unwrap();
        assert_ne!(g.kind, StateKind::Issued, "the first attempt failed");
        world.drive_until(&engine, g.id, StateKind::Issued).await;
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }
}

/// Two engines (two workers) on one PostgreSQL database, many grants: each call is made once.
#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn two_workers_never_run_the_same_call_twice(pool: sqlx::PgPool) {
    let world = World::manual_with_wait(1).await;
    let a = world
        .engine(grantflow_store::PgStore::from_pool(pool.clone()), |_| {})
        .await;
    let b = world
        .engine(grantflow_store::PgStore::from_pool(pool), |_| {})
        .await;
    let mut grants = Vec::new();
    for i in 0..20 {
        let engine = if i % 2 == 0 { &a } else { &b };
        let g = engine
            .request(world.outgoing(&format!("two-{i}"), Interaction::Poll))
            .await
            .unwrap();
        world
            .sandbox
            .approve_interaction(g.redirect.as_ref().unwrap())
            .unwrap();
        grants.push(g.id);
    }
    a.start_worker();
    b.start_worker();
    for id in &grants {
        world.drive_until(&a, *id, StateKind::Issued).await;
        let kinds = event_kinds(&a, *id).await;
        // A second poll after the token was issued would be refused (request_denied) or lose
        // the grant: neither appears.
        assert!(
            !kinds
                .iter()
                .any(|k| matches!(k, EventKind::Refused | EventKind::Ambiguous)),
            "{kinds:?}"
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == EventKind::AnsweredIssued)
                .count(),
            1,
            "{kinds:?}"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// A worker killed mid-call (as by `kill -9`): its grants' leases lapse and another engine
/// finishes them; a call left in flight is resolved by the machine (re-sent once).
#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn killed_worker_grants_are_taken_over(pool: sqlx::PgPool) {
    let world = World::manual_with_wait(0).await;
    let tune = |c: &mut grantflow_driver::EngineConfig| {
        c.lease = Duration::from_secs(2);
        c.machine.retry_base_delay = chrono::TimeDelta::milliseconds(100);
    };
    let a = world
        .engine(grantflow_store::PgStore::from_pool(pool.clone()), tune)
        .await;
    // Grant requests that fail at first (503), so the worker of `a` retries them...
    world
        .sandbox
        .set_fault(Route::GrantRequest, Fault::Status { status: 503 }, Some(10));
    let mut grants = Vec::new();
    for i in 0..10 {
        grants.push(
            a.request(world.incoming(&format!("killed-{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    // ...slowly: each retry now hangs for 3 s at the AS, longer than the lease.
    world.sandbox.set_fault(
        Route::GrantRequest,
        Fault::latency(Duration::from_secs(3)),
        Some(10),
    );
    let worker = a.start_worker();
    // The retries fall due; the worker claims each grant and sends its request, which hangs.
    world.advance(Duration::from_secs(1));
    for id in &grants {
        a.wait_for(*id, Duration::from_secs(20), |g| {
            g.state.call_in_flight().is_some()
        })
        .await
        .unwrap();
    }
    worker.abort();
    world.sandbox.clear_faults();
    // The dead worker's leases lapse.
    world.advance(Duration::from_secs(3));
    let b = world
        .engine(grantflow_store::PgStore::from_pool(pool), tune)
        .await;
    b.start_worker();
    for id in &grants {
        world.drive_until(&b, *id, StateKind::Issued).await;
        assert_replays(&b, *id).await;
    }
    b.shutdown().await;
}

per_backend!(
    lost_continue_response_ends_lost,
    lost_rotate_response_ends_lost,
    dropped_connection_is_resent,
    grant_request_retried_after_5xx,
);

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn restart_resumes_every_grant_postgres(pool: sqlx::PgPool) {
    scenarios::restart_resumes_every_grant(|| {
        let pool = pool.clone();
        async move { grantflow_store::PgStore::from_pool(pool) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_every_grant_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("grants.db").display());
    scenarios::restart_resumes_every_grant(|| {
        let url = url.clone();
        async move { grantflow_store::SqliteStore::connect(&url).await.unwrap() }
    })
    .await;
}

/// SIGTERM stops a worker process gracefully: the engine finishes and `shutdown_on_signal`
/// returns.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_the_engine_down() {
    let world = World::quick().await;
    let engine = world.engine(sqlite().await, |_| {}).await;
    engine.start_worker();
    let g = engine
        .request(world.incoming("before-sigterm"))
        .await
        .unwrap();
    // Registered first, so the signal can never take the default action (end the process), even
    // if the engine's own handler were not registered yet.
    let _guard = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    let waiter = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.shutdown_on_signal().await })
    };
    // Signal this test process, as an orchestrator would (again until the engine has stopped: a
    // signal sent before its handler was registered is only seen by the guard).
    let stopped = tokio::time::timeout(Duration::from_secs(20), async {
        let mut waiter = waiter;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let status = std::process::Command::new("kill")
                .args(["-TERM", &std::process::id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            if let Ok(done) = tokio::time::timeout(Duration::from_millis(500), &mut waiter).await {
                return done;
            }
        }
    })
    .await
    .expect("shutdown finished");
    stopped.unwrap().unwrap();
    assert!(matches!(
        engine.request(world.incoming("after-sigterm")).await,
        Err(grantflow_driver::EngineError::ShuttingDown)
    ));
    assert_eq!(engine.get(g.id).await.unwrap().kind(), StateKind::Issued);
}
