//! Client wallet addresses the sandbox does not host, read over HTTP as the reference
//! authorization server reads them: `GET <wallet address>/jwks.json` for the keys a client signs
//! with, `GET <wallet address>` for the `publicName` the consent page shows.
//!
//! What was fetched is kept for [`CACHE_SECONDS`] of sandbox time (the reference keeps nothing:
//! it fetches on every signed request); a request signed with a `keyid` the kept key set lacks
//! fetches again at once, so a newly published key works immediately and a retired one stops
//! working within the cache time. Failures are not kept. A fetch has [`FETCH_TIMEOUT`], follows
//! no redirect, and reads at most [`MAX_DOCUMENT_BYTES`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::wallet_address::WalletAddress;
use serde::de::DeserializeOwned;

/// How long a fetched key set or wallet address is used without fetching it again, in seconds
/// of sandbox time.
pub const CACHE_SECONDS: i64 = 5;

/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest wallet address or key set document read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// A fetched document and when it was fetched.
type Kept<T> = Arc<Mutex<HashMap<String, (DateTime<Utc>, T)>>>;

/// The HTTP client and what it fetched.
#[derive(Clone)]
pub(crate) struct RemoteWallets {
    http: reqwest::Client,
    keys: Kept<Jwks>,
    wallets: Kept<WalletAddress>,
}

impl RemoteWallets {
    /// A client with the fetch limits, and nothing kept.
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            keys: Kept::default(),
            wallets: Kept::default(),
        })
    }

    /// The key set published at `wallet_address`'s `jwks.json`: the kept one if it is fresh and
    /// has `key_id`, else fetched now. `Err` says why there is none (for the log).
    pub async fn keys(
        &self,
        wallet_address: &str,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Jwks, String> {
        if let Some(kept) = fresh(&self.keys, wallet_address, now)
            && kept.find(key_id).is_some()
        {
            return Ok(kept);
        }
        let url = format!("{}/jwks.json", wallet_address.trim_end_matches('/'));
        let jwks: Jwks = self.fetch(&url).await?;
        keep(&self.keys, wallet_address, now, jwks.clone());
        Ok(jwks)
    }

    /// The wallet address document at `wallet_address`: the kept one if fresh, else fetched now.
    pub async fn wallet_address(
        &self,
        wallet_address: &str,
        now: DateTime<Utc>,
    ) -> Result<WalletAddress, String> {
        if let Some(kept) = fresh(&self.wallets, wallet_address, now) {
            return Ok(kept);
        }
        let document: WalletAddress = self.fetch(wallet_address).await?;
        keep(&self.wallets, wallet_address, now, document.clone());
        Ok(document)
    }

    async fn fetch<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: more than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not a valid document: {e}"))
    }
}

fn lock<T>(kept: &Kept<T>) -> std::sync::MutexGuard<'_, HashMap<String, (DateTime<Utc>, T)>> {
    // No code panics while holding it; a poisoned map is still a valid cache.
    kept.lock().unwrap_or_else(|e| e.into_inner())
}

fn fresh<T: Clone>(kept: &Kept<T>, url: &str, now: DateTime<Utc>) -> Option<T> {
    let map = lock(kept);
    let (at, value) = map.get(url)?;
    let age = now.signed_duration_since(*at);
    (age >= TimeDelta::zero() && age < TimeDelta::seconds(CACHE_SECONDS)).then(|| value.clone())
}

fn keep<T>(kept: &Kept<T>, url: &str, now: DateTime<Utc>, value: T) {
    lock(kept).insert(url.to_owned(), (now, value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_documents_are_fresh_for_the_cache_time_only() {
        let kept: Kept<u8> = Kept::default();
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        keep(&kept, "http://w/a", t0, 7);
        assert_eq!(fresh(&kept, "http://w/a", t0), Some(7));
        let just_before = t0 + TimeDelta::seconds(CACHE_SECONDS) - TimeDelta::milliseconds(1);
        assert_eq!(fresh(&kept, "http://w/a", just_before), Some(7));
        assert_eq!(
            fresh(&kept, "http://w/a", t0 + TimeDelta::seconds(CACHE_SECONDS)),
            None
        );
        // A clock moved back does not keep a document forever.
        assert_eq!(fresh(&kept, "http://w/a", t0 - TimeDelta::seconds(1)), None);
        assert_eq!(fresh(&kept, "http://w/b", t0), None);
    }
}
