//! Sealed values and sealed texts.
//!
//! A sealed value replaces a secret string in the stored JSON with
//! `{"key":"<key id>","sealed":"<base64url of nonce ‖ ciphertext ‖ tag>"}`: XChaCha20-Poly1305
//! under the named key's AEAD key, a fresh 192-bit nonce from the OS, and as associated data the
//! format, the grant id and the field name, so the value opens only in the grant and field it was
//! sealed for. A sealed text (state or event) carries the top-level marker
//! `"secrets":"sealed/v1"`; a text without it is plain (written before sealing, or by
//! `--insecure-plaintext`) and is read as it is.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use grantflow_machine::{SecretField, visit_secrets};
use grantflow_store::GrantId;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::SealError;
use crate::keys::{KeyRing, StorageKey};

/// The top-level key marking a sealed text, and its value (the sealed format's version).
pub const MARKER_KEY: &str = "secrets";
/// The sealed format this build writes (and the only one it reads).
pub const MARKER_VALUE: &str = "sealed/v1";

const NONCE_LEN: usize = 24;

fn associated_data(grant: GrantId, field: &str) -> Vec<u8> {
    format!("grantflow-seal/v1\0{grant}\0{field}").into_bytes()
}

fn cipher(key: &StorageKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.aead.as_slice().into())
}

/// Seals one secret under `key` for `grant` and `field`.
pub fn seal_value(key: &StorageKey, grant: GrantId, field: &str, plain: &str) -> Value {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = associated_data(grant, field);
    let sealed = cipher(key)
        .encrypt(
            &nonce,
            Payload {
                msg: plain.as_bytes(),
                aad: &aad,
            },
        )
        .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encrypts any message under 256 GiB"));
    let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    let mut map = Map::new();
    map.insert("key".into(), Value::String(key.id().to_string()));
    map.insert(
        "sealed".into(),
        Value::String(URL_SAFE_NO_PAD.encode(bytes)),
    );
    Value::Object(map)
}

/// The key id a sealed value names, if `value` is one.
fn sealed_key(value: &Value) -> Option<&str> {
    value.get("key").and_then(Value::as_str)
}

/// Opens one sealed value of `grant`'s `field`.
pub fn open_value(
    ring: &KeyRing,
    grant: GrantId,
    field: &'static SecretField,
    value: &Value,
) -> Result<Zeroizing<String>, SealError> {
    let malformed = |detail: &str| SealError::Malformed {
        grant,
        detail: format!("{}: {detail}", field.name),
    };
    let key_id = sealed_key(value).ok_or_else(|| malformed("a sealed value without a key id"))?;
    let data = value
        .get("sealed")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("a sealed value without its data"))?;
    let key = ring.key(key_id).ok_or_else(|| SealError::MissingKey {
        grant,
        field: field.name,
        key: key_id.to_owned(),
    })?;
    let bytes = URL_SAFE_NO_PAD
        .decode(data)
        .map_err(|_| malformed("the sealed data is not base64url"))?;
    if bytes.len() < NONCE_LEN {
        return Err(malformed("the sealed data is too short"));
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let aad = associated_data(grant, field.name);
    let does_not_open = || SealError::DoesNotOpen {
        grant,
        field: field.name,
        key: key_id.to_owned(),
    };
    let plain = Zeroizing::new(
        cipher(key)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| does_not_open())?,
    );
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| does_not_open())
}

fn parse(grant: GrantId, text: &str) -> Result<Value, SealError> {
    serde_json::from_str(text).map_err(|e| SealError::Malformed {
        grant,
        detail: format!("not JSON: {e}"),
    })
}

fn is_sealed(json: &Value) -> bool {
    json.get(MARKER_KEY).and_then(Value::as_str) == Some(MARKER_VALUE)
}

/// Seals every secret of a stored text (state or event) under the ring's sealing key. Values
/// already sealed under the sealing key are kept; values sealed under another key are opened and
/// sealed again (re-sealing).
pub fn seal_text(ring: &KeyRing, grant: GrantId, text: &str) -> Result<String, SealError> {
    let mut json = parse(grant, text)?;
    let sealed = is_sealed(&json);
    let key = ring.sealing_key();
    visit_secrets(&mut json, &mut |field, value| {
        let plain = match value {
            Value::String(_) if sealed => {
                return Err(SealError::PlainInSealed {
                    grant,
                    field: field.name,
                });
            }
            Value::String(plain) => Zeroizing::new(std::mem::take(plain)),
            _ if sealed_key(value) == Some(key.id().as_str()) => return Ok(()),
            _ => open_value(ring, grant, field, value)?,
        };
        *value = seal_value(key, grant, field.name, &plain);
        Ok(())
    })?;
    match &mut json {
        Value::Object(map) => {
            map.insert(MARKER_KEY.into(), Value::String(MARKER_VALUE.into()));
        }
        _ => {
            return Err(SealError::Malformed {
                grant,
                detail: "a stored text that is not a JSON object".into(),
            });
        }
    }
    Ok(json.to_string())
}

/// Opens every secret of a stored text. A text without the sealed marker is returned as it is
/// (plain: written before sealing); with the marker and no ring, it is [`SealError::NoKeyRing`].
pub fn open_text(ring: Option<&KeyRing>, grant: GrantId, text: &str) -> Result<String, SealError> {
    if !text.contains(MARKER_VALUE) {
        return Ok(text.to_owned());
    }
    let mut json = parse(grant, text)?;
    if !is_sealed(&json) {
        return Ok(text.to_owned());
    }
    let ring = ring.ok_or(SealError::NoKeyRing { grant })?;
    if let Value::Object(map) = &mut json {
        map.remove(MARKER_KEY);
    }
    visit_secrets(&mut json, &mut |field, value| {
        if value.is_string() {
            return Err(SealError::PlainInSealed {
                grant,
                field: field.name,
            });
        }
        let plain = open_value(ring, grant, field, value)?;
        *value = Value::String(plain.as_str().to_owned());
        Ok(())
    })?;
    Ok(json.to_string())
}

/// Whether a stored text is sealed with every secret under the ring's sealing key (nothing to
/// re-seal). Does not open anything.
pub fn is_current(ring: &KeyRing, grant: GrantId, text: &str) -> Result<bool, SealError> {
    let mut json = parse(grant, text)?;
    if !is_sealed(&json) {
        return Ok(false);
    }
    let sealing = ring.sealing_key().id().as_str();
    let mut current = true;
    visit_secrets::<SealError>(&mut json, &mut |_, value| {
        current &= sealed_key(value) == Some(sealing);
        Ok(())
    })?;
    Ok(current)
}

/// How many secrets of a stored text are sealed under the key `key` (none in a plain text).
/// Opens nothing: it reads the key id each sealed value names.
pub fn count_sealed_under(grant: GrantId, text: &str, key: &str) -> Result<u64, SealError> {
    if !text.contains(MARKER_VALUE) {
        return Ok(0);
    }
    let mut json = parse(grant, text)?;
    if !is_sealed(&json) {
        return Ok(0);
    }
    let mut count = 0;
    visit_secrets::<SealError>(&mut json, &mut |_, value| {
        count += u64::from(sealed_key(value) == Some(key));
        Ok(())
    })?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keys::KeyId;

    fn ring(ids: &[&str]) -> KeyRing {
        KeyRing::new(
            ids.iter()
                .map(|id| StorageKey::generate(KeyId::new(id).unwrap()))
                .collect(),
        )
        .unwrap()
    }

    const STATE: &str = r#"{"version":1,"grant":{"state":"awaiting_interaction","intent":{"request":{"access_token":{"access":[{"limits":{"debitAmount":{"value":"500"}}}]},"interact":{"finish":{"method":"redirect","uri":"http://x/finish/SECRET-path","nonce":"SECRET-n1"}}}},"interaction":{"redirect":"https://as/SECRET-r","finish":"SECRET-asn"},"continuation":{"access_token":{"value":"SECRET-ct"},"uri":"https://as/continue"}}}"#;

    #[test]
    fn a_sealed_text_hides_every_secret_and_opens_to_the_same_json() {
        let ring = ring(&["k1"]);
        let grant = GrantId::new_random();
        let sealed = seal_text(&ring, grant, STATE).unwrap();
        assert!(!sealed.contains("SECRET"), "{sealed}");
        assert!(
            sealed.contains(r#""value":"500""#),
            "amounts stay readable: {sealed}"
        );
        assert!(is_current(&ring, grant, &sealed).unwrap());
        let opened = open_text(Some(&ring), grant, &sealed).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&opened).unwrap(),
            serde_json::from_str::<Value>(STATE).unwrap()
        );
        // Sealing twice gives another ciphertext (a fresh nonce), the same meaning.
        let again = seal_text(&ring, grant, STATE).unwrap();
        assert_ne!(again, sealed);
        // Plain texts are read as they are.
        assert_eq!(open_text(None, grant, STATE).unwrap(), STATE);
        assert!(matches!(
            open_text(None, grant, &sealed),
            Err(SealError::NoKeyRing { .. })
        ));
    }

    #[test]
    fn moved_tampered_wrong_or_missing_keys_are_clear_errors() {
        let ring1 = ring(&["k1"]);
        let grant = GrantId::new_random();
        let sealed = seal_text(&ring1, grant, STATE).unwrap();
        // Another grant.
        let other = GrantId::new_random();
        let e = open_text(Some(&ring1), other, &sealed).unwrap_err();
        assert!(
            matches!(&e, SealError::DoesNotOpen { key, .. } if key == "k1"),
            "{e}"
        );
        assert!(e.to_string().contains(&other.to_string()), "{e}");
        // Another field: the nonce's sealed value put where the AS nonce goes.
        let mut json: Value = serde_json::from_str(&sealed).unwrap();
        let nonce = json["grant"]["intent"]["request"]["interact"]["finish"]["nonce"].clone();
        json["grant"]["interaction"]["finish"] = nonce;
        let e = open_text(Some(&ring1), grant, &json.to_string()).unwrap_err();
        assert!(
            matches!(
                e,
                SealError::DoesNotOpen {
                    field: "as_nonce",
                    ..
                }
            ),
            "{e}"
        );
        // A flipped bit.
        let mut json: Value = serde_json::from_str(&sealed).unwrap();
        let data = json["grant"]["continuation"]["access_token"]["value"]["sealed"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut bytes = URL_SAFE_NO_PAD.decode(data).unwrap();
        bytes[30] ^= 1;
        json["grant"]["continuation"]["access_token"]["value"]["sealed"] =
            Value::String(URL_SAFE_NO_PAD.encode(bytes));
        let e = open_text(Some(&ring1), grant, &json.to_string()).unwrap_err();
        assert!(
            matches!(e, SealError::DoesNotOpen { field: "token", .. }),
            "{e}"
        );
        // Other material under the same id: names the key.
        let e = open_text(Some(&ring(&["k1"])), grant, &sealed).unwrap_err();
        assert!(e.to_string().contains("storage key k1"), "{e}");
        // A ring without the key.
        let e = open_text(Some(&ring(&["k2"])), grant, &sealed).unwrap_err();
        assert!(
            matches!(&e, SealError::MissingKey { key, .. } if key == "k1"),
            "{e}"
        );
        // A plain secret written into a sealed text.
        let mut json: Value = serde_json::from_str(&sealed).unwrap();
        json["grant"]["interaction"]["finish"] = Value::String("plain".into());
        let e = open_text(Some(&ring1), grant, &json.to_string()).unwrap_err();
        assert!(matches!(e, SealError::PlainInSealed { .. }), "{e}");
    }

    #[test]
    fn resealing_moves_every_value_to_the_new_key() {
        let old = ring(&["old"]);
        let grant = GrantId::new_random();
        let sealed = seal_text(&old, grant, STATE).unwrap();
        let both = KeyRing::parse(&format!(
            "{}\n{}",
            *StorageKey::generate(KeyId::new("new").unwrap()).to_line(),
            *old.sealing_key().to_line()
        ))
        .unwrap();
        assert!(!is_current(&both, grant, &sealed).unwrap());
        let resealed = seal_text(&both, grant, &sealed).unwrap();
        assert!(is_current(&both, grant, &resealed).unwrap());
        assert!(!resealed.contains(r#""key":"old""#));
        // Five secrets in the state: all under the old key before, all under the new one after.
        assert_eq!(count_sealed_under(grant, &sealed, "old").unwrap(), 5);
        assert_eq!(count_sealed_under(grant, &resealed, "old").unwrap(), 0);
        assert_eq!(count_sealed_under(grant, &resealed, "new").unwrap(), 5);
        assert_eq!(count_sealed_under(grant, STATE, "old").unwrap(), 0);
        let new_only = both.without("old").unwrap();
        let opened = open_text(Some(&new_only), grant, &resealed).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&opened).unwrap(),
            serde_json::from_str::<Value>(STATE).unwrap()
        );
    }
}
