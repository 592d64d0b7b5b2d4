//! Verifying: [`ParsedSignature`] parses `Signature` and `Signature-Input` and checks their shape
//! before the key is known, then checks the profile's rules, freshness and the Ed25519 signature;
//! [`verify_request`] does both steps.

use std::borrow::Cow;

use sfv::{BareItem, Dictionary, Item, ListEntry, Parser};

use super::LABEL;
use super::base::{component_value, serialize_signature_params, signature_base};
use super::digest::check_content;
use super::error::VerifyError;
use super::request::VerifiableRequest;
use crate::keys::PublicKey;

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
            values.into_iter().map(|(n, v)| (n, Cow::Owned(v))),
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
