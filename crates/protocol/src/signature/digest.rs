//! `Content-Digest` (RFC 9530): made over the exact body bytes, and checked on a received request
//! together with `Content-Length` and `Content-Type`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sfv::{BareItem, Item, ListEntry, Parser};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::error::VerifyError;
use super::request::VerifiableRequest;

/// `sha-512=:<base64 of SHA-512(body)>:`, the Content-Digest of a body.
///
/// ```
/// use grantflow_protocol::signature::content_digest;
/// assert!(content_digest(b"{}").starts_with("sha-512=:"));
/// ```
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-512=:{}:", STANDARD.encode(Sha512::digest(body)))
}

pub(super) fn check_content(request: &VerifiableRequest<'_>) -> Result<(), VerifyError> {
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
