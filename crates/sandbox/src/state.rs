//! The sandbox's in-memory state: wallet addresses, grants, interactions, access tokens and the
//! resource server's payments and quotes.
//!
//! Everything lives in one [`Store`] behind one mutex ([`Shared`]). Handlers verify signatures
//! (which may need the client's keys) before taking the lock, then do each operation's checks and
//! writes inside a single critical section, so concurrent requests see each operation whole: two
//! racing continues cannot both get a token, two racing rotations cannot both succeed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::AccessItem;
use grantflow_protocol::incoming_payment::Metadata;
use grantflow_protocol::jwk::{Jwk, Jwks};
use grantflow_protocol::secret::Secret;
use rand::RngCore;
use uuid::Uuid;

use crate::clock::{self, SandboxClock};
use crate::config::SandboxConfig;
use crate::faults::FaultTable;
use crate::journal::Journal;
use crate::remote::RemoteWallets;

/// Everything the handlers share: configuration, clock, fault table and the store.
#[derive(Clone)]
pub(crate) struct Shared {
    /// The configuration the sandbox was started with (never changes while it runs).
    pub config: Arc<SandboxConfig>,
    /// URLs derived from the bound address.
    pub urls: Arc<Urls>,
    /// The sandbox's time source.
    pub clock: SandboxClock,
    /// Per-route faults.
    pub faults: FaultTable,
    /// Every request received on a protocol route.
    pub journal: Journal,
    /// The mutable state; a std mutex because no critical section awaits.
    pub store: Arc<Mutex<Store>>,
    /// Client wallet addresses hosted elsewhere, fetched over HTTP (and kept a few seconds).
    pub remote: RemoteWallets,
}

impl Shared {
    /// Locks the store. A panic inside a critical section would leave partial writes, but no
    /// handler panics while holding the lock (no unwraps, no indexing on input), so a poisoned
    /// lock is recovered rather than turned into a second panic.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current sandbox time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// The sandbox's public URLs, all derived from the address it is bound to.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub base: String,
    /// The authorization server's root, `<base>/auth`: continue, token and interact URLs hang
    /// off it.
    pub auth_root: String,
    /// The grant request endpoint: `<auth_root>/<tenant>`; also every wallet address's
    /// `authServer`, and the grant endpoint in the finish hash.
    pub grant_endpoint: String,
    /// The resource server, `<base>/rs`.
    pub resource_server: String,
}

impl Urls {
    pub fn new(base: String, tenant: &str) -> Self {
        let auth_root = format!("{base}/auth");
        Self {
            grant_endpoint: format!("{auth_root}/{tenant}"),
            resource_server: format!("{base}/rs"),
            auth_root,
            base,
        }
    }

    pub fn wallet_address(&self, name: &str) -> String {
        format!("{}/{}", self.base, name)
    }

    pub fn continue_uri(&self, continue_id: Uuid) -> String {
        format!("{}/continue/{continue_id}", self.auth_root)
    }

    pub fn manage_uri(&self, management_id: Uuid) -> String {
        format!("{}/token/{management_id}", self.auth_root)
    }

    pub fn interaction_start(&self, id: Uuid, nonce: &str) -> String {
        format!("{}/interact/{id}/{nonce}", self.auth_root)
    }

    /// The wallet address name of `url` when it is one this sandbox serves (`<base>/<name>`,
    /// with or without a trailing slash).
    pub fn hosted_wallet_name<'a>(&self, url: &'a str) -> Option<&'a str> {
        let rest = url.strip_prefix(&self.base)?.strip_prefix('/')?;
        let name = rest.strip_suffix('/').unwrap_or(rest);
        (!name.is_empty() && !name.contains('/')).then_some(name)
    }
}

/// A wallet address the sandbox hosts: an account to pay from or into, or just a client's
/// identity and keys.
#[derive(Debug, Clone)]
pub(crate) struct WalletAddress {
    pub public_name: Option<String>,
    pub asset_code: String,
    pub asset_scale: u8,
    pub keys: Jwks,
}

/// `GrantState` of the reference server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantState {
    Pending,
    Approved,
    Finalized(Finalization),
}

/// `GrantFinalization` of the reference server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finalization {
    Issued,
    Revoked,
    Rejected,
}

/// Who a grant belongs to, as the reference stores it.
#[derive(Debug, Clone)]
pub(crate) enum ClientIdentity {
    /// A wallet address URL: its `jwks.json` is consulted on every signed request.
    WalletAddress(String),
    /// A key given in the grant request ("directed identity").
    Jwk(Jwk),
}

impl ClientIdentity {
    /// A stable string naming the client, used to scope `read` (not `read-all`) access.
    pub fn key(&self) -> String {
        match self {
            ClientIdentity::WalletAddress(w) => w.clone(),
            ClientIdentity::Jwk(j) => format!("jwk:{}:{}", j.kid, j.x),
        }
    }
}

/// The client's `interact.finish`.
#[derive(Debug, Clone)]
pub(crate) struct Finish {
    pub uri: String,
    pub client_nonce: Secret,
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub state: GrantState,
    pub access: Vec<AccessItem>,
    pub client: ClientIdentity,
    /// The client's display name and URI (interactive grants), shown on the consent page.
    pub client_display: Option<(String, String)>,
    pub finish: Option<Finish>,
    pub continue_id: Uuid,
    pub continue_token: Secret,
    /// Set on insert, moved only by a successful poll of a pending grant (reference §1.7).
    pub last_continued_at: DateTime<Utc>,
}

impl Grant {
    pub fn is_finishable(&self) -> bool {
        self.finish.is_some()
    }
    pub fn is_revoked(&self) -> bool {
        self.state == GrantState::Finalized(Finalization::Revoked)
    }
    pub fn is_rejected(&self) -> bool {
        self.state == GrantState::Finalized(Finalization::Rejected)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InteractionState {
    Pending,
    Approved,
    Denied,
}

#[derive(Debug, Clone)]
pub(crate) struct Interaction {
    pub grant_id: Uuid,
    /// The `interact_ref` handed to the client after approval.
    pub interact_ref: Secret,
    /// The AS nonce: in the interaction URLs and the finish hash.
    pub nonce: Secret,
    pub state: InteractionState,
    pub created_at: DateTime<Utc>,
    /// Lifetime in seconds (`INTERACTION_EXPIRY_SECONDS`).
    pub expires_in: u64,
}

impl Interaction {
    /// When the interaction expires (saturating: a huge lifetime is "never").
    pub fn expires_at(&self) -> DateTime<Utc> {
        clock::plus_seconds(self.created_at, self.expires_in)
    }

    /// The reference's `createdAt + expiresIn*1000 < now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at() < now
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub value: Secret,
    pub grant_id: Uuid,
    pub access: Vec<AccessItem>,
    pub created_at: DateTime<Utc>,
    pub expires_in: u64,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl AccessToken {
    pub fn expires_at(&self) -> DateTime<Utc> {
        clock::plus_seconds(self.created_at, self.expires_in)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct IncomingPayment {
    pub id: Uuid,
    pub wallet_address: String,
    pub client: String,
    pub incoming_amount: Option<Amount>,
    pub received: u64,
    pub completed: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub metadata: Option<Metadata>,
    pub created_at: DateTime<Utc>,
    pub shared_secret: Secret,
}

#[derive(Debug, Clone)]
pub(crate) struct Quote {
    pub id: Uuid,
    pub wallet_address: String,
    pub client: String,
    pub receiver: String,
    pub debit_amount: Amount,
    pub receive_amount: Amount,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct OutgoingPayment {
    pub id: Uuid,
    pub wallet_address: String,
    pub client: String,
    pub grant_id: Uuid,
    pub quote_id: Option<Uuid>,
    pub receiver: String,
    pub debit_amount: Amount,
    pub receive_amount: Amount,
    pub sent_amount: Amount,
    pub metadata: Option<Metadata>,
    pub created_at: DateTime<Utc>,
}

/// All mutable state. Maps keyed by the ids that appear in URLs; insertion order is kept in the
/// `*_order` vectors for listing.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub wallet_addresses: HashMap<String, WalletAddress>,
    pub grants: HashMap<Uuid, Grant>,
    /// continue id -> grant id.
    pub grants_by_continue: HashMap<Uuid, Uuid>,
    pub interactions: HashMap<Uuid, Interaction>,
    /// management id -> token.
    pub tokens: HashMap<Uuid, AccessToken>,
    /// Fingerprint of a token value -> management ids (lookup by the `Authorization` value
    /// without scanning, and without keeping secret values as map keys).
    token_index: HashMap<u64, Vec<Uuid>>,
    /// Fingerprint of an `interact_ref` -> interaction ids.
    interaction_index: HashMap<u64, Vec<Uuid>>,
    pub incoming_payments: HashMap<Uuid, IncomingPayment>,
    pub incoming_order: Vec<Uuid>,
    pub quotes: HashMap<Uuid, Quote>,
    pub outgoing_payments: HashMap<Uuid, OutgoingPayment>,
    pub outgoing_order: Vec<Uuid>,
}

impl Store {
    /// The grant behind a continue id, if its continue token matches. Like the reference's
    /// lookup, revoked grants are invisible.
    pub fn grant_by_continue(&self, continue_id: Uuid, token: &Secret) -> Option<Uuid> {
        let grant_id = *self.grants_by_continue.get(&continue_id)?;
        let grant = self.grants.get(&grant_id)?;
        (grant.continue_token == *token && !grant.is_revoked()).then_some(grant_id)
    }

    /// Adds an interaction.
    pub fn insert_interaction(&mut self, id: Uuid, interaction: Interaction) {
        self.interaction_index
            .entry(fingerprint(&interaction.interact_ref))
            .or_default()
            .push(id);
        self.interactions.insert(id, interaction);
    }

    /// The interaction whose `interact_ref` is `interact_ref`.
    pub fn interaction_by_ref(&self, interact_ref: &Secret) -> Option<(Uuid, &Interaction)> {
        self.interaction_index
            .get(&fingerprint(interact_ref))?
            .iter()
            .filter_map(|id| self.interactions.get(id).map(|i| (*id, i)))
            .find(|(_, i)| i.interact_ref == *interact_ref)
    }

    /// The token whose value is `value`, with its management id.
    pub fn token_by_value(&self, value: &Secret) -> Option<(Uuid, &AccessToken)> {
        self.token_index
            .get(&fingerprint(value))?
            .iter()
            .filter_map(|id| self.tokens.get(id).map(|t| (*id, t)))
            .find(|(_, t)| t.value == *value)
    }

    /// Revokes every token of a grant.
    pub fn revoke_tokens_of(&mut self, grant_id: Uuid, now: DateTime<Utc>) {
        for t in self.tokens.values_mut() {
            if t.grant_id == grant_id && t.revoked_at.is_none() {
                t.revoked_at = Some(now);
            }
        }
    }

    /// Creates an access token for a grant and returns its management id.
    pub fn issue_token(
        &mut self,
        grant_id: Uuid,
        access: Vec<AccessItem>,
        now: DateTime<Utc>,
        expires_in: u64,
    ) -> Uuid {
        let management_id = Uuid::new_v4();
        let value = Secret::new(random_hex(10));
        self.token_index
            .entry(fingerprint(&value))
            .or_default()
            .push(management_id);
        self.tokens.insert(
            management_id,
            AccessToken {
                value,
                grant_id,
                access,
                created_at: now,
                expires_in,
                revoked_at: None,
            },
        );
        management_id
    }
}

/// A non-reversible 64-bit fingerprint of a secret, for indexing (equality is still checked on
/// the secret itself, in constant time).
fn fingerprint(secret: &Secret) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    secret.expose().hash(&mut h);
    h.finish()
}

/// `n` random bytes as uppercase hex: the reference's `generateToken` (10 bytes) and
/// `generateNonce` (8 bytes).
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_nonces_have_the_reference_shape() {
        let t = random_hex(10);
        assert_eq!(t.len(), 20);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
        assert_eq!(random_hex(8).len(), 16);
        assert_ne!(random_hex(10), random_hex(10));
    }

    #[test]
    fn hosted_wallet_names() {
        let u = Urls::new("http://127.0.0.1:9".into(), "t");
        assert_eq!(
            u.hosted_wallet_name("http://127.0.0.1:9/alice"),
            Some("alice")
        );
        assert_eq!(
            u.hosted_wallet_name("http://127.0.0.1:9/alice/"),
            Some("alice")
        );
        assert_eq!(u.hosted_wallet_name("http://127.0.0.1:90/alice"), None);
        assert_eq!(u.hosted_wallet_name("http://127.0.0.1:9/a/b"), None);
        assert_eq!(u.hosted_wallet_name("http://127.0.0.1:9/"), None);
        assert_eq!(u.grant_endpoint, "http://127.0.0.1:9/auth/t");
    }
}
