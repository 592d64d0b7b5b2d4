//! The middleware every request on a protocol route passes through: it applies the route's fault
//! (if any), records the request in the journal, and logs one line for it.
//!
//! The journal entry is recorded before a faulty connection is cut, so a client that saw its
//! connection close finds the request in the journal when it asks. A request whose client went
//! away first (it timed out during injected latency or a slow handler: hyper then drops the
//! request's future) is journaled too, as answered with nothing and not delivered.

use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use grantflow_protocol::error::GnapErrorCode;

use crate::conn::ConnectionInfo;
use crate::error::{AnsweredCode, ApiError};
use crate::faults::Fault;
use crate::journal::{self, JournalEntry, Notes};
use crate::route::Route;
use crate::state::Shared;

/// What became of one request, before it is journaled.
struct Outcome {
    response: Response,
    notes: Notes,
    /// `None`: no handler ran and no answer was made (dropped connection).
    status: Option<u16>,
    delivered: bool,
    /// Cut the connection once the request is journaled.
    cut: bool,
}

impl Outcome {
    fn sent(response: Response, notes: Notes) -> Self {
        Self {
            status: Some(response.status().as_u16()),
            response,
            notes,
            delivered: true,
            cut: false,
        }
    }

    fn lost(response: Response, notes: Notes) -> Self {
        Self {
            delivered: false,
            cut: true,
            ..Self::sent(response, notes)
        }
    }
}

/// The axum middleware (installed with `Router::layer`, so it runs after routing and sees the
/// matched path template).
pub(crate) async fn observe(
    State(shared): State<Shared>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.and_then(|m| Route::from_matched(request.method(), m.as_str()));
    let Some(route) = route else {
        return next.run(request).await;
    };
    let connection = request
        .extensions()
        .get::<ConnectInfo<ConnectionInfo>>()
        .map(|c| c.0.clone());
    let fault = shared.faults.take(route);
    let mut request_seen = Seen {
        shared: shared.clone(),
        route,
        received_at: shared.now(),
        started: Instant::now(),
        fault,
        connection,
        notes: journal::NoteCell::default(),
        abandoned: true,
    };
    let notes = request_seen.notes.clone();
    let outcome = match fault {
        None => {
            let (response, notes) = journal::noting_in(&notes, next.run(request)).await;
            Outcome::sent(response, notes)
        }
        Some(Fault::Latency { millis }) => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(millis)) => {
                    let (response, notes) = journal::noting_in(&notes, next.run(request)).await;
                    Outcome::sent(response, notes)
                }
                () = shared.faults.stopped() => {
                    Outcome::lost(StatusCode::SERVICE_UNAVAILABLE.into_response(), Notes::default())
                }
            }
        }
        Some(Fault::Status { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let response = ApiError::new(
                status,
                GnapErrorCode::RequestDenied,
                format!("fault injected by the sandbox on route {route}"),
            )
            .into_response();
            Outcome::sent(response, Notes::default())
        }
        Some(Fault::Throttled {
            retry_after_seconds,
        }) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                GnapErrorCode::TooManyAttempts,
                format!("fault injected by the sandbox on route {route}: throttled"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            Outcome::sent(response, Notes::default())
        }
        Some(Fault::DropConnection) => Outcome {
            status: None,
            ..Outcome::lost(
                // Never written: the connection is cut.
                StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                Notes::default(),
            )
        },
        Some(Fault::LoseResponse) => {
            let (response, notes) = journal::noting_in(&notes, next.run(request)).await;
            Outcome::lost(response, notes)
        }
    };
    request_seen.abandoned = false;
    let error = outcome
        .response
        .extensions()
        .get::<AnsweredCode>()
        .map(|c| c.0.clone());
    request_seen.record(outcome.notes, outcome.status, error, outcome.delivered);
    if outcome.cut
        && let Some(c) = &request_seen.connection
    {
        c.cutter.cut();
    }
    outcome.response
}

/// A request on a protocol route, journaled once: by [`observe`] when it is done with it, or on
/// drop when the request's future was dropped first (the client went away).
struct Seen {
    shared: Shared,
    route: Route,
    received_at: chrono::DateTime<chrono::Utc>,
    started: Instant,
    fault: Option<Fault>,
    connection: Option<ConnectionInfo>,
    /// What the handler noted so far.
    notes: journal::NoteCell,
    /// Whether the request's future was dropped before [`observe`] finished with it.
    abandoned: bool,
}

impl Drop for Seen {
    fn drop(&mut self) {
        if self.abandoned {
            let notes = journal::read(&self.notes);
            self.record(notes, None, None, false);
        }
    }
}

impl Seen {
    /// Records the journal entry and logs its line.
    fn record(&self, notes: Notes, status: Option<u16>, error: Option<String>, delivered: bool) {
        let shared = &self.shared;
        let continue_uri = notes.grant.and_then(|g| {
            let store = shared.store();
            let grant = store.grants.get(&g)?;
            Some(shared.urls.continue_uri(grant.continue_id))
        });
        let entry = JournalEntry {
            seq: 0,
            received_at: self.received_at,
            route: self.route,
            grant: notes.grant,
            continue_uri,
            status,
            error,
            acted: notes.acted,
            delivered,
            faults: self.fault.into_iter().collect(),
        };
        let seq = shared.journal.record(entry.clone());
        // The route name and the sandbox's own grant id, never the path: paths carry nonces.
        tracing::info!(
            seq,
            route = %self.route,
            status = entry.status,
            error = entry.error.as_deref(),
            acted = entry.acted,
            delivered = entry.delivered,
            abandoned = self.abandoned,
            fault = ?self.fault,
            peer = ?self.connection.as_ref().map(|c| c.remote),
            grant = ?entry.grant,
            micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "sandbox: request"
        );
    }
}
