//! [`ConsoleError`]: why the console could not be set up or a page could not be served, and how
//! each becomes a status and a page.

use std::path::PathBuf;

use grantflow_driver::EngineError;

/// Why a console page failed, or why the console could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The operator token file could not be read.
    #[error("cannot read the console token file {path}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The operator token is too short to resist guessing.
    #[error(
        "the console token has {chars} characters; use at least {min} (for example 32 random \
         characters: `openssl rand -hex 16`)"
    )]
    TokenTooShort {
        /// Its length.
        chars: usize,
        /// The minimum.
        min: usize,
    },
    /// An action was refused: the console is read-only, the operator is not signed in, or the
    /// request is not the console's own form (CSRF token or origin).
    #[error("{0}")]
    Forbidden(&'static str),
    /// No grant has this id (or the text is not a grant id).
    #[error("no grant {0}")]
    NotFound(String),
    /// A filter or form field is not understood.
    #[error("{0}")]
    BadInput(String),
    /// The engine failed (the database did not answer, a stored state is unreadable, ...).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ConsoleError {
    /// The HTTP status a page answers with.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadInput(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Engine(EngineError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Engine(EngineError::UnknownAccessType(_)) => StatusCode::BAD_REQUEST,
            Self::Engine(EngineError::Busy(_) | EngineError::Refused { .. }) => {
                StatusCode::CONFLICT
            }
            Self::Engine(EngineError::ShuttingDown) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Engine(EngineError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Engine(_) | Self::TokenFile { .. } | Self::TokenTooShort { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What the page says: the error itself when it is the operator's input or a grant's, and a
    /// pointer to the log for the database's (whose messages may name hosts and users).
    pub fn for_people(&self) -> String {
        match self {
            Self::Engine(EngineError::Store(_)) => {
                "the database did not answer as expected; the worker's log has the details"
                    .to_owned()
            }
            other => other.to_string(),
        }
    }
}
