//! The checks of the `request_bodies` fuzz target (`fuzz/fuzz_targets/request_bodies.rs`),
//! shared with the corpus replay (`tests/fuzz_regressions.rs`).

use grantflow_sandbox::fuzzing::{BODY_ROUTES, parse_body};

/// The first byte picks a route that reads a body; the rest is its body. No panic; every refusal
/// is a GNAP/Open Payments error with a `code`. Returns whether the body was accepted.
pub fn request_bodies(data: &[u8]) -> bool {
    let Some((&pick, body)) = data.split_first() else {
        return false;
    };
    let route = BODY_ROUTES[usize::from(pick) % BODY_ROUTES.len()];
    match parse_body(route, body) {
        Ok(()) => true,
        Err(refusal) => {
            assert!(
                refusal.code.is_some(),
                "{route:?} refused {body:?} without a code: {refusal:?}"
            );
            false
        }
    }
}
