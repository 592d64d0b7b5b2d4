//! Fault injection: per-route latency, error statuses, dropped connections and lost responses,
//! settable while the sandbox runs.
//!
//! A fault is attached to a [`Route`] (a named endpoint such as `continue` or `token_rotate`) with
//! [`crate::SandboxHandle::set_fault`] or `PUT /_sandbox/faults/{route}`, for a number of requests
//! or until cleared. The middleware in this module looks the matched route up on every request:
//!
//! | fault | what the client sees | did the server act? |
//! |---|---|---|
//! | [`Fault::Latency`] | the normal response, late | yes |
//! | [`Fault::Status`] | that status, with a JSON error body | no |
//! | [`Fault::DropConnection`] | the connection closes, no response | no |
//! | [`Fault::LoseResponse`] | the connection closes, no response | **yes** (state changed) |
//!
//! The last two are what a crash-and-retry test needs: "the request never arrived" versus "the
//! request took effect, but the answer was lost".

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::conn::ConnectionInfo;

/// A named sandbox endpoint, the unit fault injection targets.
///
/// The names (see [`Route::name`]) are what the admin HTTP API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `GET <wallet address>`
    WalletAddress,
    /// `GET <wallet address>/jwks.json`
    WalletAddressKeys,
    /// `POST <authServer>`: the grant request.
    GrantRequest,
    /// `POST <continue uri>`: continue (with `interact_ref`) or poll.
    Continue,
    /// `DELETE <continue uri>`: cancel or revoke the grant.
    Cancel,
    /// `POST <manage url>`: rotate the access token.
    TokenRotate,
    /// `DELETE <manage url>`: revoke the access token.
    TokenRevoke,
    /// `GET <interact redirect>`: the consent page (interaction start).
    InteractionStart,
    /// `POST .../choice`: the consent form's Approve/Deny.
    InteractionChoice,
    /// `GET .../finish`: the interaction finish (redirect to the client).
    InteractionFinish,
    /// `POST <RS>/incoming-payments`
    IncomingPaymentCreate,
    /// `GET <RS>/incoming-payments`
    IncomingPaymentList,
    /// `GET <RS>/incoming-payments/{id}`
    IncomingPaymentGet,
    /// `POST <RS>/incoming-payments/{id}/complete`
    IncomingPaymentComplete,
    /// `POST <RS>/quotes`
    QuoteCreate,
    /// `GET <RS>/quotes/{id}`
    QuoteGet,
    /// `POST <RS>/outgoing-payments`
    OutgoingPaymentCreate,
    /// `GET <RS>/outgoing-payments`
    OutgoingPaymentList,
    /// `GET <RS>/outgoing-payments/{id}`
    OutgoingPaymentGet,
    /// `GET <RS>/outgoing-payment-grant`: the grant's spent amounts.
    OutgoingPaymentGrant,
}

impl Route {
    /// Every route, in the order of the table above.
    pub const ALL: [Route; 20] = [
        Route::WalletAddress,
        Route::WalletAddressKeys,
        Route::GrantRequest,
        Route::Continue,
        Route::Cancel,
        Route::TokenRotate,
        Route::TokenRevoke,
        Route::InteractionStart,
        Route::InteractionChoice,
        Route::InteractionFinish,
        Route::IncomingPaymentCreate,
        Route::IncomingPaymentList,
        Route::IncomingPaymentGet,
        Route::IncomingPaymentComplete,
        Route::QuoteCreate,
        Route::QuoteGet,
        Route::OutgoingPaymentCreate,
        Route::OutgoingPaymentList,
        Route::OutgoingPaymentGet,
        Route::OutgoingPaymentGrant,
    ];

    /// The route's name in the admin API, e.g. `token_rotate`.
    pub fn name(self) -> &'static str {
        match self {
            Route::WalletAddress => "wallet_address",
            Route::WalletAddressKeys => "wallet_address_keys",
            Route::GrantRequest => "grant_request",
            Route::Continue => "continue",
            Route::Cancel => "cancel",
            Route::TokenRotate => "token_rotate",
            Route::TokenRevoke => "token_revoke",
            Route::InteractionStart => "interaction_start",
            Route::InteractionChoice => "interaction_choice",
            Route::InteractionFinish => "interaction_finish",
            Route::IncomingPaymentCreate => "incoming_payment_create",
            Route::IncomingPaymentList => "incoming_payment_list",
            Route::IncomingPaymentGet => "incoming_payment_get",
            Route::IncomingPaymentComplete => "incoming_payment_complete",
            Route::QuoteCreate => "quote_create",
            Route::QuoteGet => "quote_get",
            Route::OutgoingPaymentCreate => "outgoing_payment_create",
            Route::OutgoingPaymentList => "outgoing_payment_list",
            Route::OutgoingPaymentGet => "outgoing_payment_get",
            Route::OutgoingPaymentGrant => "outgoing_payment_grant",
        }
    }

    /// The route an HTTP method and axum path template belong to (see `crate::routes`).
    pub(crate) fn from_matched(method: &Method, template: &str) -> Option<Route> {
        let route = match (method.as_str(), template) {
            ("GET", crate::routes::WALLET_ADDRESS) => Route::WalletAddress,
            ("GET", crate::routes::WALLET_ADDRESS_KEYS) => Route::WalletAddressKeys,
            ("POST", crate::routes::GRANT_REQUEST) => Route::GrantRequest,
            ("POST", crate::routes::CONTINUE) => Route::Continue,
            ("DELETE", crate::routes::CONTINUE) => Route::Cancel,
            ("POST", crate::routes::TOKEN) => Route::TokenRotate,
            ("DELETE", crate::routes::TOKEN) => Route::TokenRevoke,
            ("GET", crate::routes::INTERACTION_START) => Route::InteractionStart,
            ("POST", crate::routes::INTERACTION_CHOICE) => Route::InteractionChoice,
            ("GET", crate::routes::INTERACTION_FINISH) => Route::InteractionFinish,
            ("POST", crate::routes::INCOMING_PAYMENTS) => Route::IncomingPaymentCreate,
            ("GET", crate::routes::INCOMING_PAYMENTS) => Route::IncomingPaymentList,
            ("GET", crate::routes::INCOMING_PAYMENT) => Route::IncomingPaymentGet,
            ("POST", crate::routes::INCOMING_PAYMENT_COMPLETE) => Route::IncomingPaymentComplete,
            ("POST", crate::routes::QUOTES) => Route::QuoteCreate,
            ("GET", crate::routes::QUOTE) => Route::QuoteGet,
            ("POST", crate::routes::OUTGOING_PAYMENTS) => Route::OutgoingPaymentCreate,
            ("GET", crate::routes::OUTGOING_PAYMENTS) => Route::OutgoingPaymentList,
            ("GET", crate::routes::OUTGOING_PAYMENT) => Route::OutgoingPaymentGet,
            ("GET", crate::routes::OUTGOING_PAYMENT_GRANT) => Route::OutgoingPaymentGrant,
            _ => return None,
        };
        Some(route)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given is not one of [`Route::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown sandbox route {0:?}; known routes: wallet_address, wallet_address_keys, grant_request, continue, cancel, token_rotate, token_revoke, interaction_start, interaction_choice, interaction_finish, incoming_payment_create, incoming_payment_list, incoming_payment_get, incoming_payment_complete, quote_create, quote_get, outgoing_payment_create, outgoing_payment_list, outgoing_payment_get, outgoing_payment_grant"
)]
pub struct UnknownRoute(pub String);

impl FromStr for Route {
    type Err = UnknownRoute;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Route::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRoute(s.to_owned()))
    }
}

/// What to do to a request on a faulty route.
///
/// In the admin API a fault is JSON: `{"kind":"latency","millis":250}`, `{"kind":"status",
/// "status":503}`, `{"kind":"drop_connection"}`, `{"kind":"lose_response"}`, optionally with
/// `"times": n` to affect only the next `n` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Wait this long, then handle the request normally.
    Latency {
        /// The added delay in milliseconds.
        millis: u64,
    },
    /// Answer with this HTTP status and a JSON error body, without handling the request.
    Status {
        /// The status code to answer with (400-599).
        status: u16,
    },
    /// Close the connection without handling the request and without a response.
    DropConnection,
    /// Handle the request (its effects happen), then close the connection without sending the
    /// response.
    LoseResponse,
}

impl Fault {
    /// A latency fault of `delay`.
    pub fn latency(delay: Duration) -> Self {
        Fault::Latency {
            millis: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// A fault and how many more requests it affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The fault.
    #[serde(flatten)]
    pub fault: Fault,
    /// Affect only this many more requests (`None`: until cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// The current faults, by route. Shared by the middleware and the control API.
#[derive(Debug, Clone)]
pub struct FaultTable {
    /// One rule per route; a std mutex because it is held only to read or decrement a rule.
    rules: Arc<Mutex<HashMap<Route, FaultRule>>>,
    /// Becomes `true` when the sandbox shuts down: requests held in injected latency are cut at
    /// once instead of holding their connection (and the shutdown) open.
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl FaultTable {
    /// An empty table whose latency faults end when `stopping` becomes `true`.
    pub(crate) fn new(stopping: tokio::sync::watch::Receiver<bool>) -> Self {
        Self {
            rules: Arc::default(),
            stopping,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Route, FaultRule>> {
        // A map of plain values, never left half-updated: a poisoned lock is still consistent.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets (or replaces) the fault of `route`.
    pub fn set(&self, route: Route, rule: FaultRule) {
        self.lock().insert(route, rule);
    }

    /// Removes the fault of `route`, if any.
    pub fn clear(&self, route: Route) {
        self.lock().remove(&route);
    }

    /// Removes every fault.
    pub fn clear_all(&self) {
        self.lock().clear();
    }

    /// The current faults.
    pub fn list(&self) -> Vec<(Route, FaultRule)> {
        let mut v: Vec<_> = self.lock().iter().map(|(r, f)| (*r, *f)).collect();
        v.sort_by_key(|(r, _)| r.name());
        v
    }

    /// Takes one use of `route`'s fault (removing it when its count runs out).
    fn take(&self, route: Route) -> Option<Fault> {
        let mut rules = self.lock();
        let rule = rules.get_mut(&route)?;
        let fault = rule.fault;
        match &mut rule.times {
            None => {}
            Some(0) => {
                rules.remove(&route);
                return None;
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    rules.remove(&route);
                }
            }
        }
        Some(fault)
    }
}

/// Resolves once the sandbox is shutting down (never, if the sender is gone without it).
async fn stopped(mut stopping: tokio::sync::watch::Receiver<bool>) {
    loop {
        let stop = *stopping.borrow_and_update();
        if stop {
            return;
        }
        if stopping.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The axum middleware that applies [`FaultTable`] rules. Installed with `Router::layer`, so it
/// runs after routing and sees the matched path template.
pub(crate) async fn inject(
    State(faults): State<FaultTable>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let connection = request
        .extensions()
        .get::<ConnectInfo<ConnectionInfo>>()
        .cloned();
    let route = matched.and_then(|m| Route::from_matched(request.method(), m.as_str()));
    let Some(route) = route else {
        return next.run(request).await;
    };
    let Some(fault) = faults.take(route) else {
        let started = std::time::Instant::now();
        let response = next.run(request).await;
        // The route name, never the path: paths carry nonces and ids.
        tracing::info!(
            route = %route,
            status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "sandbox: request"
        );
        return response;
    };
    let peer = connection.as_ref().map(|c| c.0.remote);
    tracing::info!(route = %route, ?fault, ?peer, "sandbox: injecting fault");
    match fault {
        Fault::Latency { millis } => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(millis)) => next.run(request).await,
                () = stopped(faults.stopping.clone()) => {
                    if let Some(ConnectInfo(c)) = connection {
                        c.cutter.cut();
                    }
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                }
            }
        }
        Fault::Status { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let body = serde_json::json!({
                "error": {
                    "code": "request_denied",
                    "description": format!("fault injected by the sandbox on route {route}")
                }
            });
            (status, axum::Json(body)).into_response()
        }
        Fault::DropConnection => {
            if let Some(ConnectInfo(c)) = connection {
                c.cutter.cut();
            }
            // Never written: the connection is cut.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Fault::LoseResponse => {
            let response = next.run(request).await;
            if let Some(ConnectInfo(c)) = connection {
                c.cutter.cut();
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Route::ALL {
            assert_eq!(r.name().parse::<Route>(), Ok(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.name()));
        }
        assert!("nope".parse::<Route>().is_err());
    }

    #[test]
    fn counted_faults_run_out() {
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        let t = FaultTable::new(stopping);
        t.set(
            Route::Continue,
            FaultRule {
                fault: Fault::DropConnection,
                times: Some(2),
            },
        );
        assert_eq!(t.take(Route::Continue), Some(Fault::DropConnection));
        assert_eq!(t.take(Route::Continue), Some(Fault::DropConnection));
        assert_eq!(t.take(Route::Continue), None);
        assert!(t.list().is_empty());
        t.set(
            Route::Cancel,
            FaultRule {
                fault: Fault::Status { status: 503 },
                times: None,
            },
        );
        for _ in 0..5 {
            assert_eq!(t.take(Route::Cancel), Some(Fault::Status { status: 503 }));
        }
        t.clear(Route::Cancel);
        assert_eq!(t.take(Route::Cancel), None);
    }

    #[test]
    fn fault_json_shape() {
        let rule: FaultRule =
            serde_json::from_str(r#"{"kind":"latency","millis":250,"times":1}"#).unwrap();
        assert_eq!(rule.fault, Fault::Latency { millis: 250 });
        assert_eq!(rule.times, Some(1));
        let rule: FaultRule = serde_json::from_str(r#"{"kind":"lose_response"}"#).unwrap();
        assert_eq!(rule.fault, Fault::LoseResponse);
        assert_eq!(rule.times, None);
    }
}
