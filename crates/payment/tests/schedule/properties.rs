//! Property tests: random schedules against a model of the engine (payments idempotent on their
//! key, each meeting a random fate; grant requests that are issued, expire or are declined),
//! through crashes (an effect never carried out), long downtimes, pauses, cancels, grants that
//! end, and stale or duplicated outcomes, holding the machine to its invariants:
//!
//! - at most one payment that may have paid per occurrence (sent, or of unknown outcome);
//! - never a payment for a skipped occurrence, and an occurrence skipped as too late really came
//!   due more than `max_catch_up` before;
//! - every non-final state has a wake-up;
//! - replaying the accepted events from `Initial` reproduces the state;
//! - the counts agree with the records;
//! - every transition follows a listed edge, and the runs exercise every edge of the table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_interval::{Amount, Reading};
use grantflow_payment::schedule::{
    Cadence, OccurrenceRecord, ScheduleConfig, ScheduleEdge, ScheduleEffect, ScheduleEvent,
    ScheduleOrder, ScheduleState, SkipReason, TRANSITIONS, transition,
};
use grantflow_payment::{Failure, GrantEnd, LimitRefused, LimitSide};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

use crate::common::*;

#[derive(Debug, Clone)]
enum Step {
    /// Jump to the schedule's `next_wake_at` plus `extra` minutes and wake it.
    WakeDue { extra: u16 },
    /// Time passes with nothing running (downtime): `hours`.
    Down { hours: u16 },
    /// The engine reports the end of the payment being made, if it made it (`r` picks a stale or
    /// duplicated report instead).
    PaymentEnds { r: u8 },
    /// The application pauses, resumes or cancels.
    Command(u8),
    /// The grant ends.
    GrantEnds(u8),
    /// The grant request being awaited is issued or ends (`r`).
    ConsentEnds { r: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop_oneof![0u16..3, 0u16..600].prop_map(|extra| Step::WakeDue { extra }),
        1 => prop_oneof![0u16..30, 0u16..200].prop_map(|hours| Step::Down { hours }),
        6 => any::<u8>().prop_map(|r| Step::PaymentEnds { r }),
        1 => (0u8..40).prop_map(Step::Command),
        1 => (0u8..20).prop_map(Step::GrantEnds),
        3 => any::<u8>().prop_map(|r| Step::ConsentEnds { r }),
    ]
}

fn config() -> impl Strategy<Value = ScheduleConfig> {
    (0i64..4, 1usize..6, 1u32..4).prop_map(|(catch_up, history, requests)| ScheduleConfig {
        max_catch_up: TimeDelta::hours(catch_up * 18),
        payment_check: TimeDelta::seconds(30),
        consent_check: TimeDelta::minutes(5),
        max_consent_requests: requests,
        history,
    })
}

fn schedule_order() -> impl Strategy<Value = Arc<ScheduleOrder>> {
    (
        0u8..5,
        prop_oneof![Just(None), (1i64..12).prop_map(Some)],
        0i64..30,
    )
        .prop_map(|(cadence, end_days, start_hours)| {
            let (interval, reading) = match cadence {
                0 | 1 => ("R/2026-12-01T09:00:00Z/P1D", Reading::Iso8601),
                2 => ("R/2026-12-01T09:00:00Z/PT6H", Reading::Iso8601),
                3 => ("R2/2026-12-01T09:00:00Z/P1D", Reading::Iso8601),
                _ => ("R2/2026-11-01T00:00:00Z/P1D", Reading::Iso8601),
            };
            let interval = interval.parse().unwrap();
            let cadence = if cadence == 1 {
                Cadence::GrantWindows {
                    interval: "R2/2026-12-01T09:00:00Z/P1D".parse().unwrap(),
                    reading: Reading::RafikiCompatible,
                }
            } else {
                Cadence::Interval { interval, reading }
            };
            let start = t0() + hours(start_hours);
            Arc::new(ScheduleOrder {
                payment: payment(),
                cadence,
                start,
                end: end_days.map(|d| start + days(d)),
            })
        })
}

/// How the engine's payment with a key ends (decided when the key is first seen).
#[derive(Debug, Clone)]
enum Fate {
    Sent,
    Failed(Failure),
}

fn fate(r: u8) -> Fate {
    match r % 8 {
        0..=3 => Fate::Sent,
        4 => Fate::Failed(Failure::LimitReached {
            refused: LimitRefused::Exceeded {
                side: LimitSide::Debit,
                asked: Amount::new(500, "USD", 2),
                left: Amount::new(0, "USD", 2),
                window: None,
                next_window_start: None,
            },
        }),
        5 => Fate::Failed(Failure::OutcomeUnknown {
            quote_id: "https://rs.example/quotes/q".into(),
            last_error: "timeout".into(),
        }),
        6 => Fate::Failed(Failure::ConsentNeeded {
            end: GrantEnd::Revoked,
            maybe_paid_from: (r % 16 == 14).then(|| "https://rs.example/quotes/q".into()),
        }),
        _ => Fate::Failed(Failure::LimitReached {
            refused: LimitRefused::NoWindow {
                at: t0(),
                next_window_start: None,
            },
        }),
    }
}

fn may_have_paid(f: &Fate) -> bool {
    match f {
        Fate::Sent => true,
        Fate::Failed(failure) => matches!(
            failure,
            Failure::OutcomeUnknown { .. }
                | Failure::ConsentNeeded {
                    maybe_paid_from: Some(_),
                    ..
                }
        ),
    }
}

static EXERCISED: Mutex<BTreeSet<ScheduleEdge>> = Mutex::new(BTreeSet::new());

/// One run: the schedule, the engine, the clock and what the checks need.
struct Run<'a> {
    cfg: &'a ScheduleConfig,
    state: ScheduleState,
    now: DateTime<Utc>,
    log: Vec<(ScheduleEvent, DateTime<Utc>)>,
    /// Payments the engine made, by key, with the occurrence and fate.
    payments: BTreeMap<String, (u64, Fate)>,
    /// Occurrences some `Pay` effect named.
    pay_asked: BTreeSet<u64>,
    /// Occurrences recorded skipped.
    skipped: BTreeSet<u64>,
    /// Every record, in order.
    records: Vec<OccurrenceRecord>,
    /// Reports already delivered, to deliver again.
    delivered: Vec<ScheduleEvent>,
    /// Grant requests the engine made (keys).
    consents: BTreeSet<String>,
    r: u8,
}

impl Run<'_> {
    fn apply(&mut self, event: ScheduleEvent) -> Result<(), TestCaseError> {
        let before = self.state.kind();
        let kind = event.kind();
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
        for rec in &t.records {
            if let OccurrenceRecord::Skipped { from, to, reason } = rec {
                prop_assert!(from < to);
                let last = t.state.progress().unwrap().plan.occurrence(to - 1).unwrap();
                match reason {
                    SkipReason::TooLate | SkipReason::NoConsent => prop_assert!(
                        last.due_at < self.now - self.cfg.max_catch_up,
                        "{rec:?} skipped at {} but {} is within reach",
                        self.now,
                        last.due_at
                    ),
                    SkipReason::Paused => prop_assert!(last.due_at <= self.now),
                }
                // A run of skipped occurrences can be long: check a bounded sample of it.
                for i in (*from..*to).take(64).chain((*from..*to).rev().take(64)) {
                    // Asked before is fine only if that payment proved nothing was paid.
                    prop_assert!(
                        !self
                            .payments
                            .values()
                            .any(|(o, f)| *o == i && may_have_paid(f)),
                        "{i} paid and then skipped"
                    );
                    self.skipped.insert(i);
                }
            }
            self.records.push(rec.clone());
        }
        match &t.effect {
            Some(ScheduleEffect::Pay {
                key, occurrence, ..
            }) => {
                prop_assert!(
                    !self.skipped.contains(&occurrence.index),
                    "a payment for skipped occurrence {}",
                    occurrence.index
                );
                prop_assert!(occurrence.due_at <= self.now);
                self.pay_asked.insert(occurrence.index);
                // The driver may crash before making the payment (r picks): the key comes again.
                self.r = self.r.wrapping_mul(31).wrapping_add(7);
                if self.r % 5 != 0 || self.payments.contains_key(key) {
                    let f = fate(self.r / 5);
                    self.payments
                        .entry(key.clone())
                        .or_insert((occurrence.index, f));
                }
            }
            Some(ScheduleEffect::RequestConsent { key, .. }) => {
                self.consents.insert(key.clone());
            }
            Some(ScheduleEffect::CancelConsent { .. }) | None => {}
        }
        if !t.state.kind().is_final() {
            prop_assert!(
                t.next_wake_at().is_some(),
                "{} has no wake-up",
                t.state.kind()
            );
        }
        // At most one payment that may have paid per occurrence.
        let mut per_occurrence: BTreeMap<u64, usize> = BTreeMap::new();
        for (i, f) in self.payments.values() {
            if may_have_paid(f) {
                *per_occurrence.entry(*i).or_default() += 1;
            }
        }
        prop_assert!(
            per_occurrence.values().all(|n| *n <= 1),
            "two payments for one occurrence: {:?}",
            self.payments.keys()
        );
        self.state = t.state;
        self.log.push((event, self.now));
        Ok(())
    }

    fn report(&mut self, r: u8) -> Result<(), TestCaseError> {
        if r % 7 == 0 && !self.delivered.is_empty() {
            let again = self.delivered[usize::from(r) % self.delivered.len()].clone();
            return self.apply(again);
        }
        let ScheduleState::Paying(p) = &self.state else {
            return Ok(());
        };
        let Some((_, f)) = self.payments.get(&p.key).cloned() else {
            return Ok(()); // never made (crash): only a wake-up re-sends it
        };
        let event = match f {
            Fate::Sent => paid(&p.key),
            Fate::Failed(failure) => ScheduleEvent::PaymentFailed {
                key: p.key.clone(),
                failure,
            },
        };
        self.delivered.push(event.clone());
        self.apply(event)
    }
}

fn run(
    cfg: &ScheduleConfig,
    order: Arc<ScheduleOrder>,
    grant: bool,
    steps: &[Step],
) -> Result<(), TestCaseError> {
    let mut run = Run {
        cfg,
        state: ScheduleState::Initial,
        now: t0(),
        log: Vec::new(),
        payments: BTreeMap::new(),
        pay_asked: BTreeSet::new(),
        skipped: BTreeSet::new(),
        records: Vec::new(),
        delivered: Vec::new(),
        consents: BTreeSet::new(),
        r: 1,
    };
    run.apply(crate::common::order(order, grant.then_some("g0")))?;
    let mut grants = 0u32;
    for s in steps {
        if run.state.kind().is_final() {
            break;
        }
        match s {
            Step::WakeDue { extra } => {
                if let Some(at) = run.state.next_wake_at() {
                    run.now = run.now.max(at) + TimeDelta::minutes(i64::from(*extra));
                }
                run.apply(ScheduleEvent::Wake)?;
            }
            Step::Down { hours } => run.now += TimeDelta::hours(i64::from(*hours)),
            Step::PaymentEnds { r } => run.report(*r)?,
            Step::Command(c) => {
                let event = match c % 8 {
                    0..=3 => ScheduleEvent::Pause,
                    4..=6 => ScheduleEvent::Resume,
                    _ if *c < 24 => ScheduleEvent::Resume,
                    _ => ScheduleEvent::Cancel,
                };
                run.apply(event)?;
            }
            Step::GrantEnds(r) => {
                if *r < 4 {
                    let end = [
                        GrantEnd::Revoked,
                        GrantEnd::Lost,
                        GrantEnd::Expired,
                        GrantEnd::Revoked,
                    ][usize::from(*r)];
                    run.apply(ScheduleEvent::GrantEnded { end })?;
                }
            }
            Step::ConsentEnds { r } => {
                let ScheduleState::AwaitingConsent(a) = &run.state else {
                    continue;
                };
                if !run.consents.contains(&a.key) {
                    continue;
                }
                let key = if r % 11 == 0 {
                    "schedule/s1/consent/99".to_owned()
                } else {
                    a.key.clone()
                };
                let event = match r % 6 {
                    0..=2 => {
                        grants += 1;
                        ScheduleEvent::ConsentGiven {
                            key,
                            grant: format!("g{grants}"),
                        }
                    }
                    3 => ScheduleEvent::ConsentRefused {
                        key,
                        end: GrantEnd::Rejected,
                    },
                    _ => ScheduleEvent::ConsentRefused {
                        key,
                        end: GrantEnd::Expired,
                    },
                };
                run.apply(event)?;
            }
        }
    }
    // The counts agree with the records (the state keeps the newest of them).
    if let Some(p) = run.state.progress() {
        let paid = run
            .records
            .iter()
            .filter(|r| matches!(r, OccurrenceRecord::Paid { .. }))
            .count();
        prop_assert_eq!(p.tally.paid, paid as u64);
        prop_assert!(p.recent.len() <= cfg.history);
        let tail: Vec<_> = run
            .records
            .iter()
            .rev()
            .take(p.recent.len())
            .rev()
            .cloned()
            .collect();
        prop_assert_eq!(p.recent.iter().cloned().collect::<Vec<_>>(), tail);
        // Every paid record names a payment the engine sent.
        for r in &run.records {
            if let OccurrenceRecord::Paid { key, .. } = r {
                prop_assert!(matches!(run.payments.get(key), Some((_, Fate::Sent))));
            }
        }
    }
    // Replay reproduces the state.
    let mut replayed = ScheduleState::Initial;
    for (event, at) in &run.log {
        replayed = transition(&replayed, event.clone(), *at, cfg)
            .map_err(|e| TestCaseError::fail(format!("replay: {e}")))?
            .state;
    }
    prop_assert_eq!(replayed, run.state);
    Ok(())
}

#[test]
fn random_schedules_against_a_model_of_the_engine_hold_every_invariant() {
    let mut runner = TestRunner::new_with_rng(
        RunnerConfig {
            cases: 1500,
            failure_persistence: None,
            ..RunnerConfig::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[16; 32]),
    );
    let strategy = (
        config(),
        schedule_order(),
        any::<u8>().prop_map(|g| g % 5 != 0),
        proptest::collection::vec(step(), 1..120),
    );
    runner
        .run(&strategy, |(cfg, order, grant, steps)| {
            run(&cfg, order, grant, &steps)
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
