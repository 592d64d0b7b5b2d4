//! The sandbox's errors: [`ApiError`], every refusal the sandbox sends, as the reference server
//! shapes it; and [`SandboxError`], what the library API returns.
//!
//! Error policy: handlers return `Result<_, ApiError>`; an `ApiError` is an HTTP status plus the
//! reference's body `{"error":{"code":"<gnap code>","description":"<text>"}}`, always with a
//! `code` (RFC 9635), also where the reference's OpenAPI validator sends none (malformed bodies).
//! Nothing in the request path panics; an internal inconsistency becomes a 500 with
//! `request_denied`, as the reference answers internal errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

use grantflow_protocol::error::{GnapError, GnapErrorCode};

/// An error response: status, GNAP error body and, for the resource server's 401s, a
/// `WWW-Authenticate` challenge.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: GnapError,
    pub www_authenticate: Option<String>,
}

impl ApiError {
    /// An error with a GNAP code and description.
    pub fn new(status: StatusCode, code: GnapErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            body: GnapError {
                code: Some(code),
                description: Some(description.into()),
            },
            www_authenticate: None,
        }
    }

    /// A request-validation failure (a malformed body): 400 `invalid_request`. The reference's
    /// validator answers without a code; RFC 9635 requires one in every error.
    pub fn validation(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            GnapErrorCode::InvalidRequest,
            description,
        )
    }

    /// An error whose code is not one of GNAP's (the resource server's own codes).
    pub fn other(status: StatusCode, code: &str, description: impl Into<String>) -> Self {
        Self::new(status, GnapErrorCode::Other(code.to_owned()), description)
    }

    /// Adds the resource server's `WWW-Authenticate: GNAP as_uri=<grant endpoint>` challenge.
    pub fn with_challenge(mut self, grant_endpoint: &str) -> Self {
        self.www_authenticate = Some(format!("GNAP as_uri={grant_endpoint}"));
        self
    }

    /// 500 `request_denied`: something the sandbox itself got wrong.
    pub fn internal(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            GnapErrorCode::RequestDenied,
            description,
        )
    }
}

/// The error code an [`ApiError`] answered with, attached to its response so the request journal
/// can record it without reading the body.
#[derive(Debug, Clone)]
pub(crate) struct AnsweredCode(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(&self.body)).into_response();
        if let Some(code) = &self.body.code {
            response
                .extensions_mut()
                .insert(AnsweredCode(code.as_str().to_owned()));
        }
        if let Some(challenge) = self.www_authenticate
            && let Ok(v) = HeaderValue::from_str(&challenge)
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }
}

/// Why the sandbox could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A wallet address specification was refused.
    #[error("wallet address {name:?} refused: {reason}")]
    InvalidWalletAddress {
        /// The requested name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client that fetches client wallet addresses hosted elsewhere could not be made.
    #[error("could not make the HTTP client for client wallet addresses: {reason}")]
    HttpClient {
        /// Why.
        reason: String,
    },
    /// The authorization server refused an interaction decision, with the status and GNAP error
    /// its HTTP API would have answered.
    #[error("interaction refused with HTTP {status}: {error}")]
    Interaction {
        /// The HTTP status.
        status: u16,
        /// The GNAP error.
        error: GnapError,
    },
}
