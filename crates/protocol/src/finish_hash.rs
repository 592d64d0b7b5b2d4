//! The interaction finish hash (RFC 9635 §4.2.3).
//!
//! When the resource owner finishes the interaction, the authorization server redirects to the
//! client's `interact.finish.uri` with `hash` and `interact_ref`. The hash binds four values,
//! joined by `\n` with no trailing newline:
//!
//! 1. the client's `interact.finish.nonce`,
//! 2. the AS nonce (`interact.finish` in the pending grant response),
//! 3. the `interact_ref`,
//! 4. the grant endpoint URL exactly as the client POSTed to it,
//!
//! hashed with SHA-256. RFC 9635 encodes it base64url without padding; the reference server
//! (Rafiki) uses standard base64 **with** padding. [`verify_finish_hash`] accepts both (and
//! standard base64 without padding) and compares the decoded 32 bytes in constant time. If it
//! fails, the client must not send `interact_ref` to the server.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How to encode a computed finish hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishHashEncoding {
    /// base64url without padding, as RFC 9635 requires.
    Rfc9635,
    /// Standard base64 with padding, as the reference server sends it.
    PaddedBase64,
}

/// Why a received finish hash was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinishHashError {
    /// The `hash` query parameter is not base64 or base64url of 32 bytes.
    #[error(
        "the finish hash is not base64url or base64 of a 32-byte SHA-256 digest ({len} characters received)"
    )]
    Undecodable {
        /// Length of the received value, for diagnosis (the value itself is not echoed).
        len: usize,
    },
    /// The hash decodes, but does not match the nonces, `interact_ref` and grant endpoint: the
    /// redirect was not produced by the server for this grant. Do not continue with this
    /// `interact_ref`.
    #[error(
        "the finish hash does not match this grant's nonces, interact_ref and grant endpoint; do not send the interact_ref"
    )]
    Mismatch,
}

fn digest(
    client_nonce: &str,
    as_nonce: &str,
    interact_ref: &str,
    grant_endpoint: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(client_nonce.as_bytes());
    h.update(b"\n");
    h.update(as_nonce.as_bytes());
    h.update(b"\n");
    h.update(interact_ref.as_bytes());
    h.update(b"\n");
    h.update(grant_endpoint.as_bytes());
    h.finalize().into()
}

/// Computes the finish hash of a grant.
///
/// `grant_endpoint` must be the exact URL string the grant request was POSTed to.
///
/// ```
/// use grantflow_protocol::finish_hash::{finish_hash, FinishHashEncoding};
///
/// // RFC 9635 §4.2.3's example.
/// let h = finish_hash(
///     "VJLO6A4CATR0KRO",
///     "MBDOFXG4Y5CVJCX821LH",
///     "4IFWWIKYB2PQ6U56NL1",
///     "https://server.example.com/tx",
///     FinishHashEncoding::Rfc9635,
/// );
/// assert_eq!(h, "x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY");
/// ```
pub fn finish_hash(
    client_nonce: &str,
    as_nonce: &str,
    interact_ref: &str,
    grant_endpoint: &str,
    encoding: FinishHashEncoding,
) -> String {
    let d = digest(client_nonce, as_nonce, interact_ref, grant_endpoint);
    match encoding {
        FinishHashEncoding::Rfc9635 => URL_SAFE_NO_PAD.encode(d),
        FinishHashEncoding::PaddedBase64 => STANDARD.encode(d),
    }
}

/// Decodes a received hash in any accepted encoding to its 32 bytes.
fn decode_received(received: &str) -> Option<[u8; 32]> {
    let engines = [&URL_SAFE_NO_PAD, &STANDARD, &STANDARD_NO_PAD];
    engines.iter().find_map(|engine| {
        let bytes = engine.decode(received).ok()?;
        <[u8; 32]>::try_from(bytes.as_slice()).ok()
    })
}

/// Verifies a received finish hash (the `hash` query parameter, already percent-decoded).
///
/// Accepts base64url without padding (RFC 9635), standard base64 with padding (the reference
/// server) and standard base64 without padding; the comparison of the digests is constant-time.
///
/// ```
/// use grantflow_protocol::finish_hash::{verify_finish_hash, FinishHashError};
///
/// let args = ("VJLO6A4CATR0KRO", "MBDOFXG4Y5CVJCX821LH", "4IFWWIKYB2PQ6U56NL1", "https://server.example.com/tx");
/// assert!(verify_finish_hash("x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY", args.0, args.1, args.2, args.3).is_ok());
/// assert!(verify_finish_hash("x+gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY=", args.0, args.1, args.2, args.3).is_ok());
/// assert_eq!(
///     verify_finish_hash("x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY", args.0, args.1, args.2, "https://server.example.com/tx/"),
///     Err(FinishHashError::Mismatch)
/// );
/// ```
pub fn verify_finish_hash(
    received: &str,
    client_nonce: &str,
    as_nonce: &str,
    interact_ref: &str,
    grant_endpoint: &str,
) -> Result<(), FinishHashError> {
    let got = decode_received(received).ok_or(FinishHashError::Undecodable {
        len: received.len(),
    })?;
    let want = digest(client_nonce, as_nonce, interact_ref, grant_endpoint);
    if bool::from(got.ct_eq(&want)) {
        Ok(())
    } else {
        Err(FinishHashError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_NONCE: &str = "VJLO6A4CATR0KRO";
    const AS_NONCE: &str = "MBDOFXG4Y5CVJCX821LH";
    const INTERACT_REF: &str = "4IFWWIKYB2PQ6U56NL1";
    const ENDPOINT: &str = "https://server.example.com/tx";

    #[test]
    fn rfc_9635_example() {
        assert_eq!(
            finish_hash(
                CLIENT_NONCE,
                AS_NONCE,
                INTERACT_REF,
                ENDPOINT,
                FinishHashEncoding::Rfc9635
            ),
            "x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY"
        );
    }

    #[test]
    fn reference_server_encoding_of_the_rfc_example() {
        assert_eq!(
            finish_hash(
                CLIENT_NONCE,
                AS_NONCE,
                INTERACT_REF,
                ENDPOINT,
                FinishHashEncoding::PaddedBase64
            ),
            "x+gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY="
        );
    }

    #[test]
    fn verify_accepts_every_encoding() {
        for h in [
            "x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY",
            "x+gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY=",
            "x+gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY",
        ] {
            assert_eq!(
                verify_finish_hash(h, CLIENT_NONCE, AS_NONCE, INTERACT_REF, ENDPOINT),
                Ok(()),
                "{h}"
            );
        }
    }

    #[test]
    fn verify_rejects_any_changed_input() {
        let h = "x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY";
        let m = Err(FinishHashError::Mismatch);
        assert_eq!(
            verify_finish_hash(h, "X", AS_NONCE, INTERACT_REF, ENDPOINT),
            m
        );
        assert_eq!(
            verify_finish_hash(h, CLIENT_NONCE, "X", INTERACT_REF, ENDPOINT),
            m
        );
        assert_eq!(
            verify_finish_hash(h, CLIENT_NONCE, AS_NONCE, "X", ENDPOINT),
            m
        );
        assert_eq!(
            verify_finish_hash(
                h,
                CLIENT_NONCE,
                AS_NONCE,
                INTERACT_REF,
                "https://server.example.com/tx/"
            ),
            m
        );
        // A different but well-formed 32-byte value.
        assert_eq!(
            verify_finish_hash(
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                CLIENT_NONCE,
                AS_NONCE,
                INTERACT_REF,
                ENDPOINT
            ),
            m
        );
    }

    #[test]
    fn verify_rejects_undecodable() {
        for bad in [
            "",
            "not base64!",
            "x-gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBff",
            "AAAA",
        ] {
            assert!(
                matches!(
                    verify_finish_hash(bad, CLIENT_NONCE, AS_NONCE, INTERACT_REF, ENDPOINT),
                    Err(FinishHashError::Undecodable { .. })
                ),
                "{bad}"
            );
        }
    }
}
