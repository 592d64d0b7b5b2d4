//! Webhook delivery: POST every change of the feed to one URL, signed, retried with back-off,
//! under a named feed consumer (its position and lease in the database).
//!
//! # What the receiver gets
//!
//! One `POST` per change, in feed order (so in commit order per grant), body `application/json`:
//!
//! ```json
//! {"position":"812.40","at":"2026-12-03T18:00:00.123456Z","type":"grant",
//!  "grant":"7f0c…","version":3,"from":"awaiting_interaction","event":"finish_approved",
//!  "state":"continuing","change":"interaction_finished"}
//! ```
//!
//! (`change` is absent when the transition made no application-facing change; a change this
//! version cannot describe has `"type":"other"` with `id` and `version` only.) Delivery is at
//! least once: a change is sent again if the answer was lost, so deduplicate on `position` (also
//! in the `grantflow-position` header) or on `grant` and `version`.
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
//! only after a 2xx. One process at a time delivers under a consumer name (a lease renewed while
//! it works); the others wait and take over when its lease lapses.
//!
//! # Observing it
//!
//! Tracing events (target `grantflow_driver::webhook`), for logs and metrics: `debug`
//! "webhook delivered" with `position`, `grant`, `attempts` and `lag_ms` (now minus the change's
//! time); `warn` "webhook delivery failed" with `position`, `attempt`, `error` and `retry_in_ms`;
//! `info` when this process takes or loses the consumer.

use std::sync::Arc;
use std::time::Duration;

use grantflow_store::{ConsumerLease, FeedPosition, GrantStore, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::feed::{FeedChange, FeedEntry};
use crate::time::{after, until};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "grantflow-signature";
/// The header carrying the change's feed position (for deduplication).
pub const POSITION_HEADER: &str = "grantflow-position";

/// How many changes are read per round trip.
const PAGE: u32 = 100;

/// The shared secret webhooks are signed with. `Debug` shows no secret.
#[derive(Clone)]
pub struct WebhookSecret(Arc<[u8]>);

impl WebhookSecret {
    /// The secret's bytes, as given (a secret file's content is trimmed of surrounding white
    /// space first by [`from_text`](Self::from_text)). Empty secrets are refused.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (!bytes.is_empty()).then(|| Self(bytes.into()))
    }

    /// A secret written as text (a file, an environment variable): surrounding white space,
    /// such as a final newline, is not part of it.
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

/// Checks a `grantflow-signature` header against `body`, as a receiver does: the tag must match
/// (constant-time) and `t` must be within `tolerance_seconds` of `now` (unix seconds).
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
    if (now - timestamp).abs() > tolerance_seconds {
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

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The receiver's URL.
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
        FeedChange::Other { id, version } => serde_json::json!({
            "type": "other",
            "id": id,
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
    /// [`shutdown`](Self::shutdown) (which waits for the delivery in progress to end).
    ///
    /// Fails with [`EngineError::NoWebhookClient`] if the HTTP client cannot be built.
    pub fn start_webhook(&self, config: WebhookConfig) -> Result<(), EngineError> {
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

/// Why delivery under the current lease stopped.
enum Stop {
    /// The engine is shutting down.
    Shutdown,
    /// The lease is gone (another process delivers now) or the store failed: claim again.
    Reclaim,
}

impl<S: GrantStore> Delivery<S> {
    fn stopping(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Sleeps `d`, or less if the engine stops; `false` if it stopped.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = self.stopping().cancelled() => false,
            () = tokio::time::sleep(d) => true,
        }
    }

    async fn run(self) {
        let name = self.config.consumer.clone();
        let owner = self.inner.config.worker_id.clone();
        let poll = self.inner.config.poll_interval;
        while !self.stopping().is_cancelled() {
            let now = self.inner.now();
            let claim = self
                .inner
                .store
                .claim_consumer(&name, &owner, now, after(now, self.config.lease))
                .await;
            let lease = match claim {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    // Another process delivers; take over if its lease lapses.
                    if !self.pause(poll.max(self.config.lease / 3)).await {
                        return;
                    }
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, consumer = %name, "webhook: cannot claim the consumer; retrying");
                    if !self.pause(poll).await {
                        return;
                    }
                    continue;
                }
            };
            tracing::info!(consumer = %name, position = ?lease.position.map(|p| p.to_string()), url = %self.config.url, "webhook: delivering");
            match self.deliver_under(lease).await {
                (Stop::Shutdown, lease) => {
                    if let Some(lease) = lease {
                        let _ = self.inner.store.release_consumer(&lease).await;
                    }
                    return;
                }
                (Stop::Reclaim, _) => {
                    tracing::info!(consumer = %name, "webhook: lost the consumer; claiming again");
                    if !self.pause(poll).await {
                        return;
                    }
                }
            }
        }
    }

    /// Delivers under `lease` until the engine stops or the lease is lost.
    async fn deliver_under(&self, mut lease: ConsumerLease) -> (Stop, Option<ConsumerLease>) {
        let mut signal = self.inner.store.feed_signal();
        loop {
            if self.stopping().is_cancelled() {
                return (Stop::Shutdown, Some(lease));
            }
            let page = match self.inner.store.changes_after(lease.position, PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "webhook: cannot read the change feed; retrying");
                    if !self.pause(self.inner.config.poll_interval).await {
                        return (Stop::Shutdown, Some(lease));
                    }
                    continue;
                }
            };
            if page.changes.is_empty() {
                lease = match self.renew(&lease, lease.position).await {
                    Ok(l) => l,
                    Err(_) => return (Stop::Reclaim, None),
                };
                let wait = if page.held_back {
                    Duration::from_millis(20)
                } else {
                    self.inner.config.poll_interval.min(self.config.lease / 3)
                };
                tokio::select! {
                    () = self.stopping().cancelled() => return (Stop::Shutdown, Some(lease)),
                    _ = signal.wait(wait) => {}
                }
                continue;
            }
            for record in page.changes {
                let entry = FeedEntry::from_record(record);
                lease = match self.deliver_one(&entry, lease).await {
                    Ok(l) => l,
                    Err(stop) => return stop,
                };
            }
        }
    }

    /// Renews the lease, recording `position`, when a third of it is gone (or always if
    /// the position moved).
    async fn renew(
        &self,
        lease: &ConsumerLease,
        position: Option<FeedPosition>,
    ) -> Result<ConsumerLease, StoreError> {
        let now = self.inner.now();
        if position == lease.position && until(now, lease.until) > self.config.lease * 2 / 3 {
            return Ok(lease.clone());
        }
        self.inner
            .store
            .advance_consumer(lease, position, now, after(now, self.config.lease))
            .await
            .inspect_err(|error| tracing::warn!(%error, "webhook: cannot renew the consumer"))
    }

    /// Sends one change until a 2xx, holding the lease meanwhile, then records its position.
    async fn deliver_one(
        &self,
        entry: &FeedEntry,
        mut lease: ConsumerLease,
    ) -> Result<ConsumerLease, (Stop, Option<ConsumerLease>)> {
        let body = webhook_body(entry).to_string();
        let mut backoff = self.config.first_retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = self.post(entry, &body).await;
            match outcome {
                Ok(()) => {
                    let now = self.inner.now();
                    let lag = (now - entry.at).num_milliseconds();
                    tracing::debug!(position = %entry.position, grant = %entry.id(), attempts = attempt, lag_ms = lag, "webhook delivered");
                    return self
                        .renew(&lease, Some(entry.position))
                        .await
                        .map_err(|_| (Stop::Reclaim, None));
                }
                Err(error) => {
                    tracing::warn!(position = %entry.position, grant = %entry.id(), attempt, %error, retry_in_ms = backoff.as_millis() as u64, "webhook delivery failed");
                }
            }
            // Wait out the back-off in slices, keeping the lease alive.
            let mut left = backoff;
            while !left.is_zero() {
                let slice = left
                    .min(self.config.lease / 3)
                    .max(Duration::from_millis(1));
                if !self.pause(slice).await {
                    return Err((Stop::Shutdown, Some(lease)));
                }
                left = left.saturating_sub(slice);
                lease = self
                    .renew(&lease, lease.position)
                    .await
                    .map_err(|_| (Stop::Reclaim, None))?;
            }
            backoff = (backoff * 2).min(self.config.max_retry);
        }
    }

    async fn post(&self, entry: &FeedEntry, body: &str) -> Result<(), String> {
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .http
            .post(self.config.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                sign(&self.config.secret, timestamp, body.as_bytes()),
            )
            .header(POSITION_HEADER, entry.position.to_string())
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", response.status()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
