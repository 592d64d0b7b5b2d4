//! The stored format is pinned: states built by the seed flows are compared, byte for byte, with
//! the committed fixture of the current version (`tests/fixtures/state-v2.jsonl`), and every
//! fixture, old versions included, must read back. If this fails, the format changed: bump
//! `FORMAT_VERSION`, keep reading the old versions, and add a fixture for the new one
//! (regenerate with `GRANTFLOW_BLESS=1` only for a deliberate new version).

use grantflow_machine::{Event, FORMAT_VERSION, GrantState, StateFormatError, StateKind};
use grantflow_protocol::finish_hash::FinishHashEncoding;

use crate::common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v2.jsonl");
const FIXTURE_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v1.jsonl");

/// One state of every shape worth pinning, each reached through the machine.
fn states() -> Vec<(&'static str, GrantState)> {
    let mut out = Vec::new();
    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    out.push(("requested", run.state.clone()));
    run.ok(1, pending(Some(5)));
    out.push(("awaiting_interaction", run.state.clone()));
    run.ok(
        2,
        callback(&interact_ref(1), FinishHashEncoding::PaddedBase64),
    );
    out.push(("continuing_finish_due", run.state.clone()));
    run.wake();
    run.ok(0, ambiguous());
    out.push(("continuing_retrying", run.state.clone()));
    run.wake();
    run.ok(0, issued(1, Some(600)));
    out.push(("issued", run.state.clone()));
    run.ok(0, Event::RotateNow);
    run.ok(0, not_sent());
    out.push(("issued_rotating_due", run.state.clone()));
    run.wake();
    run.ok(0, refused(503, None, "unavailable"));
    run.wake();
    run.ok(
        0,
        refused(401, Some("invalid_client"), "invalid access token"),
    );
    out.push(("canceling_lost", run.state.clone()));
    run.ok(0, no_content());
    out.push(("lost", run.state.clone()));

    let mut run = Run::new();
    run.ok(0, request(Flow::Polling));
    run.ok(0, pending(None));
    out.push(("continuing_poll", run.state.clone()));
    run.wake();
    run.ok(
        0,
        refused(404, Some("invalid_continuation"), "grant not found"),
    );
    out.push(("failed", run.state.clone()));

    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    run.ok(0, pending(Some(5)));
    run.wake();
    run.ok(0, no_content());
    out.push(("expired", run.state.clone()));

    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    run.ok(0, pending(Some(5)));
    run.ok(9, result_callback("grant_rejected", None));
    out.push(("canceling_rejected", run.state.clone()));

    let mut run = Run::new();
    run.ok(0, request(Flow::Interactive));
    run.ok(0, malformed());
    out.push(("failed_malformed", run.state.clone()));

    let mut run = Run::new();
    run.ok(0, request(Flow::NonInteractive));
    while run.state.kind() == StateKind::Requested {
        if run.state.call_in_flight().is_some() {
            run.ok(0, not_sent());
        } else {
            run.wake();
        }
    }
    out.push(("failed_gave_up", run.state.clone()));
    out
}

#[test]
fn stored_format_is_pinned() {
    let states = states();
    let rendered: String = states
        .iter()
        .map(|(_, s)| s.to_json().unwrap() + "\n")
        .collect();
    if std::env::var_os("GRANTFLOW_BLESS").is_some() {
        std::fs::write(FIXTURE, &rendered).unwrap();
    }
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    assert_eq!(
        rendered, fixture,
        "the stored format of GrantState changed (see this file's docs)"
    );
    let prefix = format!(r#"{{"version":{FORMAT_VERSION},"grant":{{"state":""#);
    for ((name, state), line) in states.iter().zip(fixture.lines()) {
        assert_eq!(&GrantState::from_json(line).unwrap(), state, "{name}");
        assert!(line.starts_with(&prefix), "{name}");
    }
}

/// Rows written by version 1 (before patient recovery) still read, as the same states: written
/// back, each is the same JSON under the new version number.
#[test]
fn version_1_rows_still_read() {
    let fixture = std::fs::read_to_string(FIXTURE_V1).unwrap();
    let kinds: Vec<StateKind> = fixture
        .lines()
        .map(|line| {
            let state = GrantState::from_json(line).unwrap();
            let again = state.to_json().unwrap();
            assert_eq!(
                again,
                line.replacen(
                    r#""version":1"#,
                    &format!(r#""version":{FORMAT_VERSION}"#),
                    1
                )
            );
            state.kind()
        })
        .collect();
    use StateKind as S;
    assert_eq!(
        kinds,
        [
            S::Requested,
            S::AwaitingInteraction,
            S::Continuing,
            S::Continuing,
            S::Issued,
            S::Rotating,
            S::Canceling,
            S::Lost,
            S::Continuing,
            S::Failed,
            S::Expired
        ]
    );
}

#[test]
fn other_versions_are_refused_with_a_clear_error() {
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let line = fixture
        .lines()
        .next()
        .unwrap()
        .replace(&format!(r#""version":{FORMAT_VERSION}"#), r#""version":7"#);
    let err = GrantState::from_json(&line).unwrap_err();
    assert!(matches!(err, StateFormatError::UnknownVersion { found: 7 }));
    assert!(err.to_string().contains("upgrade"));
}
