//! Quotes: create (only between equal assets, 1:1) and get.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantflow_protocol::amount::Amount;
use grantflow_protocol::quote::{CreateQuote, Quote as WireQuote, QuoteAmount, QuoteMethod};
use uuid::Uuid;

use super::access::{
    Create, Kind, Want, authorize, authorize_create, bad_request, not_found, resource_wallet,
    same_asset, wallet_asset,
};
use super::incoming::open_receiver;
use crate::clock;
use crate::error::ApiError;
use crate::httpsig::SignedRequest;
use crate::journal;
use crate::state::{Quote, Shared};

pub(super) fn quote_url(shared: &Shared, id: Uuid) -> String {
    format!("{}/quotes/{id}", shared.urls.resource_server)
}

pub(super) fn quote_wire(shared: &Shared, q: &Quote) -> WireQuote {
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
    })
    .await?;
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
        expires_at: clock::plus_seconds(now, shared.config.quote_lifetime_seconds),
        used: false,
    };
    let body = quote_wire(&shared, &quote);
    store.quotes.insert(quote.id, quote);
    journal::acted(auth.grant_id);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET <RS>/quotes/{id}`.
pub(crate) async fn get_quote(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    request: SignedRequest,
) -> Result<Json<WireQuote>, ApiError> {
    let (id, wallet) = resource_wallet(&shared, Kind::Quote, &id)?;
    let auth = authorize(&shared, &request, Kind::Quote, Want::Read, Some(&wallet)).await?;
    let store = shared.store();
    let q = store
        .quotes
        .get(&id)
        .filter(|q| auth.sees(&q.client))
        .ok_or_else(|| not_found("quote"))?;
    Ok(Json(quote_wire(&shared, q)))
}
