//! The finish callback endpoint: an axum router the application mounts at its
//! `finish_base_url`.
//!
//! `GET <finish_base_url>/finish/<grant id>/<token>?hash=...&interact_ref=...` (or `?result=...`)
//! is where the AS redirects the user's browser after the interaction. The handler hands the
//! query to [`Engine::finish_callback`] (verify, record, wake) and answers the browser with what
//! the application's [`FinishResponder`] chooses: by default a short HTML page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use grantflow_store::{GrantId, GrantStore};
use url::Url;

use crate::engine::Engine;
use crate::finish::{CallbackOutcome, CallbackRefusal};

/// What the user's browser gets back from the finish URI.
pub trait FinishResponder: Send + Sync + 'static {
    /// The response for a callback of `grant` that was taken (`Ok`) or refused (`Err`).
    fn respond(
        &self,
        grant: GrantId,
        result: &Result<CallbackOutcome, CallbackRefusal>,
    ) -> Response;
}

/// The default: a small HTML page saying what happened (no detail that helps a forger).
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlPages;

impl FinishResponder for HtmlPages {
    fn respond(
        &self,
        _grant: GrantId,
        result: &Result<CallbackOutcome, CallbackRefusal>,
    ) -> Response {
        let (status, text) = match result {
            Ok(CallbackOutcome::Approved) => (
                StatusCode::OK,
                "Thank you: the grant is approved. You can close this window.",
            ),
            Ok(CallbackOutcome::Rejected) => (
                StatusCode::OK,
                "The grant was declined. You can close this window.",
            ),
            Ok(CallbackOutcome::Failed) => (
                StatusCode::OK,
                "The interaction did not complete. You can close this window.",
            ),
            Err(CallbackRefusal::NotWaiting(_)) => (
                StatusCode::OK,
                "This link was already used. You can close this window.",
            ),
            Err(CallbackRefusal::Engine(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong on our side; please reload this page.",
            ),
            Err(_) => (StatusCode::BAD_REQUEST, "This link is not valid."),
        };
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>grantflow</title></head>\
             <body><p>{text}</p></body></html>"
        );
        (status, Html(page)).into_response()
    }
}

/// Redirects the browser back into the application: to `approved` when the callback was taken
/// and approved, to `other` otherwise, with `?grant=<id>&result=<approved|rejected|failed|invalid|used|retry>`.
#[derive(Debug, Clone)]
pub struct RedirectPages {
    /// Where approved grants go.
    pub approved: Url,
    /// Where everything else goes.
    pub other: Url,
}

impl FinishResponder for RedirectPages {
    fn respond(
        &self,
        grant: GrantId,
        result: &Result<CallbackOutcome, CallbackRefusal>,
    ) -> Response {
        let (base, word) = match result {
            Ok(CallbackOutcome::Approved) => (&self.approved, "approved"),
            Ok(CallbackOutcome::Rejected) => (&self.other, "rejected"),
            Ok(CallbackOutcome::Failed) => (&self.other, "failed"),
            Err(CallbackRefusal::NotWaiting(_)) => (&self.other, "used"),
            Err(CallbackRefusal::Engine(_)) => (&self.other, "retry"),
            Err(_) => (&self.other, "invalid"),
        };
        let mut to = base.clone();
        to.query_pairs_mut()
            .append_pair("grant", &grant.to_string())
            .append_pair("result", word);
        Redirect::to(to.as_str()).into_response()
    }
}

struct CallbackState<S: GrantStore> {
    engine: Engine<S>,
    responder: Arc<dyn FinishResponder>,
}

impl<S: GrantStore> Clone for CallbackState<S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            responder: self.responder.clone(),
        }
    }
}

/// The finish callback router with the default [`HtmlPages`]. Mount it where
/// `EngineConfig::finish_base_url` points, e.g. `Router::new().nest("/grantflow", finish_router(engine))`
/// for a base URL ending in `/grantflow`.
pub fn finish_router<S: GrantStore>(engine: Engine<S>) -> Router {
    finish_router_with(engine, HtmlPages)
}

/// The finish callback router answering with `responder`.
pub fn finish_router_with<S: GrantStore>(
    engine: Engine<S>,
    responder: impl FinishResponder,
) -> Router {
    Router::new()
        .route("/finish/{grant}/{token}", get(handle::<S>))
        .with_state(CallbackState {
            engine,
            responder: Arc::new(responder),
        })
}

async fn handle<S: GrantStore>(
    State(state): State<CallbackState<S>>,
    Path((grant, token)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(id) = grant.parse::<GrantId>() else {
        tracing::warn!("finish callback with a malformed grant id");
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let result = state
        .engine
        .finish_callback(id, &token, query.as_deref().unwrap_or(""))
        .await;
    state.responder.respond(id, &result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_pages_send_the_browser_back_with_the_result() {
        let pages = RedirectPages {
            approved: "https://shop.example/paid?x=1".parse().unwrap(),
            other: "https://shop.example/oops".parse().unwrap(),
        };
        let id = GrantId::new_random();
        let location = |r: &Result<CallbackOutcome, CallbackRefusal>| {
            let resp = pages.respond(id, r);
            assert!(resp.status().is_redirection());
            resp.headers()["location"].to_str().unwrap().to_owned()
        };
        assert_eq!(
            location(&Ok(CallbackOutcome::Approved)),
            format!("https://shop.example/paid?x=1&grant={id}&result=approved")
        );
        assert_eq!(
            location(&Err(CallbackRefusal::Forged)),
            format!("https://shop.example/oops?grant={id}&result=invalid")
        );
        assert_eq!(
            location(&Ok(CallbackOutcome::Rejected)),
            format!("https://shop.example/oops?grant={id}&result=rejected")
        );
    }

    #[test]
    fn html_pages_refuse_forgeries_with_400_and_say_nothing_more() {
        let id = GrantId::new_random();
        let forged = HtmlPages.respond(id, &Err(CallbackRefusal::Forged));
        assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
        let ok = HtmlPages.respond(id, &Ok(CallbackOutcome::Approved));
        assert_eq!(ok.status(), StatusCode::OK);
    }
}
