//! Property tests: random event sequences at random times, holding every invariant of
//! DESIGN.md "Invariants the property tests hold it to", and checking that every transition taken
//! is an edge of the exported table.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_machine::{
    CallKind, CallStatus, CancelGoal, Config, Edge, Effect, Event, FinishCallback, GrantState,
    LostReason, MachineError, Outcome, Rotation, TRANSITIONS, TokenState, Transition, table,
    transition,
};
use grantflow_protocol::GnapErrorCode;
use grantflow_protocol::finish_hash::FinishHashEncoding;
use grantflow_protocol::finish_hash::verify_finish_hash;
use grantflow_protocol::grant::GrantResponse;
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

use crate::common::*;

/// One abstract step; the concrete event is built from the state at the time it is applied, so
/// sequences make progress instead of being refused at every step.
#[derive(Debug, Clone)]
enum Step {
    /// Jump to the grant's `next_wake_at` (plus `extra` seconds), or, if it has none, just wait.
    WakeAtDue { extra: u16 },
    /// A wake-up after `secs` seconds, due or not (a crash-resume when a call is in flight).
    WakeAfter { secs: u16 },
    /// A command: cancel, rotate now, revoke, or a second request.
    Command(u8),
    /// An HTTP outcome for the call in flight: 0 success, 1 refusal, 2 not sent, 3 ambiguous,
    /// 4 an answer of some other shape, 5 a 2xx whose body does not parse.
    Outcome { kind: u8, a: u8, b: u8, delay: u8 },
    /// A finish callback: 0/1 valid (both encodings), 2 forged, 3 garbage, 4 grant_rejected,
    /// 5 grant_invalid, 6 another result.
    Callback { kind: u8, r: u8, delay: u16 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u16..4).prop_map(|extra| Step::WakeAtDue { extra }),
        1 => prop_oneof![Just(0u16), 0u16..30, 0u16..1200].prop_map(|secs| Step::WakeAfter { secs }),
        1 => any::<u8>().prop_map(Step::Command),
        6 => (0u8..6, any::<u8>(), any::<u8>(), 0u8..3)
            .prop_map(|(kind, a, b, delay)| Step::Outcome { kind, a, b, delay }),
        2 => (0u8..7, 0u8..3, prop_oneof![0u16..10, 0u16..900])
            .prop_map(|(kind, r, delay)| Step::Callback { kind, r, delay }),
    ]
}

/// The default configuration, or one with short deadlines, timeouts, budgets and keep-alive;
/// tokens rotated on demand or kept warm.
fn config() -> impl Strategy<Value = Config> {
    (any::<bool>(), any::<bool>()).prop_map(|(short, keep_warm)| {
        let base = Config::default();
        let rotation = if keep_warm {
            Rotation::KeepWarm
        } else {
            Rotation::OnDemand
        };
        if short {
            Config {
                interaction_deadline: TimeDelta::seconds(30),
                call_timeout: TimeDelta::seconds(5),
                max_retry_delay: TimeDelta::seconds(20),
                recovery_budget: TimeDelta::seconds(60),
                keep_alive: TimeDelta::seconds(300),
                rotation,
                ..base
            }
        } else {
            Config { rotation, ..base }
        }
    })
}

fn flow() -> impl Strategy<Value = Flow> {
    prop_oneof![
        Just(Flow::Interactive),
        Just(Flow::Polling),
        Just(Flow::NonInteractive)
    ]
}

const STATUSES: &[u16] = &[400, 401, 404, 400, 401, 429, 500, 503];
const CODES: &[Option<&str>] = &[
    Some("too_fast"),
    Some("request_denied"),
    Some("invalid_continuation"),
    Some("invalid_client"),
    Some("invalid_request"),
    Some("invalid_rotation"),
    Some("user_denied"),
    Some("invalid_interaction"),
    Some("unknown_interaction"),
    Some("too_many_attempts"),
    None,
];

fn wait_of(b: u8) -> Option<u64> {
    match b % 4 {
        0 => None,
        1 => Some(0),
        2 => Some(5),
        _ => Some(u64::from(b % 40)),
    }
}

fn expires_of(b: u8) -> Option<u64> {
    match b % 3 {
        0 => None,
        1 => Some(600),
        _ => Some(u64::from(b)),
    }
}

/// The edges that decide `Lost`: on proof (a refusal that shows an earlier attempt acted) or when
/// the recovery budget runs out after an unknown outcome.
const LOSING: &[Edge] = &[
    Edge::ContinueConsumed,
    Edge::ContinueGaveUp,
    Edge::RotationConsumed,
    Edge::RotateLost,
];

/// Everything the checker remembers across steps.
struct Checker {
    flow: Flow,
    config: Config,
    state: GrantState,
    now: DateTime<Utc>,
    log: Vec<(Event, DateTime<Utc>)>,
    /// interact_refs whose callback was accepted (and independently verified).
    verified_refs: HashSet<String>,
    /// The last continuation answer: (when, wait).
    last_answer: Option<(DateTime<Utc>, TimeDelta)>,
    /// No continue/poll before this (after a too_fast).
    too_fast_floor: Option<DateTime<Utc>>,
    tokens: u32,
    edges: BTreeSet<Edge>,
}

impl Checker {
    fn new(flow: Flow, config: Config) -> Self {
        Self {
            flow,
            config,
            state: GrantState::Initial,
            now: t0(),
            log: Vec::new(),
            verified_refs: HashSet::new(),
            last_answer: None,
            too_fast_floor: None,
            tokens: 0,
            edges: BTreeSet::new(),
        }
    }

    fn advance(&mut self, secs: i64) {
        self.now += TimeDelta::seconds(secs);
    }

    fn next_token(&mut self) -> u32 {
        self.tokens += 1;
        self.tokens
    }

    /// The concrete event for a step, and the time to apply it.
    fn event(&mut self, step: &Step) -> Event {
        match *step {
            Step::WakeAtDue { extra } => {
                if let Some(at) = self.state.next_wake_at() {
                    if at > self.now {
                        self.now = at;
                    }
                }
                self.advance(i64::from(extra));
                Event::Wake
            }
            Step::WakeAfter { secs } => {
                self.advance(i64::from(secs));
                Event::Wake
            }
            Step::Command(c) => match c % 8 {
                0..=2 => Event::Cancel,
                3 | 4 => Event::RotateNow,
                5 | 6 => Event::Revoke,
                _ => request(self.flow),
            },
            Step::Outcome { kind, a, b, delay } => {
                self.advance(i64::from(delay));
                match kind {
                    0 => self.success(a, b),
                    1 => refused(
                        STATUSES[usize::from(a) % STATUSES.len()],
                        CODES[usize::from(b) % CODES.len()],
                        "description",
                    ),
                    2 => not_sent(),
                    3 => ambiguous(),
                    4 => self.any_answer(a, b),
                    _ => malformed(),
                }
            }
            Step::Callback { kind, r, delay } => {
                self.advance(i64::from(delay));
                let r = interact_ref(u32::from(r));
                match kind {
                    0 => callback(&r, FinishHashEncoding::Rfc9635),
                    1 => callback(&r, FinishHashEncoding::PaddedBase64),
                    2 => forged_callback(&r),
                    3 => Event::FinishCallback {
                        callback: FinishCallback::Approved {
                            hash: "%%%".into(),
                            interact_ref: r.as_str().into(),
                        },
                    },
                    4 => result_callback("grant_rejected", None),
                    5 => result_callback("grant_invalid", None),
                    _ => result_callback("invalid_interaction", Some("interaction expired")),
                }
            }
        }
    }

    /// The successful answer to the call in flight.
    fn success(&mut self, a: u8, b: u8) -> Event {
        match self.state.call_in_flight() {
            Some(CallKind::GrantRequest) => match self.flow {
                Flow::NonInteractive => issued(self.next_token(), expires_of(b)),
                _ => pending(wait_of(b)),
            },
            Some(CallKind::Continue) => issued(self.next_token(), expires_of(b)),
            Some(CallKind::Poll) if a % 3 != 0 => continuation(wait_of(b)),
            Some(CallKind::Poll) => issued(self.next_token(), expires_of(b)),
            Some(CallKind::Rotate) => rotated(self.next_token(), expires_of(b)),
            Some(CallKind::Cancel | CallKind::RevokeToken) => no_content(),
            None => self.any_answer(a, b),
        }
    }

    fn any_answer(&mut self, a: u8, b: u8) -> Event {
        match a % 5 {
            0 => pending(wait_of(b)),
            1 => continuation(wait_of(b)),
            2 => issued(self.next_token(), expires_of(b)),
            3 => rotated(self.next_token(), expires_of(b)),
            _ => no_content(),
        }
    }

    /// Applies one step and checks every invariant.
    fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let event = self.event(step);
        let old = self.state.clone();
        let result = transition(&old, event.clone(), self.now, &self.config);
        // Deterministic: the same inputs give the same output.
        prop_assert_eq!(
            &result,
            &transition(&old, event.clone(), self.now, &self.config)
        );
        let debug_event = format!("{event:?}");
        prop_assert!(!debug_event.contains("SECRET"), "secret in {}", debug_event);
        match result {
            Err(e) => self.refused(&old, &event, &e),
            Ok(t) => self.accepted(&old, event, t),
        }
    }

    fn refused(
        &mut self,
        old: &GrantState,
        event: &Event,
        e: &MachineError,
    ) -> Result<(), TestCaseError> {
        let text = format!("{e} {e:?}");
        prop_assert!(!text.contains("SECRET"), "secret in error {}", text);
        if let Event::FinishCallback {
            callback: FinishCallback::Approved { .. },
        } = event
        {
            if !matches!(old, GrantState::AwaitingInteraction(_)) {
                prop_assert!(
                    matches!(e, MachineError::CallbackForGrantNotWaiting { .. })
                        || matches!(old, GrantState::Initial),
                    "{}",
                    e
                );
            }
        }
        Ok(())
    }

    fn accepted(
        &mut self,
        old: &GrantState,
        event: Event,
        t: Transition,
    ) -> Result<(), TestCaseError> {
        let new = &t.state;
        let now = self.now;

        // Final states absorb every event.
        prop_assert!(
            !old.is_final(),
            "final {:?} accepted {:?}",
            old.kind(),
            event.kind()
        );

        // The transition names the edge it followed, and that edge's row is what happened.
        let (from, event_kind, to) = (old.kind(), event.kind(), new.kind());
        let row = t.edge.row();
        prop_assert!(
            t.edge.connects(from, event_kind, to),
            "{:?} --{:?}--> {:?} claims the edge {} ({:?} --{:?}--> {:?})",
            from,
            event_kind,
            to,
            t.edge,
            row.from,
            row.event,
            row.to
        );
        prop_assert!(table::is_listed(from, event_kind, to));
        self.edges.insert(t.edge);

        // Every non-final state has a next wake-up (an issued token whenever it expires: its
        // keep-alive or keep-warm rotation).
        match new {
            GrantState::Finalized(Outcome::Issued(i)) => {
                if let TokenState::Active { rotate_at } = i.token_state {
                    prop_assert_eq!(rotate_at.is_some(), i.expires_at.is_some());
                    if let (Some(at), Some(expires_at), Rotation::OnDemand) =
                        (rotate_at, i.expires_at, self.config.rotation)
                    {
                        // On demand, an idle token is touched only for its keep-alive.
                        prop_assert!(at >= expires_at, "on-demand rotation before expiry");
                    }
                } else {
                    prop_assert!(new.next_wake_at().is_some());
                }
            }
            s if !s.is_final() => prop_assert!(
                new.next_wake_at().is_some(),
                "{:?} has no next wake-up",
                new.kind()
            ),
            _ => prop_assert!(new.next_wake_at().is_none()),
        }

        // A call effect goes with the call marked in flight; a call newly in flight is handed out.
        let call_effect = t.effects.call_effect().and_then(Effect::call_kind);
        if let Some(kind) = call_effect {
            prop_assert_eq!(new.call_in_flight(), Some(kind));
        }
        if let Some(new_call) = new.call().filter(|c| c.in_flight()) {
            let same = old.call().is_some_and(|o| {
                o.in_flight() && o.kind == new_call.kind && o.attempts == new_call.attempts
            });
            prop_assert!(
                same || call_effect.is_some(),
                "call in flight without an effect"
            );
        }

        // The interact_ref is only sent after its hash verified.
        if let Event::FinishCallback {
            callback: FinishCallback::Approved { hash, interact_ref },
        } = &event
        {
            prop_assert!(
                verify_finish_hash(
                    hash,
                    CLIENT_NONCE,
                    AS_NONCE,
                    interact_ref.expose(),
                    ENDPOINT
                )
                .is_ok(),
                "a callback with a bad hash was accepted"
            );
            self.verified_refs.insert(interact_ref.expose().to_owned());
        }
        for effect in t.effects.iter() {
            if let Effect::Continue { interact_ref, .. } = effect {
                prop_assert!(
                    self.verified_refs.contains(interact_ref.expose()),
                    "interact_ref sent without a verified hash"
                );
            }
        }

        // A continue/poll never goes out before `wait` after the last continuation answer, nor
        // before the too_fast back-off.
        if matches!(
            t.effects.call_effect(),
            Some(Effect::Continue { .. } | Effect::Poll { .. })
        ) {
            if let Some((at, wait)) = self.last_answer {
                prop_assert!(
                    now >= at + wait,
                    "continue at {} before {} + {}",
                    now,
                    at,
                    wait
                );
            }
            if let Some(floor) = self.too_fast_floor {
                prop_assert!(
                    now >= floor,
                    "continue at {} before too_fast floor {}",
                    now,
                    floor
                );
            }
        }
        let old_call = old.call().filter(|c| c.in_flight()).cloned();
        match &event {
            Event::Answered {
                answer: grantflow_machine::Answer::Grant(GrantResponse::Pending(p)),
            } if matches!(old, GrantState::Requested(_)) => {
                self.last_answer = Some((now, self.config.wait(p.continue_.wait)));
            }
            Event::Answered {
                answer: grantflow_machine::Answer::Grant(GrantResponse::Continuation(c)),
            } if matches!(old, GrantState::Continuing(_)) => {
                self.last_answer = Some((now, self.config.wait(c.continue_.wait)));
            }
            Event::Refused { error, .. }
                if error.code == Some(grantflow_protocol::GnapErrorCode::TooFast)
                    && matches!(old, GrantState::Continuing(_)) =>
            {
                // The next attempt waits `wait` after the attempt that got `too_fast`.
                let wait = self
                    .last_answer
                    .map_or(self.config.default_wait, |(_, w)| w);
                if let Some(CallStatus::InFlight { since, .. }) = old.call().map(|c| c.status) {
                    self.too_fast_floor = Some(since + wait);
                    let due = new.call().map(|c| c.wake_at());
                    prop_assert_eq!(due, Some((since + wait).max(now)), "too_fast not at wait");
                }
            }
            _ => {}
        }

        // `Lost` only on proof or when the budget ran out after an unknown outcome.
        let goes_lost = |s: &GrantState| match s {
            GrantState::Canceling(c) => matches!(&c.then, CancelGoal::Lost(_)),
            GrantState::Finalized(Outcome::Lost(_)) => true,
            _ => false,
        };
        if goes_lost(new) && !goes_lost(old) {
            prop_assert!(LOSING.contains(&t.edge), "Lost along {}", t.edge);
            let call = old_call.clone().or_else(|| old.call().cloned());
            let call = call.ok_or_else(|| TestCaseError::fail("Lost without a call"))?;
            prop_assert!(
                call.resent_after_ambiguity || matches!(event, Event::Wake),
                "Lost without an unknown outcome before"
            );
            let lost = match new {
                GrantState::Canceling(grantflow_machine::Canceling {
                    then: CancelGoal::Lost(l),
                    ..
                }) => l.clone(),
                other => {
                    return Err(TestCaseError::fail(format!(
                        "Lost reached outside Canceling: {:?}",
                        other.kind()
                    )));
                }
            };
            match (&lost.reason, &event) {
                (LostReason::RefusedAfterResend { error, .. }, Event::Refused { .. }) => {
                    let proof = match lost.call {
                        CallKind::Continue | CallKind::Poll => GnapErrorCode::RequestDenied,
                        _ => GnapErrorCode::InvalidClient,
                    };
                    prop_assert_eq!(error.code.as_ref(), Some(&proof));
                    prop_assert!(call.resent_after_ambiguity);
                }
                (LostReason::BudgetExhausted { .. }, Event::Wake) => {
                    let trouble = call
                        .trouble
                        .as_ref()
                        .map(|t| t.since)
                        .ok_or_else(|| TestCaseError::fail("budget without trouble"))?;
                    prop_assert!(now >= trouble + self.config.recovery_budget);
                    prop_assert!(call.resent_after_ambiguity || call.in_flight());
                }
                (reason, _) => prop_assert!(false, "Lost for {:?} on {:?}", reason, event.kind()),
            }
        }

        // A 2xx that does not parse is never sent again.
        if let Event::Malformed { .. } = event {
            let call = t.effects.call_effect().and_then(Effect::call_kind);
            prop_assert!(matches!(call, Some(CallKind::Cancel) | None), "{:?}", call);
            prop_assert!(!matches!(
                new,
                GrantState::Requested(_) | GrantState::Continuing(_)
            ));
        }

        // At most one rotation in flight: a rotation starts only from an active token.
        if let Some(Effect::Rotate { .. }) = t.effects.call_effect() {
            prop_assert!(matches!(
                old.kind(),
                grantflow_machine::StateKind::Issued | grantflow_machine::StateKind::Rotating
            ));
            prop_assert_eq!(new.call_in_flight(), Some(CallKind::Rotate));
        }

        // A token just issued or rotated is usable, whatever its lifetime.
        if matches!(
            t.edge,
            Edge::IssuedAtOnce | Edge::ContinueIssued | Edge::Rotated
        ) {
            prop_assert!(
                new.usable_token(now, &self.config).is_some(),
                "fresh token not usable"
            );
        }

        // Secrets never appear in Debug output.
        let debug = format!("{new:?} {:?}", t.effects);
        prop_assert!(!debug.contains("SECRET"), "secret in Debug: {}", debug);

        // The stored form round-trips.
        let json = new
            .to_json()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = GrantState::from_json(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, new);

        // The event log round-trips too (the store keeps events as JSON for replay).
        let event_json =
            serde_json::to_string(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let event_back: Event =
            serde_json::from_str(&event_json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&event_back, &event);

        self.log.push((event, now));
        self.state = t.state;
        Ok(())
    }

    /// Replaying the recorded events from the initial state reproduces the state.
    fn check_replay(&self) -> Result<(), TestCaseError> {
        let mut state = GrantState::Initial;
        for (event, at) in &self.log {
            state = transition(&state, event.clone(), *at, &self.config)
                .map_err(|e| TestCaseError::fail(format!("replay refused: {e}")))?
                .state;
        }
        prop_assert_eq!(&state, &self.state);
        Ok(())
    }
}

fn run_case(flow: Flow, config: Config, steps: &[Step]) -> Result<BTreeSet<Edge>, TestCaseError> {
    let mut checker = Checker::new(flow, config);
    checker.apply(&Step::Command(7))?; // the Request
    for step in steps {
        checker.apply(step)?;
        // Final states absorb every event, whatever it is.
        if checker.state.is_final() {
            let before = checker.state.clone();
            for probe in [
                Event::Wake,
                Event::Cancel,
                Event::RotateNow,
                Event::Revoke,
                no_content(),
                ambiguous(),
            ] {
                prop_assert!(transition(&before, probe, checker.now, &checker.config).is_err());
            }
        }
    }
    checker.check_replay()?;
    Ok(checker.edges)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_event_sequences_hold_every_invariant(
        flow in flow(),
        config in config(),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        run_case(flow, config, &steps)?;
    }
}

/// Edge coverage (temporal sdk-core style): a deterministic random run must exercise every edge
/// of the table. Prints the edges and how often each was taken.
#[test]
fn every_edge_of_the_table_is_exercised() {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig {
            cases: 3000,
            failure_persistence: None,
            ..ProptestConfig::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let covered = Mutex::new(BTreeSet::new());
    runner
        .run(
            &(flow(), config(), prop::collection::vec(step(), 1..80)),
            |(flow, config, steps)| {
                let edges = run_case(flow, config, &steps)?;
                covered.lock().unwrap().extend(edges);
                Ok(())
            },
        )
        .unwrap();
    let covered = covered.into_inner().unwrap();
    let missing: Vec<_> = TRANSITIONS
        .iter()
        .filter(|t| !covered.contains(&t.edge))
        .map(|t| {
            format!(
                "{}: {} --{}--> {} ({})",
                t.edge, t.from, t.event, t.to, t.when
            )
        })
        .collect();
    eprintln!(
        "edge coverage: {} of {} edges of TRANSITIONS exercised",
        TRANSITIONS.len() - missing.len(),
        TRANSITIONS.len()
    );
    assert!(
        missing.is_empty(),
        "edges never exercised:\n{}",
        missing.join("\n")
    );
}
