//! The control API under `/_sandbox/`, for tests and scripts in other languages (the library API
//! on [`crate::SandboxHandle`] does the same in-process). No fault injection applies here.
//!
//! ```text
//! GET    /_sandbox/faults                          {"<route>": {"kind": …, "times"?: n}, …}
//! PUT    /_sandbox/faults/{route}                  body {"kind":"latency","millis":250,"times"?:1} → 204
//! DELETE /_sandbox/faults/{route}                  → 204
//! DELETE /_sandbox/faults                          → 204
//! POST   /_sandbox/interactions/{id}/approve       → 200 {"redirect","interact_ref","hash","result"}
//! POST   /_sandbox/interactions/{id}/deny          → 200 {"redirect","result":"grant_rejected",…}
//! PUT    /_sandbox/wallet-addresses/{name}         body {"publicName"?,"assetCode"?,"assetScale"?,"keys"?:[jwk]} → 200 {"id"}
//! GET    /_sandbox/journal?since=N                 [{"seq","received_at","route","grant","continue_uri","status","error","acted","delivered","faults"}, …]
//! DELETE /_sandbox/journal                         → 204
//! GET    /_sandbox/clock                           {"now": "<RFC 3339>"}
//! POST   /_sandbox/clock/advance                   body {"seconds": n} → {"now": …}
//! ```
//!
//! Interaction decisions fail with the status and GNAP error the reference's identity-provider
//! API would give (404 `unknown_interaction`, 401 `user_denied`, 400 `invalid_interaction`) or
//! that the finish step gives (e.g. 401 `invalid_interaction` for an expired interaction of a
//! grant without a finish URI).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use grantflow_protocol::jwk::{Jwk, Jwks};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::WalletAddressSpec;
use crate::error::{ApiError, SandboxError};
use crate::faults::FaultRule;
use crate::interaction::{self, Decision, InteractionOutcome};
use crate::journal::JournalEntry;
use crate::route::Route;
use crate::state::Shared;

fn route_of(name: &str) -> Result<Route, ApiError> {
    name.parse::<Route>()
        .map_err(|e| ApiError::other(StatusCode::NOT_FOUND, "unknown_route", e.to_string()))
}

/// `GET /_sandbox/faults`.
pub(crate) async fn list_faults(State(shared): State<Shared>) -> Json<BTreeMap<String, FaultRule>> {
    Json(
        shared
            .faults
            .list()
            .into_iter()
            .map(|(r, f)| (r.name().to_owned(), f))
            .collect(),
    )
}

/// `PUT /_sandbox/faults/{route}`.
pub(crate) async fn set_fault(
    State(shared): State<Shared>,
    Path(route): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let route = route_of(&route)?;
    let rule: FaultRule = serde_json::from_slice(&body).map_err(|e| {
        ApiError::other(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("fault: {e}"),
        )
    })?;
    shared.faults.set(route, rule);
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /_sandbox/faults/{route}`.
pub(crate) async fn clear_fault(
    State(shared): State<Shared>,
    Path(route): Path<String>,
) -> Result<StatusCode, ApiError> {
    shared.faults.clear(route_of(&route)?);
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /_sandbox/faults`.
pub(crate) async fn clear_faults(State(shared): State<Shared>) -> StatusCode {
    shared.faults.clear_all();
    StatusCode::NO_CONTENT
}

/// `POST /_sandbox/interactions/{id}/approve`.
pub(crate) async fn approve_interaction(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<InteractionOutcome>, ApiError> {
    interaction::decide_and_finish(&shared, &id, Decision::Approve).map(Json)
}

/// `POST /_sandbox/interactions/{id}/deny`.
pub(crate) async fn deny_interaction(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<InteractionOutcome>, ApiError> {
    interaction::decide_and_finish(&shared, &id, Decision::Deny).map(Json)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PutWalletAddress {
    #[serde(default)]
    public_name: Option<String>,
    #[serde(default)]
    asset_code: Option<String>,
    #[serde(default)]
    asset_scale: Option<u8>,
    #[serde(default)]
    keys: Vec<Jwk>,
}

/// `PUT /_sandbox/wallet-addresses/{name}`.
pub(crate) async fn put_wallet_address(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: PutWalletAddress = serde_json::from_slice(&body).map_err(|e| {
        ApiError::other(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("wallet address: {e}"),
        )
    })?;
    let spec = WalletAddressSpec {
        name,
        public_name: req.public_name,
        asset_code: req.asset_code.unwrap_or_else(|| "USD".to_owned()),
        asset_scale: req.asset_scale.unwrap_or(2),
        keys: Jwks { keys: req.keys },
    };
    match crate::wallet::put(&shared, spec) {
        Ok(url) => Ok(Json(json!({ "id": url }))),
        Err(e @ SandboxError::InvalidWalletAddress { .. }) => Err(ApiError::other(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

/// The query of `GET /_sandbox/journal`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JournalQuery {
    /// Only the entries after this `seq`.
    #[serde(default)]
    since: u64,
}

/// `GET /_sandbox/journal?since=N`: the journal, oldest first.
pub(crate) async fn get_journal(
    State(shared): State<Shared>,
    Query(query): Query<JournalQuery>,
) -> Json<Vec<JournalEntry>> {
    Json(shared.journal.since(query.since))
}

/// `DELETE /_sandbox/journal`.
pub(crate) async fn clear_journal(State(shared): State<Shared>) -> StatusCode {
    shared.journal.clear();
    StatusCode::NO_CONTENT
}

/// `GET /_sandbox/clock`.
pub(crate) async fn get_clock(State(shared): State<Shared>) -> Json<Value> {
    Json(json!({ "now": shared.now().to_rfc3339() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Advance {
    seconds: u64,
}

/// `POST /_sandbox/clock/advance`.
pub(crate) async fn advance_clock(
    State(shared): State<Shared>,
    Json(advance): Json<Advance>,
) -> Json<Value> {
    shared
        .clock
        .advance(std::time::Duration::from_secs(advance.seconds));
    Json(json!({ "now": shared.now().to_rfc3339() }))
}
