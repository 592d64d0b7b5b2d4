//! Signature verification glue: turns an axum request into a
//! [`grantflow_protocol::signature::VerifiableRequest`], finds the client's keys the way the
//! reference does, and maps verifier failures onto the reference's answers.
//!
//! The verifier itself is `grantflow_protocol::signature` (strict RFC 9421). The keys are looked
//! up on every request, as the reference does: for a wallet-address client, the keys currently
//! published at that wallet address's `jwks.json` (registered in the sandbox for the wallet
//! addresses it hosts, fetched over HTTP for any other, kept a few seconds: [`crate::remote`]);
//! for a JWK client, the key given in the grant request.
//!
//! | failure | authorization server answer |
//! |---|---|
//! | signature headers absent or malformed, coverage or digest wrong, no GNAP token where one is required | 401 `invalid_client` "invalid signature headers" |
//! | no key with the `keyid`, or the client's wallet address is not known, unreachable, or serves no valid `jwks.json` | 400 `invalid_client` "could not determine client" |
//! | the signature does not verify | 401 `invalid_client` "invalid signature" |

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use grantflow_protocol::error::GnapErrorCode;
use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::keys::PublicKey;
use grantflow_protocol::signature::{
    ParsedSignature, VerifiableRequest, VerifyError, VerifyOptions,
};

use crate::error::ApiError;
use crate::state::{ClientIdentity, Shared};

/// The parts of a received request a signature covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Incoming<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Incoming<'_> {
    /// The URL the client addressed: `http://<Host><path and query>` (the reference uses koa's
    /// `ctx.href`, the same thing).
    pub fn target_uri(&self) -> String {
        let host = self
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let path = self.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        format!("http://{host}{path}")
    }

    fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
            .collect()
    }
}

/// A whole signed request as a handler receives it: the parts a signature covers, owned.
///
/// Extracting it clones the method, URI and headers and reads the body, exactly what the
/// separate `Method`, `Uri`, `HeaderMap` and `Bytes` extractors do (body errors are `Bytes`'s
/// rejections). Being a body extractor, it must be a handler's last argument.
#[derive(Debug)]
pub(crate) struct SignedRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl SignedRequest {
    /// The borrowed view the signature checks take.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request's body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl<S: Send + Sync> FromRequest<S> for SignedRequest {
    type Rejection = BytesRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let uri = req.uri().clone();
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await?;
        Ok(Self {
            method,
            uri,
            headers,
            body,
        })
    }
}

/// Why a request's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureFailure {
    /// Headers absent, malformed, not covering what they must, or a wrong digest.
    Headers(String),
    /// No key for the client or the `keyid`.
    UnknownKey(String),
    /// The signature does not verify with the client's key.
    Mismatch,
}

/// The `<token>` of `Authorization: GNAP <token>`, if the header has exactly that shape.
pub(crate) fn gnap_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let mut parts = value.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("GNAP"), Some(token), None) if !token.is_empty() => Some(token.to_owned()),
        _ => None,
    }
}

/// 401 `invalid_client` "invalid signature headers".
pub(crate) fn invalid_signature_headers() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        GnapErrorCode::InvalidClient,
        "invalid signature headers",
    )
}

fn as_error(failure: SignatureFailure) -> ApiError {
    match failure {
        SignatureFailure::Headers(why) => {
            tracing::debug!(%why, "sandbox: signature headers refused");
            invalid_signature_headers()
        }
        SignatureFailure::UnknownKey(why) => {
            tracing::debug!(%why, "sandbox: client key not found");
            ApiError::new(
                StatusCode::BAD_REQUEST,
                GnapErrorCode::InvalidClient,
                "could not determine client",
            )
        }
        SignatureFailure::Mismatch => ApiError::new(
            StatusCode::UNAUTHORIZED,
            GnapErrorCode::InvalidClient,
            "invalid signature",
        ),
    }
}

/// Checks that the signature headers parse, before any grant or key is looked up (the
/// reference's `validateSignatureHeaders` step).
pub(crate) fn check_signature_headers(incoming: &Incoming<'_>) -> Result<(), ApiError> {
    let target = incoming.target_uri();
    let headers = incoming.header_pairs();
    let request = verifiable(incoming, &target, &headers);
    ParsedSignature::parse(&request)
        .map(|_| ())
        .map_err(|e| as_error(SignatureFailure::Headers(e.to_string())))
}

fn verifiable<'a>(
    incoming: &'a Incoming<'a>,
    target: &'a str,
    headers: &'a [(&'a str, &'a str)],
) -> VerifiableRequest<'a> {
    VerifiableRequest {
        method: incoming.method.as_str(),
        target_uri: target,
        headers,
        body: (!incoming.body.is_empty()).then_some(incoming.body),
    }
}

/// The keys a client signs with, as the reference finds them: for a JWK client, the key in its
/// grant request; for a wallet address this sandbox hosts (one under its own base URL), the keys
/// registered for it; for any other wallet address, its `jwks.json` fetched over HTTP
/// ([`crate::remote`]: kept for a few seconds, fetched again for a `key_id` it lacks).
pub(crate) async fn client_keys(
    shared: &Shared,
    client: &ClientIdentity,
    key_id: &str,
) -> Result<Jwks, SignatureFailure> {
    match client {
        ClientIdentity::Jwk(jwk) => Ok(Jwks {
            keys: vec![jwk.clone()],
        }),
        ClientIdentity::WalletAddress(url) => match shared.urls.hosted_wallet_name(url) {
            Some(name) => {
                let store = shared.store();
                let wa = store.wallet_addresses.get(name).ok_or_else(|| {
                    SignatureFailure::UnknownKey(format!(
                        "no wallet address named {name:?} is hosted here; register it (and its keys) with PUT /_sandbox/wallet-addresses/{name}"
                    ))
                })?;
                Ok(wa.keys.clone())
            }
            None => shared
                .remote
                .keys(url, key_id, shared.now())
                .await
                .map_err(|why| {
                    SignatureFailure::UnknownKey(format!("client wallet address {url}: {why}"))
                }),
        },
    }
}

/// The `keyid` a request's signature names.
fn signature_key_id(incoming: &Incoming<'_>) -> Result<String, SignatureFailure> {
    let target = incoming.target_uri();
    let headers = incoming.header_pairs();
    let request = verifiable(incoming, &target, &headers);
    ParsedSignature::parse(&request)
        .map(|parsed| parsed.key_id().to_owned())
        .map_err(|e| SignatureFailure::Headers(e.to_string()))
}

/// Verifies a request's signature against the client's keys, looked up now
/// ([`client_keys`]).
pub(crate) async fn verify_client(
    shared: &Shared,
    incoming: &Incoming<'_>,
    client: &ClientIdentity,
) -> Result<(), SignatureFailure> {
    let key_id = signature_key_id(incoming)?;
    let keys = client_keys(shared, client, &key_id).await?;
    verify_with(incoming, &keys)
}

/// Verifies a request's signature against `keys`.
pub(crate) fn verify_with(incoming: &Incoming<'_>, keys: &Jwks) -> Result<(), SignatureFailure> {
    let target = incoming.target_uri();
    let headers = incoming.header_pairs();
    let request = verifiable(incoming, &target, &headers);
    let parsed =
        ParsedSignature::parse(&request).map_err(|e| SignatureFailure::Headers(e.to_string()))?;
    let jwk = keys.find(parsed.key_id()).ok_or_else(|| {
        SignatureFailure::UnknownKey(format!("no key with keyid {:?}", parsed.key_id()))
    })?;
    let key = PublicKey::from_jwk(jwk)
        .map_err(|e| SignatureFailure::UnknownKey(format!("unusable key: {e}")))?;
    match parsed.verify(&request, &key, &VerifyOptions::default()) {
        Ok(_) => Ok(()),
        Err(VerifyError::SignatureMismatch { .. }) => Err(SignatureFailure::Mismatch),
        Err(e) => Err(SignatureFailure::Headers(e.to_string())),
    }
}

/// Verifies a request to the authorization server: the client's keys, looked up now, must
/// verify its signature. Errors are the reference's (see the module table).
pub(crate) async fn verify_client_request(
    shared: &Shared,
    incoming: &Incoming<'_>,
    client: &ClientIdentity,
) -> Result<(), ApiError> {
    check_signature_headers(incoming)?;
    verify_client(shared, incoming, client)
        .await
        .map_err(as_error)
}
