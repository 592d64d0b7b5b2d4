//! [`Secret`]: a string that never prints.
//!
//! Every bearer value that crosses the wire (access tokens, continuation tokens, nonces,
//! `interact_ref`) is held in a [`Secret`]. `Debug` and `Display` print `Secret(***)`, the bytes
//! are zeroized when the value is dropped, and equality is constant-time so comparing a received
//! value with a stored one leaks nothing through timing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A secret string (token, nonce, `interact_ref`) that redacts itself.
///
/// Serialises transparently as the plain JSON string, because that is what the wire carries.
///
/// ```
/// use grantflow_protocol::secret::Secret;
///
/// let token = Secret::new("OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0");
/// assert_eq!(format!("{token:?}"), "Secret(***)");
/// assert_eq!(token.to_string(), "Secret(***)");
/// assert_eq!(token.expose(), "OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0");
/// assert_eq!(serde_json::to_string(&token).unwrap(), "\"OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0\"");
/// ```
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call this only where the value goes on the wire, into a hash or into
    /// storage, never into a log line.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl PartialEq for Secret {
    /// Constant-time in the content (the length may leak, as with every such comparison).
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
        assert!(!format!("{s:#?}").contains("hunter2"));
    }

    #[test]
    fn equality_compares_content() {
        assert_eq!(Secret::new("abc"), Secret::new("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
        assert_eq!(Secret::new(""), Secret::default());
    }

    #[test]
    fn serde_is_transparent() {
        let s: Secret = serde_json::from_str("\"tok\"").unwrap();
        assert_eq!(s.expose(), "tok");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"tok\"");
        assert!(serde_json::from_str::<Secret>("42").is_err());
    }
}
