//! A kill loop with an invariant checker: workers are killed (aborted mid-call, as by `kill -9`)
//! every few hundred milliseconds while grants are being continued through a slow AS, and new
//! ones started. Invariants: every grant ends issued or lost (none stuck), every lost grant says
//! why, the log of every grant has no gap and replays to its state, and no grant is continued
//! more than twice (one send and the one re-send the rules allow). Continue is not idempotent:
//! a grant whose continue was cut off twice is rightly `Lost`.
//!
//! The second loop adds random faults on the AS routes and one PostgreSQL restart (a private
//! cluster, `support::private_postgres`), and checks the journal: no `Lost` without an AS act,
//! no second continue for one `interact_ref`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::time::{Duration, Instant};

use grantflow_machine::{EventKind, StateKind};
use grantflow_sandbox::{Fault, JournalEntry, Route};
use grantflow_store::{GrantId, PgStore};
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
        grants.push(
            world
                .approved_with_callback(&front, &format!("chaos-{i}"))
                .await,
        );
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

/// The kill loop again, with random faults on the AS routes (continue, poll, rotate) and one
/// restart of PostgreSQL (a private cluster: the shared one is never restarted) while workers
/// run. Invariants: zero stuck grants (each ends `Issued` or `Lost`), zero lost rows (every grant
/// is there, its log has no gap and keeps every event committed before the restart), zero
/// second continue for one `interact_ref` (the AS acts once, and an issued grant is never
/// continued again), and no `Lost` without an AS act on a consuming call (the journal shows the
/// act whose answer the engine never committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_workers_with_faults_and_a_postgres_restart_loses_nothing() {
    let Some(pg) = tokio::task::block_in_place(private_postgres::PrivatePostgres::launch) else {
        return;
    };
    let connect = || async { PgStore::connect(&pg.url(), 8).await.unwrap() };
    let world = World::with_wait(1).await;
    let tune = |c: &mut grantflow_driver::EngineConfig| {
        c.lease = Duration::from_millis(1500);
        c.poll_interval = Duration::from_millis(100);
        c.command_wait = Duration::from_secs(2);
        c.machine.retry_base_delay = chrono::TimeDelta::milliseconds(100);
        c.machine.max_retry_delay = chrono::TimeDelta::seconds(2);
    };
    let front = world.engine(connect().await, tune).await;
    // Redirect grants approved with their callbacks in (continues due after `wait`), poll grants
    // approved before the first poll, and issued grants whose tokens are rotated mid-run.
    let (mut continued, mut polled, mut rotated) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..8 {
        let key = format!("faulty-{i}");
        continued.push(world.approved_with_callback(&front, &key).await);
        polled.push(world.approved_to_poll(&front, &format!("{key}-poll")).await);
    }
    for i in 0..6 {
        let g = front
            .request(world.incoming(&format!("faulty-rotate-{i}")))
            .await
            .unwrap();
        rotated.push(g.id);
    }
    let grants: Vec<GrantId> = continued
        .iter()
        .chain(&polled)
        .chain(&rotated)
        .copied()
        .collect();

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(12);
    eprintln!("fault seed {seed}");
    let mut random = XorShift(seed | 1);
    let started = Instant::now();
    let mut kills = 0;
    let mut finisher = None;
    let mut before_restart = Vec::new();
    loop {
        // A fault on one of the AS routes the grants use, for the next request or two.
        let route = [Route::Continue, Route::Continue, Route::TokenRotate][random.below(3)];
        let fault = [
            Fault::DropConnection,
            Fault::Status { status: 500 },
            Fault::Throttled {
                retry_after_seconds: 1,
            },
            Fault::LoseResponse,
            Fault::latency(Duration::from_millis(600)),
        ][random.below(5)];
        if kills < 20 {
            world
                .sandbox
                .set_fault(route, fault, Some(1 + random.below(2) as u32));
        }
        let engine = world.engine(connect().await, tune).await;
        let worker = engine.start_worker();
        if kills == 2 {
            // Rotations asked for by the application while workers come and go.
            for id in &rotated {
                let front = front.clone();
                let id = *id;
                tokio::spawn(async move { front.rotate(id).await });
            }
        }
        tokio::time::sleep(Duration::from_millis(200 + (kills as u64 * 137) % 800)).await;
        if kills == 5 {
            // What every grant's log holds now must survive the restart.
            for id in &grants {
                before_restart.push(event_kinds(&front, *id).await);
            }
            tokio::task::block_in_place(|| pg.stop());
            tokio::time::sleep(Duration::from_millis(500)).await;
            tokio::task::block_in_place(|| pg.start());
        }
        worker.abort();
        engine.shutdown().await;
        drop(engine);
        kills += 1;
        let mut open = 0;
        for id in &grants {
            match front.get(*id).await.map(|v| v.kind()) {
                Ok(StateKind::Lost) => {}
                Ok(StateKind::Issued)
                    if !rotated.contains(id) || rotation_done(&front, *id).await => {}
                _ => open += 1,
            }
        }
        if open == 0 && kills > 5 {
            break;
        }
        if kills == 20 {
            world.sandbox.clear_faults();
            let f = world.engine(connect().await, tune).await;
            f.start_worker();
            finisher = Some(f);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{open} grants still open after {kills} kills"
        );
        if kills > 20 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    let journal = world.sandbox.journal();
    let (mut issued, mut lost, mut lost_after_delivery) = (0, 0, 0);
    for (i, id) in grants.iter().enumerate() {
        let v = front.get(*id).await.unwrap();
        assert_replays(&front, *id).await;
        let kinds = event_kinds(&front, *id).await;
        assert!(
            kinds.starts_with(&before_restart[i]),
            "events committed before the restart are gone: {:?} then {kinds:?}",
            before_restart[i]
        );
        let continue_uri = continue_uri_of(&front, *id).await;
        let at_as: Vec<&JournalEntry> = journal
            .iter()
            .filter(|e| e.continue_uri.as_deref() == Some(continue_uri.as_str()))
            .collect();
        let continues: Vec<&&JournalEntry> = at_as
            .iter()
            .filter(|e| e.route == Route::Continue)
            .collect();
        assert!(
            continues.iter().filter(|e| e.acted).count() <= 1,
            "the AS continued one grant twice: {at_as:#?}"
        );
        match v.kind() {
            StateKind::Issued => {
                issued += 1;
                // Continued once: nothing sent after the continue that issued the grant.
                if let Some(pos) = continues.iter().position(|e| e.acted) {
                    assert_eq!(pos + 1, continues.len(), "continued again: {at_as:#?}");
                }
            }
            StateKind::Lost => {
                lost += 1;
                assert!(
                    at_as.iter().any(|e| e.acted
                        && matches!(e.route, Route::Continue | Route::TokenRotate)),
                    "Lost without an act at the AS: {kinds:?} {at_as:#?}"
                );
                // The answer reached the engine, which was killed (or lost its database) before
                // committing it: as much a lost answer as one the network lost.
                if !at_as.iter().any(|e| {
                    e.acted
                        && !e.delivered
                        && matches!(e.route, Route::Continue | Route::TokenRotate)
                }) {
                    lost_after_delivery += 1;
                }
            }
            other => panic!("grant ended {other:?}: {kinds:?}"),
        }
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM grantflow_grants")
        .fetch_one(&sqlx::PgPool::connect(&pg.url()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(rows, grants.len() as i64, "every grant row is there");
    eprintln!(
        "{kills} kills, one PostgreSQL restart: {issued} issued, {lost} lost ({lost_after_delivery} of them \
         after the answer was delivered), {} requests at the AS, {} faulted",
        journal.len(),
        journal.iter().filter(|e| !e.faults.is_empty()).count()
    );
    if let Some(f) = finisher {
        f.shutdown().await;
    }
    front.shutdown().await;
    tokio::task::block_in_place(|| drop(pg));
}

/// Whether the grant's token was rotated (or the rotation was never asked for and nothing is
/// left to do).
async fn rotation_done<S: grantflow_store::GrantStore>(
    engine: &grantflow_driver::Engine<S>,
    id: GrantId,
) -> bool {
    let kinds = event_kinds(engine, id).await;
    kinds.contains(&EventKind::AnsweredRotated) || !kinds.contains(&EventKind::RotateNow)
}

/// The continue URI the AS gave the grant (from its first answer): how the journal names it.
async fn continue_uri_of<S: grantflow_store::GrantStore>(
    engine: &grantflow_driver::Engine<S>,
    id: GrantId,
) -> String {
    use grantflow_machine::{Answer, Event};
    use grantflow_protocol::grant::GrantResponse;
    for h in engine.history(id).await.unwrap() {
        if let Event::Answered {
            answer: Answer::Grant(answer),
        } = &h.event
        {
            match answer {
                GrantResponse::Pending(p) => return p.continue_.uri.clone(),
                GrantResponse::Issued(i) => return i.continue_.uri.clone(),
                GrantResponse::Continuation(c) => return c.continue_.uri.clone(),
            }
        }
    }
    panic!("grant {id} has no answer from the AS")
}

/// A small deterministic generator for the faults (seeded from the clock, printed).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
