//! The stored form of a state: JSON in a versioned envelope, `{"version":2,"grant":{...}}`.
//!
//! The snapshot test (`tests/snapshot.rs`) pins the format of the current version against a
//! committed fixture and reads every older fixture, so rows written by older builds stay
//! readable. A change to the shape of [`GrantState`] must bump [`FORMAT_VERSION`] and keep
//! reading the old versions.
//!
//! - Version 1: the first format.
//! - Version 2 (patient recovery): a call may carry `trouble` (since when it fails, its last
//!   error); new variants: the cancel goal `rejected`, the failures `malformed_answer` and
//!   `gave_up`, the lost reason `budget_exhausted`. Every version-1 row is a valid version-2 row
//!   (the new field is optional), so reading version 1 is reading version 2.

use serde::{Deserialize, Serialize};

use crate::state::GrantState;

/// The current format version of a stored [`GrantState`].
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format version this build reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// Why a stored state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateFormatError {
    /// The JSON is not a versioned state envelope, or the state inside does not parse.
    #[error("the stored grant state is not valid grant state JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The envelope has a version this build does not know.
    #[error(
        "the stored grant state has format version {found}; this build reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION} (upgrade grantflow)"
    )]
    UnknownVersion {
        /// The version found.
        found: u32,
    },
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    version: u32,
    grant: &'a GrantState,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    grant: GrantState,
}

impl GrantState {
    /// The stored form: `{"version":2,"grant":{"state":...}}`.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&EnvelopeOut {
            version: FORMAT_VERSION,
            grant: self,
        })
    }

    /// The stored form as a JSON value (for stores with a JSON column type).
    pub fn to_json_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(EnvelopeOut {
            version: FORMAT_VERSION,
            grant: self,
        })
    }

    /// Reads a stored state, checking the format version first.
    pub fn from_json(json: &str) -> Result<Self, StateFormatError> {
        let VersionOnly { version } = serde_json::from_str(json)?;
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(StateFormatError::UnknownVersion { found: version });
        }
        let EnvelopeIn { grant } = serde_json::from_str(json)?;
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_round_trips_and_versions_are_checked() {
        let json = GrantState::Initial.to_json().unwrap();
        assert_eq!(json, r#"{"version":2,"grant":{"state":"initial"}}"#);
        assert_eq!(GrantState::from_json(&json).unwrap(), GrantState::Initial);
        assert_eq!(
            GrantState::from_json(r#"{"version":1,"grant":{"state":"initial"}}"#).unwrap(),
            GrantState::Initial
        );
        assert!(matches!(
            GrantState::from_json(r#"{"version":3,"grant":{"state":"initial"}}"#),
            Err(StateFormatError::UnknownVersion { found: 3 })
        ));
        assert!(matches!(
            GrantState::from_json(r#"{"grant":{"state":"initial"}}"#),
            Err(StateFormatError::Malformed(_))
        ));
    }
}
