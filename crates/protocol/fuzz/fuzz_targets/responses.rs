//! The grant (pending, issued, continuation), token and rotation responses and GNAP error
//! bodies (JSON decode): no panic; what parses round-trips.
//!
//! The checks are in `tests/fuzz_checks/mod.rs`, shared with the corpus replay
//! (`tests/fuzz_regressions.rs`).

#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::responses(data);
});
