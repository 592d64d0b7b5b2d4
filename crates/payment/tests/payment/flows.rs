//! The payment's paths one step at a time: the happy path, every way to doubt a create and how
//! the doubt is resolved, the token refresh, the limits, a grant that ended.

use grantflow_payment::{
    CallKind, Edge, Failure, GrantEnd, Headroom, LimitRefused, PaymentCall, PaymentChange,
    PaymentConfig, PaymentError, PaymentEvent, PaymentState, transition,
};

use crate::common::*;

fn ordered(value: u64) -> PaymentState {
    let t = step(
        &PaymentState::Initial,
        PaymentEvent::Order {
            order: order(value),
            headroom: Headroom::unlimited(),
        },
        t0(),
    );
    assert_eq!(t.edge, Edge::Ordered);
    t.state
}

/// Ordered and quoted: a create from `q-1` (expiring in 60 s) is in flight.
fn sending() -> PaymentState {
    let q = quote(1, 500, Some(t0() + secs(60)));
    let t = step(
        &ordered(500),
        PaymentEvent::Quoted {
            quote: q.clone(),
            headroom: Headroom::unlimited(),
        },
        t0(),
    );
    assert_eq!(t.edge, Edge::QuoteAccepted);
    assert_eq!(t.change, Some(PaymentChange::Quoted));
    let Some(PaymentCall::CreateOutgoingPayment { quote_id, .. }) = t.effect.map(|e| e.call) else {
        panic!("no create")
    };
    assert_eq!(quote_id, q.id);
    t.state
}

#[test]
fn the_happy_path_quotes_then_creates_from_the_quote() {
    let q = quote(1, 500, Some(t0() + secs(60)));
    let t = step(
        &sending(),
        PaymentEvent::PaymentFound {
            payment: payment_of(&q, t0(), false),
        },
        t0() + secs(1),
    );
    assert_eq!(
        (t.edge, t.change),
        (Edge::Created, Some(PaymentChange::Sent))
    );
    assert_eq!(t.state.next_wake_at(), None);
    let PaymentState::Sent(sent) = &t.state else {
        panic!()
    };
    assert_eq!(sent.payment.id, format!("{RS}/outgoing-payments/q-1"));
}

#[test]
fn a_lost_create_answer_is_resolved_by_get_before_any_resend() {
    let q = quote(1, 500, Some(t0() + secs(60)));
    let t = step(
        &sending(),
        PaymentEvent::Ambiguous {
            error: "timeout".into(),
        },
        t0() + secs(30),
    );
    assert_eq!(t.edge, Edge::CreateAmbiguous);
    assert_eq!(
        t.effect.map(|e| e.call),
        Some(PaymentCall::GetOutgoingPayment {
            url: format!("{RS}/outgoing-payments/q-1")
        })
    );
    // Found: the first create acted.
    let found = step(
        &t.state,
        PaymentEvent::PaymentFound {
            payment: payment_of(&q, t0(), false),
        },
        t0() + secs(31),
    );
    assert_eq!(found.edge, Edge::Confirmed);
    // Absent while the quote is still usable: the same quote again, never a new one.
    let absent = step(
        &t.state,
        refused(404, "outgoing payment not found"),
        t0() + secs(31),
    );
    assert_eq!(absent.edge, Edge::AbsentResend);
    assert!(matches!(
        absent.effect.map(|e| e.call),
        Some(PaymentCall::CreateOutgoingPayment { quote_id, .. }) if quote_id == q.id
    ));
    let PaymentState::Sending(s) = &absent.state else {
        panic!()
    };
    assert!(s.maybe_created);
}

#[test]
fn a_crash_while_creating_is_resolved_by_get() {
    // The worker died with the create in flight; the next one wakes the payment.
    let t = step(&sending(), PaymentEvent::Wake, t0() + secs(61));
    assert_eq!(t.edge, Edge::CreateResumed);
    assert!(matches!(
        t.effect.map(|e| e.call),
        Some(PaymentCall::GetOutgoingPayment { .. })
    ));
}

#[test]
fn invalid_quote_is_resolved_the_same_way_and_an_absent_payment_gets_a_new_quote() {
    let t = step(&sending(), refused(400, "invalid quote"), t0() + secs(1));
    assert_eq!(t.edge, Edge::CreateInvalidQuote);
    let t = step(
        &t.state,
        refused(404, "outgoing payment not found"),
        t0() + secs(2),
    );
    assert_eq!(t.edge, Edge::AbsentRequote);
    assert!(matches!(
        t.effect.map(|e| e.call),
        Some(PaymentCall::CreateQuote { .. })
    ));
}

#[test]
fn an_expired_quote_is_replaced_only_when_no_create_may_have_acted() {
    // 429: not acted; by the time it is due again the quote is about to expire.
    let t = step(&sending(), refused(429, "slow down"), t0() + secs(1));
    assert_eq!(t.edge, Edge::CreateTooMany);
    let t = step(&t.state, PaymentEvent::Wake, t0() + secs(58));
    assert_eq!(t.edge, Edge::CreateRequote);
    // After a doubt, the same situation re-sends the old quote (the RS refuses it if expired).
    let doubt = step(
        &sending(),
        PaymentEvent::Ambiguous {
            error: "reset".into(),
        },
        t0() + secs(1),
    );
    let absent = step(&doubt.state, refused(404, "not found"), t0() + secs(2));
    let t = step(&absent.state, refused(429, "slow down"), t0() + secs(3));
    let t = step(&t.state, PaymentEvent::Wake, t0() + secs(58));
    assert_eq!(t.edge, Edge::CreateDue);
}

#[test]
fn an_inactive_token_is_rotated_once() {
    let t = step(&sending(), refused(403, "Inactive Token"), t0() + secs(1));
    assert_eq!(t.edge, Edge::CreateTokenInactive);
    let t = step(&t.state, PaymentEvent::Wake, t0() + secs(1));
    assert!(t.effect.as_ref().is_some_and(|e| e.refresh_token));
    let t = step(&t.state, refused(403, "Inactive Token"), t0() + secs(2));
    assert_eq!(t.edge, Edge::CreateRefused);
    let PaymentState::Failed(f) = &t.state else {
        panic!()
    };
    assert_eq!(
        f.failure,
        Failure::TokenRefused {
            call: CallKind::CreatePayment
        }
    );
}

#[test]
fn a_grant_that_ended_asks_for_consent_again() {
    let t = step(
        &ordered(500),
        PaymentEvent::GrantEnded {
            end: GrantEnd::Revoked,
        },
        t0(),
    );
    assert_eq!(t.edge, Edge::QuotingGrantEnded);
    let reason = t.state.reason().unwrap();
    assert!(
        reason.contains("revoked") && reason.contains("consent again"),
        "{reason}"
    );
    // With a create of unknown outcome, the reason names the quote to check.
    let t = step(
        &sending(),
        PaymentEvent::GrantEnded {
            end: GrantEnd::Lost,
        },
        t0() + secs(1),
    );
    let reason = t.state.reason().unwrap();
    assert!(reason.contains("/quotes/q-1"), "{reason}");
}

#[test]
fn the_limits_refuse_before_any_call() {
    let t = step(
        &PaymentState::Initial,
        PaymentEvent::Order {
            order: order(500),
            headroom: debit_left(100),
        },
        t0(),
    );
    assert_eq!((t.edge, t.effect), (Edge::OrderOverLimit, None));
    let PaymentState::Failed(f) = &t.state else {
        panic!()
    };
    assert!(
        matches!(&f.failure, Failure::LimitReached { refused: LimitRefused::Exceeded { left, .. } } if left.value == 100)
    );
    // A quote larger than what is left (fees on a fixed receive) is not paid.
    let t = step(
        &ordered(500),
        PaymentEvent::Quoted {
            quote: quote(1, 520, None),
            headroom: debit_left(510),
        },
        t0(),
    );
    assert_eq!((t.edge, t.effect), (Edge::QuoteOverLimit, None));
}

#[test]
fn refused_events_change_nothing() {
    let cfg = PaymentConfig::default();
    let s = sending();
    assert!(matches!(
        transition(
            &s,
            PaymentEvent::Order {
                order: order(1),
                headroom: Headroom::unlimited()
            },
            t0(),
            &cfg
        ),
        Err(PaymentError::AlreadyOrdered { .. })
    ));
    assert!(matches!(
        transition(
            &s,
            PaymentEvent::Quoted {
                quote: quote(2, 1, None),
                headroom: Headroom::unlimited()
            },
            t0(),
            &cfg
        ),
        Err(PaymentError::OutcomeDoesNotMatchCall {
            call: CallKind::CreatePayment,
            ..
        })
    ));
    let retry = step(
        &s,
        PaymentEvent::NotSent {
            error: "refused".into(),
        },
        t0(),
    );
    assert!(matches!(
        transition(&retry.state, PaymentEvent::Wake, t0(), &cfg),
        Err(PaymentError::NotDue { .. })
    ));
    assert!(matches!(
        transition(&PaymentState::Initial, PaymentEvent::Wake, t0(), &cfg),
        Err(PaymentError::NotOrdered { .. })
    ));
}

#[test]
fn states_and_events_round_trip_as_json() {
    let s = sending();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<PaymentState>(&json).unwrap(), s);
    let e = refused(400, "invalid quote");
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(serde_json::from_str::<PaymentEvent>(&json).unwrap(), e);
}
