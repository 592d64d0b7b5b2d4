//! RFC 9421 HTTP message signatures, as Open Payments uses them.
//!
//! # Signing ([`sign_request`])
//!
//! Exactly what `createHeaders` of `@interledger/http-signature-utils` 2.0.3 produces, byte for
//! byte (the test over `shared/vectors/http-signatures.json` holds us to it):
//!
//! - label `sig1`; parameters `keyid` then `created`, no `alg`;
//! - covered components `@method @target-uri`, then `authorization` when the request carries an
//!   Authorization header, then `content-digest content-length content-type` when it has a body;
//! - `Content-Digest: sha-512=:<base64>:` over **the exact bytes sent** (the reference digests
//!   `JSON.stringify(JSON.parse(body))`, which equals the bytes only for compact JSON: send
//!   `serde_json::to_vec` output and it does), `Content-Length` in bytes,
//!   `Content-Type: application/json`.
//!
//! # Verifying ([`verify_request`], or [`ParsedSignature`] in two steps)
//!
//! Strict RFC 9421 with RFC 8941 structured-field parsing (the `sfv` crate), stricter than the
//! reference verifier where the reference is fail-open:
//!
//! - `Signature-Input` and `Signature` must parse as dictionaries with a `sig1` member (an inner
//!   list of lowercase string component names without parameters, and a 64-byte byte sequence);
//! - `keyid` (string) and `created` (integer) are required; `alg`, when present, must be
//!   `ed25519`; `expires`, when present, is enforced when a clock reading is given;
//! - `@method` and `@target-uri` must be covered; `authorization` must be covered when the
//!   request has one; `content-digest` must be covered when the request has a body (the
//!   reference does not insist on this last one; GNAP §7.3.1 and the Open Payments spec do);
//! - when `content-digest` is covered, `Content-Digest`, `Content-Length` and `Content-Type` must
//!   be present, the digest (sha-256 and/or sha-512; every one given must match) is checked over
//!   the raw body, and `Content-Length` must equal the body length;
//! - optionally, `created` must be at most `max_age` old and not in the future beyond a skew;
//! - the signature base is rebuilt from the request and the re-serialised parameters, and the
//!   Ed25519 signature is checked strictly.
//!
//! Every rejection is a [`VerifyError`] naming what failed.
//!
//! # Layout
//!
//! - `request`: what is signed ([`SignableRequest`] → [`SignatureHeaders`]) and what is verified
//!   ([`VerifiableRequest`], its headers combined as RFC 9421 §2.1 says).
//! - `error`: [`SignError`] and [`VerifyError`].
//! - `base`: the signature base both sides build, and the value of each covered component.
//! - `digest`: `Content-Digest` made ([`content_digest`]) and checked with its length and type.
//! - `sign`: [`sign_request`].
//! - `verify`: [`ParsedSignature`] (parse, then check and verify), [`verify_request`],
//!   freshness.

mod base;
mod digest;
mod error;
mod request;
mod sign;
#[cfg(test)]
mod tests;
mod verify;

pub use digest::content_digest;
pub use error::{SignError, VerifyError};
pub use request::{SignableRequest, SignatureHeaders, VerifiableRequest};
pub use sign::sign_request;
pub use verify::{Freshness, ParsedSignature, VerifiedSignature, VerifyOptions, verify_request};

/// The signature label Open Payments uses.
pub const LABEL: &str = "sig1";

/// The content type of signed bodies.
pub const CONTENT_TYPE_JSON: &str = "application/json";
