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

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sfv::{BareItem, Dictionary, InnerList, Item, ListEntry, Parameters, Parser, SerializeValue};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::keys::{PrivateKey, PublicKey};

/// The signature label Open Payments uses.
pub const LABEL: &str = "sig1";

/// The content type of signed bodies.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// A request to sign: what the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// The HTTP method (upper-cased in `@method`).
    pub method: &'a str,
    /// The full request URL, exactly as it will be sent (it is `@target-uri` verbatim).
    pub target_uri: &'a str,
    /// The Authorization header value (`GNAP <token>`), when the request carries one.
    pub authorization: Option<&'a str>,
    /// The exact body bytes that will be sent; `None` or empty for no body.
    pub body: Option<&'a [u8]>,
}

/// The headers to add to a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `Signature: sig1=:<base64>:`.
    pub signature: String,
    /// `Signature-Input: sig1=("@method" …);keyid="…";created=…`.
    pub signature_input: String,
    /// `Content-Digest: sha-512=:<base64>:` when there is a body.
    pub content_digest: Option<String>,
    /// `Content-Length` when there is a body.
    pub content_length: Option<String>,
    /// `Content-Type: application/json` when there is a body.
    pub content_type: Option<&'static str>,
}

impl SignatureHeaders {
    /// The headers as `(name, value)` pairs, in the reference package's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("Content-Digest", self.content_digest.as_deref()),
            ("Content-Length", self.content_length.as_deref()),
            ("Content-Type", self.content_type),
            ("Signature", Some(self.signature.as_str())),
            ("Signature-Input", Some(self.signature_input.as_str())),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key id cannot be an RFC 8941 string (only printable ASCII is allowed).
    #[error("key id {key_id:?} is not printable ASCII, so it cannot go in Signature-Input")]
    InvalidKeyId {
        /// The key id.
        key_id: String,
    },
    /// `created` is outside the RFC 8941 integer range (15 digits).
    #[error("created {created} is outside the structured-field integer range")]
    InvalidCreated {
        /// The value.
        created: i64,
    },
}

/// `sha-512=:<base64 of SHA-512(body)>:`, the Content-Digest of a body.
///
/// ```
/// use grantflow_protocol::signature::content_digest;
/// assert!(content_digest(b"{}").starts_with("sha-512=:"));
/// ```
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-512=:{}:", STANDARD.encode(Sha512::digest(body)))
}

/// Signs a request the way the reference packages do. `created` is in Unix seconds.
///
/// ```
/// use grantflow_protocol::keys::PrivateKey;
/// use grantflow_protocol::signature::{sign_request, SignableRequest};
///
/// let key = PrivateKey::from_seed(&[7; 32]);
/// let h = sign_request(
///     &SignableRequest { method: "POST", target_uri: "https://auth.example/", authorization: None, body: Some(b"{}") },
///     &key, "key-1", 1767225600,
/// ).unwrap();
/// assert_eq!(
///     h.signature_input,
///     r#"sig1=("@method" "@target-uri" "content-digest" "content-length" "content-type");keyid="key-1";created=1767225600"#
/// );
/// assert_eq!(h.content_length.as_deref(), Some("2"));
/// ```
pub fn sign_request(
    request: &SignableRequest<'_>,
    key: &PrivateKey,
    key_id: &str,
    created: i64,
) -> Result<SignatureHeaders, SignError> {
    if !key_id.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(SignError::InvalidKeyId {
            key_id: key_id.to_owned(),
        });
    }
    if !(-999_999_999_999_999..=999_999_999_999_999).contains(&created) {
        return Err(SignError::InvalidCreated { created });
    }
    let method = request.method.to_ascii_uppercase();
    let authorization = request.authorization.map(str::trim);
    let body = request.body.filter(|b| !b.is_empty());

    let digest = body.map(content_digest);
    let length = body.map(|b| b.len().to_string());

    let mut components: Vec<(&str, &str)> =
        vec![("@method", &method), ("@target-uri", request.target_uri)];
    if let Some(auth) = authorization {
        components.push(("authorization", auth));
    }
    if let (Some(d), Some(l)) = (&digest, &length) {
        components.push(("content-digest", d));
        components.push(("content-length", l));
        components.push(("content-type", CONTENT_TYPE_JSON));
    }

    let mut params = Parameters::new();
    params.insert("keyid".into(), BareItem::String(key_id.to_owned()));
    params.insert("created".into(), BareItem::Integer(created));
    let inner = InnerList::with_params(
        components
            .iter()
            .map(|(name, _)| Item::new(BareItem::String((*name).to_owned())))
            .collect(),
        params,
    );
    let signature_params = serialize_signature_params(&inner).ok_or(SignError::InvalidKeyId {
        key_id: key_id.to_owned(),
    })?;

    let base = signature_base(
        components
            .iter()
            .map(|(n, v)| (*n, std::borrow::Cow::Borrowed(*v))),
        &signature_params,
    );
    let sig = key.sign(base.as_bytes());

    Ok(SignatureHeaders {
        signature: format!("{LABEL}=:{}:", STANDARD.encode(sig)),
        signature_input: format!("{LABEL}={signature_params}"),
        content_digest: digest,
        content_length: length,
        content_type: body.map(|_| CONTENT_TYPE_JSON),
    })
}

/// The inner list serialised as `@signature-params` (the Signature-Input member value).
fn serialize_signature_params(inner: &InnerList) -> Option<String> {
    let mut dict = Dictionary::new();
    dict.insert(LABEL.to_owned(), ListEntry::InnerList(inner.clone()));
    let s = dict.serialize_value().ok()?;
    s.strip_prefix(&format!("{LABEL}=")).map(str::to_owned)
}

fn signature_base<'v>(
    components: impl Iterator<Item = (&'v str, std::borrow::Cow<'v, str>)>,
    signature_params: &str,
) -> String {
    let mut base = String::with_capacity(512);
    for (name, value) in components {
        base.push('"');
        base.push_str(name);
        base.push_str("\": ");
        base.push_str(&value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(signature_params);
    base
}

/// A received request to verify.
#[derive(Debug, Clone, Copy)]
pub struct VerifiableRequest<'a> {
    /// The HTTP method as received.
    pub method: &'a str,
    /// The full URL the server received the request at (scheme, authority, path and query), as
    /// the client addressed it.
    pub target_uri: &'a str,
    /// Every header as `(name, value)`; names are matched case-insensitively and repeated
    /// headers are combined with `, ` as RFC 9421 §2.1 requires.
    pub headers: &'a [(&'a str, &'a str)],
    /// The raw body bytes, if any.
    pub body: Option<&'a [u8]>,
}

impl VerifiableRequest<'_> {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect()
    }

    fn header(&self, name: &str) -> Option<String> {
        let values = self.header_values(name);
        (!values.is_empty()).then(|| values.join(", "))
    }

    fn body(&self) -> Option<&[u8]> {
        self.body.filter(|b| !b.is_empty())
    }
}

/// When `created` counts as fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// The verifier's clock, Unix seconds.
    pub now: i64,
    /// The oldest accepted `created`, in seconds before `now`.
    pub max_age_secs: u64,
    /// How far in the future `created` may be (clock skew), in seconds.
    pub max_future_skew_secs: u64,
}

/// Verification policy beyond the fixed rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// Check `created` (and `expires`, when present) against a clock. `None`, like the
    /// reference server, checks neither.
    pub freshness: Option<Freshness>,
}

/// Why a signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("the {header} header is missing")]
    MissingHeader {
        /// `Signature` or `Signature-Input`.
        header: &'static str,
    },
    /// A header is not a valid RFC 8941 structured field of the expected type.
    #[error("the {header} header is not a valid structured-field dictionary: {reason}")]
    MalformedHeader {
        /// Which header.
        header: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The header has no `sig1` member.
    #[error("the {header} header has no `sig1` member")]
    LabelMissing {
        /// Which header.
        header: &'static str,
    },
    /// `Signature-Input`'s `sig1` is not an inner list of component names, or `Signature`'s is
    /// not a byte sequence.
    #[error("`sig1` in {header} has the wrong type: {expected}")]
    WrongMemberType {
        /// Which header.
        header: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A covered component is not a plain lowercase string (or has parameters, which this
    /// verifier does not support), or is listed twice.
    #[error("covered component {component:?} is invalid: {reason}")]
    InvalidComponent {
        /// The component as received.
        component: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A derived component this verifier does not compute.
    #[error("covered component {component:?} is not supported")]
    UnsupportedComponent {
        /// The component.
        component: String,
    },
    /// A signature parameter is missing or has the wrong type.
    #[error("signature parameter `{param}` is missing or not {expected}")]
    InvalidParameter {
        /// `keyid`, `created`, `expires` or `alg`.
        param: &'static str,
        /// The expected type.
        expected: &'static str,
    },
    /// `alg` names another algorithm.
    #[error("signature algorithm {alg:?} is not supported (only ed25519)")]
    UnsupportedAlgorithm {
        /// The `alg` parameter.
        alg: String,
    },
    /// A component the profile requires is not covered.
    #[error("{component} must be covered by the signature ({why})")]
    RequiredComponentNotCovered {
        /// The component.
        component: &'static str,
        /// Why it is required.
        why: &'static str,
    },
    /// A covered header is absent from the request.
    #[error("covered component {component:?} is not present in the request")]
    ComponentMissing {
        /// The component.
        component: String,
    },
    /// `content-digest` is covered but the request has no body.
    #[error("content-digest is covered but the request has no body")]
    DigestWithoutBody,
    /// The Content-Digest header is not a dictionary of byte sequences.
    #[error("malformed Content-Digest: {reason}")]
    MalformedContentDigest {
        /// What is wrong.
        reason: String,
    },
    /// No digest in Content-Digest uses sha-256 or sha-512.
    #[error("Content-Digest has no sha-256 or sha-512 digest")]
    UnsupportedDigestAlgorithm,
    /// A digest does not match the body.
    #[error("Content-Digest {algorithm} does not match the body")]
    DigestMismatch {
        /// `sha-256` or `sha-512`.
        algorithm: &'static str,
    },
    /// Content-Length does not match the body.
    #[error("Content-Length {header:?} does not match the body length {actual}")]
    ContentLengthMismatch {
        /// The header value.
        header: String,
        /// The body length.
        actual: usize,
    },
    /// `created` is older than allowed.
    #[error("signature created at {created} is older than {max_age_secs} s (now {now})")]
    TooOld {
        /// `created`.
        created: i64,
        /// The clock.
        now: i64,
        /// The limit.
        max_age_secs: u64,
    },
    /// `created` is in the future beyond the allowed skew.
    #[error("signature created at {created} is in the future (now {now})")]
    CreatedInFuture {
        /// `created`.
        created: i64,
        /// The clock.
        now: i64,
    },
    /// `expires` has passed.
    #[error("signature expired at {expires} (now {now})")]
    Expired {
        /// `expires`.
        expires: i64,
        /// The clock.
        now: i64,
    },
    /// No key with this id is known.
    #[error("no key is known with keyid {key_id:?}")]
    UnknownKey {
        /// The key id.
        key_id: String,
    },
    /// The Ed25519 signature does not verify over the rebuilt signature base.
    #[error("the signature does not verify with key {key_id:?}")]
    SignatureMismatch {
        /// The key id.
        key_id: String,
    },
}

/// A successfully verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The `keyid`.
    pub key_id: String,
    /// `created`, Unix seconds.
    pub created: i64,
    /// The covered components, in order.
    pub components: Vec<String>,
}

/// `Signature` and `Signature-Input` parsed and checked for shape, before the key is known.
#[derive(Debug, Clone)]
pub struct ParsedSignature {
    components: Vec<String>,
    key_id: String,
    created: i64,
    expires: Option<i64>,
    signature_params: String,
    signature: [u8; 64],
}

const DERIVED: &[&str] = &[
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@path",
    "@query",
];

fn parse_dict(header: &'static str, value: &str) -> Result<Dictionary, VerifyError> {
    Parser::parse_dictionary(value.as_bytes()).map_err(|reason| VerifyError::MalformedHeader {
        header,
        reason: reason.to_owned(),
    })
}

impl ParsedSignature {
    /// Parses the `sig1` signature of a request.
    pub fn parse(request: &VerifiableRequest<'_>) -> Result<Self, VerifyError> {
        const SI: &str = "Signature-Input";
        const SIG: &str = "Signature";
        let input = request
            .header("signature-input")
            .ok_or(VerifyError::MissingHeader { header: SI })?;
        let signature = request
            .header("signature")
            .ok_or(VerifyError::MissingHeader { header: SIG })?;

        let input = parse_dict(SI, &input)?;
        let inner = match input.get(LABEL) {
            None => return Err(VerifyError::LabelMissing { header: SI }),
            Some(ListEntry::InnerList(inner)) => inner,
            Some(ListEntry::Item(_)) => {
                return Err(VerifyError::WrongMemberType {
                    header: SI,
                    expected: "an inner list of component names",
                });
            }
        };
        let signature = parse_dict(SIG, &signature)?;
        let signature: [u8; 64] = match signature.get(LABEL) {
            None => return Err(VerifyError::LabelMissing { header: SIG }),
            Some(ListEntry::Item(Item {
                bare_item: BareItem::ByteSeq(bytes),
                ..
            })) => bytes
                .as_slice()
                .try_into()
                .map_err(|_| VerifyError::WrongMemberType {
                    header: SIG,
                    expected: "a 64-byte Ed25519 signature",
                })?,
            Some(_) => {
                return Err(VerifyError::WrongMemberType {
                    header: SIG,
                    expected: "a byte sequence",
                });
            }
        };

        let mut components: Vec<String> = Vec::with_capacity(inner.items.len());
        for item in &inner.items {
            let name = match &item.bare_item {
                BareItem::String(s) => s,
                other => {
                    return Err(VerifyError::InvalidComponent {
                        component: format!("{other:?}"),
                        reason: "component names must be strings",
                    });
                }
            };
            let invalid = |reason| VerifyError::InvalidComponent {
                component: name.clone(),
                reason,
            };
            if !item.params.is_empty() {
                return Err(invalid("component parameters are not supported"));
            }
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(invalid("component names must be non-empty and lowercase"));
            }
            if name.starts_with('@') && !DERIVED.contains(&name.as_str()) {
                return Err(VerifyError::UnsupportedComponent {
                    component: name.clone(),
                });
            }
            if components.contains(name) {
                return Err(invalid("listed twice"));
            }
            components.push(name.clone());
        }

        let params = &inner.params;
        let key_id = params
            .get("keyid")
            .and_then(BareItem::as_str)
            .ok_or(VerifyError::InvalidParameter {
                param: "keyid",
                expected: "a string",
            })?
            .to_owned();
        let created = params.get("created").and_then(BareItem::as_int).ok_or(
            VerifyError::InvalidParameter {
                param: "created",
                expected: "an integer",
            },
        )?;
        let expires = match params.get("expires") {
            None => None,
            Some(v) => Some(v.as_int().ok_or(VerifyError::InvalidParameter {
                param: "expires",
                expected: "an integer",
            })?),
        };
        match params.get("alg") {
            None => {}
            Some(BareItem::String(alg)) if alg == "ed25519" => {}
            Some(BareItem::String(alg)) => {
                return Err(VerifyError::UnsupportedAlgorithm { alg: alg.clone() });
            }
            Some(_) => {
                return Err(VerifyError::InvalidParameter {
                    param: "alg",
                    expected: "a string",
                });
            }
        }
        let signature_params =
            serialize_signature_params(inner).ok_or_else(|| VerifyError::MalformedHeader {
                header: SI,
                reason: "cannot be re-serialised".into(),
            })?;

        Ok(Self {
            components,
            key_id,
            created,
            expires,
            signature_params,
            signature,
        })
    }

    /// The `keyid`: look the key up with it, then call [`ParsedSignature::verify`].
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `created`, Unix seconds (not yet checked).
    pub fn created(&self) -> i64 {
        self.created
    }

    /// The covered components, in order.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    fn covers(&self, name: &str) -> bool {
        self.components.iter().any(|c| c == name)
    }

    /// The RFC 9421 signature base this signature covers, rebuilt from the request.
    pub fn signature_base(&self, request: &VerifiableRequest<'_>) -> Result<String, VerifyError> {
        let mut values = Vec::with_capacity(self.components.len());
        for name in &self.components {
            values.push((name.as_str(), component_value(request, name)?));
        }
        Ok(signature_base(
            values
                .into_iter()
                .map(|(n, v)| (n, std::borrow::Cow::Owned(v))),
            &self.signature_params,
        ))
    }

    /// Checks everything that needs no key: the covered components the profile requires, and,
    /// when `content-digest` is covered, the content headers, the digest over the raw body and
    /// the length. This is the reference's `validateSignatureHeaders` step (stricter), so a
    /// server can answer "invalid signature headers" before it looks a key up.
    /// [`ParsedSignature::verify`] runs it too.
    pub fn check_request(&self, request: &VerifiableRequest<'_>) -> Result<(), VerifyError> {
        for (component, why) in [("@method", "always"), ("@target-uri", "always")] {
            if !self.covers(component) {
                return Err(VerifyError::RequiredComponentNotCovered { component, why });
            }
        }
        if request.header("authorization").is_some() && !self.covers("authorization") {
            return Err(VerifyError::RequiredComponentNotCovered {
                component: "authorization",
                why: "the request carries an Authorization header",
            });
        }
        if request.body().is_some() && !self.covers("content-digest") {
            return Err(VerifyError::RequiredComponentNotCovered {
                component: "content-digest",
                why: "the request has a body",
            });
        }
        if self.covers("content-digest") {
            check_content(request)?;
        }
        Ok(())
    }

    /// Checks the profile's rules ([`ParsedSignature::check_request`]), freshness and the
    /// Ed25519 signature.
    pub fn verify(
        &self,
        request: &VerifiableRequest<'_>,
        key: &PublicKey,
        options: &VerifyOptions,
    ) -> Result<VerifiedSignature, VerifyError> {
        self.check_request(request)?;
        if let Some(f) = options.freshness {
            check_freshness(self.created, self.expires, f)?;
        }
        let base = self.signature_base(request)?;
        if !key.verify(base.as_bytes(), &self.signature) {
            return Err(VerifyError::SignatureMismatch {
                key_id: self.key_id.clone(),
            });
        }
        Ok(VerifiedSignature {
            key_id: self.key_id.clone(),
            created: self.created,
            components: self.components.clone(),
        })
    }
}

/// Parses and verifies the `sig1` signature of a request; `key_for` maps the `keyid` to a key.
///
/// ```
/// use grantflow_protocol::keys::PrivateKey;
/// use grantflow_protocol::signature::*;
///
/// let key = PrivateKey::from_seed(&[7; 32]);
/// let (url, body) = ("https://auth.example/continue/1", br#"{"interact_ref":"r"}"#);
/// let h = sign_request(
///     &SignableRequest { method: "POST", target_uri: url, authorization: Some("GNAP tok"), body: Some(body) },
///     &key, "key-1", 1767225600,
/// ).unwrap();
/// let mut headers = vec![("Authorization", "GNAP tok")];
/// headers.extend(h.iter());
/// let request = VerifiableRequest { method: "POST", target_uri: url, headers: &headers, body: Some(body) };
/// let ok = verify_request(&request, |kid| (kid == "key-1").then(|| key.public_key()), &VerifyOptions::default());
/// assert_eq!(ok.unwrap().key_id, "key-1");
///
/// let tampered = VerifiableRequest { body: Some(br#"{"interact_ref":"x"}"#), ..request };
/// assert!(matches!(
///     verify_request(&tampered, |_| Some(key.public_key()), &VerifyOptions::default()),
///     Err(VerifyError::DigestMismatch { .. })
/// ));
/// ```
pub fn verify_request(
    request: &VerifiableRequest<'_>,
    key_for: impl FnOnce(&str) -> Option<PublicKey>,
    options: &VerifyOptions,
) -> Result<VerifiedSignature, VerifyError> {
    let parsed = ParsedSignature::parse(request)?;
    let key = key_for(parsed.key_id()).ok_or_else(|| VerifyError::UnknownKey {
        key_id: parsed.key_id.clone(),
    })?;
    parsed.verify(request, &key, options)
}

fn component_value(request: &VerifiableRequest<'_>, name: &str) -> Result<String, VerifyError> {
    let missing = || VerifyError::ComponentMissing {
        component: name.to_owned(),
    };
    if !name.starts_with('@') {
        return request.header(name).ok_or_else(missing);
    }
    if name == "@method" {
        return Ok(request.method.to_owned());
    }
    if name == "@target-uri" {
        return Ok(request.target_uri.to_owned());
    }
    let url = url::Url::parse(request.target_uri).map_err(|_| missing())?;
    match name {
        "@scheme" => Ok(url.scheme().to_owned()),
        "@authority" => {
            let host = url.host_str().ok_or_else(missing)?.to_ascii_lowercase();
            Ok(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        }
        "@path" => Ok(url.path().to_owned()),
        "@query" => Ok(format!("?{}", url.query().unwrap_or(""))),
        _ => Err(VerifyError::UnsupportedComponent {
            component: name.to_owned(),
        }),
    }
}

fn check_content(request: &VerifiableRequest<'_>) -> Result<(), VerifyError> {
    for h in ["content-digest", "content-length", "content-type"] {
        if request.header(h).is_none() {
            return Err(VerifyError::ComponentMissing {
                component: h.to_owned(),
            });
        }
    }
    let body = request.body().ok_or(VerifyError::DigestWithoutBody)?;
    let length = request.header("content-length").unwrap_or_default();
    if length.parse::<usize>().ok() != Some(body.len()) {
        return Err(VerifyError::ContentLengthMismatch {
            header: length,
            actual: body.len(),
        });
    }
    let digest_header = request.header("content-digest").unwrap_or_default();
    let digests = Parser::parse_dictionary(digest_header.as_bytes()).map_err(|reason| {
        VerifyError::MalformedContentDigest {
            reason: reason.to_owned(),
        }
    })?;
    let mut checked = 0;
    for (algorithm, entry) in &digests {
        let expected = match entry {
            ListEntry::Item(Item {
                bare_item: BareItem::ByteSeq(bytes),
                ..
            }) => bytes,
            _ => {
                return Err(VerifyError::MalformedContentDigest {
                    reason: format!("{algorithm} is not a byte sequence"),
                });
            }
        };
        let (algorithm, matches): (&'static str, bool) = match algorithm.as_str() {
            "sha-512" => (
                "sha-512",
                Sha512::digest(body).as_slice().ct_eq(expected).into(),
            ),
            "sha-256" => (
                "sha-256",
                Sha256::digest(body).as_slice().ct_eq(expected).into(),
            ),
            // RFC 9530: digests in algorithms the recipient does not know are ignored.
            _ => continue,
        };
        if !matches {
            return Err(VerifyError::DigestMismatch { algorithm });
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(VerifyError::UnsupportedDigestAlgorithm);
    }
    Ok(())
}

fn check_freshness(created: i64, expires: Option<i64>, f: Freshness) -> Result<(), VerifyError> {
    let age = i128::from(f.now) - i128::from(created);
    if age > i128::from(f.max_age_secs) {
        return Err(VerifyError::TooOld {
            created,
            now: f.now,
            max_age_secs: f.max_age_secs,
        });
    }
    if -age > i128::from(f.max_future_skew_secs) {
        return Err(VerifyError::CreatedInFuture {
            created,
            now: f.now,
        });
    }
    if let Some(expires) = expires.filter(|e| f.now > *e) {
        return Err(VerifyError::Expired {
            expires,
            now: f.now,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://auth.example/continue/1";
    const BODY: &[u8] = br#"{"interact_ref":"r"}"#;
    const CREATED: i64 = 1_767_225_600;

    fn key() -> PrivateKey {
        PrivateKey::from_seed(&[7; 32])
    }

    /// Signed POST with Authorization and body, as owned header pairs.
    fn signed() -> Vec<(String, String)> {
        let h = sign_request(
            &SignableRequest {
                method: "POST",
                target_uri: URL,
                authorization: Some("GNAP tok"),
                body: Some(BODY),
            },
            &key(),
            "k1",
            CREATED,
        )
        .unwrap();
        let mut headers = vec![("Authorization".to_owned(), "GNAP tok".to_owned())];
        headers.extend(h.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
        headers
    }

    fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        headers.push((name.to_owned(), value.to_owned()));
    }

    fn check_with(
        headers: &[(String, String)],
        body: Option<&[u8]>,
        options: &VerifyOptions,
    ) -> Result<VerifiedSignature, VerifyError> {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = VerifiableRequest {
            method: "POST",
            target_uri: URL,
            headers: &pairs,
            body,
        };
        verify_request(
            &req,
            |kid| (kid == "k1").then(|| key().public_key()),
            options,
        )
    }

    fn check(headers: &[(String, String)]) -> Result<VerifiedSignature, VerifyError> {
        check_with(headers, Some(BODY), &VerifyOptions::default())
    }

    /// Re-signs an arbitrary Signature-Input (raw member value after `sig1=`) over the request,
    /// so that only the rule under test can fail.
    fn resign(headers: &mut Vec<(String, String)>, input_value: &str) {
        set(headers, "Signature-Input", &format!("sig1={input_value}"));
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = VerifiableRequest {
            method: "POST",
            target_uri: URL,
            headers: &pairs,
            body: Some(BODY),
        };
        let parsed = ParsedSignature::parse(&req).unwrap();
        let base = parsed.signature_base(&req).unwrap();
        let sig = key().sign(base.as_bytes());
        set(
            headers,
            "Signature",
            &format!("sig1=:{}:", STANDARD.encode(sig)),
        );
    }

    #[test]
    fn happy_path_reports_what_was_verified() {
        let v = check(&signed()).unwrap();
        assert_eq!(v.key_id, "k1");
        assert_eq!(v.created, CREATED);
        assert_eq!(
            v.components,
            [
                "@method",
                "@target-uri",
                "authorization",
                "content-digest",
                "content-length",
                "content-type"
            ]
        );
    }

    #[test]
    fn repeated_headers_are_combined() {
        // An unrelated repeated header does not disturb anything; a split Signature-Input
        // dictionary is combined before parsing.
        let mut h = signed();
        let input = h
            .iter()
            .find(|(k, _)| k == "Signature-Input")
            .unwrap()
            .1
            .clone();
        set(&mut h, "Signature-Input", "other=(\"@method\");created=1");
        h.push(("signature-input".into(), input));
        h.push(("Accept".into(), "a".into()));
        h.push(("accept".into(), "b".into()));
        assert!(check(&h).is_ok());
    }

    #[test]
    fn missing_and_malformed_headers() {
        let mut h = signed();
        h.retain(|(k, _)| k != "Signature");
        assert_eq!(
            check(&h),
            Err(VerifyError::MissingHeader {
                header: "Signature"
            })
        );

        let mut h = signed();
        set(&mut h, "Signature-Input", "sig1=(\"@method\"");
        assert!(matches!(
            check(&h),
            Err(VerifyError::MalformedHeader {
                header: "Signature-Input",
                ..
            })
        ));

        let mut h = signed();
        set(&mut h, "Signature", "sig2=:AAAA:");
        assert_eq!(
            check(&h),
            Err(VerifyError::LabelMissing {
                header: "Signature"
            })
        );

        let mut h = signed();
        set(&mut h, "Signature-Input", "sig1=\"@method\"");
        assert!(matches!(
            check(&h),
            Err(VerifyError::WrongMemberType {
                header: "Signature-Input",
                ..
            })
        ));

        // The Rust SDK's bare base64 signature is not RFC 9421.
        let mut h = signed();
        let sig = h.iter().find(|(k, _)| k == "Signature").unwrap().1.clone();
        set(
            &mut h,
            "Signature",
            sig.trim_start_matches("sig1=:").trim_end_matches(':'),
        );
        assert!(check(&h).is_err());

        let mut h = signed();
        set(&mut h, "Signature", "sig1=:AAAA:");
        assert!(matches!(
            check(&h),
            Err(VerifyError::WrongMemberType {
                header: "Signature",
                ..
            })
        ));
    }

    #[test]
    fn component_rules() {
        let all =
            r#""@target-uri" "authorization" "content-digest" "content-length" "content-type""#;
        let mut h = signed();
        resign(&mut h, &format!(r#"({all});keyid="k1";created={CREATED}"#));
        assert!(matches!(
            check(&h),
            Err(VerifyError::RequiredComponentNotCovered {
                component: "@method",
                ..
            })
        ));

        let mut h = signed();
        resign(
            &mut h,
            &format!(r#"("@method" "@target-uri" "authorization");keyid="k1";created={CREATED}"#),
        );
        assert!(matches!(
            check(&h),
            Err(VerifyError::RequiredComponentNotCovered {
                component: "content-digest",
                ..
            })
        ));

        // Unquoted components (the Rust SDK's output) are tokens, not strings.
        let mut h = signed();
        set(
            &mut h,
            "Signature-Input",
            &format!(r#"sig1=(@method @target-uri);keyid="k1";created={CREATED}"#),
        );
        assert!(check(&h).is_err());

        let mut h = signed();
        set(
            &mut h,
            "Signature-Input",
            &format!(r#"sig1=("@method" "@Target-URI");keyid="k1";created={CREATED}"#),
        );
        assert!(matches!(
            check(&h),
            Err(VerifyError::InvalidComponent { .. })
        ));

        let mut h = signed();
        set(
            &mut h,
            "Signature-Input",
            &format!(r#"sig1=("@method" "@method");keyid="k1";created={CREATED}"#),
        );
        assert!(matches!(
            check(&h),
            Err(VerifyError::InvalidComponent {
                reason: "listed twice",
                ..
            })
        ));

        let mut h = signed();
        set(
            &mut h,
            "Signature-Input",
            &format!(r#"sig1=("@method" "@query-param";name="a");keyid="k1";created={CREATED}"#),
        );
        assert!(matches!(
            check(&h),
            Err(VerifyError::InvalidComponent { .. })
        ));

        let mut h = signed();
        set(
            &mut h,
            "Signature-Input",
            &format!(r#"sig1=("@method" "@request-target");keyid="k1";created={CREATED}"#),
        );
        assert!(matches!(
            check(&h),
            Err(VerifyError::UnsupportedComponent { .. })
        ));

        // A covered header that is not there.
        let mut h = signed();
        set(
            &mut h,
            "Signature-Input",
            &format!(
                r#"sig1=("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type" "accept");keyid="k1";created={CREATED}"#
            ),
        );
        assert!(matches!(
            check(&h),
            Err(VerifyError::ComponentMissing { .. })
        ));
    }

    #[test]
    fn derived_components_and_extra_params_verify() {
        let mut h = signed();
        resign(
            &mut h,
            &format!(
                r#"("@method" "@target-uri" "@authority" "@scheme" "@path" "@query" "authorization" "content-digest" "content-length" "content-type");created={CREATED};keyid="k1";alg="ed25519";nonce="n""#
            ),
        );
        assert!(check(&h).is_ok());
    }

    #[test]
    fn parameter_rules() {
        let comps = r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type")"#;
        for (input, param) in [
            (format!("{comps};created={CREATED}"), "keyid"),
            (format!(r#"{comps};keyid=k1;created={CREATED}"#), "keyid"),
            (format!(r#"{comps};keyid="k1""#), "created"),
            (
                format!(r#"{comps};keyid="k1";created="{CREATED}""#),
                "created",
            ),
            (
                format!(r#"{comps};keyid="k1";created={CREATED};expires=?1"#),
                "expires",
            ),
        ] {
            let mut h = signed();
            set(&mut h, "Signature-Input", &format!("sig1={input}"));
            assert!(
                matches!(check(&h), Err(VerifyError::InvalidParameter { param: p, .. }) if p == param),
                "{input}"
            );
        }
        let mut h = signed();
        set(
            &mut h,
            "Signature-Input",
            &format!(r#"sig1={comps};keyid="k1";created={CREATED};alg="rsa-pss-sha512""#),
        );
        assert!(matches!(
            check(&h),
            Err(VerifyError::UnsupportedAlgorithm { .. })
        ));
    }

    #[test]
    fn content_rules() {
        let mut h = signed();
        h.retain(|(k, _)| k != "Content-Length");
        assert!(
            matches!(check(&h), Err(VerifyError::ComponentMissing { component }) if component == "content-length")
        );

        let mut h = signed();
        set(&mut h, "Content-Length", "999");
        assert!(matches!(
            check(&h),
            Err(VerifyError::ContentLengthMismatch { actual: 20, .. })
        ));

        assert_eq!(
            check_with(&signed(), None, &VerifyOptions::default()),
            Err(VerifyError::DigestWithoutBody)
        );

        let mut h = signed();
        set(&mut h, "Content-Digest", "sha-512=abc");
        assert!(matches!(
            check(&h),
            Err(VerifyError::MalformedContentDigest { .. })
        ));

        let mut h = signed();
        set(&mut h, "Content-Digest", "md5=:AAAA:");
        assert_eq!(check(&h), Err(VerifyError::UnsupportedDigestAlgorithm));

        // A second, correct sha-256 digest is checked too; a wrong one is rejected.
        let sha256 = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(BODY)));
        let sha512 = content_digest(BODY);
        let mut h = signed();
        set(&mut h, "Content-Digest", &format!("{sha256}, {}", &sha512));
        resign(
            &mut h,
            &format!(
                r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type");keyid="k1";created={CREATED}"#
            ),
        );
        assert!(check(&h).is_ok());
        let mut h = signed();
        set(
            &mut h,
            "Content-Digest",
            &format!("sha-256=:{}:, {sha512}", STANDARD.encode([0u8; 32])),
        );
        resign(
            &mut h,
            &format!(
                r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type");keyid="k1";created={CREATED}"#
            ),
        );
        assert_eq!(
            check(&h),
            Err(VerifyError::DigestMismatch {
                algorithm: "sha-256"
            })
        );
    }

    #[test]
    fn freshness() {
        let opts = |now, max_age_secs| VerifyOptions {
            freshness: Some(Freshness {
                now,
                max_age_secs,
                max_future_skew_secs: 5,
            }),
        };
        assert!(check_with(&signed(), Some(BODY), &opts(CREATED + 300, 300)).is_ok());
        assert!(matches!(
            check_with(&signed(), Some(BODY), &opts(CREATED + 301, 300)),
            Err(VerifyError::TooOld { .. })
        ));
        assert!(check_with(&signed(), Some(BODY), &opts(CREATED - 5, 300)).is_ok());
        assert!(matches!(
            check_with(&signed(), Some(BODY), &opts(CREATED - 6, 300)),
            Err(VerifyError::CreatedInFuture { .. })
        ));
        let mut h = signed();
        resign(
            &mut h,
            &format!(
                r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type");keyid="k1";created={CREATED};expires={}"#,
                CREATED + 10
            ),
        );
        assert!(check_with(&h, Some(BODY), &opts(CREATED + 10, 300)).is_ok());
        assert!(matches!(
            check_with(&h, Some(BODY), &opts(CREATED + 11, 300)),
            Err(VerifyError::Expired { .. })
        ));
    }

    #[test]
    fn check_request_needs_no_key() {
        let h = signed();
        let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let req = VerifiableRequest {
            method: "POST",
            target_uri: URL,
            headers: &pairs,
            body: Some(BODY),
        };
        let parsed = ParsedSignature::parse(&req).unwrap();
        assert_eq!(parsed.check_request(&req), Ok(()));
        let tampered = VerifiableRequest {
            body: Some(br#"{"interact_ref":"x"}"#),
            ..req
        };
        assert_eq!(
            parsed.check_request(&tampered),
            Err(VerifyError::DigestMismatch {
                algorithm: "sha-512"
            })
        );
    }

    #[test]
    fn key_and_signature_rules() {
        let h = signed();
        let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let req = VerifiableRequest {
            method: "POST",
            target_uri: URL,
            headers: &pairs,
            body: Some(BODY),
        };
        assert_eq!(
            verify_request(&req, |_| None, &VerifyOptions::default()),
            Err(VerifyError::UnknownKey {
                key_id: "k1".into()
            })
        );
        let other = PrivateKey::from_seed(&[8; 32]).public_key();
        assert_eq!(
            verify_request(&req, |_| Some(other), &VerifyOptions::default()),
            Err(VerifyError::SignatureMismatch {
                key_id: "k1".into()
            })
        );
        let lower = VerifiableRequest {
            method: "post",
            ..req
        };
        assert!(matches!(
            verify_request(
                &lower,
                |_| Some(key().public_key()),
                &VerifyOptions::default()
            ),
            Err(VerifyError::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn sign_rejects_unserialisable_inputs() {
        let req = SignableRequest {
            method: "GET",
            target_uri: URL,
            authorization: None,
            body: None,
        };
        assert!(matches!(
            sign_request(&req, &key(), "kéy", CREATED),
            Err(SignError::InvalidKeyId { .. })
        ));
        assert!(matches!(
            sign_request(&req, &key(), "k", 1_000_000_000_000_000),
            Err(SignError::InvalidCreated { .. })
        ));
        let h = sign_request(&req, &key(), "k", CREATED).unwrap();
        assert_eq!(h.iter().count(), 2);
        assert_eq!(
            h.signature_input,
            format!(r#"sig1=("@method" "@target-uri");keyid="k";created={CREATED}"#)
        );
        // An empty body is no body.
        let empty = SignableRequest {
            body: Some(b""),
            ..req
        };
        assert_eq!(sign_request(&empty, &key(), "k", CREATED).unwrap(), h);
    }
}
