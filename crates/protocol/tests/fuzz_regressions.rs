//! Replays each fuzz target's minimised corpus (`tests/fuzz_corpus/<target>.hex`, from the
//! targets in `fuzz/`) with the target's own checks (`tests/fuzz_checks/mod.rs`), so every
//! `cargo test` re-runs them: no input panics, and each corpus exercises both the inputs that
//! parse and those that are refused.
//!
//! Refresh a corpus after a campaign (`docs/security.md`, "Fuzzing", has the commands):
//! `cargo fuzz cmin <target>`, then one hex line per file of `fuzz/corpus/<target>/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz_checks;

fn decode(line: &str) -> Vec<u8> {
    (0..line.len() / 2)
        .map(|i| {
            u8::from_str_radix(&line[2 * i..2 * i + 2], 16)
                .unwrap_or_else(|e| panic!("{line}: {e}"))
        })
        .collect()
}

fn replay(name: &str, corpus: &str, check: fn(&[u8]) -> bool) {
    let inputs: Vec<Vec<u8>> = corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(decode)
        .collect();
    assert!(
        inputs.len() >= 20,
        "{name}: the corpus has {} inputs",
        inputs.len()
    );
    let accepted = inputs.iter().filter(|data| check(data)).count();
    assert!(
        accepted > 0 && accepted < inputs.len(),
        "{name}: {accepted} of {} got past the first parse",
        inputs.len()
    );
}

#[test]
fn responses_corpus_replays_cleanly() {
    replay(
        "responses",
        include_str!("fuzz_corpus/responses.hex"),
        fuzz_checks::responses,
    );
}

#[test]
fn wallet_address_and_jwks_corpus_replays_cleanly() {
    replay(
        "wallet_address_and_jwks",
        include_str!("fuzz_corpus/wallet_address_and_jwks.hex"),
        fuzz_checks::wallet_address_and_jwks,
    );
}

#[test]
fn finish_callback_corpus_replays_cleanly() {
    replay(
        "finish_callback",
        include_str!("fuzz_corpus/finish_callback.hex"),
        fuzz_checks::finish_callback,
    );
}

#[test]
fn signature_corpus_replays_cleanly() {
    replay(
        "signature",
        include_str!("fuzz_corpus/signature.hex"),
        fuzz_checks::signature,
    );
}
