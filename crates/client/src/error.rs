//! [`ClientError`]: what went wrong with a call, and whether the request may have reached the
//! server.
//!
//! # Error policy
//!
//! Every error names the call (`method` and the URL, without its query string) and how many
//! attempts were made, and carries an [`ErrorKind`] saying what went wrong. The one question a
//! durable driver must be able to answer from any error is **"could this request have had an
//! effect at the server?"**, because two Open Payments calls are not idempotent at the reference
//! server: continuing a grant (a second continue answers `request_denied`) and rotating a token
//! (the old token is revoked before the new one is returned). [`ClientError::delivery`] answers it
//! with a [`Delivery`]:
//!
//! | kind | delivery | what the driver may do |
//! |---|---|---|
//! | [`ErrorKind::Connect`], [`ErrorKind::InvalidRequest`], [`ErrorKind::Signing`] | [`Delivery::NotSent`] | re-send any call, even continue or rotate |
//! | [`ErrorKind::Timeout`], [`ErrorKind::Connection`] | [`Delivery::Unknown`] | re-send idempotent calls; for continue/rotate the outcome is ambiguous |
//! | [`ErrorKind::Status`] | [`Delivery::Received`] | the server answered with an error: read the status and GNAP code |
//! | [`ErrorKind::MalformedBody`], [`ErrorKind::InvalidResponse`], [`ErrorKind::BodyTooLarge`], [`ErrorKind::BodyRead`] | [`Delivery::Received`] | the server acted (usually 2xx) but its answer is unusable: for continue/rotate the result is lost |
//!
//! Only errors that are *certain* the request did not leave this process are `NotSent`: a
//! connection that could not be established (DNS failure, connection refused, TLS handshake
//! failure, connect timeout), or a request that could not even be built or signed.
//!
//! The raw response body is kept in a [`RawBody`], bounded, and never printed by `Debug` or
//! `Display` (a 2xx body that failed to parse may hold an access token).

use std::fmt;
use std::time::{Duration, SystemTime};

use grantflow_protocol::error::{GnapError, GnapErrorCode};
use reqwest::{Method, StatusCode};
use url::Url;

/// A failed Open Payments call: which call, after how many attempts, and what went wrong.
///
/// `Display` prints the method, the URL without query string, the attempt count and the kind; it
/// never prints a token, a signature or a response body. (Boxed: it travels in every `Result`.)
pub struct ClientError {
    details: Box<Details>,
}

struct Details {
    method: Method,
    url: String,
    attempts: u32,
    kind: ErrorKind,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.details;
        write!(
            f,
            "{} {} failed after {} attempt(s): {}",
            d.method, d.url, d.attempts, d.kind
        )
    }
}

impl fmt::Debug for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.details;
        f.debug_struct("ClientError")
            .field("method", &d.method)
            .field("url", &d.url)
            .field("attempts", &d.attempts)
            .field("kind", &d.kind)
            .finish()
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.details.kind)
    }
}

impl ClientError {
    pub(crate) fn new(method: Method, url: &Url, attempts: u32, kind: ErrorKind) -> Self {
        Self {
            details: Box::new(Details {
                method,
                url: redacted_url(url),
                attempts,
                kind,
            }),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.details.kind
    }

    /// Consumes the error, returning what went wrong.
    pub fn into_kind(self) -> ErrorKind {
        self.details.kind
    }

    /// The HTTP method of the call.
    pub fn method(&self) -> &Method {
        &self.details.method
    }

    /// The URL of the call, without query string or fragment.
    pub fn url(&self) -> &str {
        &self.details.url
    }

    /// How many attempts were made (more than 1 only for retried GET and DELETE calls).
    pub fn attempts(&self) -> u32 {
        self.details.attempts
    }

    /// Whether the last attempt may have reached the server. See the [module docs](self).
    ///
    /// Retries never make this less safe than it says: GET and DELETE are only retried after an
    /// attempt that was not sent or that the server refused with a transient status, and DELETE
    /// is never retried after an [`Delivery::Unknown`] attempt.
    pub fn delivery(&self) -> Delivery {
        self.details.kind.delivery()
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.details.kind.status()
    }

    /// The GNAP error code, when the server answered with one.
    pub fn gnap_code(&self) -> Option<&GnapErrorCode> {
        match &self.details.kind {
            ErrorKind::Status(s) => s.gnap_code(),
            _ => None,
        }
    }

    /// The server's `Retry-After`, when it sent one with an error status.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match &self.details.kind {
            ErrorKind::Status(s) => s.retry_after,
            _ => None,
        }
    }
}

/// Whether a failed request may have reached the server (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// The request certainly did not reach the server: re-sending it is safe for every call,
    /// including the non-idempotent continue and rotate.
    NotSent,
    /// The request may or may not have reached the server and taken effect (a timeout, or a
    /// connection that broke after the request may have been written). Idempotent calls can be
    /// re-sent; for continue and rotate the outcome is ambiguous.
    Unknown,
    /// The server received the request and answered; the answer is in the error.
    Received,
}

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request could not be built: the URL cannot be used or the body cannot be serialised.
    /// Nothing was sent.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with the request.
        reason: String,
    },
    /// The request could not be signed. Nothing was sent.
    #[error("could not sign the request: {reason}")]
    Signing {
        /// Why signing failed.
        reason: String,
    },
    /// No connection could be established (DNS failure, refused, TLS handshake, connect timeout).
    /// Nothing was sent.
    #[error("could not connect: {source}")]
    Connect {
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The call did not complete within the configured timeout. The request may have reached the
    /// server and taken effect.
    #[error("no complete response within {after:?}")]
    Timeout {
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The connection failed after it was established (reset, closed early, protocol error),
    /// before a response status arrived. The request may have reached the server.
    #[error("connection failed before a response arrived: {source}")]
    Connection {
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a non-success status.
    #[error("{0}")]
    Status(Box<StatusError>),
    /// The response body could not be read completely after the status arrived.
    #[error("HTTP {status}: the response body could not be read: {source}")]
    BodyRead {
        /// The response status.
        status: StatusCode,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The response body is larger than the configured cap; reading stopped at the cap.
    #[error("HTTP {status}: the response body exceeds the {limit}-byte cap")]
    BodyTooLarge {
        /// The response status.
        status: StatusCode,
        /// The cap in bytes.
        limit: usize,
    },
    /// A success status arrived with a well-formed document that breaks a rule of the protocol
    /// (the checks the reference client makes, e.g. a new incoming payment already completed).
    #[error("HTTP {status}: the response is not acceptable: {reason}")]
    InvalidResponse {
        /// The response status.
        status: StatusCode,
        /// The rule it breaks.
        reason: String,
    },
    /// A success status arrived with a body that is not the expected JSON document.
    #[error("HTTP {status}: the response body is not a valid {expected}: {reason}")]
    MalformedBody {
        /// The response status.
        status: StatusCode,
        /// The type the body should have been.
        expected: &'static str,
        /// The parse error: its category, line and column (it quotes no body text).
        reason: String,
        /// The body as received (never printed).
        body: RawBody,
    },
}

impl ErrorKind {
    /// Whether the request may have reached the server.
    pub fn delivery(&self) -> Delivery {
        match self {
            ErrorKind::InvalidRequest { .. }
            | ErrorKind::Signing { .. }
            | ErrorKind::Connect { .. } => Delivery::NotSent,
            ErrorKind::Timeout { .. } | ErrorKind::Connection { .. } => Delivery::Unknown,
            ErrorKind::Status(_)
            | ErrorKind::BodyRead { .. }
            | ErrorKind::BodyTooLarge { .. }
            | ErrorKind::InvalidResponse { .. }
            | ErrorKind::MalformedBody { .. } => Delivery::Received,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ErrorKind::Status(s) => Some(s.status),
            ErrorKind::BodyRead { status, .. }
            | ErrorKind::BodyTooLarge { status, .. }
            | ErrorKind::InvalidResponse { status, .. }
            | ErrorKind::MalformedBody { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The server answered with a non-success status.
#[derive(Debug)]
pub struct StatusError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The GNAP / Open Payments error parsed from the body, if the body was one (object with or
    /// without `code`, or RFC 9635's string form).
    pub gnap: Option<GnapError>,
    /// `Retry-After`, when the server sent a valid one.
    pub retry_after: Option<RetryAfter>,
    /// The body as received, bounded (never printed).
    pub body: RawBody,
}

impl StatusError {
    /// The GNAP error code, when the body carried one.
    pub fn gnap_code(&self) -> Option<&GnapErrorCode> {
        self.gnap.as_ref().and_then(|g| g.code.as_ref())
    }

    /// The error description, when the body carried one.
    pub fn description(&self) -> Option<&str> {
        self.gnap.as_ref().and_then(|g| g.description.as_deref())
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = self.gnap_code() {
            write!(f, ", GNAP error {code}")?;
        }
        if let Some(description) = self.description() {
            write!(f, ": {description:?}")?;
        }
        if self.gnap.is_none() && !self.body.is_empty() {
            write!(
                f,
                " (body of {} bytes is not a GNAP error)",
                self.body.len()
            )?;
        }
        if let Some(retry_after) = &self.retry_after {
            write!(f, ", {retry_after}")?;
        }
        Ok(())
    }
}

/// A response body as received, kept for diagnosis and bounded in size.
///
/// `Debug` prints only its length: a body may carry an access token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawBody {
    bytes: Vec<u8>,
    truncated: bool,
}

impl RawBody {
    pub(crate) fn new(bytes: Vec<u8>, truncated: bool) -> Self {
        Self { bytes, truncated }
    }

    /// The bytes kept.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes kept, as text (invalid UTF-8 replaced).
    pub fn to_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// Number of bytes kept.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the body was empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether the server sent more than was kept.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Debug for RawBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawBody({} bytes{})",
            self.bytes.len(),
            if self.truncated { ", truncated" } else { "" }
        )
    }
}

/// A `Retry-After` header value (RFC 9110 §10.2.3): a number of seconds, or an HTTP date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: <seconds>`.
    Seconds(u64),
    /// `Retry-After: <HTTP-date>`.
    At(SystemTime),
}

impl RetryAfter {
    /// Parses a header value; `None` when it is neither form.
    ///
    /// ```
    /// use grantflow_client::RetryAfter;
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// assert_eq!(RetryAfter::parse("120"), Some(RetryAfter::Seconds(120)));
    /// assert_eq!(
    ///     RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT"),
    ///     Some(RetryAfter::At(UNIX_EPOCH + Duration::from_secs(784111777)))
    /// );
    /// assert_eq!(RetryAfter::parse("soon"), None);
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return value.parse().ok().map(RetryAfter::Seconds);
        }
        httpdate::parse_http_date(value).ok().map(RetryAfter::At)
    }

    /// How long to wait from `now` (zero for a date in the past).
    pub fn delay_from(&self, now: SystemTime) -> Duration {
        match *self {
            RetryAfter::Seconds(s) => Duration::from_secs(s),
            RetryAfter::At(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryAfter::Seconds(s) => write!(f, "retry after {s} s"),
            RetryAfter::At(at) => write!(f, "retry after {}", httpdate::fmt_http_date(*at)),
        }
    }
}

/// The URL as errors and logs show it: scheme, host, port and path, without user info, query
/// string or fragment.
pub(crate) fn redacted_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Both only fail for URLs that cannot have credentials, which then have none to remove.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn retry_after_forms() {
        assert_eq!(RetryAfter::parse(" 7 "), Some(RetryAfter::Seconds(7)));
        assert_eq!(RetryAfter::parse("0"), Some(RetryAfter::Seconds(0)));
        assert_eq!(RetryAfter::parse("-1"), None);
        assert_eq!(RetryAfter::parse("1.5"), None);
        assert_eq!(RetryAfter::parse(""), None);
        assert_eq!(RetryAfter::parse("99999999999999999999999"), None);
        let at = RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let base = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            at.delay_from(base - Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert_eq!(
            at.delay_from(base + Duration::from_secs(30)),
            Duration::ZERO
        );
        assert_eq!(
            RetryAfter::Seconds(3).delay_from(base),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn raw_body_debug_hides_content() {
        let body = RawBody::new(b"{\"access_token\":{\"value\":\"SECRET\"}}".to_vec(), true);
        let shown = format!("{body:?}");
        assert!(!shown.contains("SECRET"));
        assert_eq!(shown, "RawBody(35 bytes, truncated)");
        assert!(body.to_text().contains("SECRET"));
    }

    #[test]
    fn redacted_url_drops_query_and_credentials() {
        let url =
            Url::parse("https://u:p@rs.example/alice/outgoing-payments?cursor=abc#x").unwrap();
        assert_eq!(
            redacted_url(&url),
            "https://rs.example/alice/outgoing-payments"
        );
    }

    #[test]
    fn delivery_by_kind() {
        assert_eq!(
            ErrorKind::Timeout {
                after: Duration::from_secs(1)
            }
            .delivery(),
            Delivery::Unknown
        );
        assert_eq!(
            ErrorKind::InvalidRequest { reason: "x".into() }.delivery(),
            Delivery::NotSent
        );
        let kind = ErrorKind::BodyTooLarge {
            status: StatusCode::OK,
            limit: 1,
        };
        assert_eq!(kind.delivery(), Delivery::Received);
        assert_eq!(kind.status(), Some(StatusCode::OK));
    }
}
