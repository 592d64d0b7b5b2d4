//! The resource server: incoming payments, quotes, outgoing payments (with the grant's limits
//! enforced per interval window) and the grant's spent amounts.
//!
//! Every authenticated route without a body runs the reference's checks in its order: the token
//! (`Authorization: GNAP <token>`; missing or malformed -> 401 with a `WWW-Authenticate: GNAP
//! as_uri=…` challenge), introspection (revoked, expired, or of a revoked grant -> 403 "Inactive
//! Token"), the access (type, action, identifier -> 403 "Insufficient Grant"), then the HTTP
//! signature by the grant's client (-> 401 `invalid_signature`). The create routes verify the
//! signature (and with it the `Content-Digest`) right after introspection, before reading the
//! body; the access check, which needs the body's wallet address, comes last.
//!
//! Money moves instantly and exactly: an outgoing payment is sent in full when it is created
//! (`sentAmount = debitAmount`) and credited to the receiving incoming payment, which completes
//! when its `incomingAmount` is reached. There is no exchange: a quote or payment between
//! different assets is refused.
//!
//! # Layout
//!
//! Each file imports only the ones listed before it:
//!
//! - `access`: who may do what (token, introspection, access item, signature; for the create
//!   routes the signature before the body), the resource server's error answers, and
//!   wallet-address helpers.
//! - `list`: what every list route shares: the `wallet-address` parameter, its authorization,
//!   pagination (`first`/`last`/`cursor`).
//! - `incoming`: incoming payments; also which open incoming payment a receiver URL names.
//! - `quote`: quotes.
//! - `spending`: what a grant has spent per limit window, the limit check, and
//!   `GET /outgoing-payment-grant`.
//! - `outgoing`: outgoing payments (created against a quote or an incoming payment, within the
//!   grant's limits).

mod access;
pub(crate) use access::parse_body;
pub(crate) mod incoming;
pub(crate) mod list;
pub(crate) mod outgoing;
pub(crate) mod quote;
pub(crate) mod spending;
