//! Live updates: `GET /events`, the change feed as server-sent events, and `GET
//! /grants/{id}/row`, one list row, which the page's script fetches when its grant changes.
//!
//! Each event is one committed transition (`event: grant`, `id:` its feed position, `data:` the
//! grant's id, version and states, never a secret). A browser that reconnects sends the last id
//! it saw (`Last-Event-ID`) and resumes after it, so nothing committed meanwhile is missed. The
//! stream ends when the engine shuts down, so a graceful stop of the worker is not held open by
//! a console tab.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures::StreamExt;
use grantflow_driver::{FeedChange, FeedEntry, FeedPosition};
use grantflow_store::GrantStore;
use serde_json::json;

use crate::context::{Base, Console};
use crate::error::ConsoleError;
use crate::grant::grant_id;
use crate::list::row;

/// How long the stream waits before reading the feed again after the store failed.
const RETRY_AFTER_STORE_ERROR: Duration = Duration::from_secs(1);

/// `GET /events`: every change from now (or after `Last-Event-ID`), as server-sent events.
pub(crate) async fn events<S: GrantStore>(
    State(console): State<Console<S>>,
    headers: HeaderMap,
) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<FeedPosition>().ok());
    let subscription = match resume {
        Some(position) => console.engine.subscribe_after(Some(position)),
        None => match console.engine.subscribe().await {
            Ok(s) => s,
            Err(e) => {
                let e = ConsoleError::from(e);
                tracing::warn!(error = %e, "console: the change feed could not be read");
                return (e.status(), e.for_people()).into_response();
            }
        },
    };
    let stream = futures::stream::unfold(subscription, |mut subscription| async move {
        loop {
            match subscription.next().await {
                Ok(entry) => return Some((Ok::<_, Infallible>(event(&entry)), subscription)),
                Err(error) => {
                    tracing::warn!(%error, "console: reading the change feed failed; retrying");
                    tokio::time::sleep(RETRY_AFTER_STORE_ERROR).await;
                }
            }
        }
    })
    .take_until(console.engine.stopping());
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The server-sent event of one feed entry.
fn event(entry: &FeedEntry) -> Event {
    let data = match &entry.change {
        FeedChange::Grant(g) => json!({
            "grant": g.grant.to_string(),
            "version": g.version,
            "from": g.from.as_str(),
            "event": g.event.as_str(),
            "kind": g.kind.as_str(),
        }),
        _ => json!({
            "grant": entry.id().to_string(),
        }),
    };
    Event::default()
        .id(entry.position.to_string())
        .event(if entry.grant().is_some() {
            "grant"
        } else {
            "other"
        })
        .data(data.to_string())
}

/// `GET /grants/{id}/row`: the grant's row of the list, alone.
pub(crate) async fn grant_row<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    Path(id): Path<String>,
) -> Response {
    let view = match grant_id(&id) {
        Ok(id) => console.engine.get(id).await.map_err(ConsoleError::from),
        Err(e) => Err(e),
    };
    match view {
        Ok(view) => Html(row(&base, &view).into_string()).into_response(),
        Err(e) => (e.status(), e.for_people()).into_response(),
    }
}
