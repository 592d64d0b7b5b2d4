//! The resource server: incoming payments, quotes, outgoing payments (with the grant's limits
//! enforced per interval window) and the grant's spent amounts.
//!
//! Every authenticated route runs the reference's checks in its order: the token
//! (`Authorization: GNAP <token>`; missing or malformed -> 401 with a `WWW-Authenticate: GNAP
//! as_uri=…` challenge), introspection (revoked, expired, or of a revoked grant -> 403 "Inactive
//! Token"), the access (type, action, identifier -> 403 "Insufficient Grant"), then the HTTP
//! signature by the grant's client (-> 401).
//!
//! Money moves instantly and exactly: an outgoing payment is sent in full when it is created
//! (`sentAmount = debitAmount`) and credited to the receiving incoming payment, which completes
//! when its `incomingAmount` is reached. There is no exchange: a quote or payment between
//! different assets is refused.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::{AccessAction, AccessItem, OutgoingPaymentLimits};
use grantflow_protocol::incoming_payment::{
    CreateIncomingPayment, IncomingPayment as WireIncomingPayment, IncomingPaymentView,
    PaymentMethod, PublicIncomingPayment,
};
use grantflow_protocol::outgoing_payment::{
    CreateOutgoingPayment, OutgoingPayment as WireOutgoingPayment, OutgoingPaymentGrantSpentAmounts,
};
use grantflow_protocol::pagination::{Page, PageInfo};
use grantflow_protocol::quote::{CreateQuote, Quote as WireQuote, QuoteAmount, QuoteMethod};
use grantflow_protocol::secret::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::MutexGuard;
use uuid::Uuid;

use crate::error::ApiError;
use crate::httpsig::{self, Incoming, SignatureFailure, SignedRequest};
use crate::limits::{self, Span};
use crate::state::{
    ClientIdentity, IncomingPayment, OutgoingPayment, Quote, Shared, Store, WalletAddress,
};

/// Which kind of resource a route touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    IncomingPayment,
    OutgoingPayment,
    Quote,
}

impl Kind {
    /// How answers name the resource.
    fn noun(self) -> &'static str {
        match self {
            Kind::IncomingPayment => "incoming payment",
            Kind::OutgoingPayment => "outgoing payment",
            Kind::Quote => "quote",
        }
    }
}

/// What a route wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Create,
    Complete,
    Read,
    List,
}

/// What a request is allowed, once authenticated.
struct Authorized {
    grant_id: Uuid,
    /// The client's identity key (scopes `read` and `list` to its own resources).
    client_key: String,
    /// The access item that allowed the request.
    item: AccessItem,
    /// Whether the item allows `read-all` / `list-all` (not only the client's own resources).
    all: bool,
}

impl Authorized {
    fn sees(&self, owner_client: &str) -> bool {
        self.all || self.client_key == owner_client
    }
}

fn rs_error(status: StatusCode, code: &str, description: impl Into<String>) -> ApiError {
    ApiError::other(status, code, description)
}

fn bad_request(description: impl Into<String>) -> ApiError {
    rs_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn not_found(what: &str) -> ApiError {
    rs_error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{what} not found"),
    )
}

fn insufficient_grant() -> ApiError {
    rs_error(StatusCode::FORBIDDEN, "forbidden", "Insufficient Grant")
}

fn same_wallet(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The hosted wallet address `url` names.
fn hosted_wallet(
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

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid request body: {e}")))
}

/// Token, introspection, access and signature, in the reference's order.
fn authorize(
    shared: &Shared,
    request: &SignedRequest,
    kind: Kind,
    want: Want,
    wallet_address: Option<&str>,
) -> Result<Authorized, ApiError> {
    let incoming = &request.incoming();
    let challenge = |e: ApiError| e.with_challenge(&shared.urls.grant_endpoint);
    let token = httpsig::gnap_token(incoming.headers).ok_or_else(|| {
        challenge(rs_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
        ))
    })?;
    let now = shared.now();
    let (authorized, client) = {
        let store = shared.store();
        let inactive = || rs_error(StatusCode::FORBIDDEN, "forbidden", "Inactive Token");
        let (_, t) = store
            .token_by_value(&Secret::new(token))
            .ok_or_else(inactive)?;
        let grant = store.grants.get(&t.grant_id).ok_or_else(inactive)?;
        if t.revoked_at.is_some() || now >= t.expires_at() || grant.is_revoked() {
            return Err(inactive());
        }
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
        let item = t
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
        (
            Authorized {
                grant_id: t.grant_id,
                client_key: grant.client.key(),
                item: item.0,
                all: item.1,
            },
            grant.client.clone(),
        )
    };
    verify_signature(shared, incoming, &client).map_err(challenge)?;
    Ok(authorized)
}

/// A create route's request once past [`authorize_create`]: what is left is the route's own work.
struct Create<'s, T> {
    /// The parsed body.
    req: T,
    auth: Authorized,
    now: DateTime<Utc>,
    /// The store, locked for the rest of the route.
    store: MutexGuard<'s, Store>,
    /// The hosted wallet address the body names, read under the lock.
    wallet: WalletAddress,
}

/// The preamble of every create route, in the reference's order: parse the body, check that the
/// wallet address it names is hosted here, [`authorize`] `Create` on it; then read the clock, lock
/// the store and read that wallet address again under the lock.
fn authorize_create<'s, T: DeserializeOwned>(
    shared: &'s Shared,
    request: &SignedRequest,
    kind: Kind,
    wallet_of: fn(&T) -> &str,
) -> Result<Create<'s, T>, ApiError> {
    let req: T = parse_body(request.body())?;
    let wallet = wallet_of(&req);
    {
        let store = shared.store();
        hosted_wallet(shared, &store, wallet)?;
    }
    let auth = authorize(shared, request, kind, Want::Create, Some(wallet))?;
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
fn resource_wallet(shared: &Shared, kind: Kind, id: &str) -> Result<(Uuid, String), ApiError> {
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

/// The preamble of every list route: the required `wallet-address` parameter, then
/// [`authorize`] `List` on it.
fn authorize_list(
    shared: &Shared,
    request: &SignedRequest,
    kind: Kind,
    q: &ListQuery,
) -> Result<(String, Authorized), ApiError> {
    let wallet = q
        .wallet_address
        .clone()
        .ok_or_else(|| bad_request("the wallet-address query parameter is required"))?;
    let auth = authorize(shared, request, kind, Want::List, Some(&wallet))?;
    Ok((wallet, auth))
}

fn verify_signature(
    shared: &Shared,
    incoming: &Incoming<'_>,
    client: &ClientIdentity,
) -> Result<(), ApiError> {
    let result =
        httpsig::client_keys(shared, client).and_then(|keys| httpsig::verify_with(incoming, &keys));
    match result {
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

// ---- incoming payments ------------------------------------------------------------------------

fn incoming_payment_url(shared: &Shared, id: Uuid) -> String {
    format!("{}/incoming-payments/{id}", shared.urls.resource_server)
}

fn incoming_payment_wire(
    shared: &Shared,
    ip: &IncomingPayment,
    asset: (&str, u8),
    now: DateTime<Utc>,
    with_methods: bool,
) -> WireIncomingPayment {
    let open = !ip.completed && ip.expires_at.is_none_or(|t| now < t);
    let methods = with_methods.then(|| {
        if open {
            vec![PaymentMethod::Ilp {
                ilp_address: format!("test.grantflow-sandbox.{}", ip.id.simple()),
                shared_secret: ip.shared_secret.clone(),
            }]
        } else {
            Vec::new()
        }
    });
    WireIncomingPayment {
        id: incoming_payment_url(shared, ip.id),
        wallet_address: ip.wallet_address.clone(),
        completed: ip.completed,
        incoming_amount: ip.incoming_amount.clone(),
        received_amount: Amount::new(ip.received, asset.0, asset.1),
        expires_at: ip.expires_at,
        metadata: ip.metadata.clone(),
        created_at: ip.created_at,
        methods,
    }
}

fn wallet_asset(store: &Store, shared: &Shared, wallet: &str) -> (String, u8) {
    shared
        .urls
        .hosted_wallet_name(wallet)
        .and_then(|n| store.wallet_addresses.get(n))
        .map(|w| (w.asset_code.clone(), w.asset_scale))
        .unwrap_or_default()
}

/// `POST <RS>/incoming-payments`.
pub(crate) async fn create_incoming_payment(
    State(shared): State<Shared>,
    request: SignedRequest,
) -> Result<(StatusCode, Json<WireIncomingPayment>), ApiError> {
    let Create {
        req,
        auth,
        now,
        mut store,
        wallet: wa,
    } = authorize_create(
        &shared,
        &request,
        Kind::IncomingPayment,
        |r: &CreateIncomingPayment| r.wallet_address.as_str(),
    )?;
    if let Some(a) = &req.incoming_amount {
        if a.asset_code != wa.asset_code || a.asset_scale != wa.asset_scale {
            return Err(bad_request(format!(
                "incomingAmount must be in the wallet address's asset ({} at scale {})",
                wa.asset_code, wa.asset_scale
            )));
        }
        if a.value == 0 {
            return Err(bad_request("incomingAmount must be greater than 0"));
        }
    }
    if req.expires_at.is_some_and(|t| t <= now) {
        return Err(bad_request("expiresAt is in the past"));
    }
    let ip = IncomingPayment {
        id: Uuid::new_v4(),
        wallet_address: req.wallet_address,
        client: auth.client_key,
        incoming_amount: req.incoming_amount,
        received: 0,
        completed: false,
        expires_at: req.expires_at,
        metadata: req.metadata,
        created_at: now,
        shared_secret: Secret::new(crate::state::random_hex(32)),
    };
    let body = incoming_payment_wire(&shared, &ip, (&wa.asset_code, wa.asset_scale), now, true);
    store.incoming_order.push(ip.id);
    store.incoming_payments.insert(ip.id, ip);
    Ok((StatusCode::CREATED, Json(body)))
}

fn parse_id(id: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| not_found(what))
}

/// `GET <RS>/incoming-payments/{id}`: the full resource with a token, the public view without.
pub(crate) async fn get_incoming_payment(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    request: SignedRequest,
) -> Result<Json<IncomingPaymentView>, ApiError> {
    let (id, wallet) = resource_wallet(&shared, Kind::IncomingPayment, &id)?;
    let now = shared.now();
    if request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .is_none()
    {
        let store = shared.store();
        let ip = store
            .incoming_payments
            .get(&id)
            .ok_or_else(|| not_found("incoming payment"))?;
        let (code, scale) = wallet_asset(&store, &shared, &wallet);
        return Ok(Json(IncomingPaymentView::Public(PublicIncomingPayment {
            received_amount: Some(Amount::new(ip.received, code, scale)),
            auth_server: shared.urls.grant_endpoint.clone(),
        })));
    }
    let auth = authorize(
        &shared,
        &request,
        Kind::IncomingPayment,
        Want::Read,
        Some(&wallet),
    )?;
    let store = shared.store();
    let ip = store
        .incoming_payments
        .get(&id)
        .filter(|ip| auth.sees(&ip.client))
        .ok_or_else(|| not_found("incoming payment"))?;
    let (code, scale) = wallet_asset(&store, &shared, &wallet);
    Ok(Json(IncomingPaymentView::Full(Box::new(
        incoming_payment_wire(&shared, ip, (&code, scale), now, true),
    ))))
}

/// `POST <RS>/incoming-payments/{id}/complete`.
pub(crate) async fn complete_incoming_payment(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    request: SignedRequest,
) -> Result<Json<WireIncomingPayment>, ApiError> {
    let (id, wallet) = resource_wallet(&shared, Kind::IncomingPayment, &id)?;
    authorize(
        &shared,
        &request,
        Kind::IncomingPayment,
        Want::Complete,
        Some(&wallet),
    )?;
    let now = shared.now();
    let mut store = shared.store();
    let (code, scale) = wallet_asset(&store, &shared, &wallet);
    let ip = store
        .incoming_payments
        .get_mut(&id)
        .ok_or_else(|| not_found("incoming payment"))?;
    if ip.expires_at.is_some_and(|t| t <= now) && !ip.completed {
        return Err(bad_request("the incoming payment has expired"));
    }
    ip.completed = true;
    Ok(Json(incoming_payment_wire(
        &shared,
        ip,
        (&code, scale),
        now,
        false,
    )))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(rename = "wallet-address")]
    wallet_address: Option<String>,
    first: Option<usize>,
    last: Option<usize>,
    cursor: Option<String>,
}

/// One page of `ids` (in creation order) as the reference paginates: `first` (default 10) after
/// `cursor`, or `last` before it.
fn paginate(ids: &[Uuid], q: &ListQuery) -> Result<(Vec<Uuid>, PageInfo), ApiError> {
    if q.first.is_some() && q.last.is_some() {
        return Err(bad_request("give first or last, not both"));
    }
    if q.first.is_some_and(|n| !(1..=100).contains(&n))
        || q.last.is_some_and(|n| !(1..=100).contains(&n))
    {
        return Err(bad_request("first and last must be between 1 and 100"));
    }
    let cursor_index = match &q.cursor {
        None => None,
        Some(c) => Some(
            ids.iter()
                .position(|id| id.to_string() == *c)
                .ok_or_else(|| bad_request("unknown cursor"))?,
        ),
    };
    let (start, end) = match (q.last, cursor_index) {
        (Some(n), Some(ci)) => (ci.saturating_sub(n), ci),
        (Some(n), None) => (ids.len().saturating_sub(n), ids.len()),
        (None, ci) => {
            let start = ci.map_or(0, |i| i + 1);
            (start, (start + q.first.unwrap_or(10)).min(ids.len()))
        }
    };
    let page: Vec<Uuid> = ids
        .get(start..end)
        .map(<[Uuid]>::to_vec)
        .unwrap_or_default();
    let pagination = PageInfo {
        start_cursor: page.first().map(Uuid::to_string),
        end_cursor: page.last().map(Uuid::to_string),
        has_next_page: end < ids.len(),
        has_previous_page: start > 0,
    };
    Ok((page, pagination))
}

/// `GET <RS>/incoming-payments?wallet-address=…`.
pub(crate) async fn list_incoming_payments(
    State(shared): State<Shared>,
    Query(q): Query<ListQuery>,
    request: SignedRequest,
) -> Result<Json<Page<WireIncomingPayment>>, ApiError> {
    let (wallet, auth) = authorize_list(&shared, &request, Kind::IncomingPayment, &q)?;
    let now = shared.now();
    let store = shared.store();
    let (code, scale) = wallet_asset(&store, &shared, &wallet);
    let ids: Vec<Uuid> = store
        .incoming_order
        .iter()
        .filter(|id| {
            store
                .incoming_payments
                .get(id)
                .is_some_and(|ip| same_wallet(&ip.wallet_address, &wallet) && auth.sees(&ip.client))
        })
        .copied()
        .collect();
    let (page, pagination) = paginate(&ids, &q)?;
    let result = page
        .iter()
        .filter_map(|id| store.incoming_payments.get(id))
        .map(|ip| incoming_payment_wire(&shared, ip, (&code, scale), now, false))
        .collect();
    Ok(Json(Page { pagination, result }))
}

// ---- quotes -----------------------------------------------------------------------------------

fn quote_url(shared: &Shared, id: Uuid) -> String {
    format!("{}/quotes/{id}", shared.urls.resource_server)
}

fn quote_wire(shared: &Shared, q: &Quote) -> WireQuote {
    WireQuote {
        id: quote_url(shared, q.id),
        wallet_address: q.wallet_address.clone(),
        receiver: q.receiver.clone(),
        receive_amount: q.receive_amount.clone(),
        debit_amount: q.debit_amount.clone(),
        method: QuoteMethod::Ilp,
        expires_at: Some(q.expires_at),
        created_at: q.created_at,
    }
}

/// The incoming payment a receiver URL names, if it is one of ours and still open.
fn open_receiver(
    shared: &Shared,
    store: &Store,
    receiver: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, ApiError> {
    let invalid = || bad_request(format!("invalid receiver {receiver}"));
    let prefix = format!("{}/incoming-payments/", shared.urls.resource_server);
    let id = receiver
        .strip_prefix(&prefix)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(invalid)?;
    let ip = store.incoming_payments.get(&id).ok_or_else(invalid)?;
    if ip.completed || ip.expires_at.is_some_and(|t| t <= now) {
        return Err(bad_request(format!(
            "invalid receiver {receiver}: the incoming payment is completed or expired"
        )));
    }
    Ok(id)
}

/// Converts between the sender's and receiver's assets: only equal assets (1:1).
fn same_asset(a: &(String, u8), b: &(String, u8)) -> Result<(), ApiError> {
    if a == b {
        Ok(())
    } else {
        Err(bad_request(format!(
            "the sandbox has no exchange rates: sender asset {} (scale {}) differs from receiver asset {} (scale {})",
            a.0, a.1, b.0, b.1
        )))
    }
}

/// `POST <RS>/quotes`.
pub(crate) async fn create_quote(
    State(shared): State<Shared>,
    request: SignedRequest,
) -> Result<(StatusCode, Json<WireQuote>), ApiError> {
    let Create {
        req,
        auth,
        now,
        mut store,
        wallet: wa,
    } = authorize_create(&shared, &request, Kind::Quote, |r: &CreateQuote| {
        r.wallet_address.as_str()
    })?;
    let receiver_id = open_receiver(&shared, &store, &req.receiver, now)?;
    let ip = store
        .incoming_payments
        .get(&receiver_id)
        .ok_or_else(|| bad_request("invalid receiver"))?;
    let sender_asset = (wa.asset_code.clone(), wa.asset_scale);
    let receiver_asset = wallet_asset(&store, &shared, &ip.wallet_address);
    same_asset(&sender_asset, &receiver_asset)?;
    let remaining = ip
        .incoming_amount
        .as_ref()
        .map(|a| a.value.saturating_sub(ip.received));
    let value = match &req.amount {
        QuoteAmount::Debit(a) | QuoteAmount::Receive(a) => {
            if (a.asset_code.clone(), a.asset_scale) != sender_asset {
                return Err(bad_request(
                    "the amount must be in the wallet address's asset",
                ));
            }
            a.value
        }
        QuoteAmount::FromReceiver => remaining.ok_or_else(|| {
            bad_request("give debitAmount or receiveAmount: the receiver has no incomingAmount")
        })?,
    };
    if value == 0 {
        return Err(bad_request("the amount must be greater than 0"));
    }
    if remaining.is_some_and(|r| value > r) {
        return Err(bad_request(
            "the amount exceeds what the receiver still accepts",
        ));
    }
    let amount = Amount::new(value, sender_asset.0, sender_asset.1);
    let quote = Quote {
        id: Uuid::new_v4(),
        wallet_address: req.wallet_address,
        client: auth.client_key,
        receiver: req.receiver,
        debit_amount: amount.clone(),
        receive_amount: amount,
        created_at: now,
        expires_at: now
            + chrono::Duration::seconds(
                i64::try_from(shared.config.quote_lifetime_seconds).unwrap_or(i64::MAX / 1000),
            ),
        used: false,
    };
    let body = quote_wire(&shared, &quote);
    store.quotes.insert(quote.id, quote);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET <RS>/quotes/{id}`.
pub(crate) async fn get_quote(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    request: SignedRequest,
) -> Result<Json<WireQuote>, ApiError> {
    let (id, wallet) = resource_wallet(&shared, Kind::Quote, &id)?;
    let auth = authorize(&shared, &request, Kind::Quote, Want::Read, Some(&wallet))?;
    let store = shared.store();
    let q = store
        .quotes
        .get(&id)
        .filter(|q| auth.sees(&q.client))
        .ok_or_else(|| not_found("quote"))?;
    Ok(Json(quote_wire(&shared, q)))
}

// ---- outgoing payments ------------------------------------------------------------------------

fn outgoing_payment_url(shared: &Shared, id: Uuid) -> String {
    format!("{}/outgoing-payments/{id}", shared.urls.resource_server)
}

fn outgoing_payment_wire(shared: &Shared, p: &OutgoingPayment) -> WireOutgoingPayment {
    WireOutgoingPayment {
        id: outgoing_payment_url(shared, p.id),
        wallet_address: p.wallet_address.clone(),
        quote_id: p.quote_id.map(|q| quote_url(shared, q)),
        failed: false,
        receiver: p.receiver.clone(),
        receive_amount: p.receive_amount.clone(),
        debit_amount: p.debit_amount.clone(),
        sent_amount: p.sent_amount.clone(),
        grant_spent_debit_amount: None,
        grant_spent_receive_amount: None,
        metadata: p.metadata.clone(),
        created_at: p.created_at,
    }
}

/// What a grant has spent in a window: sums of debit and receive amounts of its payments whose
/// creation time falls in `[start, end)` (all of them without a window).
fn spent(
    store: &Store,
    grant_id: Uuid,
    window: Option<Span>,
) -> (u64, u64, Option<(Amount, Amount)>) {
    let mut debit = 0u64;
    let mut receive = 0u64;
    let mut assets = None;
    for p in store
        .outgoing_payments
        .values()
        .filter(|p| p.grant_id == grant_id)
    {
        if assets.is_none() {
            assets = Some((p.debit_amount.clone(), p.receive_amount.clone()));
        }
        let inside = window.is_none_or(|(s, e)| s <= p.created_at && p.created_at < e);
        if inside {
            debit = debit.saturating_add(p.debit_amount.value);
            receive = receive.saturating_add(p.receive_amount.value);
        }
    }
    (debit, receive, assets)
}

/// The limit window a payment at `at` falls in: `Ok(None)` without an interval, `Err` (403)
/// when the interval has no window at `at` or cannot be read.
fn limit_window(
    shared: &Shared,
    limits: &OutgoingPaymentLimits,
    at: DateTime<Utc>,
) -> Result<Option<Span>, ApiError> {
    let Some(interval) = &limits.interval else {
        return Ok(None);
    };
    match limits::window_at(interval, shared.config.interval_reading, at) {
        Some(w) => Ok(Some(w)),
        None => {
            tracing::info!(%interval, %at, "sandbox: outgoing payment outside every limit window");
            Err(rs_error(StatusCode::FORBIDDEN, "forbidden", "unauthorized"))
        }
    }
}

/// Checks a payment against the grant's limits; returns the window it counts in.
fn check_limits(
    shared: &Shared,
    store: &Store,
    auth: &Authorized,
    debit: &Amount,
    receive: &Amount,
    receiver: &str,
    at: DateTime<Utc>,
) -> Result<Option<Span>, ApiError> {
    let AccessItem::OutgoingPayment(op) = &auth.item else {
        return Err(insufficient_grant());
    };
    let Some(limits) = &op.limits else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        tracing::info!(
            why,
            "sandbox: outgoing payment refused by the grant's limits"
        );
        rs_error(StatusCode::FORBIDDEN, "forbidden", "unauthorized")
    };
    if let Some(r) = &limits.receiver
        && r != receiver
    {
        return Err(refuse("receiver differs from limits.receiver"));
    }
    let window = limit_window(shared, limits, at)?;
    let (spent_debit, spent_receive, _) = spent(store, auth.grant_id, window);
    if let Some(limit) = &limits.debit_amount {
        if !limit.same_asset(debit) {
            return Err(refuse("debitAmount limit is in another asset"));
        }
        if limit.value.saturating_sub(spent_debit) < debit.value {
            return Err(refuse("debitAmount limit exceeded in this window"));
        }
    }
    if let Some(limit) = &limits.receive_amount {
        if !limit.same_asset(receive) {
            return Err(refuse("receiveAmount limit is in another asset"));
        }
        if limit.value.saturating_sub(spent_receive) < receive.value {
            return Err(refuse("receiveAmount limit exceeded in this window"));
        }
    }
    Ok(window)
}

/// `POST <RS>/outgoing-payments`: from a quote, or from an incoming payment and a debit amount.
pub(crate) async fn create_outgoing_payment(
    State(shared): State<Shared>,
    request: SignedRequest,
) -> Result<(StatusCode, Json<WireOutgoingPayment>), ApiError> {
    let Create {
        req,
        auth,
        now,
        mut store,
        wallet: wa,
    } = authorize_create(
        &shared,
        &request,
        Kind::OutgoingPayment,
        |r: &CreateOutgoingPayment| match r {
            CreateOutgoingPayment::FromQuote { wallet_address, .. }
            | CreateOutgoingPayment::FromIncomingPayment { wallet_address, .. } => wallet_address,
        },
    )?;
    let (wallet, metadata) = match &req {
        CreateOutgoingPayment::FromQuote {
            wallet_address,
            metadata,
            ..
        }
        | CreateOutgoingPayment::FromIncomingPayment {
            wallet_address,
            metadata,
            ..
        } => (wallet_address.clone(), metadata.clone()),
    };
    let sender_asset = (wa.asset_code.clone(), wa.asset_scale);

    let (quote_id, receiver, debit, receive) = match &req {
        CreateOutgoingPayment::FromQuote { quote_id: q, .. } => {
            let prefix = format!("{}/quotes/", shared.urls.resource_server);
            let id = q
                .strip_prefix(&prefix)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| bad_request(format!("unknown quote {q}")))?;
            let quote = store
                .quotes
                .get(&id)
                .ok_or_else(|| bad_request(format!("unknown quote {q}")))?;
            if !same_wallet(&quote.wallet_address, &wallet) {
                return Err(bad_request("the quote belongs to another wallet address"));
            }
            if quote.used {
                return Err(bad_request("the quote was already used for a payment"));
            }
            if now >= quote.expires_at {
                return Err(bad_request("the quote has expired"));
            }
            (
                Some(id),
                quote.receiver.clone(),
                quote.debit_amount.clone(),
                quote.receive_amount.clone(),
            )
        }
        CreateOutgoingPayment::FromIncomingPayment {
            incoming_payment,
            debit_amount,
            ..
        } => {
            if (debit_amount.asset_code.clone(), debit_amount.asset_scale) != sender_asset {
                return Err(bad_request(
                    "debitAmount must be in the wallet address's asset",
                ));
            }
            if debit_amount.value == 0 {
                return Err(bad_request("debitAmount must be greater than 0"));
            }
            (
                None,
                incoming_payment.clone(),
                debit_amount.clone(),
                debit_amount.clone(),
            )
        }
    };
    let receiver_id = open_receiver(&shared, &store, &receiver, now)?;
    let receiver_wallet = store
        .incoming_payments
        .get(&receiver_id)
        .map(|ip| ip.wallet_address.clone())
        .unwrap_or_default();
    same_asset(
        &sender_asset,
        &wallet_asset(&store, &shared, &receiver_wallet),
    )?;
    if let Some(ip) = store.incoming_payments.get(&receiver_id)
        && let Some(cap) = &ip.incoming_amount
        && cap.value.saturating_sub(ip.received) < receive.value
    {
        return Err(bad_request(
            "the amount exceeds what the receiver still accepts",
        ));
    }

    let window = check_limits(&shared, &store, &auth, &debit, &receive, &receiver, now)?;

    let payment = OutgoingPayment {
        id: Uuid::new_v4(),
        wallet_address: wallet,
        client: auth.client_key.clone(),
        grant_id: auth.grant_id,
        quote_id,
        receiver,
        sent_amount: debit.clone(),
        debit_amount: debit.clone(),
        receive_amount: receive.clone(),
        metadata,
        created_at: now,
    };
    if let Some(id) = quote_id
        && let Some(q) = store.quotes.get_mut(&id)
    {
        q.used = true;
    }
    if let Some(ip) = store.incoming_payments.get_mut(&receiver_id) {
        ip.received = ip.received.saturating_add(receive.value);
        if ip
            .incoming_amount
            .as_ref()
            .is_some_and(|a| ip.received >= a.value)
        {
            ip.completed = true;
        }
    }
    let mut body = outgoing_payment_wire(&shared, &payment);
    store.outgoing_order.push(payment.id);
    store.outgoing_payments.insert(payment.id, payment);
    let (spent_debit, spent_receive, _) = spent(&store, auth.grant_id, window);
    body.grant_spent_debit_amount = Some(Amount::new(
        spent_debit,
        debit.asset_code.clone(),
        debit.asset_scale,
    ));
    body.grant_spent_receive_amount = Some(Amount::new(
        spent_receive,
        receive.asset_code.clone(),
        receive.asset_scale,
    ));
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET <RS>/outgoing-payments/{id}`.
pub(crate) async fn get_outgoing_payment(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    request: SignedRequest,
) -> Result<Json<WireOutgoingPayment>, ApiError> {
    let (id, wallet) = resource_wallet(&shared, Kind::OutgoingPayment, &id)?;
    let auth = authorize(
        &shared,
        &request,
        Kind::OutgoingPayment,
        Want::Read,
        Some(&wallet),
    )?;
    let store = shared.store();
    let p = store
        .outgoing_payments
        .get(&id)
        .filter(|p| auth.sees(&p.client))
        .ok_or_else(|| not_found("outgoing payment"))?;
    Ok(Json(outgoing_payment_wire(&shared, p)))
}

/// `GET <RS>/outgoing-payments?wallet-address=…`.
pub(crate) async fn list_outgoing_payments(
    State(shared): State<Shared>,
    Query(q): Query<ListQuery>,
    request: SignedRequest,
) -> Result<Json<Page<WireOutgoingPayment>>, ApiError> {
    let (wallet, auth) = authorize_list(&shared, &request, Kind::OutgoingPayment, &q)?;
    let store = shared.store();
    let ids: Vec<Uuid> = store
        .outgoing_order
        .iter()
        .filter(|id| {
            store
                .outgoing_payments
                .get(id)
                .is_some_and(|p| same_wallet(&p.wallet_address, &wallet) && auth.sees(&p.client))
        })
        .copied()
        .collect();
    let (page, pagination) = paginate(&ids, &q)?;
    let result = page
        .iter()
        .filter_map(|id| store.outgoing_payments.get(id))
        .map(|p| outgoing_payment_wire(&shared, p))
        .collect();
    Ok(Json(Page { pagination, result }))
}

/// `GET <RS>/outgoing-payment-grant`: what the token's grant has spent in the current window
/// (or in total without an interval); `null`s when it has spent nothing.
pub(crate) async fn get_grant_spent_amounts(
    State(shared): State<Shared>,
    request: SignedRequest,
) -> Result<Json<OutgoingPaymentGrantSpentAmounts>, ApiError> {
    let auth = [Want::Create, Want::Read, Want::List]
        .into_iter()
        .map(|w| authorize(&shared, &request, Kind::OutgoingPayment, w, None))
        .find(Result::is_ok)
        .unwrap_or_else(|| {
            authorize(&shared, &request, Kind::OutgoingPayment, Want::Create, None)
        })?;
    let now = shared.now();
    let store = shared.store();
    let window = match &auth.item {
        AccessItem::OutgoingPayment(op) => match &op.limits {
            Some(l) => limit_window(&shared, l, now).ok().flatten(),
            None => None,
        },
        _ => None,
    };
    let (debit, receive, assets) = spent(&store, auth.grant_id, window);
    Ok(Json(match assets {
        None => OutgoingPaymentGrantSpentAmounts {
            spent_receive_amount: None,
            spent_debit_amount: None,
        },
        Some((d, r)) => OutgoingPaymentGrantSpentAmounts {
            spent_receive_amount: Some(Amount::new(receive, r.asset_code, r.asset_scale)),
            spent_debit_amount: Some(Amount::new(debit, d.asset_code, d.asset_scale)),
        },
    }))
}
