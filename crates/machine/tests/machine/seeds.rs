//! The seed flows and the reference server's behaviour, step by step.

use chrono::TimeDelta;
use grantflow_machine::Edge;
use grantflow_machine::{
    CallKind, CallStatus, CancelGoal, Change, Config, ContinueMode, Effect, Event, Failure,
    GrantState, LostReason, MachineError, Outcome, Rotation, StateKind,
};
use grantflow_protocol::GnapErrorCode;
use grantflow_protocol::finish_hash::FinishHashEncoding::{PaddedBase64, Rfc9635};

use crate::common::*;

fn call_effect(run: &Run) -> Option<CallKind> {
    run.last
        .as_ref()
        .and_then(|t| t.effects.call_effect())
        .and_then(Effect::call_kind)
}

fn change(run: &Run) -> Option<Change> {
    run.last.as_ref().and_then(|t| t.effects.change())
}

/// Request + pending answer of the interactive seed flow; returns the run in AwaitingInteraction.
fn awaiting() -> Run {
    let mut run = Run::new();
    let t = run.ok(0, request(Flow::Interactive));
    assert_eq!(run.state.kind(), StateKind::Requested);
    match t.effects.call_effect() {
        Some(Effect::SendGrantRequest { intent }) => assert_eq!(intent.grant_endpoint, ENDPOINT),
        other => panic!("expected SendGrantRequest, got {other:?}"),
    }
    assert_eq!(t.next_wake_at(), Some(t0() + TimeDelta::seconds(60)));
    run.ok(0, pending(Some(5)));
    assert_eq!(run.state.kind(), StateKind::AwaitingInteraction);
    assert_eq!(change(&run), Some(Change::InteractionRequired));
    assert!(run.state.redirect().unwrap().contains("/interact/"));
    assert_eq!(
        run.state.next_wake_at(),
        Some(t0() + TimeDelta::seconds(660)),
        "the client-side interaction deadline (600 s + margin)"
    );
    run
}

/// Awaiting → callback (reference encoding) → continue → issued.
fn issued_run(expires_in: Option<u64>) -> Run {
    let mut run = awaiting();
    run.ok(30, callback(&interact_ref(1), PaddedBase64));
    assert_eq!(call_effect(&run), Some(CallKind::Continue));
    run.ok(0, issued(1, expires_in));
    assert_eq!(run.state.kind(), StateKind::Issued);
    run
}

#[test]
fn seed_outgoing_payment_grant_interactive_then_continue_then_rotate() {
    let mut run = awaiting();

    // The user approves within the AS's `wait`: the callback verifies (the reference server's
    // padded standard base64), but the continue must wait 5 s after the pending answer.
    let t = run.ok(2, callback(&interact_ref(1), PaddedBase64));
    assert_eq!(run.state.kind(), StateKind::Continuing);
    assert!(t.effects.call_effect().is_none(), "not before wait");
    assert_eq!(t.effects.change(), Some(Change::InteractionFinished));
    assert_eq!(t.next_wake_at(), Some(t0() + TimeDelta::seconds(5)));
    assert!(matches!(
        run.at(1, Event::Wake),
        Err(MachineError::NotDue { at }) if at == t0() + TimeDelta::seconds(5)
    ));

    let t = run.wake();
    assert_eq!(run.now, t0() + TimeDelta::seconds(5));
    match t.effects.call_effect() {
        Some(Effect::Continue {
            continuation,
            interact_ref: r,
        }) => {
            assert_eq!(continuation.uri, CONTINUE_URI);
            assert_eq!(continuation.access_token.value.expose(), CONTINUE_TOKEN);
            assert_eq!(r.expose(), interact_ref(1));
        }
        other => panic!("expected Continue, got {other:?}"),
    }

    // The continue answer: access token with expires_in 600 (the reference default).
    let t = run.ok(0, issued(1, Some(600)));
    assert_eq!(t.effects.change(), Some(Change::Issued));
    let token = run.state.access_token().unwrap();
    assert_eq!(token.value.expose(), token_value(1));
    assert_eq!(token.manage, manage_url(1));
    assert_eq!(
        t.next_wake_at(),
        Some(run.now + TimeDelta::seconds(600) + TimeDelta::days(7)),
        "on demand: only a keep-alive rotation, a week after expiry"
    );
    assert!(run.state.usable_token(run.now, &run.config).is_some());
    assert!(
        run.state
            .usable_token(run.now + TimeDelta::seconds(570), &run.config)
            .is_none()
    );

    // Rotation (the keep-alive): new value and new manage URL.
    let t = run.wake();
    assert_eq!(run.state.kind(), StateKind::Rotating);
    match t.effects.call_effect() {
        Some(Effect::Rotate { token }) => assert_eq!(token.manage, manage_url(1)),
        other => panic!("expected Rotate, got {other:?}"),
    }
    let t = run.ok(0, rotated(2, Some(600)));
    assert_eq!(t.effects.change(), Some(Change::TokenRotated));
    let token = run.state.access_token().unwrap();
    assert_eq!(token.value.expose(), token_value(2));
    assert_eq!(token.manage, manage_url(2));
    assert_eq!(run.state.kind(), StateKind::Issued);

    assert_eq!(run.replay(), run.state);
}

#[test]
fn rfc_9635_encoding_after_the_wait_continues_at_once() {
    let mut run = awaiting();
    let t = run.ok(40, callback(&interact_ref(1), Rfc9635));
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Continue { .. })
    ));
    assert_eq!(run.state.call_in_flight(), Some(CallKind::Continue));
}

#[test]
fn a_forged_callback_changes_nothing_and_the_real_one_still_works() {
    let mut run = awaiting();
    let before = run.state.clone();
    let err = run.at(10, forged_callback(&interact_ref(1))).unwrap_err();
    assert!(matches!(err, MachineError::FinishHashRejected(_)), "{err}");
    assert_eq!(run.state, before);
    let mut garbage = forged_callback(&interact_ref(1));
    if let Event::FinishCallback {
        callback: grantflow_machine::FinishCallback::Approved { hash, .. },
    } = &mut garbage
    {
        *hash = "not base64 at all!".into();
    }
    assert!(matches!(
        run.at(0, garbage),
        Err(MachineError::FinishHashRejected(_))
    ));
    run.ok(0, callback(&interact_ref(1), Rfc9635));
    assert_eq!(run.state.kind(), StateKind::Continuing);
}

#[test]
fn too_fast_on_the_first_continue_backs_off() {
    // Reference: a continue 0.1 s after the grant was created answers 400 too_fast.
    let mut run = awaiting();
    run.ok(6, callback(&interact_ref(1), PaddedBase64));
    assert_eq!(call_effect(&run), Some(CallKind::Continue));
    let t = run.ok(
        0,
        refused(
            400,
            Some("too_fast"),
            "continued grant faster than \"wait\" period",
        ),
    );
    assert!(t.effects.is_empty());
    assert_eq!(run.state.kind(), StateKind::Continuing);
    let first = t.next_wake_at().unwrap();
    assert_eq!(first, run.now + TimeDelta::seconds(5));
    // The next attempt is `wait` after the previous one, not a blind doubling.
    run.wake();
    let t = run.ok(2, refused(400, Some("too_fast"), "again"));
    assert_eq!(t.next_wake_at(), Some(run.now + TimeDelta::seconds(3)));
    run.wake();
    assert_eq!(call_effect(&run), Some(CallKind::Continue));
    run.ok(0, issued(1, Some(600)));
    assert_eq!(run.state.kind(), StateKind::Issued);
    assert_eq!(run.replay(), run.state);
}

#[test]
fn ambiguous_continue_is_resent_once_and_a_request_denied_then_means_lost() {
    let mut run = awaiting();
    run.ok(10, callback(&interact_ref(1), PaddedBase64));
    // Timeout after sending: re-sent after the back-off.
    let t = run.ok(30, ambiguous());
    assert!(t.effects.call_effect().is_none());
    assert_eq!(t.edge, Edge::ContinueAmbiguous);
    assert!(run.state.call().unwrap().resent_after_ambiguity);
    let t = run.wake();
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Continue { .. })
    ));
    assert_eq!(run.state.call().unwrap().attempts, 2);
    // The first attempt had gone through: the reference answers request_denied.
    let t = run.ok(
        0,
        refused(
            401,
            Some("request_denied"),
            "grant interaction not approved",
        ),
    );
    assert_eq!(run.state.kind(), StateKind::Canceling);
    assert_eq!(t.edge, Edge::ContinueConsumed);
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Cancel { .. })
    ));
    let t = run.ok(0, no_content());
    assert_eq!(t.effects.change(), Some(Change::Lost));
    match &run.state {
        GrantState::Finalized(Outcome::Lost(lost)) => {
            assert_eq!(lost.call, CallKind::Continue);
            assert!(matches!(
                &lost.reason,
                LostReason::RefusedAfterResend { status: 401, error }
                    if error.code == Some(GnapErrorCode::RequestDenied)
            ));
            assert!(lost.to_string().contains("request a new grant"));
        }
        other => panic!("expected Lost, got {other:?}"),
    }
    assert_eq!(run.replay(), run.state);
}

#[test]
fn unknown_outcomes_are_retried_for_the_budget_then_lost_with_that_reason() {
    let mut run = awaiting();
    run.ok(10, callback(&interact_ref(1), PaddedBase64));
    let started = run.now;
    run.ok(30, ambiguous());
    // A crash mid-call, drops and 5xx: all retried with back-off, never a tight loop.
    let mut attempts = 1;
    loop {
        let t = run.wake();
        if run.state.kind() == StateKind::Canceling {
            assert_eq!(t.edge, Edge::ContinueGaveUp);
            break;
        }
        attempts += 1;
        assert_eq!(call_effect(&run), Some(CallKind::Continue));
        match attempts % 3 {
            0 => run.ok(1, refused(503, None, "unavailable")),
            1 => run.ok(1, ambiguous()),
            _ => run.ok(0, Event::Wake), // the call was lost with the worker: resumed
        };
        assert!(attempts < 100, "a loop");
    }
    assert!(run.now >= started + run.config.recovery_budget);
    match &run.state {
        GrantState::Canceling(c) => assert!(matches!(
            &c.then,
            CancelGoal::Lost(l) if matches!(l.reason, LostReason::BudgetExhausted { .. })
        )),
        other => panic!("{other:?}"),
    }
    assert!(run.state.reason().unwrap().contains("recovery budget"));
    // Cancel is idempotent: a crash mid-cancel re-sends it.
    let t = run.ok(5, Event::Wake);
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Cancel { .. })
    ));
    run.ok(0, no_content());
    assert_eq!(run.state.kind(), StateKind::Lost);
    assert_eq!(run.replay(), run.state);
}

#[test]
fn transient_faults_never_lose_an_approved_grant() {
    // Issue 12: `continue` drop_connection x2, then the AS answers.
    let mut run = awaiting();
    run.ok(10, callback(&interact_ref(1), PaddedBase64));
    run.ok(0, ambiguous());
    run.wake();
    run.ok(0, ambiguous());
    run.wake();
    run.ok(0, issued(1, Some(600)));
    assert_eq!(run.state.kind(), StateKind::Issued);
    // `token_rotate` status 500 x2, then the rotation goes through.
    run.ok(0, Event::RotateNow);
    run.ok(0, refused(500, None, "internal"));
    run.wake();
    run.ok(0, refused(500, None, "internal"));
    run.wake();
    run.ok(0, rotated(2, Some(600)));
    assert_eq!(run.state.kind(), StateKind::Issued);
    assert_eq!(run.replay(), run.state);
}

#[test]
fn crash_mid_continue_resends_once_and_can_still_succeed() {
    let mut run = awaiting();
    run.ok(10, callback(&interact_ref(1), PaddedBase64));
    let t = run.ok(1, Event::Wake);
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Continue { .. })
    ));
    run.ok(0, issued(1, None));
    assert_eq!(run.state.kind(), StateKind::Issued);
    assert_eq!(run.state.next_wake_at(), None, "no expiry: nothing to do");
    assert!(matches!(
        run.at(100, Event::Wake),
        Err(MachineError::NothingScheduled { .. })
    ));
}

#[test]
fn a_5xx_on_continue_is_an_unknown_outcome_retried_with_back_off() {
    let mut run = awaiting();
    run.ok(10, callback(&interact_ref(1), PaddedBase64));
    run.ok(0, refused(500, None, "internal server error"));
    assert_eq!(run.state.call_in_flight(), None);
    assert!(run.state.call().unwrap().resent_after_ambiguity);
    run.wake();
    run.ok(0, refused(502, None, "bad gateway"));
    assert_eq!(run.state.kind(), StateKind::Continuing);
    assert!(run.state.reason().unwrap().contains("HTTP 502"));
}

#[test]
fn not_sent_is_retried_with_back_off_and_is_not_an_ambiguity() {
    let mut run = awaiting();
    run.ok(10, callback(&interact_ref(1), PaddedBase64));
    for (n, delay) in [(1, 1), (2, 2), (3, 4), (4, 8)] {
        let t = run.ok(0, not_sent());
        // Exponential, jittered into the upper half.
        let full = TimeDelta::seconds(delay);
        let after = t.next_wake_at().unwrap() - run.now;
        assert!(after >= full / 2 && after <= full, "failure {n}: {after}");
        assert!(!run.state.call().unwrap().resent_after_ambiguity);
        run.wake();
        assert_eq!(call_effect(&run), Some(CallKind::Continue));
    }
    run.ok(0, issued(1, Some(600)));
    assert_eq!(run.state.kind(), StateKind::Issued);
}

#[test]
fn every_gnap_error_of_the_reference_on_continue() {
    // (status, code, resulting state) as the reference server uses them on continue.
    let cases: &[(u16, Option<&str>, StateKind)] = &[
        (400, Some("too_fast"), StateKind::Continuing),
        (401, Some("request_denied"), StateKind::Failed),
        (401, Some("invalid_continuation"), StateKind::Failed),
        (404, Some("invalid_continuation"), StateKind::Failed),
        (401, Some("invalid_client"), StateKind::Failed),
        (400, Some("invalid_client"), StateKind::Failed),
        (401, Some("invalid_request"), StateKind::Failed),
        (404, Some("invalid_request"), StateKind::Failed),
        (401, Some("user_denied"), StateKind::Rejected),
        (400, Some("invalid_interaction"), StateKind::Failed),
        (400, Some("unknown_interaction"), StateKind::Failed),
        (400, Some("invalid_rotation"), StateKind::Failed),
        (400, None, StateKind::Failed),
        (429, None, StateKind::Continuing),
        (500, Some("request_denied"), StateKind::Continuing),
    ];
    for &(status, code, want) in cases {
        let mut run = awaiting();
        run.ok(10, callback(&interact_ref(1), PaddedBase64));
        run.ok(0, refused(status, code, "d"));
        assert_eq!(run.state.kind(), want, "{status} {code:?}");
        if want == StateKind::Failed {
            match &run.state {
                GrantState::Finalized(Outcome::Failed(Failure::Refused {
                    call: CallKind::Continue,
                    status: s,
                    error,
                })) => {
                    assert_eq!(*s, status);
                    assert_eq!(error.code.as_ref().map(|c| c.as_str()), code);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(change(&run), Some(Change::Failed));
        }
    }
}

#[test]
fn result_grant_rejected_deletes_the_grant_and_other_results_cancel_then_fail() {
    let mut run = awaiting();
    let t = run.ok(100, result_callback("grant_rejected", None));
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Cancel { .. })
    ));
    // Best effort: the AS already finalized it and may answer 4xx.
    let t = run.ok(0, refused(404, Some("invalid_request"), "grant not found"));
    assert_eq!(run.state.kind(), StateKind::Rejected);
    assert_eq!(t.effects.change(), Some(Change::Rejected));

    // grant_invalid: the user reached the finish step before deciding; keep waiting.
    let mut run = awaiting();
    let before = run.state.clone();
    let t = run.ok(100, result_callback("grant_invalid", None));
    assert_eq!(t.edge, Edge::FinishTooEarly);
    assert!(t.effects.is_empty());
    assert_eq!(run.state, before);
    run.ok(10, callback(&interact_ref(1), PaddedBase64));
    assert_eq!(call_effect(&run), Some(CallKind::Continue));

    for (result, message) in [
        ("invalid_interaction", Some("interaction expired")),
        ("invalid_interaction", Some("invalid interaction")),
        ("unknown_interaction", Some("unknown interaction")),
        ("request_denied", Some("internal server error")),
    ] {
        let mut run = awaiting();
        let t = run.ok(100, result_callback(result, message));
        assert!(matches!(
            t.effects.call_effect(),
            Some(Effect::Cancel { .. })
        ));
        run.ok(0, no_content());
        match &run.state {
            GrantState::Finalized(Outcome::Failed(Failure::InteractionFailed {
                result: r,
                message: m,
            })) => {
                assert_eq!(r, result);
                assert_eq!(m.as_deref(), message);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn callbacks_for_grants_not_waiting_are_typed_errors() {
    let cb = || callback(&interact_ref(1), Rfc9635);
    let mut run = Run::new();
    assert!(matches!(
        run.at(0, cb()),
        Err(MachineError::NotRequested { .. })
    ));
    run.ok(0, request(Flow::Interactive));
    assert!(matches!(
        run.at(0, cb()),
        Err(MachineError::CallbackForGrantNotWaiting {
            state: StateKind::Requested
        })
    ));
    let mut run = issued_run(None);
    let before = run.state.clone();
    assert!(matches!(
        run.at(0, cb()),
        Err(MachineError::CallbackForGrantNotWaiting {
            state: StateKind::Issued
        })
    ));
    assert_eq!(run.state, before);
    // A duplicate callback while continuing.
    let mut run = awaiting();
    run.ok(10, cb());
    assert!(matches!(
        run.at(0, cb()),
        Err(MachineError::CallbackForGrantNotWaiting {
            state: StateKind::Continuing
        })
    ));
}

#[test]
fn interaction_deadline_cancels_at_the_as_then_expired() {
    let mut run = awaiting();
    assert!(matches!(
        run.at(659, Event::Wake),
        Err(MachineError::NotDue { .. })
    ));
    let t = run.ok(1, Event::Wake);
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Cancel { continuation }) if continuation.uri == CONTINUE_URI
    ));
    // The AS is down for a while: cancel is retried.
    run.ok(0, refused(503, None, "unavailable"));
    run.wake();
    let t = run.ok(0, no_content());
    assert_eq!(t.effects.change(), Some(Change::Expired));
    assert!(
        matches!(run.state, GrantState::Expired(ref e) if e.deadline == t0() + TimeDelta::seconds(660))
    );
    assert!(run.state.is_final());
}

#[test]
fn configured_deadline_is_used() {
    let config = Config {
        interaction_deadline: TimeDelta::seconds(30),
        ..Config::default()
    };
    let mut run = Run::with_config(config);
    run.ok(0, request(Flow::Interactive));
    run.ok(0, pending(Some(5)));
    assert_eq!(
        run.state.next_wake_at(),
        Some(t0() + TimeDelta::seconds(30))
    );
}

#[test]
fn polling_without_finish_honours_wait_and_too_fast() {
    let mut run = Run::new();
    run.ok(0, request(Flow::Polling));
    // Reference: a pending answer without a finish URI; poll after `wait` (absent here: 5 s).
    let t = run.ok(0, pending(None));
    assert_eq!(t.effects.change(), Some(Change::InteractionRequired));
    assert!(matches!(
        &run.state,
        GrantState::Continuing(c) if matches!(c.mode, ContinueMode::Poll { .. })
    ));
    assert!(run.state.redirect().is_some());
    assert_eq!(t.next_wake_at(), Some(t0() + TimeDelta::seconds(5)));
    assert!(matches!(
        run.at(1, Event::Wake),
        Err(MachineError::NotDue { .. })
    ));
    let t = run.wake();
    assert!(matches!(t.effects.call_effect(), Some(Effect::Poll { .. })));
    run.ok(
        0,
        refused(
            400,
            Some("too_fast"),
            "polled grant faster than \"wait\" period",
        ),
    );
    run.wake();
    // Still pending: {continue: {..., wait: 5}}.
    let t = run.ok(0, continuation(Some(5)));
    assert!(t.effects.is_empty());
    assert_eq!(t.next_wake_at(), Some(run.now + TimeDelta::seconds(5)));
    run.wake();
    assert_eq!(call_effect(&run), Some(CallKind::Poll));
    run.ok(0, issued(1, Some(600)));
    assert_eq!(run.state.kind(), StateKind::Issued);
    assert_eq!(run.replay(), run.state);
}

#[test]
fn polling_a_rejected_grant_ends_rejected_and_the_deadline_applies() {
    let mut run = Run::new();
    run.ok(0, request(Flow::Polling));
    run.ok(0, pending(Some(5)));
    run.wake();
    run.ok(
        0,
        refused(401, Some("request_denied"), "grant cannot be continued"),
    );
    assert_eq!(run.state.kind(), StateKind::Rejected);

    let mut run = Run::new();
    run.ok(0, request(Flow::Polling));
    run.ok(0, pending(Some(300)));
    for _ in 0..2 {
        run.wake();
        run.ok(0, continuation(Some(300)));
    }
    // 600 s have passed; the next poll would be at 900 s, after the 660 s deadline.
    assert_eq!(
        run.state.next_wake_at(),
        Some(t0() + TimeDelta::seconds(660))
    );
    let t = run.wake();
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Cancel { .. })
    ));
    run.ok(
        0,
        refused(401, Some("invalid_continuation"), "invalid grant"),
    );
    assert_eq!(run.state.kind(), StateKind::Expired);
}

#[test]
fn non_interactive_grant_is_issued_at_once() {
    let mut run = Run::new();
    run.ok(0, request(Flow::NonInteractive));
    let t = run.ok(0, issued(1, Some(600)));
    assert_eq!(t.effects.change(), Some(Change::Issued));
    assert_eq!(run.state.kind(), StateKind::Issued);
}

#[test]
fn grant_request_failures() {
    // Outgoing payment without interact: 400 invalid_request.
    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    run.ok(
        0,
        refused(
            400,
            Some("invalid_request"),
            "missing required request field 'interact'",
        ),
    );
    assert_eq!(run.state.kind(), StateKind::Failed);
    // Transport errors and 5xx: retried with back-off (the grant request is re-sendable).
    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    run.ok(0, not_sent());
    assert!(run.state.next_wake_at() <= Some(t0() + TimeDelta::seconds(1)));
    run.wake();
    run.ok(0, refused(500, Some("request_denied"), "internal"));
    assert!(
        run.state.reason().unwrap().contains("HTTP 500"),
        "the last error shows"
    );
    run.wake();
    run.ok(0, ambiguous());
    run.wake();
    // A crash mid-request: re-sent.
    let t = run.ok(1, Event::Wake);
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::SendGrantRequest { .. })
    ));
    assert_eq!(run.state.call().unwrap().attempts, 5);
    run.ok(0, pending(Some(5)));
    assert_eq!(run.state.kind(), StateKind::AwaitingInteraction);
    // A grant request that keeps failing ends Failed after the budget, with its last error.
    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    while run.state.kind() == StateKind::Requested {
        if run.state.call_in_flight().is_some() {
            run.ok(0, refused(503, None, "unavailable"));
        } else {
            run.wake();
        }
    }
    assert_eq!(run.last.as_ref().unwrap().edge, Edge::RequestGaveUp);
    assert!(run.now >= t0() + run.config.recovery_budget);
    let reason = run.state.reason().unwrap();
    assert!(
        reason.contains("recovery budget") && reason.contains("HTTP 503"),
        "{reason}"
    );
    // A 2xx whose body does not parse: Failed at once, not POSTed again.
    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    let t = run.ok(0, malformed());
    assert!(t.effects.call_effect().is_none());
    let reason = run.state.reason().unwrap();
    assert!(reason.contains("missing field `finish`") && reason.contains(r#"{"interact""#));
    // A bare continuation to a grant request is a protocol violation.
    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    run.ok(0, continuation(Some(5)));
    assert!(matches!(
        run.state,
        GrantState::Finalized(Outcome::Failed(Failure::UnexpectedAnswer { .. }))
    ));
}

#[test]
fn rotation_is_lost_only_on_proof_and_expired_tokens_can_be_rotated() {
    // A first rotation refused: nothing of ours is lost; the grant cannot go on: Failed.
    for (status, code) in [
        (401, Some("invalid_client")),
        (404, Some("invalid_rotation")),
        (400, Some("invalid_rotation")),
    ] {
        let mut run = issued_run(Some(600));
        run.ok(0, Event::RotateNow);
        run.ok(0, refused(status, code, "invalid access token"));
        match &run.state {
            GrantState::Canceling(c) => {
                assert!(matches!(
                    &c.then,
                    CancelGoal::Failed(Failure::Refused { .. })
                ))
            }
            other => panic!("{other:?}"),
        }
        run.ok(0, no_content());
        assert_eq!(run.state.kind(), StateKind::Failed);
    }
    // 500 on the first attempt: unknown outcome, re-sent after back-off; invalid_client then
    // proves our first rotation revoked the old token: Lost.
    let mut run = issued_run(Some(600));
    run.ok(0, Event::RotateNow);
    run.ok(0, refused(500, Some("request_denied"), "internal"));
    let t = run.wake();
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Rotate { .. })
    ));
    let t = run.ok(
        0,
        refused(401, Some("invalid_client"), "invalid access token"),
    );
    assert_eq!(t.edge, Edge::RotationConsumed);
    match &run.state {
        GrantState::Canceling(c) => assert!(matches!(
            &c.then,
            CancelGoal::Lost(l) if matches!(l.reason, LostReason::RefusedAfterResend { .. })
        )),
        other => panic!("{other:?}"),
    }
    // A rotation that never reaches the AS keeps the old token when the budget runs out.
    let mut run = issued_run(Some(600));
    run.ok(0, Event::RotateNow);
    while run.state.kind() == StateKind::Rotating {
        if run.state.call_in_flight().is_some() {
            run.ok(0, not_sent());
        } else {
            run.wake();
        }
    }
    assert_eq!(run.last.as_ref().unwrap().edge, Edge::RotateGaveUp);
    assert_eq!(run.state.access_token().unwrap().manage, manage_url(1));
    // An expired token can still be rotated: wake long after expiry.
    let mut run = issued_run(Some(600));
    run.ok(0, Event::RotateNow);
    run.ok(0, rotated(2, Some(600)));
    run.ok(10_000, Event::RotateNow);
    assert_eq!(call_effect(&run), Some(CallKind::Rotate));
    run.ok(0, rotated(3, Some(600)));
    assert_eq!(run.state.access_token().unwrap().manage, manage_url(3));
}

#[test]
fn idle_grants_touch_the_as_once_a_week_on_demand_and_every_lifetime_kept_warm() {
    for (rotation, max_calls) in [(Rotation::OnDemand, 1), (Rotation::KeepWarm, 160)] {
        let config = Config {
            rotation,
            ..Config::default()
        };
        let mut run = Run::with_config(config);
        run.ok(0, request(Flow::NonInteractive));
        run.ok(0, issued(1, Some(600)));
        let end = run.now + TimeDelta::days(1);
        let mut calls = 0;
        let mut n = 1;
        while run.state.next_wake_at().is_some_and(|at| at <= end) {
            run.wake();
            calls += 1;
            n += 1;
            run.ok(0, rotated(n, Some(600)));
        }
        assert!(
            calls <= max_calls,
            "{rotation:?}: {calls} calls in a simulated day"
        );
        if rotation == Rotation::OnDemand {
            assert_eq!(calls, 0, "no call in the first day");
        } else {
            assert!(calls >= 140, "kept warm: {calls}");
        }
    }
}

#[test]
fn fresh_tokens_are_usable_whatever_their_lifetime() {
    for lifetime in [0, 1, 2, 5, 600] {
        let mut run = issued_run(Some(lifetime));
        assert!(
            run.state.usable_token(run.now, &run.config).is_some(),
            "{lifetime}"
        );
        run.ok(1, Event::RotateNow);
        run.ok(0, rotated(2, Some(lifetime)));
        assert!(
            run.state.usable_token(run.now, &run.config).is_some(),
            "{lifetime}"
        );
        let expiry = run.now + TimeDelta::seconds(i64::try_from(lifetime).unwrap());
        assert!(run.state.usable_token(expiry, &run.config).is_none() || lifetime == 0);
        // Kept warm, a short-lived token never makes the machine rotate in a tight loop.
        let config = Config {
            rotation: Rotation::KeepWarm,
            ..Config::default()
        };
        let mut run = Run::with_config(config);
        run.ok(0, request(Flow::NonInteractive));
        run.ok(0, issued(1, Some(lifetime)));
        assert!(run.state.next_wake_at().unwrap() >= run.now + run.config.retry_base_delay);
    }
}

#[test]
fn commands_cancel_rotate_revoke() {
    // Cancel with the grant request in flight: refused; once it is only due, canceled outright.
    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    assert!(matches!(
        run.at(0, Event::Cancel),
        Err(MachineError::CallInFlight {
            call: CallKind::GrantRequest,
            ..
        })
    ));
    run.ok(0, not_sent());
    let t = run.ok(0, Event::Cancel);
    assert_eq!(t.effects.change(), Some(Change::Canceled));
    assert_eq!(run.state.kind(), StateKind::Canceled);

    // Cancel while awaiting interaction: DELETE the continuation.
    let mut run = awaiting();
    assert!(matches!(
        run.at(0, Event::RotateNow),
        Err(MachineError::NotIssued { .. })
    ));
    let t = run.ok(0, Event::Cancel);
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Cancel { .. })
    ));
    assert!(matches!(
        run.at(0, Event::Cancel),
        Err(MachineError::AlreadyCanceling { .. })
    ));
    run.ok(0, no_content());
    assert_eq!(run.state.kind(), StateKind::Canceled);

    // Revoke an issued token.
    let mut run = issued_run(Some(600));
    let t = run.ok(0, Event::Revoke);
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::RevokeToken { token }) if token.manage == manage_url(1)
    ));
    assert!(matches!(
        run.at(0, Event::RotateNow),
        Err(MachineError::TokenBusy { .. })
    ));
    // Then the grant itself is deleted: nothing usable stays at the AS.
    let t = run.ok(0, no_content());
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::Cancel { .. })
    ));
    let t = run.ok(0, no_content());
    assert_eq!(t.effects.change(), Some(Change::Revoked));
    assert_eq!(run.state.kind(), StateKind::Revoked);

    // Revoke refused with invalid_client (already revoked) or otherwise: delete the grant.
    let mut run = issued_run(Some(600));
    run.ok(0, Event::Revoke);
    run.ok(0, refused(401, Some("invalid_client"), "x"));
    assert_eq!(run.state.kind(), StateKind::Canceling);
    run.ok(0, refused(401, Some("invalid_continuation"), "x"));
    assert_eq!(run.state.kind(), StateKind::Revoked);
    let mut run = issued_run(Some(600));
    run.ok(0, Event::Revoke);
    run.ok(0, refused(400, Some("invalid_request"), "x"));
    assert_eq!(run.state.kind(), StateKind::Canceling);
    run.ok(0, no_content());
    assert_eq!(run.state.kind(), StateKind::Revoked);

    // Cancel an issued grant: DELETE the continuation (revokes every token).
    let mut run = issued_run(Some(600));
    run.ok(0, Event::Cancel);
    run.ok(0, no_content());
    assert_eq!(run.state.kind(), StateKind::Canceled);

    // A rotation waiting on back-off can be overtaken by a revoke.
    let mut run = issued_run(Some(600));
    run.ok(0, Event::RotateNow);
    assert!(matches!(
        run.at(0, Event::Revoke),
        Err(MachineError::TokenBusy { .. })
    ));
    run.ok(0, not_sent());
    run.ok(0, Event::Revoke);
    assert_eq!(run.state.kind(), StateKind::Revoking);
}

#[test]
fn final_states_absorb_every_event() {
    let mut run = awaiting();
    run.ok(0, result_callback("grant_rejected", None));
    run.ok(0, no_content());
    let before = run.state.clone();
    for event in [
        Event::Wake,
        Event::Cancel,
        Event::RotateNow,
        Event::Revoke,
        request(Flow::Interactive),
        no_content(),
        issued(1, None),
        not_sent(),
        ambiguous(),
        callback(&interact_ref(1), Rfc9635),
    ] {
        assert!(run.at(0, event).is_err());
        assert_eq!(run.state, before);
    }
}

#[test]
fn outcomes_without_a_call_and_mismatched_answers_are_refused() {
    let mut run = awaiting();
    assert!(matches!(
        run.at(0, issued(1, None)),
        Err(MachineError::NoCallInFlight { .. })
    ));
    run.ok(10, callback(&interact_ref(1), Rfc9635));
    assert!(matches!(
        run.at(0, rotated(1, None)),
        Err(MachineError::AnswerDoesNotMatchCall {
            call: CallKind::Continue,
            ..
        })
    ));
    assert!(matches!(
        run.state.call().unwrap().status,
        CallStatus::InFlight { .. }
    ));
}

#[test]
fn a_token_that_never_expires_needs_nothing_scheduled() {
    let mut run = Run::new();
    run.ok(0, request(Flow::NonInteractive));
    run.ok(0, issued(1, None));
    assert_eq!(run.state.next_wake_at(), None);
    assert!(
        run.state
            .usable_token(run.now + TimeDelta::days(400), &run.config)
            .is_some()
    );
}

#[test]
fn every_gnap_error_of_the_reference_on_cancel_and_revoke() {
    // Cancel: 204; 401 invalid_client | invalid_continuation | invalid_request; 404
    // invalid_request. A refusal means the AS no longer knows the continuation: the goal is
    // reached anyway. 5xx and 429: retried.
    for (status, code) in [
        (401, Some("invalid_continuation")),
        (401, Some("invalid_client")),
        (401, Some("invalid_request")),
        (404, Some("invalid_request")),
        (400, None),
    ] {
        let mut run = awaiting();
        run.ok(0, Event::Cancel);
        run.ok(0, refused(status, code, "unknown grant"));
        assert_eq!(run.state.kind(), StateKind::Canceled, "{status} {code:?}");
    }
    for (status, code) in [(500, Some("request_denied")), (503, None), (429, None)] {
        let mut run = awaiting();
        run.ok(0, Event::Cancel);
        let t = run.ok(0, refused(status, code, "later"));
        assert_eq!(run.state.kind(), StateKind::Canceling, "{status} {code:?}");
        assert!(t.effects.is_empty());
        let after = t.next_wake_at().unwrap() - run.now;
        assert!(after <= TimeDelta::seconds(1) && after >= TimeDelta::milliseconds(500));
        let t = run.wake();
        assert!(matches!(
            t.effects.call_effect(),
            Some(Effect::Cancel { .. })
        ));
    }
    // Revoke: 500 request_denied: retried; 204, then the grant is deleted: Revoked.
    let mut run = issued_run(Some(600));
    run.ok(0, Event::Revoke);
    run.ok(0, refused(500, Some("request_denied"), "internal"));
    assert_eq!(run.state.kind(), StateKind::Revoking);
    let t = run.wake();
    assert!(matches!(
        t.effects.call_effect(),
        Some(Effect::RevokeToken { .. })
    ));
    run.ok(0, no_content());
    run.ok(0, no_content());
    assert_eq!(run.state.kind(), StateKind::Revoked);
}

#[test]
fn events_and_states_round_trip_through_json() {
    let mut run = issued_run(Some(600));
    run.ok(0, Event::RotateNow);
    run.ok(0, refused(500, Some("request_denied"), "internal"));
    for (event, _) in &run.log {
        let json = serde_json::to_string(event).unwrap();
        assert!(json.starts_with(r#"{"event":""#), "{json}");
        assert_eq!(&serde_json::from_str::<Event>(&json).unwrap(), event);
    }
    let json = run.state.to_json().unwrap();
    assert_eq!(GrantState::from_json(&json).unwrap(), run.state);
    assert_eq!(run.replay(), run.state);
}
