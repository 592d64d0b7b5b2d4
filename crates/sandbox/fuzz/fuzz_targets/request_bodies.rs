//! The sandbox's request bodies, as each route that reads one parses it (grant request,
//! continue, incoming payment, quote and outgoing payment creation): no panic; every refusal is
//! a GNAP/Open Payments error with a `code`.
//!
//! The checks are in `tests/fuzz_checks/mod.rs`, shared with the corpus replay
//! (`tests/fuzz_regressions.rs`).

#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::request_bodies(data);
});
