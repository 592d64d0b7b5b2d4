//! [`Client`] and its [`ClientBuilder`]: the signing identity and the limits every call obeys.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use grantflow_protocol::keys::PrivateKey;
use url::Url;

use crate::keys::{ClientKeys, KeySetError};
use crate::retry::RetryPolicy;

/// Default timeout of one attempt of a call, from sending the request to the last body byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default cap on establishing a connection (DNS, TCP, TLS); a connect that takes longer fails
/// as [`ErrorKind::Connect`](crate::ErrorKind::Connect), which is known not to have been sent.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default cap on a response body: 1 MiB. Open Payments documents are a few KiB; a list page of
/// the reference server's maximum size stays far below this.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How many bytes of an error or unparseable body an error keeps ([`RawBody`](crate::RawBody)).
pub(crate) const KEPT_BODY_BYTES: usize = 16 * 1024;

/// An async Open Payments client: wallet addresses, the authorization server (grants, tokens)
/// and the resource server (incoming payments, quotes, outgoing payments).
///
/// It signs every POST and every request that carries a token (RFC 9421, as the reference
/// client does), with the active key of its [`ClientKeys`], each published at the client's
/// wallet address. Cloning is cheap: the clones share one connection pool and one key set, so
/// switching the active key ([`Client::keys`]) takes effect for every clone at its next request.
///
/// ```no_run
/// # async fn example(key: grantflow_protocol::keys::PrivateKey) -> Result<(), Box<dyn std::error::Error>> {
/// use grantflow_client::Client;
/// use std::time::Duration;
///
/// let client = Client::builder(
///     "https://wallet.example/client".parse()?,
///     "my-key-1",
///     key,
/// )
/// .timeout(Duration::from_secs(5))
/// .build()?;
/// let wallet = client.get_wallet_address(&"https://ilp.example/alice".parse()?).await?;
/// // wallet.auth_server is where grants are requested:
/// // client.request_grant(&wallet.auth_server.parse()?, &request).await?
/// # let _ = wallet; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// What every clone of a [`Client`] shares.
#[derive(Clone)]
pub(crate) struct Inner {
    /// The connection pool (redirects off, connect timeout set).
    pub(crate) http: reqwest::Client,
    /// The client's wallet address: the `client` of grant requests, whose `jwks.json` holds the
    /// public half of every key in `keys`.
    pub(crate) wallet_address: Url,
    /// The signing keys, shared with whoever rotates them; the active one signs (its id is the
    /// `keyid` of the signature). Redacted in `Debug`, zeroized on drop by `PrivateKey`.
    pub(crate) keys: ClientKeys,
    /// Timeout of one attempt.
    pub(crate) timeout: Duration,
    /// Cap on a response body.
    pub(crate) max_response_bytes: usize,
    /// Retries of GET and DELETE.
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("wallet_address", &self.inner.wallet_address.as_str())
            .field("keys", &self.inner.keys)
            .field("timeout", &self.inner.timeout)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts building a client that signs as `key_id` with `key`, on behalf of the wallet
    /// address `wallet_address` (whose `jwks.json` must publish the key's public half). The key
    /// can be rotated later through [`Client::keys`].
    pub fn builder(
        wallet_address: Url,
        key_id: impl Into<String>,
        key: PrivateKey,
    ) -> ClientBuilder {
        let keys = ClientKeys::new(key_id, key);
        Self::builder_inner(wallet_address, keys)
    }

    /// Starts building a client that signs with the active key of `keys`, on behalf of the
    /// wallet address `wallet_address` (whose `jwks.json` must publish every key of the set).
    /// The client shares the set: switching its active key through this handle, or another
    /// clone of it, changes the key the client signs its next request with.
    pub fn builder_with_keys(wallet_address: Url, keys: ClientKeys) -> ClientBuilder {
        Self::builder_inner(wallet_address, Ok(keys))
    }

    fn builder_inner(wallet_address: Url, keys: Result<ClientKeys, KeySetError>) -> ClientBuilder {
        ClientBuilder {
            wallet_address,
            keys,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
            user_agent: concat!("grantflow/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// The client's wallet address (the `client` of its grant requests).
    pub fn wallet_address(&self) -> &Url {
        &self.inner.wallet_address
    }

    /// The `keyid` the client signs its next request with: the active key of [`Client::keys`].
    pub fn key_id(&self) -> String {
        self.inner.keys.active_key_id()
    }

    /// The client's signing keys, shared with every clone of this client: add, activate or
    /// retire a key here and the next request is signed accordingly.
    pub fn keys(&self) -> &ClientKeys {
        &self.inner.keys
    }

    /// The timeout of one attempt of a call.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The retry policy of GET and DELETE calls.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// A client like this one (same key, same connection pool) whose calls time out after
    /// `timeout` instead; for the odd call that needs more or less time than the rest. A zero
    /// timeout is ignored.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        let mut inner = Inner::clone(&self.inner);
        if !timeout.is_zero() {
            inner.timeout = timeout;
        }
        Client {
            inner: Arc::new(inner),
        }
    }

    /// The `client` member of this client's grant requests: its wallet address, in the spec's
    /// string form (what the reference client sends).
    ///
    /// ```
    /// # fn f(client: &grantflow_client::Client) {
    /// use grantflow_protocol::grant::Client as GrantClient;
    /// assert!(matches!(client.grant_client(), GrantClient::WalletAddress(_)));
    /// # }
    /// ```
    pub fn grant_client(&self) -> grantflow_protocol::grant::Client {
        grantflow_protocol::grant::Client::WalletAddress(self.inner.wallet_address.to_string())
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    wallet_address: Url,
    keys: Result<ClientKeys, KeySetError>,
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
    retry: RetryPolicy,
    user_agent: String,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("wallet_address", &self.wallet_address.as_str())
            .field("keys", &self.keys.as_ref().ok())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Timeout of one attempt of every call, from sending to the last body byte (default 10 s).
    /// A call that times out fails with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout), whose
    /// delivery is unknown.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Cap on establishing a connection (default 5 s, never more than the call timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Cap on a response body in bytes (default 1 MiB), enforced while the body streams in.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Retry policy of GET and DELETE calls (POST is never retried).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The `User-Agent` header (default `grantflow/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, BuildError> {
        if self.timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let keys = match self.keys {
            Ok(keys) => keys,
            Err(KeySetError::EmptyKeyId) => return Err(BuildError::EmptyKeyId),
            Err(source) => return Err(BuildError::Keys { source }),
        };
        if self.retry.max_attempts == 0 {
            return Err(BuildError::ZeroAttempts);
        }
        let http = reqwest::Client::builder()
            // A redirect would re-send a signed request to a URL it was not signed for, and a
            // POST must never be re-sent behind the driver's back: 3xx are errors.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout.min(self.timeout))
            .user_agent(self.user_agent)
            .build()
            .map_err(|source| BuildError::Http { source })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                wallet_address: self.wallet_address,
                keys,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
                retry: self.retry,
            }),
        })
    }
}

/// A [`Client`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The call timeout is zero: every call would fail.
    #[error("the call timeout must be greater than zero")]
    ZeroTimeout,
    /// The key id is empty: servers could not find the key.
    #[error(
        "the key id must not be empty (it is the `kid` of the key in the wallet address's jwks.json)"
    )]
    EmptyKeyId,
    /// The key set is not usable.
    #[error("the client key set is not usable: {source}")]
    Keys {
        /// What is wrong with it.
        #[source]
        source: KeySetError,
    },
    /// The retry policy allows no attempt at all.
    #[error("the retry policy must allow at least one attempt (max_attempts >= 1)")]
    ZeroAttempts,
    /// The HTTP stack could not be initialised (TLS roots, resolver).
    #[error("could not initialise the HTTP client: {source}")]
    Http {
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
}
