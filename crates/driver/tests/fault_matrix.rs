//! The fault matrix of issue 12: every call the engine makes (grant request, continue, poll,
//! rotate, cancel, revoke) under every fault the sandbox injects (a dropped connection 1-3 times,
//! status 500 1-3 times, 429 with `Retry-After`, latency beyond the call timeout, a lost
//! response), on both databases, on manual time.
//!
//! Each case runs in a world of its own (sandbox, clock, engine) and checks:
//! - the final state is the one the rules give ([`expected`]): a fault the AS did not act on
//!   changes nothing but the time it takes; an act whose answer was lost ends `Lost` only for the
//!   calls that consume something (continue and poll use up the grant, rotate the token), and
//!   the idempotent or re-sendable calls (grant request, cancel, revoke) still reach their goal;
//! - the journal rule: the grant is `Lost` if and only if the sandbox's journal shows the AS
//!   acted on a consuming call (continue, poll, rotate) whose answer was not delivered;
//! - the AS acted at most once on a consuming call (no second continue for one `interact_ref`,
//!   no second rotation of one token);
//! - the fault really happened as often as asked, and a 429's `Retry-After` was honoured (the
//!   next attempt came no sooner);
//! - the grant's event log replays to its state.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::time::Duration;

use grantflow_driver::{Engine, GrantView, Interaction};
use grantflow_machine::{EventKind, StateKind};
use grantflow_sandbox::{Fault, JournalEntry, Route};
use grantflow_store::{GrantId, GrantStore};
use support::*;

/// The call a case injects its fault into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallUnderTest {
    GrantRequest,
    Continue,
    Poll,
    Rotate,
    Cancel,
    Revoke,
}

impl CallUnderTest {
    /// The sandbox route the call goes to.
    fn route(self) -> Route {
        match self {
            Self::GrantRequest => Route::GrantRequest,
            Self::Continue | Self::Poll => Route::Continue,
            Self::Rotate => Route::TokenRotate,
            Self::Cancel => Route::Cancel,
            Self::Revoke => Route::TokenRevoke,
        }
    }
}

/// The fault of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Injected {
    /// The connection dropped before the AS read the request, this many times in a row.
    Dropped(u32),
    /// Status 500 (the AS did not act), this many times in a row.
    Status500(u32),
    /// 429 with `Retry-After` ([`RETRY_AFTER`]), once.
    Throttled,
    /// Once, the AS answers later than the call timeout ([`CALL_TIMEOUT`]).
    SlowerThanTimeout,
    /// Once, the AS acts and its answer is lost.
    LoseResponse,
}

/// Every fault of the matrix.
const FAULTS: [Injected; 9] = [
    Injected::Dropped(1),
    Injected::Dropped(2),
    Injected::Dropped(3),
    Injected::Status500(1),
    Injected::Status500(2),
    Injected::Status500(3),
    Injected::Throttled,
    Injected::SlowerThanTimeout,
    Injected::LoseResponse,
];

/// The engines' call timeout in every case (short, so a latency fault costs little real time).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The latency of [`Injected::SlowerThanTimeout`].
const LATENCY: Duration = Duration::from_secs(4);
/// The `Retry-After` of [`Injected::Throttled`]: far longer than the machine's own first
/// back-off (at most 1 s), so honouring it shows.
const RETRY_AFTER: u64 = 30;

impl Injected {
    /// The sandbox fault and how many requests it affects.
    fn fault(self) -> (Fault, u32) {
        match self {
            Self::Dropped(n) => (Fault::DropConnection, n),
            Self::Status500(n) => (Fault::Status { status: 500 }, n),
            Self::Throttled => (
                Fault::Throttled {
                    retry_after_seconds: RETRY_AFTER,
                },
                1,
            ),
            Self::SlowerThanTimeout => (Fault::latency(LATENCY), 1),
            Self::LoseResponse => (Fault::LoseResponse, 1),
        }
    }
}

/// The final state the rules give a grant whose `call` met `fault`.
fn expected(call: CallUnderTest, fault: Injected) -> StateKind {
    use CallUnderTest as C;
    // A request whose client timed out is dropped by the server before it acts (hyper drops the
    // handler with the connection; the journal shows it): like a dropped connection, it
    // consumes nothing.
    let consumed = fault == Injected::LoseResponse;
    match call {
        C::GrantRequest => StateKind::Issued,
        C::Continue | C::Poll | C::Rotate if consumed => StateKind::Lost,
        C::Continue | C::Poll | C::Rotate => StateKind::Issued,
        C::Cancel => StateKind::Canceled,
        C::Revoke => StateKind::Revoked,
    }
}

/// The routes whose act uses something up, so that a second one is refused: a continue or poll
/// issues the grant's token once, a rotation consumes the token it rotates.
fn consumes(route: Route) -> bool {
    matches!(route, Route::Continue | Route::TokenRotate)
}

/// Runs `call` under every fault of the matrix, one world each, on `store`.
async fn run_row<S: GrantStore + Clone>(store: S, call: CallUnderTest) {
    for fault in FAULTS {
        run_case(store.clone(), call, fault).await;
    }
}

async fn run_case<S: GrantStore>(store: S, call: CallUnderTest, injected: Injected) {
    let case = format!("{call:?} x {injected:?}");
    let mut world = World::manual_with_wait(0).await;
    world.set_call_timeout(CALL_TIMEOUT);
    let engine = world.engine(store, |_| {}).await;
    let key = format!("{case}-{}", uuid::Uuid::new_v4());
    let (fault, times) = injected.fault();
    let route = call.route();
    let arm = |world: &World| world.sandbox.set_fault(route, fault, Some(times));

    let id = match call {
        CallUnderTest::GrantRequest => {
            engine.start_worker();
            arm(&world);
            // The request path makes the first attempt itself; the worker makes the others.
            engine.request(world.incoming(&key)).await.unwrap().id
        }
        CallUnderTest::Continue => {
            engine.start_worker();
            let g = engine
                .request(world.outgoing(&key, Interaction::Redirect))
                .await
                .unwrap();
            arm(&world);
            // The callback starts the continue at once (wait 0).
            world.approve_and_follow(g.redirect.as_ref().unwrap()).await;
            g.id
        }
        CallUnderTest::Poll => {
            // The request answers "pending, poll"; the user approves before the worker polls.
            let id = world.approved_to_poll(&engine, &key).await;
            arm(&world);
            engine.start_worker();
            id
        }
        CallUnderTest::Rotate | CallUnderTest::Cancel | CallUnderTest::Revoke => {
            engine.start_worker();
            let g = engine.request(world.incoming(&key)).await.unwrap();
            assert_eq!(g.kind, StateKind::Issued, "{case}");
            arm(&world);
            // The command returns once its call is done (failed or not); the worker carries the
            // grant on from there.
            let _ = match call {
                CallUnderTest::Rotate => engine.rotate(g.id).await,
                CallUnderTest::Cancel => engine.cancel(g.id).await,
                _ => engine.revoke(g.id).await,
            };
            g.id
        }
    };

    let v = drive_until_settled(&world, &engine, id, call, &case).await;
    let journal = world.sandbox.journal();
    let kinds = event_kinds(&engine, id).await;
    let context = format!("{case}: events {kinds:?}\njournal {:#?}", summary(&journal));

    assert_eq!(v.kind(), expected(call, injected), "{context}");

    // The journal rule.
    let acted_unseen = journal
        .iter()
        .any(|e| e.acted && !e.delivered && consumes(e.route));
    assert_eq!(
        v.kind() == StateKind::Lost,
        acted_unseen,
        "Lost if and only if the AS acted on a consuming call whose answer was lost: {context}"
    );
    // At most one act on a consuming call: one continue for the interact_ref, one rotation of
    // the token (a poll of a pending grant acts too, but none is pending here).
    if consumes(route) {
        let acts = journal
            .iter()
            .filter(|e| e.route == route && e.acted)
            .count();
        assert_eq!(acts, 1, "the AS acted once on {route}: {context}");
    }

    // The fault happened as often as asked.
    let faulted: Vec<&JournalEntry> = journal
        .iter()
        .filter(|e| e.route == route && !e.faults.is_empty())
        .collect();
    assert_eq!(faulted.len(), times as usize, "{context}");
    assert!(faulted.iter().all(|e| e.faults == [fault]), "{context}");
    if injected == Injected::Throttled {
        let throttled = faulted[0];
        let next = journal
            .iter()
            .find(|e| e.route == route && e.seq > throttled.seq)
            .unwrap_or_else(|| panic!("no attempt after the 429: {context}"));
        assert!(
            next.received_at
                >= throttled.received_at
                    + chrono::TimeDelta::from_std(Duration::from_secs(RETRY_AFTER)).unwrap(),
            "the next attempt came before Retry-After: {context}"
        );
    }
    if injected == Injected::SlowerThanTimeout {
        assert!(
            kinds.contains(&EventKind::Ambiguous),
            "the timeout is an unknown outcome: {context}"
        );
        // The client went away before the latency ended: the AS dropped the request unhandled.
        assert!(!faulted[0].acted && !faulted[0].delivered, "{context}");
    }
    assert_replays(&engine, id).await;
    eprintln!(
        "{case:<32} -> {:<8} requests on {route}: {} (faulted {}, acted {}, answer lost after acting {})",
        v.kind().as_str(),
        journal.iter().filter(|e| e.route == route).count(),
        faulted.len(),
        journal
            .iter()
            .filter(|e| e.route == route && e.acted)
            .count(),
        journal
            .iter()
            .filter(|e| e.route == route && e.acted && !e.delivered)
            .count(),
    );
    engine.shutdown().await;
}

/// Whether the case's grant is done: final, or (for the calls that keep it issued) issued with
/// the call's effect in its log.
async fn settled<S: GrantStore>(engine: &Engine<S>, v: &GrantView, call: CallUnderTest) -> bool {
    if v.is_final() {
        return true;
    }
    match call {
        CallUnderTest::GrantRequest | CallUnderTest::Continue | CallUnderTest::Poll => {
            v.kind() == StateKind::Issued
        }
        CallUnderTest::Rotate => {
            v.kind() == StateKind::Issued
                && event_kinds(engine, v.id)
                    .await
                    .contains(&EventKind::AnsweredRotated)
        }
        CallUnderTest::Cancel | CallUnderTest::Revoke => false,
    }
}

/// Moves manual time a second at a time (with a moment of real time after each step) until the
/// grant is [`settled`]; back-offs and `Retry-After` are all far shorter than the 10 simulated
/// minutes allowed.
async fn drive_until_settled<S: GrantStore>(
    world: &World,
    engine: &Engine<S>,
    id: GrantId,
    call: CallUnderTest,
    case: &str,
) -> GrantView {
    for _ in 0..600 {
        let _ = engine
            .wait_for(id, Duration::from_millis(50), |g| g.is_final())
            .await;
        let v = engine.get(id).await.unwrap();
        if settled(engine, &v, call).await {
            return v;
        }
        world.advance(Duration::from_secs(1));
    }
    let v = engine.get(id).await.unwrap();
    panic!(
        "{case}: never settled; it is {:?} ({:?}); events {:?}; journal {:#?}",
        v.kind(),
        v.state.reason(),
        event_kinds(engine, id).await,
        summary(&world.sandbox.journal())
    );
}

/// The journal in short: route, status, error, acted, delivered, faults.
fn summary(journal: &[JournalEntry]) -> Vec<String> {
    journal
        .iter()
        .map(|e| {
            format!(
                "{} {:?} {:?} acted={} delivered={} {:?}",
                e.route, e.status, e.error, e.acted, e.delivered, e.faults
            )
        })
        .collect()
}

mod scenarios {
    use super::*;

    pub async fn grant_request<S: GrantStore + Clone>(store: S) {
        run_row(store, CallUnderTest::GrantRequest).await;
    }

    pub async fn continue_<S: GrantStore + Clone>(store: S) {
        run_row(store, CallUnderTest::Continue).await;
    }

    pub async fn poll<S: GrantStore + Clone>(store: S) {
        run_row(store, CallUnderTest::Poll).await;
    }

    pub async fn rotate<S: GrantStore + Clone>(store: S) {
        run_row(store, CallUnderTest::Rotate).await;
    }

    pub async fn cancel<S: GrantStore + Clone>(store: S) {
        run_row(store, CallUnderTest::Cancel).await;
    }

    pub async fn revoke<S: GrantStore + Clone>(store: S) {
        run_row(store, CallUnderTest::Revoke).await;
    }
}

per_backend!(grant_request, continue_, poll, rotate, cancel, revoke);
