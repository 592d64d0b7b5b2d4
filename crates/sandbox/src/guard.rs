//! Request guards that run before any handler, as the reference's HTTP stack does.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Refuses a request whose `Content-Type` names more than one media type (two header lines, or
/// one line with a comma, which is what a client that adds the header twice sends): the
/// reference answers 415 (protocol notes §8), with a code-less error body where the sandbox
/// gives `invalid_request`.
pub(crate) async fn single_content_type(request: Request, next: Next) -> Response {
    let media_types: usize = request
        .headers()
        .get_all(header::CONTENT_TYPE)
        .iter()
        .map(|v| {
            v.to_str()
                .map_or(1, |s| s.split(',').filter(|t| !t.trim().is_empty()).count())
        })
        .sum();
    if media_types > 1 {
        let mut e = ApiError::validation("request must carry exactly one Content-Type");
        e.status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return e.into_response();
    }
    next.run(request).await
}

/// The answer for a path the sandbox does not serve.
pub(crate) async fn not_found() -> ApiError {
    ApiError::other(
        StatusCode::NOT_FOUND,
        "not_found",
        "the sandbox serves no such path (see the route table in grantflow-sandbox's route.rs)",
    )
}
