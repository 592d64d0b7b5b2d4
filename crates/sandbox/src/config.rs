//! [`SandboxConfig`]: everything the sandbox can be told at start, one field per
//! `grantflow sandbox` flag.

use std::net::SocketAddr;

use grantflow_protocol::finish_hash::FinishHashEncoding;
use grantflow_protocol::jwk::Jwks;

use crate::clock::SandboxClock;

/// How the sandbox is started. `SandboxConfig::default()` behaves like the reference server's
/// defaults (§1.6 of the protocol notes) on a random loopback port.
///
/// | field | default | reference setting |
/// |---|---|---|
/// | `bind` | `127.0.0.1:0` | |
/// | `wait_seconds` | 5 | `WAIT_SECONDS` |
/// | `access_token_lifetime_seconds` | 600 | `ACCESS_TOKEN_EXPIRY_SECONDS` |
/// | `interaction_lifetime_seconds` | 600 | `INTERACTION_EXPIRY_SECONDS` |
/// | `quote_lifetime_seconds` | 300 | `QUOTE_LIFESPAN` (5 minutes) |
/// | `finish_hash_encoding` | padded standard base64 | what the reference sends |
/// | `interval_reading` | Rafiki-compatible | what the reference enforces |
/// | `tenant` | `sandbox` | the tenant id in `authServer` |
/// | `wallet_addresses` | `alice` and `bob` (USD, scale 2) | |
///
/// ```
/// use grantflow_sandbox::SandboxConfig;
///
/// let config = SandboxConfig { wait_seconds: 0, ..SandboxConfig::default() };
/// assert_eq!(config.access_token_lifetime_seconds, 600);
/// ```
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on. Keep it on loopback: the sandbox has no authentication on its
    /// control endpoints. Port 0 picks a free port.
    pub bind: SocketAddr,
    /// Seconds a client must wait between continuation calls (`continue.wait`, `too_fast`).
    pub wait_seconds: u64,
    /// Lifetime of issued access tokens (`expires_in`).
    pub access_token_lifetime_seconds: u64,
    /// Lifetime of an interaction (consent) from the grant request.
    pub interaction_lifetime_seconds: u64,
    /// Lifetime of a quote.
    pub quote_lifetime_seconds: u64,
    /// How the finish redirect's `hash` is encoded.
    pub finish_hash_encoding: FinishHashEncoding,
    /// How `limits.interval` windows are computed when outgoing payments are checked.
    pub interval_reading: grantflow_interval::Reading,
    /// The tenant path segment of the grant endpoint (`<base>/auth/<tenant>`).
    pub tenant: String,
    /// Wallet addresses hosted from the start.
    pub wallet_addresses: Vec<WalletAddressSpec>,
    /// The sandbox's clock; pass a [`SandboxClock::manual`] clone to move time from a test.
    pub clock: SandboxClock,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            wait_seconds: 5,
            access_token_lifetime_seconds: 600,
            interaction_lifetime_seconds: 600,
            quote_lifetime_seconds: 300,
            finish_hash_encoding: FinishHashEncoding::PaddedBase64,
            interval_reading: grantflow_interval::Reading::RafikiCompatible,
            tenant: "sandbox".to_owned(),
            wallet_addresses: vec![
                WalletAddressSpec::account("alice", "Alice", "USD", 2),
                WalletAddressSpec::account("bob", "Bob", "USD", 2),
            ],
            clock: SandboxClock::system(),
        }
    }
}

impl SandboxConfig {
    /// The finish-hash encoding for a command-line name, as `grantflow sandbox --hash-encoding`
    /// spells them: `padded` (the reference's, the default) or `rfc9635` (base64url without
    /// padding).
    ///
    /// ```
    /// use grantflow_sandbox::SandboxConfig;
    /// use grantflow_protocol::finish_hash::FinishHashEncoding;
    ///
    /// assert_eq!(SandboxConfig::finish_hash_encoding_named("rfc9635"), Some(FinishHashEncoding::Rfc9635));
    /// assert_eq!(SandboxConfig::finish_hash_encoding_named("hex"), None);
    /// ```
    pub fn finish_hash_encoding_named(name: &str) -> Option<FinishHashEncoding> {
        match name {
            "padded" => Some(FinishHashEncoding::PaddedBase64),
            "rfc9635" => Some(FinishHashEncoding::Rfc9635),
            _ => None,
        }
    }

    /// The interval reading for a command-line name: `rafiki` (the default) or `iso`, the names
    /// `grantflow_interval::Reading::name` gives.
    pub fn interval_reading_named(name: &str) -> Option<grantflow_interval::Reading> {
        [
            grantflow_interval::Reading::RafikiCompatible,
            grantflow_interval::Reading::Iso8601,
        ]
        .into_iter()
        .find(|r| r.name() == name)
    }
}

/// A wallet address for the sandbox to host at `<base>/<name>`.
///
/// It is both an account (payments can be made from and into it) and, with `keys`, a client
/// identity: a client whose `client` is this wallet address signs with one of these keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletAddressSpec {
    /// The path segment: letters, digits, `-`, `_` and `.`; not `auth`, `rs` or `_sandbox`.
    pub name: String,
    /// Shown on the consent page; a client wallet address needs one for interactive grants.
    #[serde(default)]
    pub public_name: Option<String>,
    /// Asset of the account, e.g. `USD`.
    pub asset_code: String,
    /// Decimal places of the asset.
    pub asset_scale: u8,
    /// The keys published at `<wallet address>/jwks.json`.
    #[serde(default)]
    pub keys: Jwks,
}

impl WalletAddressSpec {
    /// An account without keys.
    pub fn account(name: &str, public_name: &str, asset_code: &str, asset_scale: u8) -> Self {
        Self {
            name: name.to_owned(),
            public_name: Some(public_name.to_owned()),
            asset_code: asset_code.to_owned(),
            asset_scale,
            keys: Jwks::default(),
        }
    }

    /// A client identity: a wallet address publishing `keys`.
    pub fn client(name: &str, public_name: &str, keys: Jwks) -> Self {
        Self {
            keys,
            ..Self::account(name, public_name, "USD", 2)
        }
    }
}
