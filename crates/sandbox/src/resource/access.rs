//! Who may do what on the resource server (token, introspection, access item, signature in the
//! reference's order; the create routes verify the signature before reading the body), the
//! resource server's error answers, and wallet-address helpers the resources share.

use std::sync::MutexGuard;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use grantflow_protocol::grant::{AccessAction, AccessItem};
use grantflow_protocol::secret::Secret;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;
use crate::httpsig::{self, Incoming, SignatureFailure, SignedRequest};
use crate::journal;
use crate::state::{ClientIdentity, Shared, Store, WalletAddress};

/// Which kind of resource a route touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    IncomingPayment,
    OutgoingPayment,
    Quote,
}

impl Kind {
    /// How answers name the resource.
    pub(super) fn noun(self) -> &'static str {
        match self {
            Kind::IncomingPayment => "incoming payment",
            Kind::OutgoingPayment => "outgoing payment",
            Kind::Quote => "quote",
        }
    }
}

/// What a route wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Create,
    Complete,
    Read,
    List,
}

/// What a request is allowed, once authenticated.
pub(super) struct Authorized {
    pub(super) grant_id: Uuid,
    /// The client's identity key (scopes `read` and `list` to its own resources).
    pub(super) client_key: String,
    /// The access item that allowed the request.
    pub(super) item: AccessItem,
    /// Whether the item allows `read-all` / `list-all` (not only the client's own resources).
    pub(super) all: bool,
}

impl Authorized {
    pub(super) fn sees(&self, owner_client: &str) -> bool {
        self.all || self.client_key == owner_client
    }
}

pub(super) fn rs_error(status: StatusCode, code: &str, description: impl Into<String>) -> ApiError {
    ApiError::other(status, code, description)
}

pub(super) fn bad_request(description: impl Into<String>) -> ApiError {
    rs_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

pub(super) fn not_found(what: &str) -> ApiError {
    rs_error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{what} not found"),
    )
}

pub(super) fn insufficient_grant() -> ApiError {
    rs_error(StatusCode::FORBIDDEN, "forbidden", "Insufficient Grant")
}

pub(super) fn same_wallet(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The hosted wallet address `url` names.
pub(super) fn hosted_wallet(
    shared: &Shared,
    store: &Store,
    url: &str,
) -> Result<(String, WalletAddress), ApiError> {
    shared
        .urls
        .hosted_wallet_name(url)
        .and_then(|name| {
            store
                .wallet_addresses
                .get(name)
                .map(|w| (name.to_owned(), w.clone()))
        })
        .ok_or_else(|| bad_request(format!("unknown wallet address {url}")))
}

/// A resource server request body: malformed is a 400 `invalid_request`.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid request body: {e}")))
}

/// A request whose token is active: what introspection tells about it.
struct Introspected {
    grant_id: Uuid,
    /// The grant's client, whose keys must verify the request's signature.
    client: ClientIdentity,
    /// The token's access items.
    access: Vec<AccessItem>,
}

/// The token (`Authorization: GNAP <token>`; missing or malformed -> 401 with the challenge) and
/// its introspection (unknown, revoked, expired or of a revoked grant -> 403 "Inactive Token").
fn introspect(shared: &Shared, incoming: &Incoming<'_>) -> Result<Introspected, ApiError> {
    let token = httpsig::gnap_token(incoming.headers).ok_or_else(|| {
        rs_error(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            .with_challenge(&shared.urls.grant_endpoint)
    })?;
    let now = shared.now();
    let store = shared.store();
    let inactive = || rs_error(StatusCode::FORBIDDEN, "forbidden", "Inactive Token");
    let (_, t) = store
        .token_by_value(&Secret::new(token))
        .ok_or_else(inactive)?;
    let grant = store.grants.get(&t.grant_id).ok_or_else(inactive)?;
    journal::concerns(t.grant_id);
    if t.revoked_at.is_some() || now >= t.expires_at() || grant.is_revoked() {
        return Err(inactive());
    }
    Ok(Introspected {
        grant_id: t.grant_id,
        client: grant.client.clone(),
        access: t.access.clone(),
    })
}

/// The access item of an active token that allows `want` on `kind` (for `wallet_address`, when
/// the route names one); 403 "Insufficient Grant" when none does.
fn access_item(
    token: Introspected,
    kind: Kind,
    want: Want,
    wallet_address: Option<&str>,
) -> Result<Authorized, ApiError> {
    let (exact, all) = match want {
        Want::Create => (AccessAction::Create, None),
        Want::Complete => (AccessAction::Complete, None),
        Want::Read => (AccessAction::Read, Some(AccessAction::ReadAll)),
        Want::List => (AccessAction::List, Some(AccessAction::ListAll)),
    };
    let matches_kind = |item: &AccessItem| {
        matches!(
            (kind, item),
            (Kind::IncomingPayment, AccessItem::IncomingPayment(_))
                | (Kind::OutgoingPayment, AccessItem::OutgoingPayment(_))
                | (Kind::Quote, AccessItem::Quote(_))
        )
    };
    let matches_identifier = |item: &AccessItem| {
        let identifier = match item {
            AccessItem::IncomingPayment(a) => a.identifier.as_deref(),
            AccessItem::OutgoingPayment(a) => Some(a.identifier.as_str()),
            AccessItem::Quote(_) => None,
        };
        match (identifier, wallet_address) {
            (Some(id), Some(wa)) => same_wallet(id, wa),
            _ => true,
        }
    };
    let (item, all) = token
        .access
        .iter()
        .filter(|i| matches_kind(i) && matches_identifier(i))
        .find_map(|i| {
            let actions = i.actions();
            if all.is_some_and(|a| actions.contains(&a)) {
                Some((i.clone(), true))
            } else if actions.contains(&exact) {
                Some((i.clone(), false))
            } else {
                None
            }
        })
        .ok_or_else(insufficient_grant)?;
    Ok(Authorized {
        grant_id: token.grant_id,
        client_key: token.client.key(),
        item,
        all,
    })
}

/// Token, introspection, access and signature, in the reference's order (the routes without a
/// body; the create routes use [`authorize_create`]).
pub(super) async fn authorize(
    shared: &Shared,
    request: &SignedRequest,
    kind: Kind,
    want: Want,
    wallet_address: Option<&str>,
) -> Result<Authorized, ApiError> {
    let incoming = &request.incoming();
    let token = introspect(shared, incoming)?;
    let client = token.client.clone();
    let authorized = access_item(token, kind, want, wallet_address)?;
    verify_signature(shared, incoming, &client)
        .await
        .map_err(|e| e.with_challenge(&shared.urls.grant_endpoint))?;
    Ok(authorized)
}

/// A create route's request once past [`authorize_create`]: what is left is the route's own work.
pub(super) struct Create<'s, T> {
    /// The parsed body.
    pub(super) req: T,
    pub(super) auth: Authorized,
    pub(super) now: DateTime<Utc>,
    /// The store, locked for the rest of the route.
    pub(super) store: MutexGuard<'s, Store>,
    /// The hosted wallet address the body names, read under the lock.
    pub(super) wallet: WalletAddress,
}

/// The preamble of every create route: the token and its introspection, then the signature
/// (headers, `Content-Digest`, signature by the grant's client), and only then the body: parsed,
/// the wallet address it names hosted here, the token's access to create on it. Then read the
/// clock, lock the store and read that wallet address again under the lock.
///
/// Unlike the reference, which validates the body first, nothing of an unauthenticated body is
/// read (`docs/sandbox.md`).
pub(super) async fn authorize_create<'s, T: DeserializeOwned>(
    shared: &'s Shared,
    request: &SignedRequest,
    kind: Kind,
    wallet_of: fn(&T) -> &str,
) -> Result<Create<'s, T>, ApiError> {
    let incoming = &request.incoming();
    let token = introspect(shared, incoming)?;
    verify_signature(shared, incoming, &token.client)
        .await
        .map_err(|e| e.with_challenge(&shared.urls.grant_endpoint))?;
    let req: T = parse_body(request.body())?;
    let wallet = wallet_of(&req);
    {
        let store = shared.store();
        hosted_wallet(shared, &store, wallet)?;
    }
    let auth = access_item(token, kind, Want::Create, Some(wallet))?;
    let now = shared.now();
    let store = shared.store();
    let (_, wallet) = hosted_wallet(shared, &store, wallet)?;
    Ok(Create {
        req,
        auth,
        now,
        store,
        wallet,
    })
}

/// The id of a resource route and the wallet address of the resource it names (404 when the id
/// is malformed or unknown).
pub(super) fn resource_wallet(
    shared: &Shared,
    kind: Kind,
    id: &str,
) -> Result<(Uuid, String), ApiError> {
    let id = parse_id(id, kind.noun())?;
    let store = shared.store();
    let wallet = match kind {
        Kind::IncomingPayment => store.incoming_payments.get(&id).map(|r| &r.wallet_address),
        Kind::OutgoingPayment => store.outgoing_payments.get(&id).map(|r| &r.wallet_address),
        Kind::Quote => store.quotes.get(&id).map(|r| &r.wallet_address),
    };
    let wallet = wallet.cloned().ok_or_else(|| not_found(kind.noun()))?;
    Ok((id, wallet))
}

pub(super) async fn verify_signature(
    shared: &Shared,
    incoming: &Incoming<'_>,
    client: &ClientIdentity,
) -> Result<(), ApiError> {
    match httpsig::verify_client(shared, incoming, client).await {
        Ok(()) => Ok(()),
        Err(failure) => {
            let why = match failure {
                SignatureFailure::Headers(why) | SignatureFailure::UnknownKey(why) => why,
                SignatureFailure::Mismatch => "the signature does not verify".to_owned(),
            };
            tracing::debug!(%why, "sandbox: resource server refused a signature");
            Err(rs_error(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                "Signature validation error",
            ))
        }
    }
}

pub(super) fn parse_id(id: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| not_found(what))
}

pub(super) fn wallet_asset(store: &Store, shared: &Shared, wallet: &str) -> (String, u8) {
    shared
        .urls
        .hosted_wallet_name(wallet)
        .and_then(|n| store.wallet_addresses.get(n))
        .map(|w| (w.asset_code.clone(), w.asset_scale))
        .unwrap_or_default()
}

/// Converts between the sender's and receiver's assets: only equal assets (1:1).
pub(super) fn same_asset(a: &(String, u8), b: &(String, u8)) -> Result<(), ApiError> {
    if a == b {
        Ok(())
    } else {
        Err(bad_request(format!(
            "the sandbox has no exchange rates: sender asset {} (scale {}) differs from receiver asset {} (scale {})",
            a.0, a.1, b.0, b.1
        )))
    }
}
