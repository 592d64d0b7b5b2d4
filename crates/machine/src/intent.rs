//! What the application asked for: the grant request and the exact endpoint it goes to.

use grantflow_protocol::Secret;
use grantflow_protocol::grant::GrantRequest;
use serde::{Deserialize, Serialize};

/// The application's intent: the grant request to send and the exact grant endpoint URL.
///
/// The endpoint string is kept byte for byte: it is the fourth input of the finish hash, so it must
/// be exactly the URL the request was POSTed to (the wallet address's `authServer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantIntent {
    /// The grant endpoint URL the request is POSTed to, exactly as sent.
    pub grant_endpoint: String,
    /// The grant request body (access, client, interact).
    pub request: GrantRequest,
}

impl GrantIntent {
    /// Pairs a grant request with the endpoint it will be POSTed to.
    pub fn new(grant_endpoint: impl Into<String>, request: GrantRequest) -> Self {
        Self {
            grant_endpoint: grant_endpoint.into(),
            request,
        }
    }

    /// The client's `interact.finish.nonce`, if the request asks for a redirect finish.
    ///
    /// With a finish nonce the grant waits for the finish callback; without one it is continued by
    /// polling.
    pub fn finish_nonce(&self) -> Option<&Secret> {
        self.request
            .interact
            .as_ref()
            .and_then(|i| i.finish.as_ref())
            .map(|f| &f.nonce)
    }
}
