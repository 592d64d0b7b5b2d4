//! JSON Web Keys as Open Payments publishes them: Ed25519 public keys (`kty: OKP`,
//! `crv: Ed25519`, `alg: EdDSA`) served at `<wallet address>/jwks.json` as `{"keys": [...]}`.
//!
//! These are public wire types only; loading and generating private keys is in [`crate::keys`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The JWK key type of an Ed25519 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyType {
    /// `OKP`: octet key pair (RFC 8037).
    #[serde(rename = "OKP")]
    Okp,
}

/// The JWK curve of an Ed25519 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Curve {
    /// `Ed25519`.
    Ed25519,
}

/// The JWK algorithm of an Ed25519 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwkAlgorithm {
    /// `EdDSA`.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

/// The JWK `use` of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyUse {
    /// `sig`: the key signs.
    #[serde(rename = "sig")]
    Sig,
}

/// A public Ed25519 JWK as Open Payments uses it.
///
/// Field order on output is the reference package's (`alg, kid, kty, crv, x`), `use` last when set.
///
/// ```
/// use grantflow_protocol::jwk::Jwk;
///
/// let jwk: Jwk = serde_json::from_str(
///     r#"{"alg":"EdDSA","kid":"k1","kty":"OKP","crv":"Ed25519","x":"0rDE1Vl8kF_JHTKZrCSTY9yk7MgvA2ltJJQ6D6tBjmY"}"#,
/// ).unwrap();
/// assert_eq!(jwk.public_key_bytes().unwrap()[0], 0xd2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `EdDSA`.
    pub alg: JwkAlgorithm,
    /// The key id; the `keyid` of signatures made with this key.
    pub kid: String,
    /// Always `OKP`.
    pub kty: KeyType,
    /// Always `Ed25519`.
    pub crv: Curve,
    /// base64url (no padding) of the raw 32-byte public key.
    pub x: String,
    /// `sig` when given.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<KeyUse>,
}

/// Why a JWK's `x` is not an Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// `x` is not base64url without padding.
    #[error("JWK `x` of key {kid:?} is not base64url without padding")]
    NotBase64Url {
        /// The key id.
        kid: String,
    },
    /// `x` decodes, but not to 32 bytes.
    #[error("JWK `x` of key {kid:?} decodes to {len} bytes, an Ed25519 public key has 32")]
    WrongLength {
        /// The key id.
        kid: String,
        /// Decoded length.
        len: usize,
    },
}

impl Jwk {
    /// Builds the public JWK of a raw Ed25519 public key.
    pub fn ed25519(kid: impl Into<String>, public_key: &[u8; 32]) -> Self {
        Self {
            alg: JwkAlgorithm::EdDsa,
            kid: kid.into(),
            kty: KeyType::Okp,
            crv: Curve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(public_key),
            use_: None,
        }
    }

    /// The raw 32-byte public key in `x`.
    pub fn public_key_bytes(&self) -> Result<[u8; 32], JwkError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.x)
            .map_err(|_| JwkError::NotBase64Url {
                kid: self.kid.clone(),
            })?;
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| JwkError::WrongLength {
            kid: self.kid.clone(),
            len: bytes.len(),
        })
    }
}

/// A JWK set: the body of `<wallet address>/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key with this `kid`, if any.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_JWK: &str = r#"{"alg":"EdDSA","kid":"sigvec-ed25519-key-1","kty":"OKP","crv":"Ed25519","x":"0rDE1Vl8kF_JHTKZrCSTY9yk7MgvA2ltJJQ6D6tBjmY"}"#;

    #[test]
    fn round_trips_the_reference_shape() {
        let jwk: Jwk = serde_json::from_str(VECTOR_JWK).unwrap();
        assert_eq!(serde_json::to_string(&jwk).unwrap(), VECTOR_JWK);
        let bytes = jwk.public_key_bytes().unwrap();
        assert_eq!(Jwk::ed25519("sigvec-ed25519-key-1", &bytes), jwk);
    }

    #[test]
    fn rejects_other_key_types() {
        for bad in [
            r#"{"alg":"RS256","kid":"k","kty":"OKP","crv":"Ed25519","x":"AA"}"#,
            r#"{"alg":"EdDSA","kid":"k","kty":"EC","crv":"Ed25519","x":"AA"}"#,
            r#"{"alg":"EdDSA","kid":"k","kty":"OKP","crv":"X25519","x":"AA"}"#,
            r#"{"alg":"EdDSA","kid":"k","kty":"OKP","crv":"Ed25519","x":"AA","use":"enc"}"#,
            r#"{"alg":"EdDSA","kty":"OKP","crv":"Ed25519","x":"AA"}"#,
        ] {
            assert!(serde_json::from_str::<Jwk>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_x_is_a_typed_error() {
        let mut jwk: Jwk = serde_json::from_str(VECTOR_JWK).unwrap();
        jwk.x = "AAAA".into();
        assert!(matches!(
            jwk.public_key_bytes(),
            Err(JwkError::WrongLength { len: 3, .. })
        ));
        jwk.x = "!!".into();
        assert!(matches!(
            jwk.public_key_bytes(),
            Err(JwkError::NotBase64Url { .. })
        ));
    }

    #[test]
    fn jwks_find() {
        let set: Jwks = serde_json::from_str(&format!(r#"{{"keys":[{VECTOR_JWK}]}}"#)).unwrap();
        assert!(set.find("sigvec-ed25519-key-1").is_some());
        assert!(set.find("other").is_none());
    }
}
