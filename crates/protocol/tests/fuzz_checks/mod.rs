//! What each fuzz target checks on one input, shared by the targets in `fuzz/fuzz_targets/` (which
//! include this file) and by `tests/fuzz_regressions.rs` (which replays the minimised corpora in
//! every `cargo test`). No input may panic; each function returns whether the input got past the
//! first parse, so the replay can check that both sides are exercised.
//!
//! Everything here reads bytes as the network delivers them: response bodies, the wallet address
//! document and its JWKS, the finish redirect's query, and a signed request's `Signature`,
//! `Signature-Input` and `Content-Digest` with its body.

// Each fuzz target uses one of these functions; the replay uses all.
#![allow(dead_code)]

use grantflow_protocol::error::{GnapError, parse_json};
use grantflow_protocol::finish_callback::FinishCallback;
use grantflow_protocol::finish_hash::verify_finish_hash;
use grantflow_protocol::grant::{AccessToken, GrantResponse, RotatedToken};
use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::keys::{PrivateKey, PublicKey};
use grantflow_protocol::signature::{
    ParsedSignature, VerifiableRequest, VerifyOptions, verify_request,
};
use grantflow_protocol::wallet_address::WalletAddress;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a parsed value must survive: serialised and parsed again, it is the same value.
fn round_trips<T>(data: &[u8]) -> bool
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(value) = parse_json::<T>(data) else {
        return false;
    };
    let json = serde_json::to_vec(&value)
        .unwrap_or_else(|e| panic!("{value:?} parsed but does not serialise: {e}"));
    let again: T = parse_json(&json).unwrap_or_else(|e| {
        panic!(
            "{value:?} serialised as {} does not parse: {e}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(again, value, "{}", String::from_utf8_lossy(data));
    true
}

/// The grant (pending / issued / continuation), token and rotation responses and the GNAP error
/// body: each parses strictly or is a typed error, and what parses round-trips.
pub fn responses(data: &[u8]) -> bool {
    let grant = round_trips::<GrantResponse>(data);
    let token = round_trips::<AccessToken>(data);
    let rotated = round_trips::<RotatedToken>(data);
    let error = match parse_json::<GnapError>(data) {
        Ok(e) => {
            // Whatever shape it came in, it is shown and re-serialised without panicking.
            let _ = e.to_string();
            let _ = serde_json::to_vec(&e);
            true
        }
        Err(_) => false,
    };
    grant || token || rotated || error
}

/// The wallet address document and a JWKS: parse, then every key is decoded as an Ed25519 public
/// key (or refused with a typed error), and the JWKS round-trips.
pub fn wallet_address_and_jwks(data: &[u8]) -> bool {
    let wallet = match parse_json::<WalletAddress>(data) {
        Ok(w) => {
            let _ = w.jwks_url();
            true
        }
        Err(_) => false,
    };
    let jwks = round_trips::<Jwks>(data);
    if let Ok(keys) = parse_json::<Jwks>(data) {
        for jwk in &keys.keys {
            let _ = PublicKey::from_jwk(jwk);
            let _ = keys.find(&jwk.kid);
        }
    }
    wallet || jwks
}

/// The finish redirect's query: parsed, and an approval's hash checked against fixed nonces.
pub fn finish_callback(data: &[u8]) -> bool {
    let Ok(query) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(callback) = FinishCallback::from_query(query) else {
        return false;
    };
    let _ = format!("{callback:?}");
    if let FinishCallback::Approved { hash, interact_ref } = &callback {
        // The secret never shows in Debug, whatever it is.
        assert_eq!(format!("{interact_ref:?}"), "Secret(***)");
        let _ = verify_finish_hash(
            hash,
            "client-nonce",
            "as-nonce",
            interact_ref.expose(),
            "https://auth.example/",
        );
    }
    true
}

/// The key every signature fuzz input is checked against (the seed corpus is signed with it).
pub fn signing_key() -> PrivateKey {
    PrivateKey::from_seed(&[7; 32])
}

/// The request the signature target's inputs describe; its parts are separated by 0xFF:
/// `Signature-Input`, `Signature`, `Content-Digest`, body, then optionally `Content-Length` (the
/// body's length when absent) and `Authorization`.
pub const SIGNED_URL: &str = "https://auth.example/continue/1";

/// Splits a signature input into its parts (see [`SIGNED_URL`]).
pub fn signature_parts(data: &[u8]) -> Vec<String> {
    data.split(|b| *b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// `Signature`, `Signature-Input` and `Content-Digest` parsed and the request verified: no panic,
/// the one-step and two-step verifications agree, and only a request signed with
/// [`signing_key`] verifies.
pub fn signature(data: &[u8]) -> bool {
    let parts = signature_parts(data);
    let part = |i: usize| parts.get(i).map(String::as_str);
    let body = part(3).unwrap_or("");
    let length = part(4).map_or_else(|| body.len().to_string(), str::to_owned);
    let mut headers = vec![
        ("Signature-Input", part(0).unwrap_or("")),
        ("Signature", part(1).unwrap_or("")),
        ("Content-Digest", part(2).unwrap_or("")),
        ("Content-Length", length.as_str()),
        ("Content-Type", "application/json"),
    ];
    if let Some(authorization) = part(5) {
        headers.push(("Authorization", authorization));
    }
    let request = VerifiableRequest {
        method: "POST",
        target_uri: SIGNED_URL,
        headers: &headers,
        body: Some(body.as_bytes()),
    };
    let key = signing_key().public_key();
    let options = VerifyOptions::default();
    let one_step = verify_request(&request, |_| Some(key), &options);
    let Ok(parsed) = ParsedSignature::parse(&request) else {
        assert!(one_step.is_err());
        return false;
    };
    let _ = parsed.check_request(&request);
    let _ = parsed.signature_base(&request);
    let two_steps = parsed.verify(&request, &key, &options);
    assert_eq!(one_step, two_steps, "{parts:?}");
    if two_steps.is_ok() {
        // Another key never verifies what this one signed.
        let other = PrivateKey::from_seed(&[8; 32]).public_key();
        assert!(
            parsed.verify(&request, &other, &options).is_err(),
            "{parts:?}"
        );
    }
    true
}
