//! [`ConsoleConfig`]: whether actions are possible (an [`OperatorToken`]), and how limits are
//! read.

use std::path::Path;
use std::time::Duration;

use grantflow_interval::Reading;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::ConsoleError;

/// The shortest operator token accepted, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;

/// How the console behaves. Without an [`OperatorToken`] it is read-only and says so.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The token an operator enters to act (cancel, rotate, revoke); `None`: read-only.
    pub operator_token: Option<OperatorToken>,
    /// The reading of `limits.interval` used to find the current period (the authorization
    /// server's; the reference server's, Rafiki-compatible, by default).
    pub reading: Reading,
    /// Grants per list page.
    pub page_size: u32,
    /// How long a signed-in session lasts.
    pub session_lifetime: Duration,
}

impl ConsoleConfig {
    /// A console that shows everything and offers no action.
    pub fn read_only() -> Self {
        Self {
            operator_token: None,
            reading: Reading::RafikiCompatible,
            page_size: 50,
            session_lifetime: Duration::from_secs(8 * 3600),
        }
    }

    /// Actions for operators who enter `token`.
    pub fn with_operator_token(mut self, token: OperatorToken) -> Self {
        self.operator_token = Some(token);
        self
    }

    /// The reading of `limits.interval` the authorization servers use.
    pub fn with_reading(mut self, reading: Reading) -> Self {
        self.reading = reading;
        self
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self::read_only()
    }
}

/// The secret an operator enters once to act through the console. `Debug` shows no secret.
#[derive(Clone)]
pub struct OperatorToken {
    text: Zeroizing<String>,
    /// HMAC-SHA256 keyed with it: what signs sessions and CSRF tokens.
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(***)")
    }
}

impl OperatorToken {
    /// A token from its text (surrounding whitespace removed); at least
    /// [`MIN_TOKEN_CHARS`] characters.
    pub fn new(text: &str) -> Result<Self, ConsoleError> {
        let token = text.trim();
        let chars = token.chars().count();
        if chars < MIN_TOKEN_CHARS {
            return Err(ConsoleError::TokenTooShort {
                chars,
                min: MIN_TOKEN_CHARS,
            });
        }
        // HMAC takes keys of any length: `new_from_slice` cannot fail here.
        let keyed = Hmac::<Sha256>::new_from_slice(token.as_bytes()).map_err(|_| {
            ConsoleError::TokenTooShort {
                chars,
                min: MIN_TOKEN_CHARS,
            }
        })?;
        Ok(Self {
            text: Zeroizing::new(token.to_owned()),
            keyed,
        })
    }

    /// The token in a file (its whole content, trimmed): how `grantflow worker
    /// --console-token-file` reads it.
    pub fn from_file(path: &Path) -> Result<Self, ConsoleError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            ConsoleError::TokenFile {
                path: path.to_owned(),
                source,
            }
        })?);
        Self::new(&text)
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.text.as_bytes()
    }

    pub(crate) fn keyed(&self) -> &Hmac<Sha256> {
        &self.keyed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_refused_and_none_is_shown() {
        assert!(matches!(
            OperatorToken::new("  short \n"),
            Err(ConsoleError::TokenTooShort { chars: 5, .. })
        ));
        let token = OperatorToken::new("0123456789abcdef-operator\n").unwrap();
        assert_eq!(token.expose(), b"0123456789abcdef-operator");
        assert_eq!(format!("{token:?}"), "OperatorToken(***)");
        let config = ConsoleConfig::read_only().with_operator_token(token);
        assert!(!format!("{config:?}").contains("operator\""));
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
    }
}
