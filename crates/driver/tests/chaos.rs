//! A kill loop with an invariant checker: workers are killed (aborted mid-call, as by `kill -9`)
//! every few hundred milliseconds while grants are being continued through a slow AS, and new
//! ones started. Invariants: every grant ends issued or lost (none stuck), every lost grant says
//! why, the log of every grant has no gap and replays to its state, and no grant is continued
//! more than twice (one send and the one re-send the rules allow). Continue is not idempotent:
//! a grant whose continue was cut off twice is rightly `Lost`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::time::{Duration, Instant};

use grantflow_driver::Interaction;
use grantflow_machine::{EventKind, StateKind};
use grantflow_sandbox::{Fault, Route};
use grantflow_store::PgStore;
use support::*;

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn killing_workers_in_a_loop_loses_nothing(pool: sqlx::PgPool) {
    let world = World::with_wait(1).await;
    let tune = |c: &mut grantflow_driver::EngineConfig| {
        c.lease = Duration::from_millis(1500);
        c.poll_interval = Duration::from_millis(100);
        c.machine.retry_base_delay = chrono::TimeDelta::milliseconds(100);
    };
    // Requests and callbacks go through one engine; the continues are left to the workers (the
    // callbacks arrive before `wait` has passed, so the continue is due, not sent at once).
    let front = world.engine(PgStore::from_pool(pool.clone()), tune).await;
    let mut grants = Vec::new();
    for i in 0..12 {
        let g = front
            .request(world.outgoing(&format!("chaos-{i}"), Interaction::Redirect))
            .await
            .unwrap();
        let finish = world.approve(g.redirect.as_ref().unwrap());
        front.finish_callback_url(finish.as_str()).await.unwrap();
        grants.push(g.id);
    }
    // Every continue takes 600 ms at the AS: workers are often killed mid-call.
    world.sandbox.set_fault(
        Route::Continue,
        Fault::latency(Duration::from_millis(600)),
        None,
    );

    let started = Instant::now();
    let mut kills = 0;
    let mut finisher = None;
    loop {
        let engine = world.engine(PgStore::from_pool(pool.clone()), tune).await;
        let worker = engine.start_worker();
        // Lifetimes from 200 ms to 1 s, so kills land before, during and after calls.
        tokio::time::sleep(Duration::from_millis(200 + (kills * 137) % 800)).await;
        worker.abort();
        // Drop the dead engine (its finish server and LISTEN connection); its leases stay.
        engine.shutdown().await;
        drop(engine);
        kills += 1;
        let mut open = 0;
        for id in &grants {
            let kind = front.get(*id).await.unwrap().kind();
            if !matches!(kind, StateKind::Issued | StateKind::Lost) {
                open += 1;
            }
        }
        if open == 0 {
            break;
        }
        if kills == 20 {
            // Enough chaos: let one worker finish what is left.
            world.sandbox.clear_faults();
            finisher = Some(world.engine(PgStore::from_pool(pool.clone()), tune).await);
            if let Some(f) = &finisher {
                f.start_worker();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{open} grants still open after {kills} kills"
        );
        if kills > 20 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    let (mut issued, mut lost, mut resolved_mid_call) = (0, 0, 0);
    for id in &grants {
        let v = front.get(*id).await.unwrap();
        assert_replays(&front, *id).await;
        let kinds = event_kinds(&front, *id).await;
        let sends = kinds
            .iter()
            .filter(|k| {
                matches!(
                    k,
                    EventKind::AnsweredIssued
                        | EventKind::Refused
                        | EventKind::Ambiguous
                        | EventKind::NotSent
                )
            })
            .count();
        // A second `Wake` means a worker found the continue left in flight by a killed one.
        if kinds.iter().filter(|k| **k == EventKind::Wake).count() >= 2 {
            resolved_mid_call += 1;
        }
        match v.kind() {
            StateKind::Issued => {
                issued += 1;
                assert!(sends <= 2, "{kinds:?}");
            }
            StateKind::Lost => {
                let reason = match &v.state {
                    grantflow_machine::GrantState::Finalized(grantflow_machine::Outcome::Lost(
                        l,
                    )) => l.to_string(),
                    _ => unreachable!(),
                };
                assert!(reason.contains("request a new grant"), "{reason}");
                lost += 1;
            }
            other => panic!("grant ended {other:?}: {kinds:?}"),
        }
    }
    eprintln!(
        "{kills} kills: {issued} issued, {lost} lost, {resolved_mid_call} resumed after a call left in flight"
    );
    assert!(
        resolved_mid_call > 0,
        "no worker was killed mid-call: the test proved nothing"
    );
    if let Some(f) = finisher {
        f.shutdown().await;
    }
    front.shutdown().await;
}
