//! [`RetryPolicy`]: when an idempotent call (GET, DELETE) is tried again, and how long to wait.
//!
//! POST is never retried inside the client: continue and rotate are not idempotent at the
//! reference server, and a grant or payment request sent twice creates two. The durable driver
//! decides about POSTs from [`Delivery`](crate::Delivery).
//!
//! What is retried (and only while attempts remain):
//! - an attempt that was not sent ([`ErrorKind::Connect`]), for GET and DELETE;
//! - a connection that broke before the status arrived ([`ErrorKind::Connection`]), for GET only:
//!   a DELETE that may have taken effect is not repeated, because the reference server answers
//!   a second cancel or revoke with 401, which would hide the first one's success;
//! - statuses 408, 429, 500, 502, 503 and 504, for GET and DELETE.
//!
//! Timeouts are not retried (each attempt could take the full timeout again; the caller chose
//! the timeout as its budget). The delay before attempt `n + 1` is `base_delay * 2^(n-1)`, capped
//! at `max_delay`, with "equal jitter" (a uniformly random point in its upper half). A
//! `Retry-After` from the server replaces the computed delay; if it asks for more than
//! `max_retry_after`, the client stops and returns the error carrying it.

use std::time::Duration;

use rand::Rng;
use reqwest::{Method, StatusCode};

use crate::error::ErrorKind;

/// How idempotent calls are retried. See the [module docs](self).
///
/// ```
/// use grantflow_client::RetryPolicy;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts, 3);
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// let patient = RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(100), ..RetryPolicy::default() };
/// assert!(patient.max_delay >= patient.base_delay);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 = never retry). Default 3.
    pub max_attempts: u32,
    /// Delay before the first retry, before jitter. Default 300 ms.
    pub base_delay: Duration,
    /// Upper bound of a computed delay. Default 5 s.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client waits for itself; a longer one ends the retries and
    /// is returned in the error. Default 10 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The delay before the retry that follows failed attempt number `attempt` (1-based),
    /// before jitter: `base_delay * 2^(attempt-1)`, capped at `max_delay`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// [`backoff`](Self::backoff) with equal jitter: uniformly random in `[d/2, d]`.
    pub(crate) fn jittered_backoff(&self, attempt: u32) -> Duration {
        let full = self.backoff(attempt);
        let half = full / 2;
        let extra_nanos = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = if extra_nanos == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=extra_nanos)
        };
        half + Duration::from_nanos(jitter)
    }
}

/// Whether a failed attempt of a call with this method may be retried (attempts aside).
pub(crate) fn is_retryable(method: &Method, kind: &ErrorKind) -> bool {
    let idempotent = *method == Method::GET || *method == Method::DELETE;
    if !idempotent {
        return false;
    }
    match kind {
        ErrorKind::Connect { .. } => true,
        ErrorKind::Connection { .. } => *method == Method::GET,
        ErrorKind::Status(s) => is_transient_status(s.status),
        _ => false,
    }
}

/// 408 Request Timeout, 429 Too Many Requests, 500, 502, 503, 504.
pub(crate) fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{RawBody, StatusError};

    fn status(code: u16) -> ErrorKind {
        ErrorKind::Status(Box::new(StatusError {
            status: StatusCode::from_u16(code).unwrap(),
            gnap: None,
            retry_after: None,
            body: RawBody::default(),
        }))
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(400));
        assert_eq!(p.backoff(4), Duration::from_millis(700));
        assert_eq!(p.backoff(200), Duration::from_millis(700));
        for attempt in 1..6 {
            for _ in 0..50 {
                let d = p.jittered_backoff(attempt);
                assert!(
                    d >= p.backoff(attempt) / 2 && d <= p.backoff(attempt),
                    "{d:?}"
                );
            }
        }
        let zero = RetryPolicy {
            base_delay: Duration::ZERO,
            ..p
        };
        assert_eq!(zero.jittered_backoff(3), Duration::ZERO);
    }

    #[test]
    fn only_idempotent_methods_retry() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&Method::GET, &status(code)), "{code}");
            assert!(is_retryable(&Method::DELETE, &status(code)), "{code}");
            assert!(!is_retryable(&Method::POST, &status(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 413, 501, 505] {
            assert!(!is_retryable(&Method::GET, &status(code)), "{code}");
        }
        let timeout = ErrorKind::Timeout {
            after: Duration::from_secs(1),
        };
        assert!(!is_retryable(&Method::GET, &timeout));
        let invalid = ErrorKind::InvalidRequest {
            reason: String::new(),
        };
        assert!(!is_retryable(&Method::GET, &invalid));
    }
}
