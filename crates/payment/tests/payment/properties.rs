//! Property tests: random runs of one payment against a model of the reference RS (quotes that
//! expire, one payment per quote with the quote's id, `invalid quote` for a used or expired quote,
//! answers lost, creates that land late, crashes while in flight, refusals, a grant that ends),
//! holding the machine to its invariants:
//!
//! - never two outgoing payments at the RS for one payment (late creates included);
//! - a final state says the truth: `Sent` names the payment the RS has, and a failure that says
//!   nothing was paid leaves the RS with no payment, now or later;
//! - never a create whose quote exceeds the headroom the machine was given;
//! - every non-final state has a wake-up;
//! - replaying the accepted events from `Initial` reproduces the state;
//! - every transition follows a listed edge, and the runs exercise every edge of the table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_payment::{
    Edge, Failure, GrantEnd, Headroom, PaymentAmount, PaymentCall, PaymentConfig, PaymentEvent,
    PaymentInfo, PaymentOrder, PaymentState, QuoteInfo, Refusal, TRANSITIONS, transition,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

use crate::common::*;

#[derive(Debug, Clone)]
enum Step {
    /// Jump to the payment's `next_wake_at` plus `extra` seconds and wake it (with a call in
    /// flight: its caller crashed, and the call did `r`'s fate).
    WakeDue { extra: u16, r: u8 },
    /// Wake after `secs`, due or not.
    WakeAfter { secs: u16, r: u8 },
    /// The outcome of the call in flight: `kind` picks success, refusals, not sent, ambiguous.
    Outcome { kind: u8, r: u8, delay: u8 },
    /// A create sent earlier with an unknown outcome reaches the RS now.
    DeliverLate,
    /// The grant ends.
    GrantEnds(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u16..3, any::<u8>()).prop_map(|(extra, r)| Step::WakeDue { extra, r }),
        1 => (prop_oneof![0u16..5, 0u16..120], any::<u8>()).prop_map(|(secs, r)| Step::WakeAfter { secs, r }),
        8 => (0u8..10, any::<u8>(), 0u8..3).prop_map(|(kind, r, delay)| Step::Outcome { kind, r, delay }),
        1 => Just(Step::DeliverLate),
        1 => (0u8..40).prop_map(Step::GrantEnds),
    ]
}

fn config() -> impl Strategy<Value = PaymentConfig> {
    (any::<bool>(), 1u32..3).prop_map(|(short, max_quotes)| {
        if short {
            PaymentConfig {
                call_timeout: TimeDelta::seconds(10),
                retry_base_delay: TimeDelta::seconds(1),
                max_retry_delay: TimeDelta::seconds(8),
                recovery_budget: TimeDelta::seconds(60),
                quote_margin: TimeDelta::seconds(5),
                clock_skew: TimeDelta::seconds(10),
                max_quotes,
            }
        } else {
            PaymentConfig::default()
        }
    })
}

/// The reference RS, as far as one payment can see it. Its clock is ours.
#[derive(Debug, Default)]
struct Rs {
    /// Quote id → (amount, expiry).
    quotes: BTreeMap<String, (u64, Option<DateTime<Utc>>)>,
    /// Payments by quote id (the payment's id is the quote's).
    payments: BTreeMap<String, PaymentInfo>,
    /// Creates that may still arrive: the quote id of each.
    late: Vec<String>,
    /// The quote ids a create was sent with, in order.
    created_from: Vec<String>,
}

impl Rs {
    /// `POST /outgoing-payments` with `quote_id` reaching the RS at `now`.
    fn create(
        &mut self,
        quote_id: &str,
        now: DateTime<Utc>,
        failed: bool,
    ) -> Result<PaymentInfo, ()> {
        let Some(&(value, expires)) = self.quotes.get(quote_id) else {
            return Err(());
        };
        if self.payments.contains_key(quote_id) || expires.is_some_and(|e| now >= e) {
            return Err(());
        }
        let q = QuoteInfo {
            id: quote_id.to_owned(),
            debit_amount: usd(value),
            receive_amount: usd(value),
            expires_at: expires,
        };
        let p = payment_of(&q, now, failed);
        self.payments.insert(quote_id.to_owned(), p.clone());
        Ok(p)
    }

    /// The create's fate when its answer is lost: acted now, never arrived, or arrives later.
    fn lost_create(&mut self, quote_id: &str, now: DateTime<Utc>, r: u8) {
        match r % 3 {
            0 => {
                let _ = self.create(quote_id, now, r % 32 == 9);
            }
            1 => {}
            _ => self.late.push(quote_id.to_owned()),
        }
    }

    fn deliver_late(&mut self, now: DateTime<Utc>) {
        if !self.late.is_empty() {
            let q = self.late.remove(0);
            let _ = self.create(&q, now, false);
        }
    }
}

fn refusal(status: u16, description: &str) -> PaymentEvent {
    PaymentEvent::Refused {
        refusal: Refusal {
            status,
            code: Some("invalid_request".into()),
            description: Some(description.into()),
        },
    }
}

fn headroom_for(r: u8) -> Headroom {
    if r % 4 == 0 {
        Headroom::unlimited()
    } else {
        debit_left(u64::from(r) * 8)
    }
}

/// The event the RS's answer to the call in flight makes, applying the call's effect on the RS.
fn outcome(
    call: &PaymentCall,
    kind: u8,
    r: u8,
    rs: &mut Rs,
    now: DateTime<Utc>,
    quotes_made: &mut u32,
    order_value: u64,
) -> PaymentEvent {
    match kind {
        7 => {
            return PaymentEvent::NotSent {
                error: "connection refused".into(),
            };
        }
        3 => return refusal(429, "too many requests"),
        5 => return refusal(403, "Inactive Token"),
        _ => {}
    }
    match call {
        PaymentCall::CreateQuote { .. } => match kind {
            0..=2 => {
                *quotes_made += 1;
                let id = if r % 64 == 1 {
                    format!("{RS}/q/{quotes_made}")
                } else {
                    format!("{RS}/quotes/q-{quotes_made}")
                };
                let expires = match r % 5 {
                    0 => None,
                    1 | 4 if r % 3 != 0 => Some(now + TimeDelta::seconds(2)),
                    2 => Some(now + TimeDelta::seconds(20)),
                    _ => Some(now + TimeDelta::seconds(600)),
                };
                let value = if r % 16 == 3 {
                    order_value + 7
                } else {
                    order_value
                };
                rs.quotes.insert(id.clone(), (value, expires));
                PaymentEvent::Quoted {
                    quote: QuoteInfo {
                        id,
                        debit_amount: usd(value),
                        receive_amount: usd(value),
                        expires_at: expires,
                    },
                    headroom: headroom_for(r / 4),
                }
            }
            4 => refusal(503, "unavailable"),
            6 => refusal(400, "invalid receiver"),
            _ => PaymentEvent::Ambiguous {
                error: "timeout".into(),
            },
        },
        PaymentCall::CreateOutgoingPayment { quote_id, .. } => {
            rs.created_from.push(quote_id.clone());
            match kind {
                0..=2 => match rs.create(quote_id, now, r % 16 == 5) {
                    Ok(payment) => PaymentEvent::PaymentFound { payment },
                    Err(()) => refusal(400, "invalid quote"),
                },
                4 => {
                    if r % 2 == 0 {
                        let _ = rs.create(quote_id, now, false);
                    }
                    refusal(500, "internal error")
                }
                6 => refusal(403, "unauthorized"),
                _ => {
                    rs.lost_create(quote_id, now, r);
                    PaymentEvent::Ambiguous {
                        error: "timeout".into(),
                    }
                }
            }
        }
        PaymentCall::GetOutgoingPayment { url } => match kind {
            0..=2 => {
                let quote_id = url.replace("/outgoing-payments/", "/quotes/");
                match rs.payments.get(&quote_id) {
                    Some(p) => PaymentEvent::PaymentFound { payment: p.clone() },
                    None => refusal(404, "outgoing payment not found"),
                }
            }
            4 => refusal(502, "bad gateway"),
            6 => refusal(401, "invalid signature"),
            _ => PaymentEvent::Ambiguous {
                error: "reset".into(),
            },
        },
    }
}

static EXERCISED: Mutex<BTreeSet<Edge>> = Mutex::new(BTreeSet::new());

/// One run: the payment, the RS, the clock and what the checks need.
struct Run<'a> {
    cfg: &'a PaymentConfig,
    rs: Rs,
    state: PaymentState,
    now: DateTime<Utc>,
    /// The accepted events, for the replay.
    log: Vec<(PaymentEvent, DateTime<Utc>)>,
    /// The headroom each quote arrived with.
    headrooms: BTreeMap<String, Headroom>,
    /// The last call sent.
    in_flight: Option<PaymentCall>,
}

impl Run<'_> {
    fn apply(&mut self, event: PaymentEvent) -> Result<(), TestCaseError> {
        let before = self.state.kind();
        let kind = event.kind();
        if let PaymentEvent::Quoted { quote, headroom } = &event {
            self.headrooms.insert(quote.id.clone(), headroom.clone());
        }
        let Ok(t) = transition(&self.state, event.clone(), self.now, self.cfg) else {
            return Ok(()); // refused: nothing changes
        };
        prop_assert!(
            t.edge.connects(before, kind, t.state.kind()),
            "{} is not {before} --{kind}--> {}",
            t.edge,
            t.state.kind()
        );
        EXERCISED.lock().unwrap().insert(t.edge);
        if let Some(effect) = &t.effect {
            if let PaymentCall::CreateOutgoingPayment { quote_id, .. } = &effect.call {
                let room = self
                    .headrooms
                    .get(quote_id)
                    .cloned()
                    .unwrap_or_else(Headroom::unlimited);
                let q = self.rs.quotes.get(quote_id).map(|(v, _)| *v).unwrap_or(0);
                prop_assert!(
                    room.admits_quote(&usd(q), &usd(q)).is_ok(),
                    "create over the limit: {q} with {room:?}"
                );
            }
            prop_assert!(
                t.state.call_in_flight().is_some(),
                "an effect without its call in flight"
            );
            self.in_flight = Some(effect.call.clone());
        }
        if !t.state.kind().is_final() {
            prop_assert!(
                t.next_wake_at().is_some(),
                "{} has no wake-up",
                t.state.kind()
            );
        }
        self.state = t.state;
        self.log.push((event, self.now));
        Ok(())
    }
}

fn run(
    cfg: &PaymentConfig,
    order_value: u64,
    order_room: u8,
    steps: &[Step],
) -> Result<(), TestCaseError> {
    let mut quotes_made = 0u32;
    let order = std::sync::Arc::new(PaymentOrder {
        amount: PaymentAmount::Debit(usd(order_value)),
        ..(*crate::common::order(1)).clone()
    });
    let mut run = Run {
        cfg,
        rs: Rs::default(),
        state: PaymentState::Initial,
        now: t0(),
        log: Vec::new(),
        headrooms: BTreeMap::new(),
        in_flight: None,
    };
    run.apply(PaymentEvent::Order {
        order,
        headroom: headroom_for(order_room),
    })?;
    for s in steps {
        if run.state.kind().is_final() {
            break;
        }
        match s {
            Step::WakeDue { extra, r } | Step::WakeAfter { secs: extra, r } => {
                run.now = match (s, run.state.next_wake_at()) {
                    (Step::WakeDue { .. }, Some(at)) => {
                        run.now.max(at) + TimeDelta::seconds(i64::from(*extra))
                    }
                    _ => run.now + TimeDelta::seconds(i64::from(*extra)),
                };
                // A wake with a call in flight: its caller crashed; the call met a random fate.
                if run.state.call_in_flight().is_some()
                    && let Some(PaymentCall::CreateOutgoingPayment { quote_id, .. }) =
                        run.in_flight.clone()
                {
                    run.rs.created_from.push(quote_id.clone());
                    let now = run.now;
                    run.rs.lost_create(&quote_id, now, *r);
                }
                run.apply(PaymentEvent::Wake)?;
            }
            Step::Outcome { kind, r, delay } => {
                let Some(call) = run
                    .in_flight
                    .clone()
                    .filter(|_| run.state.call_in_flight().is_some())
                else {
                    continue;
                };
                run.now += TimeDelta::seconds(i64::from(*delay));
                let now = run.now;
                let event = outcome(
                    &call,
                    *kind,
                    *r,
                    &mut run.rs,
                    now,
                    &mut quotes_made,
                    order_value,
                );
                run.apply(event)?;
            }
            Step::DeliverLate => {
                let now = run.now;
                run.rs.deliver_late(now);
            }
            Step::GrantEnds(r) => {
                if *r == 0 {
                    run.apply(PaymentEvent::GrantEnded {
                        end: GrantEnd::Revoked,
                    })?;
                }
            }
        }
        prop_assert!(
            run.rs.payments.len() <= 1,
            "two payments at the RS: {:?}",
            run.rs.payments.keys()
        );
    }
    // Every late create arrives, at the end of time.
    let end = run.now + TimeDelta::days(1);
    while !run.rs.late.is_empty() {
        run.rs.deliver_late(end);
    }
    let rs = &run.rs;
    prop_assert!(
        rs.payments.len() <= 1,
        "two payments at the RS: {:?}",
        rs.payments.keys()
    );
    match &run.state {
        PaymentState::Sent(sent) => {
            let at_rs: Vec<_> = rs.payments.values().map(|p| p.id.clone()).collect();
            prop_assert_eq!(at_rs, vec![sent.payment.id.clone()]);
        }
        PaymentState::Failed(f) => match &f.failure {
            Failure::OutcomeUnknown { .. } | Failure::PaymentFailed { .. } => {}
            Failure::ConsentNeeded {
                maybe_paid_from: Some(_),
                ..
            } => {}
            other => prop_assert!(
                rs.payments.is_empty(),
                "{other} but the RS has {:?}",
                rs.payments.keys()
            ),
        },
        _ => {}
    }
    // Replay reproduces the state.
    let mut replayed = PaymentState::Initial;
    for (event, at) in &run.log {
        replayed = transition(&replayed, event.clone(), *at, cfg)
            .map_err(|e| TestCaseError::fail(format!("replay: {e}")))?
            .state;
    }
    prop_assert_eq!(replayed, run.state);
    Ok(())
}

#[test]
fn runs_against_a_model_of_the_reference_rs_hold_every_invariant() {
    let mut runner = TestRunner::new_with_rng(
        RunnerConfig {
            cases: 2000,
            failure_persistence: None,
            ..RunnerConfig::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[16; 32]),
    );
    let strategy = (
        config(),
        1u64..1000,
        any::<u8>(),
        proptest::collection::vec(step(), 1..80),
    );
    runner
        .run(&strategy, |(cfg, value, room, steps)| {
            run(&cfg, value, room, &steps)
        })
        .unwrap();
    let exercised = EXERCISED.lock().unwrap();
    let missing: Vec<_> = TRANSITIONS
        .iter()
        .map(|t| t.edge)
        .filter(|e| !exercised.contains(e))
        .collect();
    assert!(missing.is_empty(), "edges never exercised: {missing:?}");
}
