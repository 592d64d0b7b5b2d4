//! Replays the minimised corpus of the `request_bodies` fuzz target
//! (`tests/fuzz_corpus/request_bodies.hex`, from `fuzz/`) with the target's own check
//! (`tests/fuzz_checks/mod.rs`), so every `cargo test` re-runs it: no body panics, every refusal
//! carries a `code`, and the corpus exercises both bodies that parse and bodies that are refused.
//!
//! Refresh the corpus after a campaign (`docs/security.md`, "Fuzzing", has the commands):
//! `cargo fuzz cmin request_bodies`, then one hex line per file of `fuzz/corpus/request_bodies/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz_checks;

use grantflow_sandbox::fuzzing::{BODY_ROUTES, parse_body};

fn decode(line: &str) -> Vec<u8> {
    (0..line.len() / 2)
        .map(|i| {
            u8::from_str_radix(&line[2 * i..2 * i + 2], 16)
                .unwrap_or_else(|e| panic!("{line}: {e}"))
        })
        .collect()
}

#[test]
fn request_bodies_corpus_replays_cleanly() {
    let inputs: Vec<Vec<u8>> = include_str!("fuzz_corpus/request_bodies.hex")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(decode)
        .collect();
    assert!(inputs.len() >= 20, "the corpus has {} inputs", inputs.len());
    let accepted = inputs
        .iter()
        .filter(|data| fuzz_checks::request_bodies(data))
        .count();
    assert!(
        accepted > 0 && accepted < inputs.len(),
        "{accepted} of {} bodies parsed",
        inputs.len()
    );
    // Every body route is reached by some input.
    for (i, route) in BODY_ROUTES.iter().enumerate() {
        assert!(
            inputs.iter().any(|d| d
                .first()
                .is_some_and(|&b| usize::from(b) % BODY_ROUTES.len() == i)),
            "no input for {route:?}"
        );
    }
}

#[test]
fn malformed_bodies_are_refused_with_a_code_on_every_route() {
    for route in BODY_ROUTES {
        for body in [&b"{"[..], b"[]", b"\xff", b"{\"client\":1}", b"null"] {
            let refusal = parse_body(route, body).expect_err("a malformed body is refused");
            assert!(refusal.code.is_some(), "{route:?} {body:?}: {refusal:?}");
        }
    }
}
