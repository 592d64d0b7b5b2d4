//! The wallet address document and JWKS (JSON decode), every key decoded as Ed25519.
//!
//! The checks are in `tests/fuzz_checks/mod.rs`, shared with the corpus replay
//! (`tests/fuzz_regressions.rs`).

#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::wallet_address_and_jwks(data);
});
