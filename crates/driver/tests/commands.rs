//! The application's commands: cancel-safe (a caller that gives up never leaves a call
//! half-done), `access_token` making at most one rotation whatever the token's lifetime and
//! however many callers ask at once, and no panic from configuration or a missing runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use grantflow_driver::{ClientCalls, Engine, EngineConfig, EngineError};
use grantflow_machine::{EventKind, StateKind};
use grantflow_protocol::incoming_payment::CreateIncomingPayment;
use grantflow_sandbox::{Fault, Route, SandboxConfig, SandboxHandle};
use grantflow_store::{GrantId, GrantStore};
use support::*;

async fn count<S: GrantStore>(engine: &Engine<S>, id: GrantId, kind: EventKind) -> usize {
    event_kinds(engine, id)
        .await
        .iter()
        .filter(|k| **k == kind)
        .count()
}

/// How many rotations the sandbox received, and how many of them it acted on (its journal:
/// what reached the AS, not what the engine believes it sent).
fn rotations_at_the_as(sandbox: &SandboxHandle) -> (usize, usize) {
    let rotations: Vec<_> = sandbox
        .journal()
        .into_iter()
        .filter(|e| e.route == Route::TokenRotate)
        .collect();
    let acted = rotations.iter().filter(|e| e.acted).count();
    (rotations.len(), acted)
}

/// 50 callers at once, each asking for a token; the values they got.
async fn fifty_callers<S: GrantStore>(engine: &Engine<S>, id: GrantId) -> Vec<String> {
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let engine = engine.clone();
        callers.spawn(async move { engine.access_token(id).await });
    }
    let mut values = Vec::new();
    while let Some(token) = callers.join_next().await {
        values.push(token.unwrap().unwrap().value.expose().to_owned());
    }
    values
}

mod scenarios {
    use super::*;

    /// Token lifetimes of 1, 2, 5 and 600 s (the margin is 30 s, capped at half the lifetime):
    /// a fresh token is handed out as it is; once expired, 50 concurrent callers cause exactly
    /// one rotation (one `RotateNow` recorded, one rotation received by the AS) and all get the
    /// new token, which is then handed out without another rotation.
    pub async fn one_rotation_for_fifty_callers_whatever_the_lifetime<S: GrantStore>(store: S) {
        for lifetime in [1, 2, 5, 600] {
            let world = World::manual(SandboxConfig {
                wait_seconds: 0,
                access_token_lifetime_seconds: lifetime,
                ..SandboxConfig::default()
            })
            .await;
            let engine = world.engine(store.clone(), |_| {}).await;
            let g = engine
                .request(world.incoming(&format!("lifetime-{lifetime}")))
                .await
                .unwrap();
            assert_eq!(g.kind, StateKind::Issued);
            let first = engine.access_token(g.id).await.unwrap();
            assert_eq!(
                count(&engine, g.id, EventKind::RotateNow).await,
                0,
                "{lifetime} s: fresh"
            );
            assert_eq!(rotations_at_the_as(&world.sandbox), (0, 0), "{lifetime} s");
            world.advance(Duration::from_secs(lifetime));
            let values = fifty_callers(&engine, g.id).await;
            assert!(
                values.iter().all(|v| v == &values[0]),
                "{lifetime} s: one token"
            );
            assert_ne!(values[0], first.value.expose(), "{lifetime} s: rotated");
            assert_eq!(
                count(&engine, g.id, EventKind::RotateNow).await,
                1,
                "{lifetime} s"
            );
            assert_eq!(
                rotations_at_the_as(&world.sandbox),
                (1, 1),
                "{lifetime} s: one rotation reached the AS"
            );
            let again = fifty_callers(&engine, g.id).await;
            assert!(
                again.iter().all(|v| v == &values[0]),
                "{lifetime} s: still fresh"
            );
            assert_eq!(
                count(&engine, g.id, EventKind::RotateNow).await,
                1,
                "{lifetime} s"
            );
            assert_eq!(rotations_at_the_as(&world.sandbox), (1, 1), "{lifetime} s");
            assert_replays(&engine, g.id).await;
            engine.shutdown().await;
        }
    }

    /// A caller that gives up on `rotate` while the AS is slow: the rotation still completes
    /// and is recorded (before, the call was dropped with the caller's future, and the lease's
    /// lapse turned it into a re-send and `Lost`).
    pub async fn a_dropped_rotate_still_completes<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store, |_| {}).await;
        let g = engine
            .request(world.incoming("dropped-rotate"))
            .await
            .unwrap();
        let first = engine.access_token(g.id).await.unwrap();
        world.sandbox.set_fault(
            Route::TokenRotate,
            Fault::latency(Duration::from_millis(1500)),
            Some(1),
        );
        let gave_up = tokio::time::timeout(Duration::from_millis(200), engine.rotate(g.id)).await;
        assert!(gave_up.is_err(), "the caller gave up mid-call");
        let done = engine
            .wait_for(g.id, Duration::from_secs(20), |v| v.version >= 4)
            .await
            .unwrap();
        assert_eq!(done.kind(), StateKind::Issued);
        let now = engine.access_token(g.id).await.unwrap();
        assert_ne!(
            now.value.expose(),
            first.value.expose(),
            "the new token is in place"
        );
        let kinds = event_kinds(&engine, g.id).await;
        assert_eq!(rotations_at_the_as(&world.sandbox), (1, 1), "sent once");
        assert_eq!(
            count(&engine, g.id, EventKind::AnsweredRotated).await,
            1,
            "{kinds:?}"
        );
        assert!(!kinds.contains(&EventKind::Ambiguous), "{kinds:?}");
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    /// The resource server refuses the token as inactive (403 "Inactive Token": here the AS's
    /// clock ran ahead of the engine's, so the AS holds the token expired while the engine still
    /// hands it out): ten callers report the refusal at once, the token is rotated once (one
    /// rotation reached the AS), all get the new token, and the RS accepts it. A late report of
    /// the same refused token changes nothing.
    pub async fn a_refused_token_is_rotated_once<S: GrantStore>(store: S) {
        let world = World::manual(SandboxConfig {
            wait_seconds: 0,
            access_token_lifetime_seconds: 600,
            ..SandboxConfig::default()
        })
        .await;
        let engine = world.engine(store, |_| {}).await;
        let g = engine.request(world.incoming("refused")).await.unwrap();
        let rs: url::Url = world.sandbox.resource_server_url().parse().unwrap();
        let payment = CreateIncomingPayment {
            wallet_address: world.alice(),
            incoming_amount: None,
            expires_at: None,
            metadata: None,
        };
        let first = engine.access_token(g.id).await.unwrap();
        world
            .client
            .create_incoming_payment(&rs, &first.value, &payment)
            .await
            .unwrap();

        // Only the AS's clock moves: the engine still holds the token usable.
        world.sandbox.clock().advance(Duration::from_secs(601));
        let refusal = world
            .client
            .create_incoming_payment(&rs, &first.value, &payment)
            .await
            .unwrap_err();
        assert_eq!(refusal.status().map(|s| s.as_u16()), Some(403));
        assert_eq!(
            engine.access_token(g.id).await.unwrap().value,
            first.value,
            "the engine alone cannot know"
        );

        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let engine = engine.clone();
            let refused = first.value.clone();
            callers.spawn(async move { engine.access_token_refused(g.id, &refused).await });
        }
        let mut fresh = Vec::new();
        while let Some(token) = callers.join_next().await {
            fresh.push(token.unwrap().unwrap());
        }
        assert!(
            fresh.iter().all(|t| t.value == fresh[0].value),
            "one new token"
        );
        assert_ne!(fresh[0].value, first.value, "rotated");
        assert_eq!(count(&engine, g.id, EventKind::RotateNow).await, 1);
        assert_eq!(rotations_at_the_as(&world.sandbox), (1, 1), "one rotation");
        world
            .client
            .create_incoming_payment(&rs, &fresh[0].value, &payment)
            .await
            .unwrap();

        let late = engine
            .access_token_refused(g.id, &first.value)
            .await
            .unwrap();
        assert_eq!(
            late.value, fresh[0].value,
            "a late report gets the new token"
        );
        assert_eq!(
            rotations_at_the_as(&world.sandbox),
            (1, 1),
            "no second rotation"
        );
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    /// A rotation left in flight by a worker that died mid-call (aborted as a `kill -9` would
    /// leave it), its lease lapsed, and no worker running: `access_token` resolves it itself
    /// (the machine re-sends the rotation) instead of waiting for a worker until `Busy`.
    pub async fn access_token_resumes_a_rotation_a_dead_worker_left<S: GrantStore>(store: S) {
        let world = World::manual(SandboxConfig {
            wait_seconds: 0,
            access_token_lifetime_seconds: 60,
            ..SandboxConfig::default()
        })
        .await;
        let tune = |c: &mut grantflow_driver::EngineConfig| {
            c.lease = Duration::from_secs(2);
            c.machine.rotation = grantflow_machine::Rotation::KeepWarm;
        };
        let dead = world.engine(store.clone(), tune).await;
        let g = dead.request(world.incoming("abandoned")).await.unwrap();
        let first = dead.access_token(g.id).await.unwrap();
        // The AS never answers the dead worker's rotation.
        world.sandbox.set_fault(
            Route::TokenRotate,
            Fault::latency(Duration::from_secs(3600)),
            Some(1),
        );
        let worker = dead.start_worker();
        world.advance(Duration::from_secs(31)); // past expiry minus the 30 s margin
        dead.wait_for(g.id, Duration::from_secs(20), |v| {
            v.state.call_in_flight().is_some()
        })
        .await
        .unwrap();
        // Abort only once the rotation reached the AS and took the fault: aborted earlier, a
        // request already handed to the connection could still arrive, unhindered, and act.
        for _ in 0..400 {
            if !world.sandbox.faults().contains_key(&Route::TokenRotate) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!world.sandbox.faults().contains_key(&Route::TokenRotate));
        worker.abort();
        world.advance(Duration::from_secs(3)); // the dead worker's lease lapses

        let alive = world.engine(store, tune).await;
        let token = alive.access_token(g.id).await.unwrap();
        assert_ne!(token.value, first.value, "rotated");
        let kinds = event_kinds(&alive, g.id).await;
        assert_eq!(
            alive.get(g.id).await.unwrap().kind(),
            StateKind::Issued,
            "{kinds:?}"
        );
        assert_eq!(
            count(&alive, g.id, EventKind::AnsweredRotated).await,
            1,
            "{kinds:?}"
        );
        let (_, acted) = rotations_at_the_as(&world.sandbox);
        assert_eq!(acted, 1, "one rotation at the AS, the re-sent one");
        assert_replays(&alive, g.id).await;
        alive.shutdown().await;
    }

    /// A rotation the AS answered 503 waits for its back-off; with no worker running,
    /// `access_token` sends the retry itself once it is due and returns the new token (before,
    /// it waited for a worker until `Busy`).
    pub async fn access_token_sends_a_due_retry_itself_without_a_worker<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store, |_| {}).await;
        let g = engine.request(world.incoming("retried")).await.unwrap();
        let first = engine.access_token(g.id).await.unwrap();
        world
            .sandbox
            .set_fault(Route::TokenRotate, Fault::Status { status: 503 }, Some(1));
        let fresh = engine
            .access_token_refused(g.id, &first.value)
            .await
            .unwrap();
        assert_ne!(fresh.value, first.value, "rotated");
        assert_eq!(count(&engine, g.id, EventKind::RotateNow).await, 1);
        assert_eq!(
            rotations_at_the_as(&world.sandbox),
            (2, 1),
            "the refused attempt and its retry"
        );
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    /// The AS cannot be reached (it stopped) until the recovery budget is spent: no attempt
    /// reached it, so the grant keeps its old token (the machine's rule), and `access_token`
    /// says so with `RotationGaveUp` rather than handing the refused token out again.
    pub async fn a_rotation_that_gave_up_is_an_error_not_the_old_token<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world
            .engine(store, |c| {
                c.machine.retry_base_delay = chrono::TimeDelta::milliseconds(100);
                c.machine.max_retry_delay = chrono::TimeDelta::milliseconds(200);
                c.machine.recovery_budget = chrono::TimeDelta::milliseconds(500);
            })
            .await;
        let g = engine.request(world.incoming("gave-up")).await.unwrap();
        let first = engine.access_token(g.id).await.unwrap();
        world.sandbox.shutdown().await;
        let result = engine.access_token_refused(g.id, &first.value).await;
        assert!(
            matches!(result, Err(EngineError::RotationGaveUp(id)) if id == g.id),
            "{result:?}"
        );
        let view = engine.get(g.id).await.unwrap();
        let kinds = event_kinds(&engine, g.id).await;
        assert_eq!(view.kind(), StateKind::Issued, "{kinds:?}");
        assert_eq!(count(&engine, g.id, EventKind::RotateNow).await, 1);
        assert!(kinds.contains(&EventKind::NotSent), "{kinds:?}");
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    /// A lease of `u64::MAX` seconds (and other absurd durations) is "as long as can be", not
    /// a panic.
    pub async fn absurd_durations_do_not_panic<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world
            .engine(store, |c| {
                c.lease = Duration::from_secs(u64::MAX);
                c.command_wait = Duration::MAX;
                c.max_retry_after = Duration::MAX;
                c.machine.token_margin = chrono::TimeDelta::MAX;
            })
            .await;
        let g = engine.request(world.incoming("absurd")).await.unwrap();
        assert_eq!(g.kind, StateKind::Issued);
        // The margin is capped at half the token's lifetime: the fresh token is handed out.
        engine.access_token(g.id).await.unwrap();
        engine.revoke(g.id).await.unwrap();
        assert_eq!(engine.get(g.id).await.unwrap().kind(), StateKind::Revoked);
    }
}

per_backend!(
    one_rotation_for_fifty_callers_whatever_the_lifetime,
    a_dropped_rotate_still_completes,
    a_refused_token_is_rotated_once,
    access_token_resumes_a_rotation_a_dead_worker_left,
    access_token_sends_a_due_retry_itself_without_a_worker,
    a_rotation_that_gave_up_is_an_error_not_the_old_token,
    absurd_durations_do_not_panic,
);

#[test]
fn an_engine_outside_a_runtime_is_an_error() {
    let store = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(sqlite());
    let client = grantflow_client::Client::builder(
        "https://client.example/me".parse().unwrap(),
        KID,
        grantflow_protocol::keys::PrivateKey::from_seed(&[7; 32]),
    )
    .build()
    .unwrap();
    let result = Engine::new(
        store,
        Arc::new(ClientCalls::new(client)),
        EngineConfig::new("w", "https://client.example/me"),
    );
    assert!(matches!(result, Err(EngineError::NoRuntime)));
}
