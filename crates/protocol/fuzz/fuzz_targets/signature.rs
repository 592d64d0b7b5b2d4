//! RFC 9421 `Signature` / `Signature-Input` / `Content-Digest` parse and verify. Input: the
//! parts separated by 0xFF (see `signature_parts` in `tests/fuzz_checks/mod.rs`).
//!
//! The checks are in `tests/fuzz_checks/mod.rs`, shared with the corpus replay
//! (`tests/fuzz_regressions.rs`).

#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::signature(data);
});
