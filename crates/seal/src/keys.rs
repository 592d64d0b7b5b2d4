//! The storage key ring: named 256-bit keys, the first of which seals; its text form (a key file
//! or an environment variable), and making a new key.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::error::KeyRingError;

/// The name of a storage key, written into every value it seals: 1 to 64 of `A-Z a-z 0-9 . _ -`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Checks a key id.
    pub fn new(id: &str) -> Result<Self, KeyRingError> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(KeyRingError::BadKeyId(id.chars().take(80).collect()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// One storage key: its id and 32 bytes of key material (zeroized on drop, never shown).
pub struct StorageKey {
    id: KeyId,
    material: Zeroizing<[u8; 32]>,
    /// The AEAD key, derived from the material (so the material itself encrypts nothing).
    pub(crate) aead: Zeroizing<[u8; 32]>,
    /// The HMAC key for finish-URI tokens, derived from the material.
    pub(crate) finish: Zeroizing<[u8; 32]>,
}

impl StorageKey {
    fn from_material(id: KeyId, material: [u8; 32]) -> Self {
        let material = Zeroizing::new(material);
        Self {
            id,
            aead: derive(&material, b"grantflow-seal/aead/v1"),
            finish: derive(&material, b"grantflow-seal/finish-token/v1"),
            material,
        }
    }

    /// A new key from the operating system's random number generator.
    pub fn generate(id: KeyId) -> Self {
        let mut material = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut material);
        let key = Self::from_material(id, material);
        material.zeroize();
        key
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The key's line in a key file: `<id>:<base64url material>`. This is the key material in
    /// the clear: write it only where the key is meant to live.
    pub fn to_line(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{}:{}",
            self.id,
            URL_SAFE_NO_PAD.encode(*self.material)
        ))
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageKey({}, material: <redacted>)", self.id)
    }
}

/// HMAC-SHA256(material, label): a key for one purpose.
fn derive(material: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(material)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(label);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// The storage keys: the first seals everything written; all of them open.
///
/// Text form (a key file, or the `GRANTFLOW_STORAGE_KEY` variable): one `<id>:<base64url of 32
/// bytes>` per line (or separated by commas or spaces), `#` starts a comment; the first key is
/// the sealing key.
pub struct KeyRing {
    keys: Vec<StorageKey>,
}

impl KeyRing {
    /// A ring of these keys; the first seals. Fails on no key or a repeated id.
    pub fn new(keys: Vec<StorageKey>) -> Result<Self, KeyRingError> {
        if keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(KeyRingError::DuplicateKeyId(k.id.clone()));
            }
        }
        Ok(Self { keys })
    }

    /// Parses the text form (see the type's docs).
    pub fn parse(text: &str) -> Result<Self, KeyRingError> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default();
            for entry in line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty())
            {
                let bad = |detail: &str| KeyRingError::BadEntry {
                    line: n + 1,
                    detail: detail.to_owned(),
                };
                let (id, material) = entry
                    .split_once(':')
                    .ok_or_else(|| bad("expected <id>:<base64url key material>"))?;
                let id = KeyId::new(id)?;
                let bytes = Zeroizing::new(
                    URL_SAFE_NO_PAD
                        .decode(material.trim_end_matches('='))
                        .map_err(|_| bad(&format!("key {id}: the material is not base64url")))?,
                );
                let material: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    bad(&format!(
                        "key {id}: the material is {} bytes, not 32",
                        bytes.len()
                    ))
                })?;
                keys.push(StorageKey::from_material(id, material));
            }
        }
        Self::new(keys)
    }

    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<Self, KeyRingError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KeyRingError::Io {
                    path: path.to_owned(),
                    source,
                })?,
            );
        Self::parse(&text).map_err(|e| KeyRingError::InFile {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// The text form, the sealing key first (key material in the clear).
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::from(
            "# grantflow storage keys: the first key seals, every key opens. Keep this file secret.\n",
        ));
        for k in &self.keys {
            text.push_str(&k.to_line());
            text.push('\n');
        }
        text
    }

    /// The key that seals.
    pub fn sealing_key(&self) -> &StorageKey {
        &self.keys[0]
    }

    /// A key by id.
    pub fn key(&self, id: &str) -> Option<&StorageKey> {
        self.keys.iter().find(|k| k.id.as_str() == id)
    }

    /// The ids, the sealing key first.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|k| &k.id)
    }

    /// This ring with `key` added as the sealing key (the others still open).
    pub fn with_sealing_key(mut self, key: StorageKey) -> Result<Self, KeyRingError> {
        self.keys.insert(0, key);
        Self::new(self.keys)
    }

    /// This ring without the key `id`; refused for the sealing key (values it sealed would no
    /// longer open) and for an id not in the ring.
    pub fn without(mut self, id: &str) -> Result<Self, KeyRingError> {
        match self.keys.iter().position(|k| k.id.as_str() == id) {
            None => Err(KeyRingError::NoSuchKey(id.to_owned())),
            Some(0) => Err(KeyRingError::RetireSealingKey(self.keys[0].id.clone())),
            Some(i) => {
                self.keys.remove(i);
                Ok(self)
            }
        }
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("sealing", &self.keys[0].id)
            .field("keys", &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

/// A key id for a key made now: `s` and the UTC time, plus 4 random hex digits (so two keys made
/// in the same second differ). The caller passes the time: this crate reads no clock.
pub fn key_id_for(now: chrono::DateTime<chrono::Utc>) -> KeyId {
    let suffix: u16 = rand::random();
    KeyId(format!("s{}-{suffix:04x}", now.format("%Y%m%dT%H%M%SZ")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_round_trips_and_the_first_key_seals() {
        let a = StorageKey::generate(KeyId::new("a").unwrap());
        let b = StorageKey::generate(KeyId::new("b").unwrap());
        let ring = KeyRing::new(vec![a, b]).unwrap();
        let text = ring.to_text();
        let back = KeyRing::parse(&text).unwrap();
        assert_eq!(back.sealing_key().id().as_str(), "a");
        assert_eq!(back.to_text(), text);
        // The variable form: comma separated on one line.
        let one_line = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(KeyRing::parse(&one_line).unwrap().to_text(), text);
    }

    #[test]
    fn bad_text_says_what_is_wrong_and_debug_shows_no_material() {
        let a = StorageKey::generate(KeyId::new("a").unwrap());
        let line = a.to_line();
        let material = line.split_once(':').unwrap().1.to_owned();
        assert!(!format!("{a:?}").contains(&material));
        let ring = KeyRing::parse(&line).unwrap();
        assert!(!format!("{ring:?}").contains(&material));
        assert!(matches!(KeyRing::parse(""), Err(KeyRingError::Empty)));
        assert!(matches!(
            KeyRing::parse("a:AAAA"),
            Err(KeyRingError::BadEntry { line: 1, .. })
        ));
        assert!(matches!(
            KeyRing::parse("no-colon"),
            Err(KeyRingError::BadEntry { .. })
        ));
        assert!(matches!(
            KeyRing::parse(&format!("{}\n{}", *line, *line)),
            Err(KeyRingError::DuplicateKeyId(_))
        ));
        assert!(matches!(
            KeyRing::parse(&format!("b/ad:{material}")),
            Err(KeyRingError::BadKeyId(_))
        ));
    }

    #[test]
    fn rotation_adds_a_sealing_key_and_retires_only_old_ones() {
        let ring = KeyRing::new(vec![StorageKey::generate(KeyId::new("old").unwrap())]).unwrap();
        let ring = ring
            .with_sealing_key(StorageKey::generate(KeyId::new("new").unwrap()))
            .unwrap();
        assert_eq!(ring.sealing_key().id().as_str(), "new");
        assert!(ring.key("old").is_some());
        assert!(matches!(
            ring.without("new"),
            Err(KeyRingError::RetireSealingKey(id)) if id.as_str() == "new"
        ));
        let ring = KeyRing::new(vec![
            StorageKey::generate(KeyId::new("new").unwrap()),
            StorageKey::generate(KeyId::new("old").unwrap()),
        ])
        .unwrap();
        assert!(matches!(
            ring.without("gone"),
            Err(KeyRingError::NoSuchKey(_))
        ));
        let ring = KeyRing::new(vec![
            StorageKey::generate(KeyId::new("new").unwrap()),
            StorageKey::generate(KeyId::new("old").unwrap()),
        ])
        .unwrap()
        .without("old")
        .unwrap();
        assert_eq!(ring.ids().map(KeyId::as_str).collect::<Vec<_>>(), ["new"]);
    }
}
