//! Open Payments wire types, RFC 9421 HTTP message signatures, the GNAP finish hash and keys.
//!
//! This crate is pure: no network, no clock (the time a signature is `created` at, and the "now"
//! of a freshness check, are arguments), no randomness except [`keys::PrivateKey::generate`] when
//! asked, and one file read ([`keys::PrivateKey::from_pkcs8_pem_file`]). Everything that crosses the wire between a grantflow client and an Open Payments
//! authorization or resource server is defined here, byte-compatible with the reference
//! TypeScript packages (`@interledger/open-payments` 7.4.0, `@interledger/http-signature-utils`
//! 2.0.3).
//!
//! # Layout
//!
//! - [`secret`]: [`secret::Secret`], the redacting, zeroizing, constant-time-comparing string
//!   every token, nonce and `interact_ref` lives in.
//! - [`amount`]: [`amount::Amount`], u64 minor units carried as a decimal string (the interval
//!   crate's type, re-exported: one amount type in the workspace).
//! - [`grant`]: grant request, the three grant responses, continuation, access token, rotation.
//! - [`jwk`]: public Ed25519 JWK and JWKS wire types.
//! - [`wallet_address`]: the wallet address document (where the grant endpoint comes from).
//! - [`incoming_payment`], [`quote`], [`outgoing_payment`]: the resource server's resources,
//!   their create bodies, and the outgoing-payment grant's spent amounts.
//! - [`pagination`]: list pages and the `first`/`last`/`cursor` query.
//! - [`error`]: the GNAP error body in its three shapes, and [`error::ProtocolError`] for
//!   malformed bodies ([`error::parse_json`] is the one way bodies are parsed).
//! - [`finish_callback`]: the finish redirect's query ([`finish_callback::FinishCallback`]).
//! - [`finish_hash`]: compute and verify the interaction finish hash (RFC 9635 §4.2.3).
//! - [`text`]: [`text::untrusted`], the one cleaner of text from outside (callback messages, AS
//!   descriptions, parse errors): no control or invisible characters, capped length; and
//!   [`text::escape_html`].
//! - [`keys`]: Ed25519 private keys (PKCS#8 PEM, JWK, generate on request) and public keys.
//! - [`signature`]: RFC 9421 signing exactly as the reference packages do, and a strict
//!   verifier with typed rejection reasons (one file each for the request types, errors, the
//!   signature base, `Content-Digest`, signing and verifying).
//!
//! # Tests
//!
//! Unit tests sit in each module. `tests/signature_vectors.rs` holds the signer byte-equal to the
//! reference vectors (a copy of `shared/vectors/http-signatures.json` in `tests/fixtures/`);
//! `tests/openapi.rs` validates our serialised fixtures against the specs shipped in
//! `@interledger/open-payments`; `tests/node_interop.rs` signs and verifies both ways with
//! `@interledger/http-signature-utils`; `tests/properties.rs` holds the proptests;
//! `tests/fuzz_regressions.rs` replays the minimised corpora (`tests/fuzz_corpus/`) of the
//! cargo-fuzz targets in `fuzz/` (its own workspace: responses, wallet address and JWKS, the
//! finish callback's query, RFC 9421 signatures) with their checks (`tests/fuzz_checks/`). The Node
//! scripts are in `js/`; `docs/protocol.md` lists what is deliberately not modelled.
//!
//! # Error policy
//!
//! Nothing here panics on input. Malformed bodies and unknown enum values are
//! [`error::ProtocolError::MalformedBody`]; each module has its own `thiserror` enum for what it
//! checks (finish hash, keys, signatures).

pub mod amount;
pub mod error;
pub mod finish_callback;
pub mod finish_hash;
pub mod grant;
pub mod incoming_payment;
pub mod jwk;
pub mod keys;
pub mod outgoing_payment;
pub mod pagination;
pub mod quote;
pub mod secret;
pub mod signature;
pub mod text;
pub mod wallet_address;

pub use error::{GnapError, GnapErrorCode, ProtocolError};
pub use secret::Secret;
