//! [`sign_request`]: exactly what the reference packages' `createHeaders` produces.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sfv::{BareItem, InnerList, Item, Parameters};

use super::base::{serialize_signature_params, signature_base};
use super::digest::content_digest;
use super::error::SignError;
use super::request::{SignableRequest, SignatureHeaders};
use super::{CONTENT_TYPE_JSON, LABEL};
use crate::keys::PrivateKey;

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
        components.iter().map(|(n, v)| (*n, Cow::Borrowed(*v))),
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
