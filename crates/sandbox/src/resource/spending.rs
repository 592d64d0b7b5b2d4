//! What a grant has spent: sums per limit window, the check of a new payment against the grant's
//! `limits`, and `GET <RS>/outgoing-payment-grant`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::{AccessItem, OutgoingPaymentLimits};
use grantflow_protocol::outgoing_payment::OutgoingPaymentGrantSpentAmounts;
use uuid::Uuid;

use super::access::{Authorized, Kind, Want, authorize, insufficient_grant, rs_error};
use crate::error::ApiError;
use crate::httpsig::SignedRequest;
use crate::limits::{self, Span};
use crate::state::{Shared, Store};

/// What a grant has spent in a window: sums of debit and receive amounts of its payments whose
/// creation time falls in `[start, end)` (all of them without a window).
pub(super) fn spent(
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
pub(super) fn limit_window(
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
pub(super) fn check_limits(
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

/// `GET <RS>/outgoing-payment-grant`: what the token's grant has spent in the current window
/// (or in total without an interval); `null`s when it has spent nothing.
pub(crate) async fn get_grant_spent_amounts(
    State(shared): State<Shared>,
    request: SignedRequest,
) -> Result<Json<OutgoingPaymentGrantSpentAmounts>, ApiError> {
    // Any of create, read or list will do; when none does, the refusal is create's.
    let mut authorized =
        authorize(&shared, &request, Kind::OutgoingPayment, Want::Create, None).await;
    for want in [Want::Read, Want::List] {
        if authorized.is_ok() {
            break;
        }
        if let Ok(auth) = authorize(&shared, &request, Kind::OutgoingPayment, want, None).await {
            authorized = Ok(auth);
        }
    }
    let auth = authorized?;
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
