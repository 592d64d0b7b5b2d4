//! [`ClientKeys`]: the client's signing keys, one of them active, switchable while the client
//! runs.
//!
//! A client key is rotated without downtime in three steps, each safe on its own:
//!
//! 1. **Publish** the new key: add it to the set ([`ClientKeys::add`]) and publish
//!    [`ClientKeys::public_jwks`] at the client's wallet address. Servers look keys up by
//!    `keyid`, so requests still signed with the old key keep verifying.
//! 2. **Switch**: [`ClientKeys::activate`] the new key. Every request signed after this call
//!    (every clone of every [`Client`](crate::Client) sharing the set) carries its `keyid`;
//!    requests already signed keep the old one, which is still published.
//! 3. **Retire** the old key: [`ClientKeys::retire`] it and publish the smaller JWKS. From then
//!    on a signature with the old key is refused by every server.
//!
//! The set is shared, not copied: a [`Client`](crate::Client) built with it, and every clone of
//! that client, sign with whatever key is active at the moment a request is signed. A worker
//! therefore switches keys without being rebuilt or restarted. Every change replaces the whole
//! set at once under a lock, so a request sees either the old or the new set, never a mix.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::keys::PrivateKey;

/// A change to a [`ClientKeys`] that would leave it unable to sign, or ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// A key id is empty: servers could not find the key.
    #[error(
        "a key id must not be empty (it is the `kid` of the key in the wallet address's jwks.json)"
    )]
    EmptyKeyId,
    /// The set holds no key with this id.
    #[error("there is no client key {kid:?} in the key set (known: {known})")]
    UnknownKey {
        /// The key id asked for.
        kid: String,
        /// The key ids the set holds, comma-separated.
        known: String,
    },
    /// Another key already has this id; a `kid` names one key for as long as it is published.
    #[error("the key id {kid:?} is already used by another key; choose another key id")]
    DuplicateKeyId {
        /// The key id.
        kid: String,
    },
    /// The active key cannot be retired: the client would have nothing to sign with.
    #[error(
        "client key {kid:?} is the active signing key; activate another key before retiring it"
    )]
    RetireActive {
        /// The key id.
        kid: String,
    },
}

/// The key that signs: its id and the key.
struct Entry {
    kid: String,
    key: PrivateKey,
}

/// One consistent state of the set: the keys, and which of them signs.
struct KeySet {
    /// Every key the set holds, in the order they were added (the JWKS order).
    keys: Vec<Arc<Entry>>,
    /// The index in `keys` of the key that signs.
    active: usize,
}

impl KeySet {
    fn position(&self, kid: &str) -> Result<usize, KeySetError> {
        self.keys
            .iter()
            .position(|e| e.kid == kid)
            .ok_or_else(|| KeySetError::UnknownKey {
                kid: kid.to_owned(),
                known: self.key_ids().join(", "),
            })
    }

    fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(|e| e.kid.clone()).collect()
    }
}

/// The client's signing keys: every key published at its wallet address, one of them active.
///
/// Cloning is cheap and shares the set: a change made through one clone is seen by all of them
/// and by every [`Client`](crate::Client) built with them. See the [module docs](self) for the
/// rotation steps.
///
/// ```
/// use grantflow_client::ClientKeys;
/// use grantflow_protocol::keys::PrivateKey;
///
/// let keys = ClientKeys::new("k1", PrivateKey::generate())?;
/// keys.add("k2", PrivateKey::generate())?;     // 1. publish keys.public_jwks() (k1 and k2)
/// assert_eq!(keys.public_jwks().keys.len(), 2);
/// keys.activate("k2")?;                         // 2. sign with k2 from now on
/// assert_eq!(keys.active_key_id(), "k2");
/// keys.retire("k1")?;                           // 3. publish keys.public_jwks() (k2 only)
/// assert_eq!(keys.key_ids(), ["k2"]);
/// assert!(keys.retire("k2").is_err());          // the active key stays
/// # Ok::<(), grantflow_client::KeySetError>(())
/// ```
#[derive(Clone)]
pub struct ClientKeys {
    set: Arc<RwLock<KeySet>>,
}

impl ClientKeys {
    /// A set of one key, which signs.
    pub fn new(kid: impl Into<String>, key: PrivateKey) -> Result<Self, KeySetError> {
        let kid = kid.into();
        if kid.is_empty() {
            return Err(KeySetError::EmptyKeyId);
        }
        Ok(Self {
            set: Arc::new(RwLock::new(KeySet {
                keys: vec![Arc::new(Entry { kid, key })],
                active: 0,
            })),
        })
    }

    /// A set of `keys` (in JWKS order) in which `active` signs; what a reloaded key-set file
    /// gives. Refuses an empty or repeated key id, and an `active` that is not in `keys`.
    pub fn from_keys(
        keys: impl IntoIterator<Item = (String, PrivateKey)>,
        active: &str,
    ) -> Result<Self, KeySetError> {
        let set = Self::build(keys, active)?;
        Ok(Self {
            set: Arc::new(RwLock::new(set)),
        })
    }

    fn build(
        keys: impl IntoIterator<Item = (String, PrivateKey)>,
        active: &str,
    ) -> Result<KeySet, KeySetError> {
        let mut entries: Vec<Arc<Entry>> = Vec::new();
        for (kid, key) in keys {
            if kid.is_empty() {
                return Err(KeySetError::EmptyKeyId);
            }
            if entries.iter().any(|e| e.kid == kid) {
                return Err(KeySetError::DuplicateKeyId { kid });
            }
            entries.push(Arc::new(Entry { kid, key }));
        }
        let mut set = KeySet {
            keys: entries,
            active: 0,
        };
        set.active = set.position(active)?;
        Ok(set)
    }

    /// Replaces the whole set with `keys`, `active` signing, in one step: a request is signed
    /// either with the old set's active key or with the new one's. On error nothing changes.
    pub fn replace(
        &self,
        keys: impl IntoIterator<Item = (String, PrivateKey)>,
        active: &str,
    ) -> Result<(), KeySetError> {
        let set = Self::build(keys, active)?;
        *self.write() = set;
        Ok(())
    }

    /// Adds a key, not yet active (step 1: publish it before activating it). Adding the same key
    /// under the same id again changes nothing; another key under a used id is refused.
    pub fn add(&self, kid: impl Into<String>, key: PrivateKey) -> Result<(), KeySetError> {
        let kid = kid.into();
        if kid.is_empty() {
            return Err(KeySetError::EmptyKeyId);
        }
        let mut set = self.write();
        if let Some(existing) = set.keys.iter().find(|e| e.kid == kid) {
            return if existing.key.public_key() == key.public_key() {
                Ok(())
            } else {
                Err(KeySetError::DuplicateKeyId { kid })
            };
        }
        set.keys.push(Arc::new(Entry { kid, key }));
        Ok(())
    }

    /// Makes `kid` the key every request is signed with from now on (step 2). The key must be in
    /// the set, and should already be published at the wallet address.
    pub fn activate(&self, kid: &str) -> Result<(), KeySetError> {
        let mut set = self.write();
        set.active = set.position(kid)?;
        Ok(())
    }

    /// Removes `kid` from the set (step 3); the active key cannot be retired.
    pub fn retire(&self, kid: &str) -> Result<(), KeySetError> {
        let mut set = self.write();
        let index = set.position(kid)?;
        if index == set.active {
            return Err(KeySetError::RetireActive {
                kid: kid.to_owned(),
            });
        }
        set.keys.remove(index);
        if index < set.active {
            set.active -= 1;
        }
        Ok(())
    }

    /// The id of the key requests are signed with now.
    pub fn active_key_id(&self) -> String {
        self.active().kid.clone()
    }

    /// The ids of every key in the set, in JWKS order.
    pub fn key_ids(&self) -> Vec<String> {
        self.read().key_ids()
    }

    /// The public JWKS of every key in the set: the body to publish at
    /// `<wallet address>/jwks.json`.
    pub fn public_jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .read()
                .keys
                .iter()
                .map(|e| e.key.public_jwk(&e.kid))
                .collect(),
        }
    }

    /// The active key and its id, held while one request is signed (a switch meanwhile affects
    /// the next request, not this one).
    pub(crate) fn with_active<T>(&self, f: impl FnOnce(&str, &PrivateKey) -> T) -> T {
        let entry = self.active();
        f(&entry.kid, &entry.key)
    }

    fn active(&self) -> Arc<Entry> {
        let set = self.read();
        Arc::clone(&set.keys[set.active])
    }

    // A panic while the lock is held cannot leave a half-changed set (every change is a single
    // assignment or checked before it is made), so a poisoned lock is still consistent.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.set.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, KeySet> {
        self.set.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.read();
        f.debug_struct("ClientKeys")
            .field("active", &set.keys[set.active].kid)
            .field("key_ids", &set.key_ids())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from_seed(&[seed; 32])
    }

    #[test]
    fn a_rotation_publishes_switches_and_retires() {
        let keys = ClientKeys::new("k1", key(1)).unwrap();
        let shared = keys.clone();
        keys.add("k2", key(2)).unwrap();
        assert_eq!(shared.key_ids(), ["k1", "k2"]);
        assert_eq!(shared.active_key_id(), "k1");
        let jwks = shared.public_jwks();
        assert_eq!(jwks.keys[1], key(2).public_jwk("k2"));

        keys.activate("k2").unwrap();
        assert_eq!(shared.active_key_id(), "k2");
        shared.with_active(|kid, k| {
            assert_eq!(kid, "k2");
            assert_eq!(k.public_key(), key(2).public_key());
        });
        keys.retire("k1").unwrap();
        assert_eq!(shared.key_ids(), ["k2"]);
        assert_eq!(shared.active_key_id(), "k2");
        assert_eq!(shared.public_jwks(), key(2).public_jwks("k2"));
    }

    #[test]
    fn changes_that_would_break_signing_are_refused_and_change_nothing() {
        let keys = ClientKeys::new("k1", key(1)).unwrap();
        keys.add("k2", key(2)).unwrap();
        assert_eq!(
            keys.retire("k1"),
            Err(KeySetError::RetireActive { kid: "k1".into() })
        );
        assert!(matches!(
            keys.activate("k3"),
            Err(KeySetError::UnknownKey { ref known, .. }) if known == "k1, k2"
        ));
        assert!(matches!(
            keys.retire("k3"),
            Err(KeySetError::UnknownKey { .. })
        ));
        assert_eq!(
            keys.add("k2", key(3)),
            Err(KeySetError::DuplicateKeyId { kid: "k2".into() })
        );
        assert_eq!(keys.add("", key(3)), Err(KeySetError::EmptyKeyId));
        // The same key under the same id again is a no-op, not an error.
        keys.add("k2", key(2)).unwrap();
        assert_eq!(keys.key_ids(), ["k1", "k2"]);
        assert_eq!(keys.active_key_id(), "k1");
        assert!(matches!(
            ClientKeys::new("", key(1)),
            Err(KeySetError::EmptyKeyId)
        ));
    }

    #[test]
    fn retiring_a_key_before_the_active_one_keeps_the_active_one() {
        let keys = ClientKeys::new("k1", key(1)).unwrap();
        keys.add("k2", key(2)).unwrap();
        keys.add("k3", key(3)).unwrap();
        keys.activate("k3").unwrap();
        keys.retire("k1").unwrap();
        assert_eq!(keys.active_key_id(), "k3");
        keys.retire("k2").unwrap();
        assert_eq!(keys.active_key_id(), "k3");
        assert_eq!(keys.key_ids(), ["k3"]);
    }

    #[test]
    fn replace_is_all_or_nothing() {
        let keys = ClientKeys::new("k1", key(1)).unwrap();
        let err = keys
            .replace(vec![("k2".to_owned(), key(2))], "k9")
            .unwrap_err();
        assert!(matches!(err, KeySetError::UnknownKey { .. }));
        assert_eq!(keys.key_ids(), ["k1"]);
        let err = keys
            .replace(
                vec![("k2".to_owned(), key(2)), ("k2".to_owned(), key(3))],
                "k2",
            )
            .unwrap_err();
        assert_eq!(err, KeySetError::DuplicateKeyId { kid: "k2".into() });
        keys.replace(
            vec![("k1".to_owned(), key(1)), ("k2".to_owned(), key(2))],
            "k2",
        )
        .unwrap();
        assert_eq!(keys.active_key_id(), "k2");
        assert_eq!(keys.key_ids(), ["k1", "k2"]);
    }

    #[test]
    fn debug_names_the_keys_but_prints_no_key_material() {
        let keys = ClientKeys::from_keys(
            vec![("k1".to_owned(), key(1)), ("k2".to_owned(), key(2))],
            "k2",
        )
        .unwrap();
        let debug = format!("{keys:?}");
        assert_eq!(
            debug,
            r#"ClientKeys { active: "k2", key_ids: ["k1", "k2"] }"#
        );
        let x = key(2).public_jwk("k2").x;
        assert!(!debug.contains(&x));
    }
}
