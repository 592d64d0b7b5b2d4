//! Async HTTP client for Open Payments wallet addresses, authorization servers and resource
//! servers.
//!
//! [`Client`] makes every Open Payments call a grant lifecycle needs, signed with RFC 9421 HTTP
//! message signatures exactly as the reference TypeScript client signs them, with a timeout on
//! every attempt, a cap on every response body, retries of idempotent calls only, and errors that
//! say whether the request may have reached the server ([`Delivery`]).
//!
//! # Layout
//!
//! - [`client`](Client): [`Client`] and [`ClientBuilder`]: the keys, the client's wallet
//!   address, timeouts, the body cap, the retry policy.
//! - [`keys`](ClientKeys): [`ClientKeys`], the signing keys with one active, shared by every
//!   clone of a client so that a running worker rotates its key without a restart (publish,
//!   switch, retire: the module docs walk through it).
//! - `transport`: one call on the wire: headers, signing, timeout, bounded body, classification
//!   of failures, the retry loop and the `tracing` span. Every route goes through it.
//! - `sign`: the bridge to `grantflow_protocol::signature`: which requests are signed and how the
//!   signature headers reach the request.
//! - [`retry`](RetryPolicy): which failures of GET and DELETE are retried, backoff and jitter.
//! - [`error`](ClientError): [`ClientError`], [`ErrorKind`], [`Delivery`], [`RetryAfter`].
//! - `routes/`: one file per resource (wallet address, grant, token, incoming payment, quote,
//!   outgoing payment), each a thin `impl Client` block; `routes/common.rs` builds endpoint and
//!   list URLs. Responses are checked as the reference client checks them (e.g. a new incoming
//!   payment must not be completed), giving [`ErrorKind::InvalidResponse`].
//!
//! # The calls
//!
//! | call | HTTP | signed | retried |
//! |---|---|---|---|
//! | [`Client::get_wallet_address`] | `GET <wallet address>` | no | yes |
//! | [`Client::get_wallet_address_keys`] | `GET <wallet address>/jwks.json` | no | yes |
//! | [`Client::request_grant`] | `POST <authServer>` | yes | never |
//! | [`Client::continue_grant`] | `POST <continue uri>` (with `interact_ref`, or bodiless to poll) | yes | never |
//! | [`Client::cancel_grant`] | `DELETE <continue uri>` | yes | yes |
//! | [`Client::rotate_token`] | `POST <manage>` (no body) | yes | never |
//! | [`Client::revoke_token`] | `DELETE <manage>` | yes | yes |
//! | [`Client::create_incoming_payment`] | `POST {RS}/incoming-payments` | yes | never |
//! | [`Client::get_incoming_payment`] / [`Client::get_public_incoming_payment`] | `GET <url>` | with token / no | yes |
//! | [`Client::complete_incoming_payment`] | `POST <url>/complete` | yes | never |
//! | [`Client::list_incoming_payments`] | `GET {RS}/incoming-payments?wallet-address=…` | yes | yes |
//! | [`Client::create_quote`] / [`Client::get_quote`] | `POST {RS}/quotes` / `GET <url>` | yes | never / yes |
//! | [`Client::create_outgoing_payment`] | `POST {RS}/outgoing-payments` | yes | never |
//! | [`Client::get_outgoing_payment`] / [`Client::list_outgoing_payments`] | `GET` | yes | yes |
//! | [`Client::get_outgoing_payment_grant_spent_amounts`] | `GET {RS}/outgoing-payment-grant` | yes | yes |
//!
//! # Rules every call follows
//!
//! - A request is signed iff it is a POST or carries a token (`Authorization: GNAP <token>`).
//! - A body is serialised once to compact JSON; those exact bytes are digested, signed and sent.
//!   `Content-Type: application/json` is sent exactly once, and only with a body.
//! - Redirects are not followed (a signed request must not be re-sent elsewhere).
//! - POST is never retried. GET and DELETE follow the [`RetryPolicy`], re-signed each attempt.
//! - Logs carry the operation, method, host, path, status, attempts and duration; never a token,
//!   nonce, key, signature or body.
//!
//! # Error policy
//!
//! See the [`error`] module: every failure answers "could the request have had an effect?".

mod client;
pub mod error;
pub mod keys;
pub mod retry;
mod routes;
mod sign;
mod transport;

pub use client::{
    BuildError, Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
};
pub use error::{ClientError, Delivery, ErrorKind, RawBody, RetryAfter, StatusError};
pub use keys::{ClientKeys, KeySetError};
pub use retry::RetryPolicy;
