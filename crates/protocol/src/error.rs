//! Errors: the GNAP error body ([`GnapError`], [`GnapErrorCode`]) and this crate's own
//! [`ProtocolError`].
//!
//! Error policy of the crate: nothing panics on input. Parsing a body goes through
//! [`parse_json`], which turns every serde failure into [`ProtocolError::MalformedBody`] naming the
//! type that was expected and where in the body it failed.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::text::{UNTRUSTED_TEXT_MAX_CHARS, untrusted};

/// A GNAP error code (RFC 9635 §3.6 plus what the reference server uses).
///
/// Unknown codes are kept in [`GnapErrorCode::Other`], never lost or turned into an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GnapErrorCode {
    /// `invalid_request`: the request is missing a parameter or is malformed.
    InvalidRequest,
    /// `invalid_client`: the client is unknown, or its signature or key is not accepted.
    InvalidClient,
    /// `invalid_interaction`: the interaction is not in a state that allows this.
    InvalidInteraction,
    /// `invalid_flag` (RFC 9635; not used by the reference server).
    InvalidFlag,
    /// `invalid_rotation`: the token could not be rotated.
    InvalidRotation,
    /// `key_rotation_not_supported` (RFC 9635; not used by the reference server).
    KeyRotationNotSupported,
    /// `invalid_continuation`: the continuation token or URI is not valid.
    InvalidContinuation,
    /// `user_denied`: the resource owner denied the request.
    UserDenied,
    /// `request_denied`: the server denied the request.
    RequestDenied,
    /// `unknown_user` (RFC 9635; not used by the reference server).
    UnknownUser,
    /// `unknown_interaction`: the interaction is not known (for example revoked).
    UnknownInteraction,
    /// `too_fast`: the client continued before `wait` seconds had passed.
    TooFast,
    /// `too_many_attempts` (RFC 9635; not used by the reference server).
    TooManyAttempts,
    /// Any other code, kept verbatim.
    Other(String),
}

impl GnapErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidInteraction => "invalid_interaction",
            Self::InvalidFlag => "invalid_flag",
            Self::InvalidRotation => "invalid_rotation",
            Self::KeyRotationNotSupported => "key_rotation_not_supported",
            Self::InvalidContinuation => "invalid_continuation",
            Self::UserDenied => "user_denied",
            Self::RequestDenied => "request_denied",
            Self::UnknownUser => "unknown_user",
            Self::UnknownInteraction => "unknown_interaction",
            Self::TooFast => "too_fast",
            Self::TooManyAttempts => "too_many_attempts",
            Self::Other(code) => code,
        }
    }

    /// Parses a wire code; unknown codes become [`GnapErrorCode::Other`], cleaned as
    /// [`untrusted`] text of at most 64 characters.
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_interaction" => Self::InvalidInteraction,
            "invalid_flag" => Self::InvalidFlag,
            "invalid_rotation" => Self::InvalidRotation,
            "key_rotation_not_supported" => Self::KeyRotationNotSupported,
            "invalid_continuation" => Self::InvalidContinuation,
            "user_denied" => Self::UserDenied,
            "request_denied" => Self::RequestDenied,
            "unknown_user" => Self::UnknownUser,
            "unknown_interaction" => Self::UnknownInteraction,
            "too_fast" => Self::TooFast,
            "too_many_attempts" => Self::TooManyAttempts,
            other => Self::Other(untrusted(other, 64)),
        }
    }
}

impl fmt::Display for GnapErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for GnapErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GnapErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Self::parse(&s))
    }
}

/// A GNAP error body, from any of the three shapes servers send:
///
/// - `{"error":{"code":"too_fast","description":"…"}}` (the reference server),
/// - `{"error":{"description":"…"}}` (its OpenAPI validator: no code),
/// - `{"error":"too_fast"}` (RFC 9635's string form).
///
/// It serialises in the first shape (omitting what is absent), which is what the OpenAPI spec
/// describes.
///
/// ```
/// use grantflow_protocol::error::{GnapError, GnapErrorCode};
///
/// let e: GnapError = serde_json::from_str(r#"{"error":"too_fast"}"#).unwrap();
/// assert_eq!(e.code, Some(GnapErrorCode::TooFast));
/// let e: GnapError = serde_json::from_str(r#"{"error":{"description":"bad body"}}"#).unwrap();
/// assert_eq!((e.code, e.description.as_deref()), (None, Some("bad body")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GnapError {
    /// The code, when the server gave one.
    pub code: Option<GnapErrorCode>,
    /// The human-readable description, when the server gave one; parsed bodies hold it cleaned
    /// ([`untrusted`], at most [`UNTRUSTED_TEXT_MAX_CHARS`] characters).
    pub description: Option<String>,
}

impl fmt::Display for GnapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.description) {
            (Some(c), Some(d)) => write!(f, "{c}: {d}"),
            (Some(c), None) => write!(f, "{c}"),
            (None, Some(d)) => write!(f, "(no code): {d}"),
            (None, None) => f.write_str("(no code, no description)"),
        }
    }
}

impl std::error::Error for GnapError {}

#[derive(Serialize)]
struct ErrorObjectOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a GnapErrorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

impl Serialize for GnapError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(
            "error",
            &ErrorObjectOut {
                code: self.code.as_ref(),
                description: self.description.as_deref(),
            },
        )?;
        map.end()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Code(String),
    Object {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        description: Option<String>,
    },
}

impl<'de> Deserialize<'de> for GnapError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = GnapError;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a GNAP error body {"error": "<code>" | {"code"?, "description"?}}"#)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GnapError, A::Error> {
                let mut error: Option<ErrorField> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "error" {
                        if error.is_some() {
                            return Err(de::Error::duplicate_field("error"));
                        }
                        error = Some(map.next_value::<ErrorField>().map_err(|_| {
                            de::Error::custom(
                                "`error` is neither a code string nor an object with optional string `code` and `description`",
                            )
                        })?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                match error {
                    None => Err(de::Error::missing_field("error")),
                    Some(ErrorField::Code(code)) => Ok(GnapError {
                        code: Some(GnapErrorCode::parse(&code)),
                        description: None,
                    }),
                    Some(ErrorField::Object { code, description }) => Ok(GnapError {
                        code: code.as_deref().map(GnapErrorCode::parse),
                        description: description.map(|d| untrusted(&d, UNTRUSTED_TEXT_MAX_CHARS)),
                    }),
                }
            }
        }
        deserializer.deserialize_map(BodyVisitor)
    }
}

/// What went wrong turning bytes into a protocol value.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The body is not valid JSON, or not the shape the type requires (wrong type, missing field,
    /// unknown enum value, out-of-range number).
    #[error("malformed {what} body at line {line}, column {column}: {message}")]
    MalformedBody {
        /// The type that was being parsed, e.g. `GrantResponse`.
        what: &'static str,
        /// 1-based line of the failure in the body.
        line: usize,
        /// 1-based column of the failure in the body.
        column: usize,
        /// serde's description of the problem (cleaned: it may quote the body).
        message: String,
    },
}

/// Parses a JSON body into `T`, mapping every failure to [`ProtocolError::MalformedBody`].
///
/// ```
/// use grantflow_protocol::error::{parse_json, GnapError, ProtocolError};
///
/// let err = parse_json::<GnapError>(b"{\"error\": 42}").unwrap_err();
/// assert!(matches!(err, ProtocolError::MalformedBody { what: "GnapError", .. }));
/// ```
pub fn parse_json<T: de::DeserializeOwned>(body: &[u8]) -> Result<T, ProtocolError> {
    serde_json::from_slice(body).map_err(|e| ProtocolError::MalformedBody {
        what: short_type_name::<T>(),
        line: e.line(),
        column: e.column(),
        message: untrusted(&e.to_string(), UNTRUSTED_TEXT_MAX_CHARS),
    })
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    // `a::b::C<d::E>` -> `C<d::E>`: cut at the last `::` before any `<`.
    let head_end = full.find('<').unwrap_or(full.len());
    match full[..head_end].rfind("::") {
        Some(i) => &full[i + 2..],
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_text_is_cleaned_where_it_is_parsed() {
        let long = "x".repeat(5000);
        let body = format!(
            r#"{{"error":{{"code":"evil\u001b[31m\ncode","description":"line1\r\nFAKE LOG \u202e{long}"}}}}"#
        );
        let e: GnapError = serde_json::from_str(&body).unwrap();
        assert_eq!(e.code, Some(GnapErrorCode::Other("evil[31m code".into())));
        let description = e.description.unwrap();
        assert!(
            description.starts_with("line1 FAKE LOG xxx"),
            "{description}"
        );
        assert!(description.ends_with('…'));
        assert_eq!(description.chars().count(), UNTRUSTED_TEXT_MAX_CHARS);
        // A parse error quoting a malformed body is cleaned too.
        let err = parse_json::<u32>(br#""\u001b]0;owned\u0007""#).unwrap_err();
        assert!(err.to_string().contains("]0;owned"), "{err}");
        assert!(!err.to_string().chars().any(char::is_control), "{err}");
    }

    #[test]
    fn parses_all_three_shapes() {
        let e: GnapError =
            serde_json::from_str(r#"{"error":{"code":"too_fast","description":"slow down"}}"#)
                .unwrap();
        assert_eq!(e.code, Some(GnapErrorCode::TooFast));
        assert_eq!(e.description.as_deref(), Some("slow down"));

        let e: GnapError = serde_json::from_str(r#"{"error":{"description":"x"}}"#).unwrap();
        assert_eq!(e.code, None);
        assert_eq!(e.description.as_deref(), Some("x"));

        let e: GnapError = serde_json::from_str(r#"{"error":"invalid_continuation"}"#).unwrap();
        assert_eq!(e.code, Some(GnapErrorCode::InvalidContinuation));
        assert_eq!(e.description, None);
    }

    #[test]
    fn unknown_codes_are_kept() {
        let e: GnapError =
            serde_json::from_str(r#"{"error":{"code":"brand_new","description":"d"}}"#).unwrap();
        assert_eq!(e.code, Some(GnapErrorCode::Other("brand_new".into())));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"error":{"code":"brand_new","description":"d"}}"#
        );
    }

    #[test]
    fn every_known_code_round_trips() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_interaction",
            "invalid_flag",
            "invalid_rotation",
            "key_rotation_not_supported",
            "invalid_continuation",
            "user_denied",
            "request_denied",
            "unknown_user",
            "unknown_interaction",
            "too_fast",
            "too_many_attempts",
        ] {
            let parsed = GnapErrorCode::parse(code);
            assert!(!matches!(parsed, GnapErrorCode::Other(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
        }
    }

    #[test]
    fn malformed_bodies_are_typed_errors() {
        for bad in [
            &b"{}"[..],
            b"{\"error\":42}",
            b"{\"error\":{\"code\":1}}",
            b"[]",
            b"not json",
            b"",
            b"{\"error\":\"a\",\"error\":\"b\"}",
        ] {
            let err = parse_json::<GnapError>(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProtocolError::MalformedBody {
                        what: "GnapError",
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn serialises_without_absent_fields() {
        let e = GnapError {
            code: None,
            description: Some("d".into()),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"error":{"description":"d"}}"#
        );
        assert_eq!(e.to_string(), "(no code): d");
    }
}
