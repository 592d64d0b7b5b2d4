//! Outgoing payments: create (from a quote, or from an incoming payment and a debit amount, within
//! the grant's limits; sent in full at once), get and list.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use grantflow_protocol::amount::Amount;
use grantflow_protocol::outgoing_payment::{
    CreateOutgoingPayment, OutgoingPayment as WireOutgoingPayment,
};
use grantflow_protocol::pagination::Page;
use uuid::Uuid;

use super::access::{
    Create, Kind, Want, authorize, authorize_create, bad_request, not_found, resource_wallet,
    same_asset, same_wallet, wallet_asset,
};
use super::incoming::open_receiver;
use super::list::{ListQuery, authorize_list, paginate};
use super::quote::quote_url;
use super::spending::{check_limits, spent};
use crate::error::ApiError;
use crate::httpsig::SignedRequest;
use crate::journal;
use crate::state::{OutgoingPayment, Shared};

/// The reference's description of a refused quote (used, expired, or of another wallet address).
const INVALID_QUOTE: &str = "invalid quote";

pub(super) fn outgoing_payment_url(shared: &Shared, id: Uuid) -> String {
    format!("{}/outgoing-payments/{id}", shared.urls.resource_server)
}

pub(super) fn outgoing_payment_wire(shared: &Shared, p: &OutgoingPayment) -> WireOutgoingPayment {
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
    )
    .await?;
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
            // The reference answers all three with 400 "invalid quote" (a second payment from a
            // quote violates the payment's primary key, which is the quote's id): a client that
            // re-sends after a lost answer reads this as "maybe mine, GET it".
            let invalid = |why: &str| {
                tracing::info!(why, "sandbox: outgoing payment refused: invalid quote");
                bad_request(INVALID_QUOTE)
            };
            if !same_wallet(&quote.wallet_address, &wallet) {
                return Err(invalid("the quote belongs to another wallet address"));
            }
            if quote.used || store.outgoing_payments.contains_key(&id) {
                return Err(invalid("the quote was already used for a payment"));
            }
            if now >= quote.expires_at {
                return Err(invalid("the quote has expired"));
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
        // As the reference: a payment from a quote takes the quote's id, so at most one exists
        // per quote and a client can look it up by the quote's id after a lost answer.
        id: quote_id.unwrap_or_else(Uuid::new_v4),
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
    journal::acted(auth.grant_id);
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
    )
    .await?;
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
    let (wallet, auth) = authorize_list(&shared, &request, Kind::OutgoingPayment, &q).await?;
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
