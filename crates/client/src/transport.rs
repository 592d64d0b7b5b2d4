//! One call on the wire: headers, signature, timeout, bounded body, classification of failures,
//! retries of idempotent calls, and the `tracing` span around it all.
//!
//! Every route in this crate goes through [`Client::execute`]. The body is serialised once, by
//! the route, to compact JSON bytes; those exact bytes are digested, signed and sent, on every
//! attempt. Each attempt is signed again, so its `created` is fresh.

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use grantflow_protocol::error::GnapError;
use grantflow_protocol::secret::Secret;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, field};
use url::Url;

use crate::client::{Client, KEPT_BODY_BYTES};
use crate::error::{ClientError, ErrorKind, RawBody, RetryAfter, StatusError};
use crate::retry::is_retryable;

/// A call to make: what [`Client::execute`] needs.
pub(crate) struct Call<'a> {
    /// Name of the operation in logs, e.g. `grant.continue`.
    pub(crate) op: &'static str,
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// Sent as `Authorization: GNAP <token>` (and then covered by the signature).
    pub(crate) token: Option<&'a Secret>,
    /// Compact JSON, exactly as sent.
    pub(crate) body: Option<Bytes>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(op: &'static str, method: Method, url: Url) -> Self {
        Self {
            op,
            method,
            url,
            token: None,
            body: None,
        }
    }

    pub(crate) fn token(mut self, token: &'a Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// Serialises `body` to compact JSON bytes, once.
    pub(crate) fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, ClientError> {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Some(Bytes::from(bytes));
                Ok(self)
            }
            Err(e) => Err(ClientError::new(
                self.method.clone(),
                &self.url,
                0,
                ErrorKind::InvalidRequest {
                    reason: format!("the body cannot be serialised to JSON: {e}"),
                },
            )),
        }
    }
}

/// A successful response: a 2xx status and its body (at most the configured cap).
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

impl Client {
    /// Makes the call, retrying it as the policy allows, and parses a 2xx body as `T`.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<T, ClientError> {
        self.execute_json_with_status(call)
            .await
            .map(|(value, _, _)| value)
    }

    /// [`execute_json`](Self::execute_json), also returning the status and the attempts.
    async fn execute_json_with_status<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<(T, StatusCode, u32), ClientError> {
        let method = call.method.clone();
        let url = call.url.clone();
        let (response, attempts) = self.execute(call).await?;
        let status = response.status;
        match serde_json::from_slice(&response.body) {
            Ok(value) => Ok((value, status, attempts)),
            Err(e) => {
                let kept = response.body.len().min(KEPT_BODY_BYTES);
                Err(ClientError::new(
                    method,
                    &url,
                    attempts,
                    ErrorKind::MalformedBody {
                        status: response.status,
                        expected: std::any::type_name::<T>(),
                        reason: parse_failure(&e),
                        body: RawBody::new(
                            response.body[..kept].to_vec(),
                            kept < response.body.len(),
                        ),
                    },
                ))
            }
        }
    }

    /// Makes the call like [`execute_json`](Self::execute_json), then applies `check` to the
    /// parsed document; a broken rule is [`ErrorKind::InvalidResponse`].
    pub(crate) async fn execute_checked<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Result<T, ClientError> {
        let method = call.method.clone();
        let url = call.url.clone();
        let value = self.execute_json_with_status::<T>(call).await?;
        match check(&value.0) {
            Ok(()) => Ok(value.0),
            Err(reason) => Err(ClientError::new(
                method,
                &url,
                value.2,
                ErrorKind::InvalidResponse {
                    status: value.1,
                    reason,
                },
            )),
        }
    }

    /// Makes the call, retrying it as the policy allows, and ignores a 2xx body.
    pub(crate) async fn execute_empty(&self, call: Call<'_>) -> Result<(), ClientError> {
        self.execute(call).await.map(|_| ())
    }

    /// Makes the call inside its span; returns the response and the number of attempts.
    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<(Response, u32), ClientError> {
        let span = tracing::info_span!(
            "open_payments_call",
            op = call.op,
            method = %call.method,
            host = call.url.host_str().unwrap_or(""),
            path = call.url.path(),
            status = field::Empty,
            attempts = field::Empty,
            duration_ms = field::Empty,
        );
        let started = Instant::now();
        let result = self
            .execute_with_retries(&call)
            .instrument(span.clone())
            .await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        span.record("duration_ms", duration_ms);
        let _entered = span.enter();
        match &result {
            Ok((response, attempts)) => {
                span.record("status", response.status.as_u16());
                span.record("attempts", attempts);
                tracing::debug!(
                    status = response.status.as_u16(),
                    duration_ms,
                    "call succeeded"
                );
            }
            Err(error) => {
                if let Some(status) = error.status() {
                    span.record("status", status.as_u16());
                }
                span.record("attempts", error.attempts());
                // An error status is an answer the caller handles (too_fast, for one, is
                // routine); everything else means the call itself went wrong.
                if matches!(error.kind(), ErrorKind::Status(_)) {
                    tracing::info!(
                        delivery = ?error.delivery(),
                        duration_ms,
                        error = %error.kind(),
                        "call failed"
                    );
                } else {
                    tracing::warn!(
                        delivery = ?error.delivery(),
                        duration_ms,
                        error = %error.kind(),
                        "call failed"
                    );
                }
            }
        }
        result
    }

    async fn execute_with_retries(&self, call: &Call<'_>) -> Result<(Response, u32), ClientError> {
        let policy = self.inner.retry;
        let mut attempt = 1;
        loop {
            let kind = match self.attempt(call).await {
                Ok(response) => return Ok((response, attempt)),
                Err(kind) => kind,
            };
            let fail = |kind| ClientError::new(call.method.clone(), &call.url, attempt, kind);
            if attempt >= policy.max_attempts || !is_retryable(&call.method, &kind) {
                return Err(fail(kind));
            }
            let delay = match &kind {
                ErrorKind::Status(s) => match s.retry_after {
                    Some(retry_after) => {
                        let delay = retry_after.delay_from(SystemTime::now());
                        if delay > policy.max_retry_after {
                            return Err(fail(kind));
                        }
                        delay
                    }
                    None => policy.jittered_backoff(attempt),
                },
                _ => policy.jittered_backoff(attempt),
            };
            tracing::debug!(
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %kind,
                "retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt: build, sign, send, read the body, all within the timeout.
    async fn attempt(&self, call: &Call<'_>) -> Result<Response, ErrorKind> {
        let inner = &self.inner;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(token) = call.token {
            let mut value =
                HeaderValue::from_str(&format!("GNAP {}", token.expose())).map_err(|_| {
                    ErrorKind::InvalidRequest {
                        reason: "the access token contains characters not allowed in a header"
                            .to_owned(),
                    }
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        // The reference client's rule: sign every POST and every request that carries a token.
        if call.method == Method::POST || call.token.is_some() {
            self.sign(call, &mut headers, SystemTime::now())?;
        }
        let mut request = inner
            .http
            .request(call.method.clone(), call.url.clone())
            .headers(headers);
        if let Some(body) = &call.body {
            request = request.body(body.clone());
        }
        let limit = inner.max_response_bytes;
        let exchange = async move {
            let response = request.send().await.map_err(classify_send_error)?;
            read_response(response, limit).await
        };
        match tokio::time::timeout(inner.timeout, exchange).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ErrorKind::Timeout {
                after: inner.timeout,
            }),
        }
    }
}

/// Sorts a failure of `send` (before any response status) by whether the request left.
fn classify_send_error(source: reqwest::Error) -> ErrorKind {
    if source.is_connect() {
        // The connection was never established: nothing was written.
        ErrorKind::Connect { source }
    } else if source.is_builder() {
        ErrorKind::InvalidRequest {
            reason: source.to_string(),
        }
    } else {
        ErrorKind::Connection { source }
    }
}

/// Reads the body up to `limit` bytes and turns a non-2xx status into [`ErrorKind::Status`].
async fn read_response(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Response, ErrorKind> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(RetryAfter::parse);
    let success = status.is_success();
    let announced = response.content_length();
    let mut body = Vec::new();
    let mut truncated = false;
    if announced.is_some_and(|n| n > limit as u64) {
        if success {
            return Err(ErrorKind::BodyTooLarge { status, limit });
        }
        truncated = true;
    } else {
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| ErrorKind::BodyRead { status, source })?
        {
            if body.len() + chunk.len() > limit {
                if success {
                    return Err(ErrorKind::BodyTooLarge { status, limit });
                }
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
    }
    if success {
        return Ok(Response { status, body });
    }
    let gnap = if truncated {
        None
    } else {
        serde_json::from_slice::<GnapError>(&body).ok()
    };
    let kept = body.len().min(KEPT_BODY_BYTES);
    truncated |= kept < body.len();
    body.truncate(kept);
    Err(ErrorKind::Status(Box::new(StatusError {
        status,
        gnap,
        retry_after,
        body: RawBody::new(body, truncated),
    })))
}

/// What went wrong parsing a body, without serde's message (which quotes the offending
/// values, and a value may be a token): the error's category and where it is.
pub(crate) fn parse_failure(error: &serde_json::Error) -> String {
    let category = match error.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of the wrong shape",
        serde_json::error::Category::Eof => "JSON cut short",
    };
    format!(
        "{category} at line {} column {}",
        error.line(),
        error.column()
    )
}

/// Appends path segments to a base URL: `https://rs.example/` + `incoming-payments` →
/// `https://rs.example/incoming-payments`; `https://ilp.example/alice` + `jwks.json` →
/// `https://ilp.example/alice/jwks.json`. The query string of `base` is dropped.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Result<Url, ErrorKind> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| ErrorKind::InvalidRequest {
                reason: format!("{base} cannot be a base URL"),
            })?;
        path.pop_if_empty();
        path.extend(segments);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_failures_name_the_category_and_place_but_no_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)] // only parsed
        struct Token {
            value: u32,
        }
        let cases = [
            (
                r#"{"value": "TOKEN123"}"#,
                "JSON of the wrong shape at line 1 column 20",
            ),
            (r#"{"value": TOKEN123}"#, "not JSON at line 1 column 11"),
            (r#"{"value": 1"#, "JSON cut short at line 1 column 11"),
        ];
        for (body, want) in cases {
            let error = serde_json::from_str::<Token>(body).unwrap_err();
            assert_eq!(parse_failure(&error), want);
            assert!(!parse_failure(&error).contains("TOKEN"));
        }
    }

    #[test]
    fn join_handles_trailing_slashes() {
        let cases = [
            (
                "https://rs.example",
                &["incoming-payments"][..],
                "https://rs.example/incoming-payments",
            ),
            (
                "https://rs.example/",
                &["incoming-payments"][..],
                "https://rs.example/incoming-payments",
            ),
            (
                "https://ilp.example/alice",
                &["jwks.json"][..],
                "https://ilp.example/alice/jwks.json",
            ),
            (
                "https://ilp.example/alice/",
                &["jwks.json"][..],
                "https://ilp.example/alice/jwks.json",
            ),
            (
                "https://rs.example/incoming-payments/42?x=1",
                &["complete"][..],
                "https://rs.example/incoming-payments/42/complete",
            ),
        ];
        for (base, segments, want) in cases {
            let got = join(&Url::parse(base).unwrap(), segments).unwrap();
            assert_eq!(got.as_str(), want);
        }
        assert!(join(&Url::parse("mailto:a@b.example").unwrap(), &["x"]).is_err());
    }
}
