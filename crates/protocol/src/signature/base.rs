//! The RFC 9421 signature base, built the same way by the signer and the verifier, and the value
//! of each covered component of a received request.

use std::borrow::Cow;

use sfv::{Dictionary, InnerList, ListEntry, SerializeValue};

use super::LABEL;
use super::error::VerifyError;
use super::request::VerifiableRequest;

/// The inner list serialised as `@signature-params` (the Signature-Input member value).
pub(super) fn serialize_signature_params(inner: &InnerList) -> Option<String> {
    let mut dict = Dictionary::new();
    dict.insert(LABEL.to_owned(), ListEntry::InnerList(inner.clone()));
    let s = dict.serialize_value().ok()?;
    s.strip_prefix(&format!("{LABEL}=")).map(str::to_owned)
}

pub(super) fn signature_base<'v>(
    components: impl Iterator<Item = (&'v str, Cow<'v, str>)>,
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

pub(super) fn component_value(
    request: &VerifiableRequest<'_>,
    name: &str,
) -> Result<String, VerifyError> {
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
