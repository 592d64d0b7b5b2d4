//! What every handler holds: the engine and the configuration ([`Console`]), and the path the
//! router is mounted at ([`Base`]), which every link starts with.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, NestedPath};
use axum::http::request::Parts;
use grantflow_driver::Engine;
use grantflow_store::GrantStore;

use crate::auth;
use crate::config::ConsoleConfig;
use crate::layout::Mode;

/// The router's state.
pub(crate) struct Console<S: GrantStore> {
    pub engine: Engine<S>,
    pub config: Arc<ConsoleConfig>,
}

impl<S: GrantStore> Clone for Console<S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: GrantStore> Console<S> {
    /// What the operator may do with this request's session.
    pub(crate) fn mode(&self, headers: &axum::http::HeaderMap) -> Mode {
        let Some(token) = &self.config.operator_token else {
            return Mode::ReadOnly;
        };
        match auth::session(token, headers, self.engine.config().clock.now()) {
            Some(session) => Mode::SignedIn {
                csrf: auth::csrf(token, &session),
            },
            None => Mode::SignedOut,
        }
    }
}

/// The path the console is nested at (`/console`), or empty when it is served at the root.
pub(crate) struct Base(pub String);

impl<T: Send + Sync> FromRequestParts<T> for Base {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &T) -> Result<Self, Self::Rejection> {
        let nested = NestedPath::from_request_parts(parts, state).await.ok();
        Ok(Self(
            nested
                .map(|n| n.as_str().trim_end_matches('/').to_owned())
                .unwrap_or_default(),
        ))
    }
}
