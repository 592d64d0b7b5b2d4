//! Secrets sealed at rest: a storage key ring, sealed values bound to their grant and field, and
//! [`SealingStore`], which wraps any [`GrantStore`](grantflow_store::GrantStore) so that every
//! token, nonce, `interact_ref`, interaction URL and finish URI it keeps is sealed in both the
//! state and the event rows, while the store itself stays opaque and the engine above it sees the
//! JSON it wrote.
//!
//! ```
//! use std::sync::Arc;
//! use grantflow_seal::{KeyId, KeyRing, SealingStore, StorageKey};
//! use grantflow_store::{GrantId, GrantStore, GrantSummary, NewGrant, SqliteStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ring = KeyRing::new(vec![StorageKey::generate(KeyId::new("k1")?)])?;
//! let store = SealingStore::new(SqliteStore::connect("sqlite::memory:").await?, Arc::new(ring));
//! let id = GrantId::new_random();
//! let state = r#"{"version":1,"grant":{"continuation":{"access_token":{"value":"tok-123"}}}}"#;
//! store.create(NewGrant {
//!     id, idempotency_key: None, state: state.into(),
//!     event: r#"{"event":"request"}"#.into(), next_wake_at: None, lease: None,
//!     summary: GrantSummary::default(),
//!     change_summary: None,
//! }, chrono::Utc::now()).await?;
//! // The row holds a sealed value; the engine reads the token back.
//! let raw = store.inner().get(id).await?.unwrap().state;
//! assert!(!raw.contains("tok-123") && raw.contains(r#""key":"k1""#));
//! assert!(store.get(id).await?.unwrap().state.contains("tok-123"));
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - `keys.rs`: [`KeyId`], [`StorageKey`] (generated from the OS RNG, zeroized, never shown),
//!   [`KeyRing`] (the first key seals, all open) and its text form (key file, variable).
//! - `sealed.rs`: sealing and opening one value ([`seal_value`], [`open_value`]) and a whole
//!   stored text ([`seal_text`], [`open_text`], [`is_current`], [`count_sealed_under`]).
//! - `finish.rs`: finish-URI path tokens that are never stored ([`KeyRing::finish_token`],
//!   [`KeyRing::finish_token_matches`]).
//! - `store.rs`: [`SealingStore`], re-sealing ([`SealingStore::reseal_all`]) and counting what a
//!   key still seals ([`SealingStore::sealed_under`], checked before a key is retired).
//! - `error.rs`: [`KeyRingError`], [`SealError`].
//!
//! # Decisions
//!
//! - **XChaCha20-Poly1305** (RustCrypto `chacha20poly1305`). Its 192-bit nonces are drawn at
//!   random for every value: many worker processes seal under one key with no nonce counter to
//!   share, and the chance of a repeat stays negligible far beyond any store's size (AES-256-GCM's
//!   96-bit random nonces would cap a key at about 2^32 values). It is constant time in software.
//! - **What is bound.** The associated data is the format (`grantflow-seal/v1`), the grant id and
//!   the field name from [`grantflow_machine::SECRET_FIELDS`]: a sealed value copied to another
//!   grant, or to another kind of secret field, does not open. The version of the row is not
//!   bound: a state carries its secrets forward from version to version, and a worker's state
//!   must stay writable after a re-seal.
//! - **Where secrets are found** is defined once, next to the state format
//!   (`grantflow_machine::SECRET_FIELDS`, by JSON key and the key of the enclosing object), and
//!   applies to states and events alike. Only those string values are sealed; the rest of the
//!   JSON (kinds, times, amounts, URLs other than the interaction's) stays queryable by operators.
//! - **The format version** of a sealed text is the top-level `"secrets":"sealed/v1"` marker,
//!   beside the machine's own `"version"` (which describes the grant's shape, not its sealing).
//!   Rows without the marker are plain (written before sealing): read as they are, and sealed by
//!   their grant's next write or by a re-seal.
//! - **Per-purpose keys.** The key material is never used directly: the AEAD key is
//!   HMAC-SHA256(material, `grantflow-seal/aead/v1`).
//! - **Re-sealing** is a store rewrite ([`grantflow_store::Rewrite`]): one transaction per grant
//!   for its state and all its event rows, applied only if nothing changed since read (version and
//!   texts); otherwise the grant is read again. Workers keep running: their writes are computed
//!   from opened texts and sealed by their own `SealingStore`, and a rewrite changes no version.
//! - **No clock, one source of randomness**: `rand`'s OS RNG, for nonces and new keys.
//!
//! # Invariants
//!
//! - No key material and no opened secret in `Debug`, `Display` or a log line; key material is
//!   zeroized on drop.
//! - With a key ring, no string value at a secret field reaches the inner store in the clear.
//! - Opening never panics: a missing key, another key under the same id, a changed ciphertext, a
//!   value moved to another grant or field, or a plain value in a sealed text is a [`SealError`]
//!   naming the grant (and the key id), surfaced as `StoreError::Secrets`.
//! - A re-seal never writes part of a grant: its state and events change in one transaction or
//!   not at all.

mod error;
mod finish;
mod keys;
mod sealed;
mod store;

pub use error::{KeyRingError, SealError};
pub use keys::{KeyId, KeyRing, StorageKey, key_id_for};
pub use sealed::{
    MARKER_KEY, MARKER_VALUE, count_sealed_under, is_current, open_text, open_value, seal_text,
    seal_value,
};
pub use store::{MAX_PASSES, ResealReport, Resealed, SealedUnder, SealingStore};
