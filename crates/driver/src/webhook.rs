//! Webhook delivery: POST every change of the feed to one URL, signed, retried with back-off,
//! under a named feed consumer (its position and lease in the database).
//!
//! # What the receiver gets
//!
//! One `POST` per change, in feed order (so in commit order per grant), body `application/json`:
//!
//! ```json
//! {"at":"2026-12-03T18:00:00.123456Z","change":"issued","event":"answered_issued",
//!  "from":"continuing","grant":"5b0c3c2e-…","position":"812.40","state":"issued",
//!  "type":"grant","version":4}
//! ```
//!
//! (`change` is absent when the transition made no application-facing change; a change this
//! version cannot describe has `"type":"other"` with `grant` and `version` only.) The body names
//! kinds only: never a token, nonce, URL or key. Delivery is at least once: a change is sent again
//! if its answer was lost, so deduplicate on `position` (also in the `grantflow-position` header)
//! or on `grant` and `version`. The format is documented in `docs/operations.md` ("Webhooks").
//!
//! # Verifying the signature
//!
//! The header `grantflow-signature: t=<unix seconds>,v1=<hex>` carries
//! `HMAC-SHA256(secret, "<t>." + body)` over the exact body bytes. The receiver recomputes it
//! with the shared secret, compares in constant time, and rejects a `t` too far from its clock
//! (e.g. 5 minutes) to refuse replays; [`verify_signature`] does exactly that.
//!
//! # Delivery
//!
//! Any answer but 2xx (or no answer within the timeout) is a failure: the same change is sent
//! again after a back-off that doubles from `first_retry` to `max_retry`, for as long as it
//! takes (a receiver down for an hour gets everything afterwards, in order). The position moves
//! only past changes answered 2xx; it is recorded at the end of each page of changes, at least
//! every second while they flow, during back-offs and at shutdown (one write per change halved
//! the throughput), so a crash sends at most that much again. One process at a time delivers
//! under a consumer name (a lease on the engine's clock, renewed while it works, including
//! during back-offs); the others wait and take over when its lease lapses or it shuts down
//! (which lets the attempt in flight end, within the timeout, records the position and
//! releases the lease). Back-offs wait on the engine's clock (so tests move a `ManualClock`
//! instead of sleeping); the signature's `t` is read from it too.
//!
//! # Observing it
//!
//! Metrics: `grantflow_webhook_deliveries_total{outcome}` (`delivered`, or why an attempt failed:
//! [`WebhookFailure`]) and `grantflow_webhook_delivery_lag_seconds` (the change's time to its
//! acknowledged delivery). Logs (target `grantflow_driver::webhook`): `debug` "webhook
//! delivered" with `position`, `grant`, `attempts`; `warn` "webhook delivery failed" with
//! `position`, `attempt`, `reason`, `error` and `retry_in_ms`; `info` when this process takes or
//! loses the consumer. Neither carries the secret, and the URL is logged as
//! `grantflow_protocol::text::display_url` shows it (no user information, no query values).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use grantflow_protocol::text::display_url;
use grantflow_store::{ConsumerLease, FeedPosition, GrantStore, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;
use zeroize::Zeroizing;

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::feed::{FeedChange, FeedEntry};
use crate::metrics::{self, WebhookFailure};
use crate::time::{after, until};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "grantflow-signature";
/// The header carrying the change's feed position (for deduplication).
pub const POSITION_HEADER: &str = "grantflow-position";

/// How many changes are read per round trip.
const PAGE: u32 = 100;

/// How long a reader waits before reading again when changes are held back by an older
/// transaction still running (PostgreSQL): no notification announces that one's end.
const HELD_BACK_RETRY: Duration = Duration::from_millis(20);

/// The shared secret webhooks are signed with. `Debug` shows no secret; the bytes are wiped
/// when the last clone is dropped.
#[derive(Clone)]
pub struct WebhookSecret(Arc<Zeroizing<Vec<u8>>>);

impl WebhookSecret {
    /// The secret's bytes, as given. Empty secrets are refused (`None`).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = Zeroizing::new(bytes.into());
        (!bytes.is_empty()).then(|| Self(Arc::new(bytes)))
    }

    /// A secret written as text (a file, an environment variable): surrounding white space,
    /// such as a final newline, is not part of it. Blank text is refused (`None`).
    pub fn from_text(text: &str) -> Option<Self> {
        Self::new(text.trim().as_bytes())
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The `grantflow-signature` header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.mac(timestamp, body).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Checks a `grantflow-signature` header against `body`, as a receiver does: a `v1` tag must
/// match (constant-time) and `t` must be within `tolerance_seconds` of `now` (unix seconds).
pub fn verify_signature(
    secret: &WebhookSecret,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> bool {
    let mut timestamp = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex)) => tags.push(hex),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if now.abs_diff(timestamp) > tolerance_seconds.unsigned_abs() {
        return false;
    }
    tags.iter().any(|hex| {
        decode_hex(hex).is_some_and(|tag| secret.mac(timestamp, body).verify_slice(&tag).is_ok())
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Where and how to deliver. `Debug` shows the URL as logs do (no credentials, no query
/// values) and no secret.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The receiver's URL (`http` or `https`).
    pub url: Url,
    /// The shared secret.
    pub secret: WebhookSecret,
    /// The feed consumer's name (its position and lease in the database); one per receiver.
    /// Default `webhook`.
    pub consumer: String,
    /// How long one POST may take. Default 10 s.
    pub timeout: Duration,
    /// The first back-off after a failure; it doubles up to `max_retry`. Default 1 s.
    pub first_retry: Duration,
    /// The longest back-off. Default 5 minutes.
    pub max_retry: Duration,
    /// The consumer's lease: how long another process waits to take over if this one dies.
    /// Default 30 s.
    pub lease: Duration,
}

impl WebhookConfig {
    /// Delivery to `url` signed with `secret`, with the defaults above.
    pub fn new(url: Url, secret: WebhookSecret) -> Self {
        Self {
            url,
            secret,
            consumer: "webhook".into(),
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(300),
            lease: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &shown(&self.url))
            .field("secret", &self.secret)
            .field("consumer", &self.consumer)
            .field("timeout", &self.timeout)
            .field("first_retry", &self.first_retry)
            .field("max_retry", &self.max_retry)
            .field("lease", &self.lease)
            .finish()
    }
}

/// `url` as logs and errors show it: [`display_url`]'s origin and path, without user
/// information, and with query values and long path segments hidden (a receiver's own token
/// may hide there).
fn shown(url: &Url) -> String {
    display_url(url.as_str())
}

/// The JSON body for one change (see the module docs).
pub fn webhook_body(entry: &FeedEntry) -> serde_json::Value {
    let mut body = serde_json::json!({
        "position": entry.position,
        "at": entry.at,
    });
    let fields = match &entry.change {
        FeedChange::Grant(g) => serde_json::json!({
            "type": "grant",
            "grant": g.grant,
            "version": g.version,
            "from": g.from,
            "event": g.event,
            "state": g.kind,
            "change": g.change,
        }),
        FeedChange::Payment(p) => serde_json::json!({
            "type": "payment",
            "payment": p.payment,
            "grant": p.grant,
            "version": p.version,
            "from": p.from,
            "event": p.event,
            "state": p.kind,
            "change": p.change_name(),
        }),
        FeedChange::Schedule(s) => serde_json::json!({
            "type": "schedule",
            "schedule": s.schedule,
            "version": s.version,
            "from": s.from,
            "event": s.event,
            "state": s.kind,
        }),
        FeedChange::Other { id, version } => serde_json::json!({
            "type": "other",
            "grant": id,
            "version": version,
        }),
    };
    if let (Some(body), serde_json::Value::Object(fields)) = (body.as_object_mut(), fields) {
        for (k, v) in fields {
            if !v.is_null() {
                body.insert(k, v);
            }
        }
    }
    body
}

impl<S: GrantStore> Engine<S> {
    /// Starts delivering the change feed to a webhook in the background, until
    /// [`shutdown`](Self::shutdown) (which ends the delivery in progress and releases the
    /// consumer, so another process takes over at once). Several engines may start it with the
    /// same consumer name: one delivers at a time.
    ///
    /// Fails with [`EngineError::BadWebhookUrl`] for a URL that is not `http` or `https`, and
    /// with [`EngineError::NoWebhookClient`] if the HTTP client cannot be built.
    pub fn start_webhook(&self, config: WebhookConfig) -> Result<(), EngineError> {
        if !matches!(config.url.scheme(), "http" | "https") {
            return Err(EngineError::BadWebhookUrl(shown(&config.url)));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EngineError::NoWebhookClient(e.to_string()))?;
        let delivery = Delivery {
            inner: self.inner.clone(),
            http,
            config,
        };
        let task = tokio::spawn(delivery.run());
        match self.inner.workers.lock() {
            Ok(mut w) => w.push(task),
            Err(poisoned) => poisoned.into_inner().push(task),
        }
        Ok(())
    }
}

struct Delivery<S: GrantStore> {
    inner: Arc<Inner<S>>,
    http: reqwest::Client,
    config: WebhookConfig,
}

/// Why delivery under the current lease ended.
enum Stop {
    /// The engine is shutting down: record the position and release the lease.
    Shutdown,
    /// The lease is gone (released, or lapsed and taken over): claim again.
    Lost,
}

/// The consumer as this process holds it: the lease, with the position last recorded, and the
/// position delivered since (recorded in batches: see [`RECORD_EVERY`]).
struct Held {
    lease: ConsumerLease,
    /// The last change the receiver acknowledged; ahead of `lease.position` until recorded.
    delivered: Option<FeedPosition>,
    /// When the position was last recorded (the engine's clock).
    recorded_at: DateTime<Utc>,
}

/// How often the position delivered is recorded while changes flow (besides at the end of
/// each page): a crash sends at most this much (or one page) again. One write per change
/// halved the throughput.
const RECORD_EVERY: Duration = Duration::from_secs(1);

/// One POST's outcome.
enum Attempt {
    Delivered,
    Failed(WebhookFailure, String),
}

impl<S: GrantStore> Delivery<S> {
    /// Waits `d` of real time (polling cadence); `false` if the engine stopped meanwhile.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = self.inner.shutdown.cancelled() => false,
            () = tokio::time::sleep(d) => true,
        }
    }

    /// Reports a store result to the database status; logs it unless that already did.
    fn saw<T>(&self, result: &Result<T, StoreError>, what: &str) {
        if !self.inner.database.saw(result)
            && let Err(error) = result
        {
            tracing::warn!(%error, consumer = %self.config.consumer, "webhook: cannot {what}; retrying");
        }
    }

    async fn run(self) {
        while let Some(lease) = self.claim().await {
            tracing::info!(
                consumer = %self.config.consumer,
                position = ?lease.position.map(|p| p.to_string()),
                url = %shown(&self.config.url),
                "webhook: delivering the change feed"
            );
            let mut held = Held {
                delivered: lease.position,
                lease,
                recorded_at: self.inner.now(),
            };
            match self.deliver_under(&mut held).await {
                Stop::Shutdown => {
                    if held.delivered != held.lease.position {
                        let _ = self.record(&mut held).await;
                    }
                    let _ = self.inner.store.release_consumer(&held.lease).await;
                    return;
                }
                Stop::Lost => {
                    tracing::info!(consumer = %self.config.consumer, "webhook: another process took the consumer over");
                }
            }
        }
    }

    /// Takes the consumer's lease, waiting while another process holds it; `None` on shutdown.
    async fn claim(&self) -> Option<ConsumerLease> {
        let poll = self.inner.config.poll_interval;
        loop {
            if self.inner.shutdown.is_cancelled() {
                return None;
            }
            let now = self.inner.now();
            let claim = self
                .inner
                .store
                .claim_consumer(
                    &self.config.consumer,
                    &self.inner.config.worker_id,
                    now,
                    after(now, self.config.lease),
                )
                .await;
            self.saw(&claim, "claim the consumer");
            if let Ok(Some(lease)) = claim {
                return Some(lease);
            }
            // Another process delivers (take over once it releases the consumer or its lease
            // lapses), or the store failed. One cheap statement per poll interval.
            if !self.pause(poll).await {
                return None;
            }
        }
    }

    /// Delivers under the lease until the engine stops or the lease is lost.
    async fn deliver_under(&self, held: &mut Held) -> Stop {
        let mut signal = self.inner.store.feed_signal();
        let poll = self.inner.config.poll_interval;
        loop {
            if self.inner.shutdown.is_cancelled() {
                return Stop::Shutdown;
            }
            let page = self.inner.store.changes_after(held.delivered, PAGE).await;
            self.saw(&page, "read the change feed");
            let page = match page {
                Ok(page) => page,
                Err(_) => {
                    if !self.pause(poll).await {
                        return Stop::Shutdown;
                    }
                    continue;
                }
            };
            if page.changes.is_empty() {
                if let Err(stop) = self.keep(held).await {
                    return stop;
                }
                let wait = if page.held_back {
                    HELD_BACK_RETRY
                } else {
                    poll.min(self.config.lease / 3)
                };
                tokio::select! {
                    () = self.inner.shutdown.cancelled() => return Stop::Shutdown,
                    _ = signal.wait(wait) => {}
                }
                continue;
            }
            for record in page.changes {
                let entry = FeedEntry::from_record(record);
                if let Err(stop) = self.deliver_one(&entry, held).await {
                    return stop;
                }
                if let Err(stop) = self.keep(held).await {
                    return stop;
                }
            }
            if held.delivered != held.lease.position
                && let Err(stop) = self.record(held).await
            {
                return stop;
            }
        }
    }

    /// Records the position delivered once [`RECORD_EVERY`] has passed, and extends the lease
    /// once a third of it is gone.
    async fn keep(&self, held: &mut Held) -> Result<(), Stop> {
        let now = self.inner.now();
        let renew = until(now, held.lease.until) <= self.config.lease * 2 / 3;
        let record =
            held.delivered != held.lease.position && until(held.recorded_at, now) >= RECORD_EVERY;
        if renew || record {
            self.record(held).await?;
        }
        Ok(())
    }

    /// Writes the position delivered and extends the lease, fenced on the lease's token. A
    /// store error keeps things as they are (the next call tries again; until then a crash
    /// sends the unrecorded changes again).
    async fn record(&self, held: &mut Held) -> Result<(), Stop> {
        let now = self.inner.now();
        let written = self
            .inner
            .store
            .advance_consumer(
                &held.lease,
                held.delivered,
                now,
                after(now, self.config.lease),
            )
            .await;
        self.saw(&written, "record the consumer's position");
        match written {
            Ok(lease) => {
                held.lease = lease;
                held.recorded_at = now;
                Ok(())
            }
            Err(StoreError::ConsumerLeaseLost(_)) => Err(Stop::Lost),
            Err(_) => Ok(()),
        }
    }

    /// Sends one change until a 2xx, holding the lease meanwhile.
    async fn deliver_one(&self, entry: &FeedEntry, held: &mut Held) -> Result<(), Stop> {
        let body = webhook_body(entry).to_string();
        let mut backoff = self.config.first_retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            match self.post(entry, &body).await {
                Attempt::Delivered => {
                    metrics::record_webhook_delivered(until(entry.at, self.inner.now()));
                    tracing::debug!(position = %entry.position, grant = %entry.id(), attempts = attempt, "webhook delivered");
                    held.delivered = Some(entry.position);
                    return Ok(());
                }
                Attempt::Failed(reason, error) => {
                    metrics::record_webhook_failed(reason);
                    tracing::warn!(
                        position = %entry.position,
                        grant = %entry.id(),
                        attempt,
                        reason = reason.as_str(),
                        %error,
                        retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        "webhook delivery failed"
                    );
                }
            }
            self.back_off(held, backoff).await?;
            backoff = (backoff * 2).min(self.config.max_retry);
        }
    }

    /// Waits `backoff` on the engine's clock, keeping the lease (and recording what was
    /// delivered before) meanwhile.
    async fn back_off(&self, held: &mut Held, backoff: Duration) -> Result<(), Stop> {
        let clock = &self.inner.config.clock;
        let end = after(self.inner.now(), backoff);
        let slice = (self.config.lease / 3).max(Duration::from_millis(1));
        loop {
            self.keep(held).await?;
            let now = self.inner.now();
            if now >= end {
                return Ok(());
            }
            let wake = after(now, slice).min(end);
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return Err(Stop::Shutdown),
                () = clock.sleep_until(wake) => {}
            }
        }
    }

    async fn post(&self, entry: &FeedEntry, body: &str) -> Attempt {
        let timestamp = self.inner.now().timestamp();
        let request = self
            .http
            .post(self.config.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                sign(&self.config.secret, timestamp, body.as_bytes()),
            )
            .header(POSITION_HEADER, entry.position.to_string())
            .body(body.to_owned())
            .send();
        // Not cut short by a shutdown: like a grant's call in flight, it ends (within the
        // timeout) and a 2xx is recorded, so the next deliverer does not send it again.
        match request.await {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) => Attempt::Failed(
                WebhookFailure::Rejected,
                format!("the receiver answered {}", response.status()),
            ),
            Err(error) => {
                let reason = if error.is_timeout() {
                    WebhookFailure::Timeout
                } else if error.is_connect() {
                    WebhookFailure::Unreachable
                } else {
                    WebhookFailure::Error
                };
                Attempt::Failed(reason, error_chain(&error.without_url()))
            }
        }
    }
}

/// An error and its sources, `: `-separated (reqwest's own message says little alone).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use grantflow_machine::{Change, EventKind, StateKind};
    use grantflow_store::GrantId;

    use crate::view::GrantChange;

    #[test]
    fn a_signature_verifies_and_anything_changed_does_not() {
        let secret = WebhookSecret::from_text("s3cret\n").unwrap();
        let body = br#"{"position":"1.2"}"#;
        let header = sign(&secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify_signature(&secret, &header, body, 1_700_000_100, 300));
        assert!(!verify_signature(
            &secret,
            &header,
            b"{}",
            1_700_000_100,
            300
        ));
        assert!(
            !verify_signature(&secret, &header, body, 1_700_001_000, 300),
            "too old: a replay"
        );
        let other = WebhookSecret::new(b"other".to_vec()).unwrap();
        assert!(!verify_signature(&other, &header, body, 1_700_000_000, 300));
        assert!(!verify_signature(
            &secret,
            "v1=00",
            body,
            1_700_000_000,
            300
        ));
        assert!(WebhookSecret::from_text(" \n").is_none());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 (key "Jefe"), with the message split as "<t>.<body>".
        let secret = WebhookSecret::new(b"Jefe".to_vec()).unwrap();
        let header = sign(&secret, 0, b"what do ya want for nothing?");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(header, format!("t=0,v1={hex}"));
    }

    /// The body is the documented, stable shape (docs/operations.md, "Webhooks").
    #[test]
    fn the_body_has_the_documented_shape() {
        let grant = GrantId(uuid::Uuid::nil());
        let entry = |change| FeedEntry {
            position: "812.40".parse().unwrap(),
            at: DateTime::from_timestamp(1_764_784_800, 123_456_000).unwrap(),
            change,
        };
        let issued = entry(FeedChange::Grant(GrantChange {
            grant,
            version: 4,
            from: StateKind::Continuing,
            event: EventKind::AnsweredIssued,
            kind: StateKind::Issued,
            change: Some(Change::Issued),
        }));
        assert_eq!(
            webhook_body(&issued),
            serde_json::json!({
                "position": "812.40",
                "at": "2025-12-03T18:00:00.123456Z",
                "type": "grant",
                "grant": "00000000-0000-0000-0000-000000000000",
                "version": 4,
                "from": "continuing",
                "event": "answered_issued",
                "state": "issued",
                "change": "issued",
            })
        );
        let other = entry(FeedChange::Other {
            id: grant,
            version: 2,
        });
        assert_eq!(
            webhook_body(&other),
            serde_json::json!({
                "position": "812.40",
                "at": "2025-12-03T18:00:00.123456Z",
                "type": "other",
                "grant": "00000000-0000-0000-0000-000000000000",
                "version": 2,
            })
        );
    }

    /// The example in docs/operations.md ("Webhooks"), byte for byte.
    #[test]
    fn the_documented_example_is_what_is_sent() {
        let entry = FeedEntry {
            position: "812.40".parse().unwrap(),
            at: "2026-12-03T18:00:00.123456Z".parse().unwrap(),
            change: FeedChange::Grant(GrantChange {
                grant: GrantId("5b0c3c2e-6a43-4c1e-9c55-0d3b8e0f6a11".parse().unwrap()),
                version: 4,
                from: StateKind::Continuing,
                event: EventKind::AnsweredIssued,
                kind: StateKind::Issued,
                change: Some(Change::Issued),
            }),
        };
        let body = webhook_body(&entry).to_string();
        assert_eq!(
            body,
            r#"{"at":"2026-12-03T18:00:00.123456Z","change":"issued","event":"answered_issued","from":"continuing","grant":"5b0c3c2e-6a43-4c1e-9c55-0d3b8e0f6a11","position":"812.40","state":"issued","type":"grant","version":4}"#
        );
        let secret = WebhookSecret::from_text("whsec-example").unwrap();
        assert_eq!(
            sign(&secret, 1_764_784_800, body.as_bytes()),
            "t=1764784800,v1=8a307b1caabf1ce91d762caf172ceed16b25a043b9a444f426109250b942bcf7"
        );
    }

    #[test]
    fn logged_urls_carry_no_credentials_or_query_values() {
        let url: Url = "https://user:pw@hooks.example:8443/in/grantflow?token=abc#x"
            .parse()
            .unwrap();
        assert_eq!(
            shown(&url),
            "https://hooks.example:8443/in/grantflow?token=…"
        );
        let config = WebhookConfig::new(url, WebhookSecret::from_text("s3cret").unwrap());
        let debug = format!("{config:?}");
        for hidden in ["user", "pw", "abc", "s3cret"] {
            assert!(!debug.contains(hidden), "{hidden} in {debug}");
        }
    }
}
