//! Schedules step by step: every rule of the machine on a daily cadence.

use std::sync::Arc;

use chrono::TimeDelta;
use grantflow_interval::{Amount, Reading};
use grantflow_payment::schedule::{
    Cadence, OccurrenceRecord, OrderProblem, ScheduleConfig, ScheduleEdge, ScheduleEffect,
    ScheduleError, ScheduleEvent, ScheduleOrder, ScheduleState, ScheduleStateKind, SkipReason,
    StopReason, transition,
};
use grantflow_payment::{Failure, GrantEnd, LimitRefused, LimitSide};

use crate::common::order as order_event;
use crate::common::*;

fn pay_key(t: &grantflow_payment::schedule::ScheduleTransition) -> String {
    match &t.effect {
        Some(ScheduleEffect::Pay { key, .. }) => key.clone(),
        other => panic!("expected a payment, got {other:?}"),
    }
}

fn consent_key(t: &grantflow_payment::schedule::ScheduleTransition) -> String {
    match &t.effect {
        Some(ScheduleEffect::RequestConsent { key, .. }) => key.clone(),
        other => panic!("expected a grant request, got {other:?}"),
    }
}

#[test]
fn a_daily_schedule_pays_each_of_thirty_days_once_with_its_own_key() {
    let mut state = step(
        &ScheduleState::Initial,
        order(daily(Some(30)), Some("g1")),
        t0(),
    )
    .state;
    let mut keys = Vec::new();
    for day in 0..30 {
        let due = t0() + days(day);
        assert_eq!(state.next_wake_at(), Some(due));
        let t = step(&state, ScheduleEvent::Wake, due);
        assert_eq!(t.edge, ScheduleEdge::OccurrenceDue);
        let key = pay_key(&t);
        let t = step(&t.state, paid(&key), due + TimeDelta::seconds(3));
        keys.push(key);
        state = t.state;
    }
    assert_eq!(state.kind(), ScheduleStateKind::Completed);
    let expected: Vec<String> = (0..30).map(|i| format!("schedule/s1/{i}")).collect();
    assert_eq!(keys, expected);
    let progress = state.progress().unwrap();
    assert_eq!((progress.tally.paid, progress.tally.skipped), (30, 0));
    assert_eq!(progress.recent.len(), 30);
}

#[test]
fn a_wake_before_the_occurrence_is_refused_and_changes_nothing() {
    let state = step(
        &ScheduleState::Initial,
        order(daily(None), Some("g1")),
        t0() - hours(5),
    )
    .state;
    let err = transition(
        &state,
        ScheduleEvent::Wake,
        t0() - hours(1),
        &ScheduleConfig::default(),
    )
    .unwrap_err();
    assert_eq!(err, ScheduleError::NotDue { wake_at: t0() });
}

#[test]
fn after_downtime_missed_occurrences_within_the_limit_are_paid_once_and_older_ones_skipped() {
    let config = ScheduleConfig {
        max_catch_up: days(2),
        ..ScheduleConfig::default()
    };
    let s = step_with(
        &ScheduleState::Initial,
        order(daily(None), Some("g1")),
        t0(),
        &config,
    );
    let t = step_with(&s.state, ScheduleEvent::Wake, t0(), &config);
    let t = step_with(&t.state, paid(&pay_key(&t)), t0(), &config);
    // Down from day 0 until day 5, 10:00: days 1 to 3 came due more than two days before, 4 and
    // 5 did not.
    let back = t0() + days(5) + hours(1);
    let t = step_with(&t.state, ScheduleEvent::Wake, back, &config);
    assert_eq!(t.edge, ScheduleEdge::OccurrenceDue);
    assert_eq!(
        t.records,
        vec![OccurrenceRecord::Skipped {
            from: 1,
            to: 4,
            reason: SkipReason::TooLate
        }]
    );
    let mut paid_keys = vec![pay_key(&t)];
    let mut state = step_with(&t.state, paid(&paid_keys[0]), back, &config).state;
    // The schedule pays 5 right after 4, then waits for day 6.
    for _ in 0..1 {
        let t = step_with(&state, ScheduleEvent::Wake, back, &config);
        assert!(t.records.is_empty());
        paid_keys.push(pay_key(&t));
        state = step_with(&t.state, paid(paid_keys.last().unwrap()), back, &config).state;
    }
    assert_eq!(paid_keys, ["schedule/s1/4", "schedule/s1/5"]);
    assert_eq!(state.kind(), ScheduleStateKind::Waiting);
    assert_eq!(state.next_wake_at(), Some(t0() + days(6)));
    let tally = state.progress().unwrap().tally;
    assert_eq!((tally.paid, tally.skipped), (3, 3));
}

#[test]
fn a_long_downtime_skips_by_arithmetic_not_by_walking() {
    // Every minute, forever; back after ten years: one skipped record, and the current minute paid.
    let order = Arc::new(ScheduleOrder {
        cadence: Cadence::Interval {
            interval: "R/2026-12-01T09:00:00Z/PT1M".parse().unwrap(),
            reading: Reading::Iso8601,
        },
        ..(*daily(None)).clone()
    });
    let config = ScheduleConfig {
        max_catch_up: TimeDelta::zero(),
        ..ScheduleConfig::default()
    };
    let s = step_with(
        &ScheduleState::Initial,
        crate::common::order(order, Some("g1")),
        t0(),
        &config,
    );
    let back = t0() + days(3653);
    let t = step_with(&s.state, ScheduleEvent::Wake, back, &config);
    assert_eq!(t.edge, ScheduleEdge::OccurrenceDue);
    let minutes = u64::try_from(days(3653).num_minutes()).unwrap();
    assert_eq!(
        t.records,
        vec![OccurrenceRecord::Skipped {
            from: 0,
            to: minutes,
            reason: SkipReason::TooLate
        }]
    );
    assert_eq!(pay_key(&t), format!("schedule/s1/{minutes}"));
}

#[test]
fn a_crash_after_deciding_to_pay_asks_again_with_the_same_key() {
    let s = step(
        &ScheduleState::Initial,
        order(daily(None), Some("g1")),
        t0(),
    );
    let t = step(&s.state, ScheduleEvent::Wake, t0());
    let key = pay_key(&t);
    // The process dies before the payment is made; the next wake-up re-sends the same key.
    let at = t.state.next_wake_at().unwrap();
    let again = step(&t.state, ScheduleEvent::Wake, at);
    assert_eq!(again.edge, ScheduleEdge::PayAgain);
    assert_eq!(pay_key(&again), key);
    let again = step(
        &again.state,
        ScheduleEvent::Wake,
        again.state.next_wake_at().unwrap(),
    );
    assert_eq!(pay_key(&again), key);
    // Its outcome, delivered twice, counts once.
    let done = step(&again.state, paid(&key), at + hours(1));
    assert_eq!(done.state.kind(), ScheduleStateKind::Waiting);
    let err = transition(
        &done.state,
        paid(&key),
        at + hours(1),
        &ScheduleConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ScheduleError::NotNow { .. }), "{err}");
    // An outcome for another key is stale.
    let err = transition(
        &again.state,
        paid("schedule/s1/7"),
        at,
        &ScheduleConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ScheduleError::StalePayment { .. }), "{err}");
}

#[test]
fn failures_are_recorded_and_never_paid_again() {
    let s = step(
        &ScheduleState::Initial,
        order(daily(None), Some("g1")),
        t0(),
    );
    let t = step(&s.state, ScheduleEvent::Wake, t0());
    let over = Failure::LimitReached {
        refused: LimitRefused::Exceeded {
            side: LimitSide::Debit,
            asked: Amount::new(500, "USD", 2),
            left: Amount::new(100, "USD", 2),
            window: None,
            next_window_start: None,
        },
    };
    let t = step(
        &t.state,
        ScheduleEvent::PaymentFailed {
            key: pay_key(&t),
            failure: over,
        },
        t0(),
    );
    assert_eq!(t.edge, ScheduleEdge::FailedNext);
    assert!(matches!(
        t.records[..],
        [OccurrenceRecord::Failed { occurrence: 0, .. }]
    ));
    let t = step(&t.state, ScheduleEvent::Wake, t0() + days(1));
    assert_eq!(pay_key(&t), "schedule/s1/1");
    let unknown = Failure::OutcomeUnknown {
        quote_id: "https://rs.example/quotes/q".into(),
        last_error: "timeout".into(),
    };
    let t = step(
        &t.state,
        ScheduleEvent::PaymentFailed {
            key: pay_key(&t),
            failure: unknown,
        },
        t0() + days(1),
    );
    assert!(matches!(
        t.records[..],
        [OccurrenceRecord::Unknown { occurrence: 1, .. }]
    ));
    let tally = t.state.progress().unwrap().tally;
    assert_eq!((tally.failed, tally.unknown, tally.paid), (1, 1, 0));
    assert_eq!(t.state.next_wake_at(), Some(t0() + days(2)));
}

#[test]
fn a_revoked_grant_asks_for_consent_and_resumes_by_the_catch_up_rule() {
    let s = step(
        &ScheduleState::Initial,
        order(daily(None), Some("g1")),
        t0(),
    );
    let t = step(&s.state, ScheduleEvent::Wake, t0());
    let t = step(&t.state, paid(&pay_key(&t)), t0());
    let t = step(
        &t.state,
        ScheduleEvent::GrantEnded {
            end: GrantEnd::Revoked,
        },
        t0() + hours(2),
    );
    assert_eq!(t.edge, ScheduleEdge::GrantEndedWhileWaiting);
    assert_eq!(
        t.effect,
        Some(ScheduleEffect::RequestConsent {
            key: "schedule/s1/consent/1".into(),
            previous: Some("g1".into()),
            ended: Some(GrantEnd::Revoked),
        })
    );
    assert!(t.state.reason().unwrap().contains("revoked"));
    // The user takes a day and a half: day 1 is paid late (within a day), then day 2 on time.
    let at = t0() + days(1) + hours(20);
    let check = step(
        &t.state,
        ScheduleEvent::Wake,
        t.state.next_wake_at().unwrap(),
    );
    assert_eq!(consent_key(&check), "schedule/s1/consent/1");
    let t = step(
        &check.state,
        ScheduleEvent::ConsentGiven {
            key: "schedule/s1/consent/1".into(),
            grant: "g2".into(),
        },
        at,
    );
    assert_eq!(t.edge, ScheduleEdge::ConsentGiven);
    let t = step(&t.state, ScheduleEvent::Wake, at);
    assert!(
        matches!(&t.effect, Some(ScheduleEffect::Pay { grant, key, .. }) if grant == "g2" && key == "schedule/s1/1")
    );
}

#[test]
fn a_payment_refused_for_want_of_a_grant_is_paid_again_under_the_new_one_with_a_new_key() {
    let s = step(
        &ScheduleState::Initial,
        order(daily(None), Some("g1")),
        t0(),
    );
    let t = step(&s.state, ScheduleEvent::Wake, t0());
    let series_over = Failure::LimitReached {
        refused: LimitRefused::NoWindow {
            at: t0(),
            next_window_start: None,
        },
    };
    let t = step(
        &t.state,
        ScheduleEvent::PaymentFailed {
            key: pay_key(&t),
            failure: series_over,
        },
        t0(),
    );
    assert_eq!(t.edge, ScheduleEdge::FailedThenConsent);
    assert!(t.records.is_empty());
    let key = consent_key(&t);
    let t = step(
        &t.state,
        ScheduleEvent::ConsentGiven {
            key,
            grant: "g2".into(),
        },
        t0() + hours(1),
    );
    let t = step(&t.state, ScheduleEvent::Wake, t0() + hours(1));
    assert_eq!(pay_key(&t), "schedule/s1/0/2");
    // A grant that ends under a payment that may have acted: recorded unknown, never re-paid.
    let t = step(&t.state, paid("schedule/s1/0/2"), t0() + hours(1));
    let t = step(&t.state, ScheduleEvent::Wake, t0() + days(1));
    let maybe = Failure::ConsentNeeded {
        end: GrantEnd::Lost,
        maybe_paid_from: Some("https://rs.example/quotes/q".into()),
    };
    let t = step(
        &t.state,
        ScheduleEvent::PaymentFailed {
            key: pay_key(&t),
            failure: maybe,
        },
        t0() + days(1),
    );
    assert_eq!(t.edge, ScheduleEdge::FailedThenConsent);
    assert!(matches!(
        t.records[..],
        [OccurrenceRecord::Unknown { occurrence: 1, .. }]
    ));
    assert_eq!(t.state.progress().unwrap().next, 2);
    assert_eq!(consent_key(&t), "schedule/s1/consent/2");
}

#[test]
fn consent_declined_stops_and_repeated_expiry_stops_after_the_limit() {
    let t = step(&ScheduleState::Initial, order(daily(None), None), t0());
    assert_eq!(t.edge, ScheduleEdge::ScheduledNeedsConsent);
    let declined = step(
        &t.state,
        ScheduleEvent::ConsentRefused {
            key: consent_key(&t),
            end: GrantEnd::Rejected,
        },
        t0(),
    );
    assert!(
        matches!(&declined.state, ScheduleState::Stopped(s) if s.reason == StopReason::Declined)
    );
    let mut t = t;
    for n in 1..=3 {
        let key = consent_key(&t);
        assert_eq!(key, format!("schedule/s1/consent/{n}"));
        t = step(
            &t.state,
            ScheduleEvent::ConsentRefused {
                key,
                end: GrantEnd::Expired,
            },
            t0(),
        );
    }
    assert_eq!(t.edge, ScheduleEdge::ConsentNotGiven);
    assert!(t.state.kind().is_final());
}

#[test]
fn awaiting_consent_past_the_end_completes_with_the_rest_skipped() {
    let t = step(&ScheduleState::Initial, order(daily(Some(3)), None), t0());
    let at = t0() + days(5);
    let t = step(&t.state, ScheduleEvent::Wake, at);
    assert_eq!(t.edge, ScheduleEdge::ConsentOutlived);
    assert_eq!(
        t.records,
        vec![OccurrenceRecord::Skipped {
            from: 0,
            to: 3,
            reason: SkipReason::NoConsent
        }]
    );
}

#[test]
fn paused_occurrences_are_skipped_and_a_pause_during_a_payment_waits_for_it() {
    let s = step(
        &ScheduleState::Initial,
        order(daily(Some(10)), Some("g1")),
        t0(),
    );
    let t = step(&s.state, ScheduleEvent::Wake, t0());
    let key = pay_key(&t);
    let t = step(&t.state, ScheduleEvent::Pause, t0());
    assert_eq!(t.edge, ScheduleEdge::PauseAfterPayment);
    let t = step(&t.state, paid(&key), t0());
    assert_eq!(t.edge, ScheduleEdge::PaidThenPaused);
    // Day 1 comes due while paused: skipped.
    let t = step(&t.state, ScheduleEvent::Wake, t0() + days(1));
    assert_eq!(t.edge, ScheduleEdge::PausedSkip);
    assert_eq!(
        t.records,
        vec![OccurrenceRecord::Skipped {
            from: 1,
            to: 2,
            reason: SkipReason::Paused
        }]
    );
    // Resumed on day 2 at noon: day 2 came due while paused too; day 3 is paid.
    let t = step(&t.state, ScheduleEvent::Resume, t0() + days(2) + hours(3));
    assert_eq!(t.edge, ScheduleEdge::Resumed);
    assert_eq!(t.state.next_wake_at(), Some(t0() + days(3)));
    assert_eq!(t.state.progress().unwrap().tally.skipped, 2);
    // Cancel while waiting; a resume now is refused.
    let t = step(&t.state, ScheduleEvent::Cancel, t0() + days(2) + hours(4));
    let err = transition(
        &t.state,
        ScheduleEvent::Resume,
        t0() + days(3),
        &ScheduleConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ScheduleError::Final { .. }), "{err}");
}

#[test]
fn cancel_while_awaiting_consent_cancels_the_grant_request() {
    let t = step(&ScheduleState::Initial, order(daily(None), None), t0());
    let key = consent_key(&t);
    let t = step(&t.state, ScheduleEvent::Cancel, t0());
    assert_eq!(t.effect, Some(ScheduleEffect::CancelConsent { key }));
    assert_eq!(t.state.kind(), ScheduleStateKind::Canceled);
}

#[test]
fn grant_windows_continue_past_the_grant_series_and_the_new_grant_is_anchored_on_the_current_window()
 {
    let cadence = Cadence::GrantWindows {
        interval: "R3/2026-12-01T09:00:00Z/P1D".parse().unwrap(),
        reading: Reading::RafikiCompatible,
    };
    let series = cadence.series().unwrap();
    assert_eq!(series.to_string(), "R/2026-12-01T09:00:00Z/P1D");
    let renewed = cadence
        .renewed_grant_interval(t0() + days(4) + hours(2))
        .unwrap();
    assert_eq!(renewed.to_string(), "R3/2026-12-05T09:00:00Z/P1D");
    // A schedule started mid-window pays for that window at once.
    let order = Arc::new(ScheduleOrder {
        cadence,
        start: t0() + hours(5),
        end: Some(t0() + days(6)),
        ..(*daily(None)).clone()
    });
    let t = step(
        &ScheduleState::Initial,
        crate::common::order(order, Some("g1")),
        t0() + hours(5),
    );
    assert_eq!(t.state.next_wake_at(), Some(t0() + hours(5)));
    assert_eq!(t.state.progress().unwrap().plan.end_index(), Some(6));
}

/// The problem the machine finds with an order.
fn problem(event: ScheduleEvent) -> OrderProblem {
    match transition(
        &ScheduleState::Initial,
        event,
        t0(),
        &ScheduleConfig::default(),
    ) {
        Err(ScheduleError::InvalidOrder(problem)) => problem,
        other => panic!("expected an invalid order, got {other:?}"),
    }
}

#[test]
fn orders_that_cannot_be_followed_are_refused() {
    let with = |cadence: &str, end| {
        let order = Arc::new(ScheduleOrder {
            cadence: Cadence::Interval {
                interval: cadence.parse().unwrap(),
                reading: Reading::Iso8601,
            },
            end,
            ..(*daily(None)).clone()
        });
        order_event(order, Some("g"))
    };
    let backward = problem(with("R/P1D/2026-12-01T09:00:00Z", None));
    assert!(
        matches!(backward, OrderProblem::BackwardCadence { .. }),
        "{backward}"
    );
    let reversed = problem(with("R/2026-12-01T09:00:00Z/P1D", Some(t0())));
    assert!(
        matches!(reversed, OrderProblem::EndBeforeStart { .. }),
        "{reversed}"
    );
    let slash = problem(ScheduleEvent::Order {
        schedule: "a/b".into(),
        order: daily(None),
        grant: None,
    });
    assert!(matches!(slash, OrderProblem::ScheduleId { .. }), "{slash}");
    // A bounded cadence that ended before the start has no occurrence.
    let t = step(
        &ScheduleState::Initial,
        with("R2/2026-01-01T00:00:00Z/P1D", None),
        t0(),
    );
    assert_eq!(t.edge, ScheduleEdge::NoOccurrence);
}

#[test]
fn states_and_events_round_trip_as_json() {
    let s = step(
        &ScheduleState::Initial,
        order(daily(Some(5)), Some("g1")),
        t0(),
    );
    let t = step(&s.state, ScheduleEvent::Wake, t0());
    let event = order(daily(Some(5)), Some("g1"));
    for state in [&s.state, &t.state] {
        let json = serde_json::to_string(state).unwrap();
        let back: ScheduleState = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, state);
    }
    let json = serde_json::to_string(&event).unwrap();
    assert!(json.contains("\"reading\":\"iso\""), "{json}");
    let back: ScheduleEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(back, event);
}
