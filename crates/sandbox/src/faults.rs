//! Fault injection: per-route latency, error statuses, dropped connections and lost responses,
//! settable while the sandbox runs.
//!
//! A fault is attached to a [`Route`] (a named endpoint such as `continue` or `token_rotate`) with
//! [`crate::SandboxHandle::set_fault`] or `PUT /_sandbox/faults/{route}`, for a number of requests
//! or until cleared. The request middleware (`intercept.rs`) looks the matched route up on every
//! request:
//!
//! | fault | what the client sees | did the server act? |
//! |---|---|---|
//! | [`Fault::Latency`] | the normal response, late | yes (no, if the client went away first) |
//! | [`Fault::Status`] | that status, with a JSON error body | no |
//! | [`Fault::Throttled`] | 429 with `Retry-After`, a JSON error body | no |
//! | [`Fault::DropConnection`] | the connection closes, no response | no |
//! | [`Fault::LoseResponse`] | the connection closes, no response | **yes** (state changed) |
//!
//! The last two are what a crash-and-retry test needs: "the request never arrived" versus "the
//! request took effect, but the answer was lost".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::route::Route;

/// What to do to a request on a faulty route.
///
/// In the admin API a fault is JSON: `{"kind":"latency","millis":250}`, `{"kind":"status",
/// "status":503}`, `{"kind":"throttled","retry_after_seconds":30}`, `{"kind":"drop_connection"}`,
/// `{"kind":"lose_response"}`, optionally with `"times": n` to affect only the next `n` requests.
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
    /// Answer `429 Too Many Requests` with `Retry-After: <retry_after_seconds>` and a JSON error
    /// body (`too_many_attempts`), without handling the request: a rate-limited AS.
    Throttled {
        /// The `Retry-After` delay, in seconds.
        retry_after_seconds: u64,
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

/// The current faults, by route. Shared by the request middleware and the control API.
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

    /// Resolves once the sandbox is shutting down (never, if the sender is gone without it).
    pub(crate) async fn stopped(&self) {
        let mut stopping = self.stopping.clone();
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

    /// Takes one use of `route`'s fault (removing it when its count runs out).
    pub(crate) fn take(&self, route: Route) -> Option<Fault> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let rule: FaultRule =
            serde_json::from_str(r#"{"kind":"throttled","retry_after_seconds":30}"#).unwrap();
        assert_eq!(
            rule.fault,
            Fault::Throttled {
                retry_after_seconds: 30
            }
        );
        let rule: FaultRule = serde_json::from_str(r#"{"kind":"lose_response"}"#).unwrap();
        assert_eq!(rule.fault, Fault::LoseResponse);
        assert_eq!(rule.times, None);
    }
}
