//! Finish-URI path tokens that are never stored: each is a keyed hash of its grant id, recomputed
//! to check a callback.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantflow_store::GrantId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::keys::{KeyRing, StorageKey};

fn mac(key: &StorageKey, grant: GrantId) -> Zeroizing<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.finish.as_slice())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(b"grantflow-seal/finish-token/v1\0");
    mac.update(grant.to_string().as_bytes());
    Zeroizing::new(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

impl KeyRing {
    /// The path token of `grant`'s finish URI: `<key id>.<base64url of HMAC-SHA256(finish key,
    /// grant id)>` under the sealing key's finish key. It proves the callback comes from whoever
    /// was sent the URI; a reader of the database cannot make it.
    pub fn finish_token(&self, grant: GrantId) -> Zeroizing<String> {
        let key = self.sealing_key();
        Zeroizing::new(format!("{}.{}", key.id(), *mac(key, grant)))
    }

    /// Whether `token` is `grant`'s finish token under the key it names (any key of the ring),
    /// compared in constant time. A token naming a retired key does not match.
    pub fn finish_token_matches(&self, grant: GrantId, token: &str) -> bool {
        let Some((id, presented)) = token.rsplit_once('.') else {
            return false;
        };
        let Some(key) = self.key(id) else {
            return false;
        };
        let expected = mac(key, grant);
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keys::KeyId;

    #[test]
    fn a_token_matches_its_grant_under_any_ring_key_only() {
        let old = StorageKey::generate(KeyId::new("old").unwrap());
        let ring = KeyRing::parse(&old.to_line()).unwrap();
        let grant = GrantId::new_random();
        let token = ring.finish_token(grant);
        assert!(token.starts_with("old."));
        assert!(ring.finish_token_matches(grant, &token));
        assert!(!ring.finish_token_matches(GrantId::new_random(), &token));
        assert!(!ring.finish_token_matches(grant, &token[..token.len() - 1]));
        assert!(!ring.finish_token_matches(grant, "old"));
        // After rotation the old key still checks tokens it made; a new token uses the new key.
        let ring = ring
            .with_sealing_key(StorageKey::generate(KeyId::new("new").unwrap()))
            .unwrap();
        assert!(ring.finish_token_matches(grant, &token));
        assert!(ring.finish_token(grant).starts_with("new."));
        let ring = ring.without("old").unwrap();
        assert!(!ring.finish_token_matches(grant, &token));
    }
}
