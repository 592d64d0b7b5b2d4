//! Sign + digest of a typical grant request (`benches/grant-request.json`, the compact body the
//! client POSTs for an interactive outgoing-payment grant): Content-Digest (SHA-512), the RFC 9421
//! signature base, Ed25519, and the five headers. `js/sign-bench.mjs` times the same operation
//! with `@interledger/http-signature-utils` `createHeaders`; see docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use grantflow_protocol::keys::PrivateKey;
use grantflow_protocol::signature::{
    SignableRequest, VerifiableRequest, VerifyOptions, sign_request, verify_request,
};

const BODY: &[u8] = include_bytes!("grant-request.json");
const URL: &str = "https://auth.wallet.example/";
const SEED: [u8; 32] = [
    0x9e, 0x13, 0xa3, 0x7e, 0x86, 0xdd, 0x21, 0x5e, 0xda, 0x83, 0xac, 0xda, 0x0d, 0x88, 0xcc, 0xd8,
    0xfd, 0xb1, 0x61, 0xea, 0x00, 0x62, 0xce, 0xd8, 0xf1, 0xd3, 0x2e, 0x43, 0x20, 0xa4, 0x67, 0x8b,
];

fn sign(c: &mut Criterion) {
    let key = PrivateKey::from_seed(&SEED);
    let request = SignableRequest {
        method: "POST",
        target_uri: URL,
        authorization: None,
        body: Some(BODY),
    };
    c.bench_function("sign_grant_request", |b| {
        b.iter(|| sign_request(black_box(&request), &key, "bench-key", 1_767_225_600))
    });

    let Ok(headers) = sign_request(&request, &key, "bench-key", 1_767_225_600) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = headers.iter().collect();
    let received = VerifiableRequest {
        method: "POST",
        target_uri: URL,
        headers: &pairs,
        body: Some(BODY),
    };
    let public = key.public_key();
    let options = VerifyOptions::default();
    c.bench_function("verify_grant_request", |b| {
        b.iter(|| verify_request(black_box(&received), |_| Some(public), &options))
    });
}

// `criterion_group!` expands to an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::sign);
}
use group::benches;
criterion_main!(benches);
