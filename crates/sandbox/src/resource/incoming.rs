//! Incoming payments: create, get (the public view without a token), complete, list; and which
//! open incoming payment a receiver URL names.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::incoming_payment::{
    CreateIncomingPayment, IncomingPayment as WireIncomingPayment, IncomingPaymentView,
    PaymentMethod, PublicIncomingPayment,
};
use grantflow_protocol::pagination::Page;
use grantflow_protocol::secret::Secret;
use uuid::Uuid;

use super::access::{
    Create, Kind, Want, authorize, authorize_create, bad_request, not_found, resource_wallet,
    same_wallet, wallet_asset,
};
use super::list::{ListQuery, authorize_list, paginate};
use crate::error::ApiError;
use crate::httpsig::SignedRequest;
use crate::journal;
use crate::state::{IncomingPayment, Shared, Store, random_hex};

pub(super) fn incoming_payment_url(shared: &Shared, id: Uuid) -> String {
    format!("{}/incoming-payments/{id}", shared.urls.resource_server)
}

pub(super) fn incoming_payment_wire(
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
    )
    .await?;
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
        shared_secret: Secret::new(random_hex(32)),
    };
    let body = incoming_payment_wire(&shared, &ip, (&wa.asset_code, wa.asset_scale), now, true);
    store.incoming_order.push(ip.id);
    store.incoming_payments.insert(ip.id, ip);
    journal::acted(auth.grant_id);
    Ok((StatusCode::CREATED, Json(body)))
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
    )
    .await?;
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
    let auth = authorize(
        &shared,
        &request,
        Kind::IncomingPayment,
        Want::Complete,
        Some(&wallet),
    )
    .await?;
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
    journal::acted(auth.grant_id);
    Ok(Json(incoming_payment_wire(
        &shared,
        ip,
        (&code, scale),
        now,
        false,
    )))
}

/// `GET <RS>/incoming-payments?wallet-address=…`.
pub(crate) async fn list_incoming_payments(
    State(shared): State<Shared>,
    Query(q): Query<ListQuery>,
    request: SignedRequest,
) -> Result<Json<Page<WireIncomingPayment>>, ApiError> {
    let (wallet, auth) = authorize_list(&shared, &request, Kind::IncomingPayment, &q).await?;
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

/// The incoming payment a receiver URL names, if it is one of ours and still open.
pub(super) fn open_receiver(
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
