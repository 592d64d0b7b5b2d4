//! The finish redirect's query (`hash` + `interact_ref`, or `result`), and the hash check.
//!
//! The checks are in `tests/fuzz_checks/mod.rs`, shared with the corpus replay
//! (`tests/fuzz_regressions.rs`).

#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::finish_callback(data);
});
