//! [`console_router`]: every page and asset of the console.

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header;
use axum::routing::{get, post};
use grantflow_driver::Engine;
use grantflow_store::GrantStore;

use crate::actions::{act, confirm_page, login, login_page, logout};
use crate::config::ConsoleConfig;
use crate::context::Console;
use crate::grant::grant_page;
use crate::layout::{SCRIPT, STYLE, asset};
use crate::list::list_page;
use crate::live::{events, grant_row};

/// The console's router: nest it where it should be served (`grantflow worker` nests it at
/// `/console`); its links follow the path it is nested at.
///
/// Every response forbids framing and inline scripts (`Content-Security-Policy`), and pages are
/// not cached (`Cache-Control: no-store`: they show live state).
pub fn console_router<S: GrantStore>(engine: Engine<S>, config: ConsoleConfig) -> Router {
    let console = Console {
        engine,
        config: Arc::new(config),
    };
    Router::new()
        .route("/", get(list_page::<S>))
        .route("/grants/{id}", get(grant_page::<S>))
        .route("/grants/{id}/row", get(grant_row::<S>))
        .route(
            "/grants/{id}/{action}",
            get(confirm_page::<S>).post(act::<S>),
        )
        .route("/login", get(login_page::<S>).post(login::<S>))
        .route("/logout", post(logout::<S>))
        .route("/events", get(events::<S>))
        .route(
            "/assets/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/assets/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .with_state(console)
        .layer(axum::middleware::map_response(secure_headers))
}

async fn secure_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
