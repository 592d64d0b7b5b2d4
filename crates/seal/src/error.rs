//! The errors: of a key ring (loading, editing) and of a sealed value (opening).

use std::path::PathBuf;

use grantflow_store::GrantId;

use crate::keys::KeyId;

/// A key ring could not be loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// The key file could not be read.
    #[error("could not read the storage key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An error in a key file.
    #[error("storage key file {path}: {source}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        #[source]
        source: Box<KeyRingError>,
    },
    /// No key at all.
    #[error(
        "no storage key: make one with `grantflow keys storage generate --out FILE` and pass --storage-key-file FILE"
    )]
    Empty,
    /// An entry that is not `<id>:<base64url of 32 bytes>`.
    #[error("line {line}: {detail}")]
    BadEntry {
        /// The line (from 1).
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A key id with characters other than `A-Z a-z 0-9 . _ -`, or empty, or over 64 bytes.
    #[error("bad storage key id {0:?}: use 1 to 64 of A-Z a-z 0-9 . _ -")]
    BadKeyId(String),
    /// Two keys with one id.
    #[error("the storage key id {0} appears twice")]
    DuplicateKeyId(KeyId),
    /// Retiring a key the ring does not hold.
    #[error("no storage key {0} in the key ring")]
    NoSuchKey(String),
    /// Retiring the key that seals.
    #[error(
        "storage key {0} is the sealing key: add a new key first (`grantflow keys storage add`), re-seal (`grantflow keys storage reseal`), then retire {0}"
    )]
    RetireSealingKey(KeyId),
}

/// A stored value could not be opened (or a stored text not sealed).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The value names a key the ring does not hold.
    #[error(
        "grant {grant}: its {field} was sealed under storage key {key}, which is not in the key ring: add that key back (--storage-key-file / GRANTFLOW_STORAGE_KEY)"
    )]
    MissingKey {
        /// The grant.
        grant: GrantId,
        /// The secret field.
        field: &'static str,
        /// The key named by the sealed value.
        key: String,
    },
    /// The AEAD tag does not verify: the ciphertext was changed, the sealed value was copied from
    /// another grant or field, or the ring holds different material under that key id.
    #[error(
        "grant {grant}: its sealed {field} does not open under storage key {key}: the value was tampered with or moved from another grant or field, or key {key} is not the key that sealed it"
    )]
    DoesNotOpen {
        /// The grant.
        grant: GrantId,
        /// The secret field.
        field: &'static str,
        /// The key id the value names.
        key: String,
    },
    /// A secret field is neither a string nor a well-formed sealed value, or the text is not
    /// JSON.
    #[error("grant {grant}: malformed sealed data: {detail}")]
    Malformed {
        /// The grant.
        grant: GrantId,
        /// What is wrong.
        detail: String,
    },
    /// A text marked sealed holds a plain secret (someone wrote it there by hand).
    #[error("grant {grant}: its {field} is in the clear in a text marked sealed")]
    PlainInSealed {
        /// The grant.
        grant: GrantId,
        /// The secret field.
        field: &'static str,
    },
    /// A sealed text read by a store that has no key ring (`--insecure-plaintext`).
    #[error(
        "grant {grant} holds sealed secrets but no storage key was given: pass --storage-key-file FILE (or GRANTFLOW_STORAGE_KEY)"
    )]
    NoKeyRing {
        /// The grant.
        grant: GrantId,
    },
}

impl SealError {
    /// The grant the error is about.
    pub fn grant(&self) -> GrantId {
        match self {
            Self::MissingKey { grant, .. }
            | Self::DoesNotOpen { grant, .. }
            | Self::Malformed { grant, .. }
            | Self::PlainInSealed { grant, .. }
            | Self::NoKeyRing { grant } => *grant,
        }
    }
}
