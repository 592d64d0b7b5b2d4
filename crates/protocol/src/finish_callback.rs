//! [`FinishCallback`]: the query of the interaction finish redirect (RFC 9635 §4.2.3, and the
//! reference server's `result=` failure redirects), parsed from the network.
//!
//! The hash it carries is checked with [`crate::finish_hash::verify_finish_hash`] before the
//! `interact_ref` is stored or sent (by `grantflow-machine`). The parse is fuzzed
//! (`fuzz/fuzz_targets/finish_callback.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::text::{UNTRUSTED_TEXT_MAX_CHARS, untrusted};

/// The query of the interaction finish redirect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FinishCallback {
    /// `?hash=...&interact_ref=...`: the user approved (if the hash verifies).
    Approved {
        /// The `hash` parameter, percent-decoded (base64url without padding per RFC 9635, or the
        /// reference server's padded standard base64).
        hash: String,
        /// The single-use interaction reference.
        interact_ref: Secret,
    },
    /// `?result=...[&message=...]` (the reference server's failure redirects): `grant_rejected`
    /// means the user denied; anything else is a failed interaction.
    Result {
        /// The `result` parameter, cleaned ([`untrusted`]: no control characters, at most
        /// [`UNTRUSTED_TEXT_MAX_CHARS`] characters).
        result: String,
        /// The `message` parameter, cleaned the same way.
        message: Option<String>,
    },
}

impl fmt::Debug for FinishCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Approved { hash, interact_ref } => f
                .debug_struct("Approved")
                .field("hash", hash)
                .field("interact_ref", interact_ref)
                .finish(),
            Self::Result { result, message } => f
                .debug_struct("Result")
                .field("result", result)
                .field("message", message)
                .finish(),
        }
    }
}

/// Why a finish callback query could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackQueryError {
    /// `hash` without `interact_ref`, or the other way round.
    #[error(
        "the finish callback has `{present}` but no `{missing}`: both `hash` and `interact_ref` are required"
    )]
    Incomplete {
        /// The parameter that is there.
        present: &'static str,
        /// The parameter that is missing.
        missing: &'static str,
    },
    /// Neither `hash` + `interact_ref` nor `result`.
    #[error("the finish callback has neither `hash` + `interact_ref` nor `result`")]
    Empty,
    /// A parameter appears twice.
    #[error("the finish callback has the parameter `{0}` more than once")]
    Duplicate(&'static str),
}

impl FinishCallback {
    /// Parses the redirect's query string (`hash=...&interact_ref=...` or `result=...`), as
    /// `application/x-www-form-urlencoded`, with [`FinishCallback::from_query_pairs`].
    ///
    /// ```
    /// use grantflow_protocol::finish_callback::FinishCallback;
    ///
    /// let cb = FinishCallback::from_query("hash=x%2Bg%3D&interact_ref=r").unwrap();
    /// assert!(matches!(cb, FinishCallback::Approved { ref hash, .. } if hash == "x+g="));
    /// ```
    pub fn from_query(query: &str) -> Result<Self, CallbackQueryError> {
        Self::from_query_pairs(url::form_urlencoded::parse(query.as_bytes()))
    }

    /// Builds a callback from percent-decoded query pairs (e.g. `url::Url::query_pairs`).
    /// Unknown parameters are ignored; `hash` + `interact_ref` win over `result`.
    ///
    /// ```
    /// use grantflow_protocol::finish_callback::FinishCallback;
    ///
    /// let cb = FinishCallback::from_query_pairs([("result", "grant_rejected")]).unwrap();
    /// assert!(matches!(cb, FinishCallback::Result { ref result, .. } if result == "grant_rejected"));
    /// let cb = FinishCallback::from_query_pairs([("hash", "x+g="), ("interact_ref", "r")]).unwrap();
    /// assert!(matches!(cb, FinishCallback::Approved { .. }));
    /// ```
    pub fn from_query_pairs<I, K, V>(pairs: I) -> Result<Self, CallbackQueryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        fn set(
            slot: &mut Option<String>,
            name: &'static str,
            value: &str,
        ) -> Result<(), CallbackQueryError> {
            if slot.replace(value.to_owned()).is_some() {
                return Err(CallbackQueryError::Duplicate(name));
            }
            Ok(())
        }
        let (mut hash, mut interact_ref, mut result, mut message) = (None, None, None, None);
        for (k, v) in pairs {
            let v = v.as_ref();
            match k.as_ref() {
                "hash" => set(&mut hash, "hash", v)?,
                "interact_ref" => set(&mut interact_ref, "interact_ref", v)?,
                "result" => set(&mut result, "result", v)?,
                "message" => set(&mut message, "message", v)?,
                _ => {}
            }
        }
        match (hash, interact_ref, result) {
            (Some(hash), Some(r), _) => Ok(Self::Approved {
                hash,
                interact_ref: Secret::new(r),
            }),
            (Some(_), None, None) => Err(CallbackQueryError::Incomplete {
                present: "hash",
                missing: "interact_ref",
            }),
            (None, Some(_), None) => Err(CallbackQueryError::Incomplete {
                present: "interact_ref",
                missing: "hash",
            }),
            // Whoever opens the finish URI writes these: store and show them cleaned.
            (_, _, Some(result)) => Ok(Self::Result {
                result: untrusted(&result, UNTRUSTED_TEXT_MAX_CHARS),
                message: message.map(|m| untrusted(&m, UNTRUSTED_TEXT_MAX_CHARS)),
            }),
            (None, None, None) => Err(CallbackQueryError::Empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_and_its_message_are_stored_cleaned() {
        let message = format!(
            "\u{fffd}\u{fffd}\r\n\u{1b}[2Jforged line{}",
            "!".repeat(1000)
        );
        let cb = FinishCallback::from_query_pairs([
            ("result", "something_else\u{0}"),
            ("message", message.as_str()),
        ])
        .unwrap();
        let FinishCallback::Result { result, message } = cb else {
            panic!("a result callback")
        };
        assert_eq!(result, "something_else");
        let message = message.unwrap();
        assert!(message.starts_with("[2Jforged line!!!"), "{message}");
        assert_eq!(message.chars().count(), UNTRUSTED_TEXT_MAX_CHARS);
    }

    #[test]
    fn query_pairs() {
        let cb = FinishCallback::from_query_pairs([
            ("result", "invalid_interaction"),
            ("message", "interaction expired"),
        ])
        .unwrap();
        assert_eq!(
            cb,
            FinishCallback::Result {
                result: "invalid_interaction".into(),
                message: Some("interaction expired".into())
            }
        );
        assert_eq!(
            FinishCallback::from_query_pairs([("hash", "h")]),
            Err(CallbackQueryError::Incomplete {
                present: "hash",
                missing: "interact_ref"
            })
        );
        assert_eq!(
            FinishCallback::from_query_pairs(Vec::<(String, String)>::new()),
            Err(CallbackQueryError::Empty)
        );
        assert_eq!(
            FinishCallback::from_query_pairs([("hash", "a"), ("hash", "b")]),
            Err(CallbackQueryError::Duplicate("hash"))
        );
        let cb = FinishCallback::from_query_pairs([("hash", "h"), ("interact_ref", "SECRET-ref")])
            .unwrap();
        assert!(!format!("{cb:?}").contains("SECRET"));
    }
}
