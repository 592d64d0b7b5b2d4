//! [`ConsoleError`]: why the console could not be set up or a page could not be served, and how
//! each becomes a status and a page.

use grantflow_driver::EngineError;

/// Why a console page failed, or why the console could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
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
            Self::Engine(EngineError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Engine(EngineError::UnknownAccessType(_)) => StatusCode::BAD_REQUEST,
            Self::Engine(EngineError::Busy(_) | EngineError::Refused { .. }) => {
                StatusCode::CONFLICT
            }
            Self::Engine(EngineError::ShuttingDown) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Engine(EngineError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
