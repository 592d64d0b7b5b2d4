//! Ed25519 keys: the client's [`PrivateKey`] and a peer's [`PublicKey`].
//!
//! - Load a private key from PKCS#8 PEM (a string, or a file: the one place this crate touches
//!   the file system, because every caller would otherwise repeat it) or from a private JWK.
//! - [`PrivateKey::generate`] makes a new key; call it only when the user asked for one.
//! - Export the public half as a [`Jwk`] or [`Jwks`] for the wallet address's `jwks.json`.
//!
//! Private key bytes are zeroized on drop (ed25519-dalek's `SigningKey` is `ZeroizeOnDrop`, and
//! every intermediate buffer here is `Zeroizing`), and `Debug` prints only the public key.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::jwk::{Jwk, JwkError, Jwks};

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM is not a PKCS#8 Ed25519 private key (`-----BEGIN PRIVATE KEY-----`).
    #[error("not a PKCS#8 PEM Ed25519 private key: {reason}")]
    InvalidPkcs8Pem {
        /// What the decoder said (never contains key material).
        reason: String,
    },
    /// The PEM is not an SPKI Ed25519 public key (`-----BEGIN PUBLIC KEY-----`).
    #[error("not an SPKI PEM Ed25519 public key: {reason}")]
    InvalidSpkiPem {
        /// What the decoder said.
        reason: String,
    },
    /// The key file could not be read.
    #[error("cannot read private key file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The private JWK is not JSON of an Ed25519 OKP key with `kid`, `x` and `d`.
    #[error("not a private Ed25519 JWK (need kty OKP, crv Ed25519, kid, x, d): {reason}")]
    InvalidPrivateJwk {
        /// What is wrong.
        reason: String,
    },
    /// The private JWK's `x` is not the public key of its `d`.
    #[error("private JWK {kid:?}: `x` is not the public key of `d`")]
    JwkKeyMismatch {
        /// The key id.
        kid: String,
    },
    /// A public JWK's `x` is not a key.
    #[error(transparent)]
    Jwk(#[from] JwkError),
    /// 32 bytes that are not a valid Ed25519 public key (not a curve point).
    #[error("JWK {kid:?}: `x` is not a valid Ed25519 public key")]
    InvalidPublicKey {
        /// The key id.
        kid: String,
    },
}

/// An Ed25519 private key that signs requests.
///
/// ```
/// use grantflow_protocol::keys::PrivateKey;
///
/// let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ4To36G3SFe2oOs2g2IzNj9sWHqAGLO2PHTLkMgpGeL\n-----END PRIVATE KEY-----\n";
/// let key = PrivateKey::from_pkcs8_pem(pem).unwrap();
/// assert_eq!(key.public_jwk("k1").x, "0rDE1Vl8kF_JHTKZrCSTY9yk7MgvA2ltJJQ6D6tBjmY");
/// assert!(!format!("{key:?}").contains("MC4C"));
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    signing: SigningKey,
}

impl PrivateKey {
    /// Loads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) Ed25519 key, as written by
    /// `generateKey` of the reference package or `openssl genpkey -algorithm ed25519`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        SigningKey::from_pkcs8_pem(pem.trim())
            .map(|signing| Self { signing })
            .map_err(|e| KeyError::InvalidPkcs8Pem {
                reason: e.to_string(),
            })
    }

    /// Reads and loads a PKCS#8 PEM key file.
    pub fn from_pkcs8_pem_file(path: &Path) -> Result<Self, KeyError> {
        let pem =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KeyError::ReadFile {
                    path: path.to_owned(),
                    source,
                })?,
            );
        Self::from_pkcs8_pem(&pem)
    }

    /// Loads a private JWK (`{"kty":"OKP","crv":"Ed25519","kid":…,"x":…,"d":…}`), returning the
    /// key and its `kid`. `x` must be the public key of `d`.
    pub fn from_jwk_json(json: &str) -> Result<(Self, String), KeyError> {
        #[derive(Deserialize)]
        struct PrivateJwk {
            kty: String,
            crv: String,
            kid: String,
            x: String,
            d: crate::secret::Secret,
            #[serde(default)]
            alg: Option<String>,
        }
        let invalid = |reason: String| KeyError::InvalidPrivateJwk { reason };
        let jwk: PrivateJwk = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(invalid(format!("kty {:?} crv {:?}", jwk.kty, jwk.crv)));
        }
        if let Some(alg) = jwk.alg.as_deref().filter(|a| *a != "EdDSA") {
            return Err(invalid(format!("alg {alg:?}, expected EdDSA")));
        }
        let d = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(jwk.d.expose().as_bytes())
                .map_err(|_| invalid("`d` is not base64url without padding".into()))?,
        );
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            d.as_slice()
                .try_into()
                .map_err(|_| invalid(format!("`d` is {} bytes, expected 32", d.len())))?,
        );
        let key = Self {
            signing: SigningKey::from_bytes(&seed),
        };
        if key.public_jwk(&jwk.kid).x != jwk.x {
            return Err(KeyError::JwkKeyMismatch { kid: jwk.kid });
        }
        Ok((key, jwk.kid))
    }

    /// Builds a key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Generates a new key from the operating system's random source. Call this only when the
    /// user asked for a new key: a silently generated key is one no wallet address knows.
    pub fn generate() -> Self {
        Self {
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The key as PKCS#8 v1 PEM (the form Node's `crypto` and `openssl genpkey` write), to store
    /// a generated key. Zeroized when dropped.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        // RFC 8410: a fixed 16-byte prefix, then the 32-byte seed.
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = Zeroizing::new([0u8; 48]);
        der[..16].copy_from_slice(&PREFIX);
        der[16..].copy_from_slice(self.signing.as_bytes());
        let b64 = Zeroizing::new(STANDARD.encode(der.as_slice()));
        let mut pem = Zeroizing::new(String::with_capacity(128));
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        pem.push_str(&b64);
        pem.push_str("\n-----END PRIVATE KEY-----\n");
        pem
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            verifying: self.signing.verifying_key(),
        }
    }

    /// The public JWK with this key id (the shape the reference package's `generateJwk` makes).
    pub fn public_jwk(&self, kid: &str) -> Jwk {
        self.public_key().to_jwk(kid)
    }

    /// A JWKS holding the public JWK, the body of `<wallet address>/jwks.json`.
    pub fn public_jwks(&self, kid: &str) -> Jwks {
        Jwks {
            keys: vec![self.public_jwk(kid)],
        }
    }

    /// Signs bytes (the RFC 9421 signature base). Ed25519 is deterministic.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field(
                "public",
                &URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes()),
            )
            .field("private", &"***")
            .finish()
    }
}

/// An Ed25519 public key that verifies signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    verifying: VerifyingKey,
}

impl PublicKey {
    /// The key of a public JWK.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let bytes = jwk.public_key_bytes()?;
        VerifyingKey::from_bytes(&bytes)
            .map(|verifying| Self { verifying })
            .map_err(|_| KeyError::InvalidPublicKey {
                kid: jwk.kid.clone(),
            })
    }

    /// Loads an SPKI PEM (`-----BEGIN PUBLIC KEY-----`) Ed25519 key.
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(|verifying| Self { verifying })
            .map_err(|e| KeyError::InvalidSpkiPem {
                reason: e.to_string(),
            })
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.verifying.to_bytes()
    }

    /// The public JWK with this key id.
    pub fn to_jwk(&self, kid: &str) -> Jwk {
        Jwk::ed25519(kid, self.verifying.as_bytes())
    }

    /// Verifies an Ed25519 signature strictly (rejects non-canonical encodings and weak keys).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.verifying.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({})",
            URL_SAFE_NO_PAD.encode(self.verifying.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ4To36G3SFe2oOs2g2IzNj9sWHqAGLO2PHTLkMgpGeL\n-----END PRIVATE KEY-----\n";
    const SPKI: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA0rDE1Vl8kF/JHTKZrCSTY9yk7MgvA2ltJJQ6D6tBjmY=\n-----END PUBLIC KEY-----\n";
    const X: &str = "0rDE1Vl8kF_JHTKZrCSTY9yk7MgvA2ltJJQ6D6tBjmY";
    const SEED_HEX: &str = "9e13a37e86dd215eda83acda0d88ccd8fdb161ea0062ced8f1d32e4320a4678b";

    fn seed() -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&SEED_HEX[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn pem_seed_and_jwk_agree() {
        let from_pem = PrivateKey::from_pkcs8_pem(PEM).unwrap();
        let from_seed = PrivateKey::from_seed(&seed());
        assert_eq!(from_pem.public_key(), from_seed.public_key());
        assert_eq!(from_pem.public_jwk("k").x, X);
        assert_eq!(
            PublicKey::from_spki_pem(SPKI).unwrap(),
            from_pem.public_key()
        );
        let jwks = from_pem.public_jwks("k");
        assert_eq!(
            PublicKey::from_jwk(&jwks.keys[0]).unwrap(),
            from_pem.public_key()
        );
    }

    #[test]
    fn pem_round_trips() {
        let key = PrivateKey::from_pkcs8_pem(PEM).unwrap();
        let pem = key.to_pkcs8_pem();
        assert_eq!(pem.as_str(), PEM);
        let generated = PrivateKey::generate();
        let again = PrivateKey::from_pkcs8_pem(&generated.to_pkcs8_pem()).unwrap();
        assert_eq!(again.public_key(), generated.public_key());
    }

    #[test]
    fn file_load() {
        let dir =
            std::env::temp_dir().join(format!("grantflow-protocol-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.pem");
        std::fs::write(&path, PEM).unwrap();
        assert_eq!(
            PrivateKey::from_pkcs8_pem_file(&path)
                .unwrap()
                .public_jwk("k")
                .x,
            X
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            PrivateKey::from_pkcs8_pem_file(&path),
            Err(KeyError::ReadFile { .. })
        ));
    }

    #[test]
    fn private_jwk() {
        let d = URL_SAFE_NO_PAD.encode(seed());
        let json = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k9","x":"{X}","d":"{d}"}}"#
        );
        let (key, kid) = PrivateKey::from_jwk_json(&json).unwrap();
        assert_eq!(kid, "k9");
        assert_eq!(key.public_jwk("k9").x, X);

        let wrong_x = json.replace(X, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert!(matches!(
            PrivateKey::from_jwk_json(&wrong_x),
            Err(KeyError::JwkKeyMismatch { .. })
        ));
        for bad in [
            json.replace("OKP", "EC"),
            json.replace("\"EdDSA\"", "\"ES256\""),
            json.replace(&d, "AAAA"),
            "{}".to_string(),
        ] {
            assert!(matches!(
                PrivateKey::from_jwk_json(&bad),
                Err(KeyError::InvalidPrivateJwk { .. })
            ));
        }
    }

    #[test]
    fn bad_pem_is_a_typed_error() {
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            ),
            Err(KeyError::InvalidPkcs8Pem { .. })
        ));
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(SPKI),
            Err(KeyError::InvalidPkcs8Pem { .. })
        ));
    }

    #[test]
    fn debug_never_prints_the_private_key() {
        let key = PrivateKey::from_seed(&seed());
        let dbg = format!("{key:?}");
        assert!(dbg.contains(X) && dbg.contains("***"));
        assert!(!dbg.contains(&URL_SAFE_NO_PAD.encode(seed())));
        assert!(!dbg.to_lowercase().contains(SEED_HEX));
    }

    #[test]
    fn generated_keys_differ_and_sign() {
        let a = PrivateKey::generate();
        let b = PrivateKey::generate();
        assert_ne!(a.public_key(), b.public_key());
        let sig = a.sign(b"base");
        assert!(a.public_key().verify(b"base", &sig));
        assert!(!b.public_key().verify(b"base", &sig));
    }
}
