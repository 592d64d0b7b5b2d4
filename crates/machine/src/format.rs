//! The stored form of a state: JSON in a versioned envelope, `{"version":1,"grant":{...}}`.
//!
//! The snapshot test (`tests/snapshot.rs`) pins the format of version 1 against a committed
//! fixture, so rows written today stay readable. A change to the shape of [`GrantState`] must
//! bump [`FORMAT_VERSION`] and keep reading the old versions.

use serde::{Deserialize, Serialize};

use crate::state::GrantState;

/// The current format version of a stored [`GrantState`].
pub const FORMAT_VERSION: u32 = 1;

/// Why a stored state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateFormatError {
    /// The JSON is not a versioned state envelope, or the state inside does not parse.
    #[error("the stored grant state is not valid version-{FORMAT_VERSION} JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The envelope has a version this build does not know.
    #[error(
        "the stored grant state has format version {found}; this build reads version {FORMAT_VERSION} (upgrade grantflow)"
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
    /// The stored form: `{"version":1,"grant":{"state":...}}`.
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
        if version != FORMAT_VERSION {
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
        assert_eq!(json, r#"{"version":1,"grant":{"state":"initial"}}"#);
        assert_eq!(GrantState::from_json(&json).unwrap(), GrantState::Initial);
        assert!(matches!(
            GrantState::from_json(r#"{"version":2,"grant":{"state":"initial"}}"#),
            Err(StateFormatError::UnknownVersion { found: 2 })
        ));
        assert!(matches!(
            GrantState::from_json(r#"{"grant":{"state":"initial"}}"#),
            Err(StateFormatError::Malformed(_))
        ));
    }
}
