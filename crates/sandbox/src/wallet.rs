//! Wallet addresses: `GET <base>/<name>` and `GET <base>/<name>/jwks.json`, and hosting them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::wallet_address::WalletAddress as WireWalletAddress;

use crate::config::WalletAddressSpec;
use crate::error::{ApiError, SandboxError};
use crate::route::RESERVED_NAMES;
use crate::state::{Shared, WalletAddress};

/// Hosts (or replaces) a wallet address; returns its URL.
pub(crate) fn put(shared: &Shared, spec: WalletAddressSpec) -> Result<String, SandboxError> {
    let refuse = |reason: &str| SandboxError::InvalidWalletAddress {
        name: spec.name.clone(),
        reason: reason.to_owned(),
    };
    if spec.name.is_empty()
        || !spec
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(refuse(
            "a name is one path segment of ASCII letters, digits, '-', '_' and '.'",
        ));
    }
    if RESERVED_NAMES.contains(&spec.name.as_str()) {
        return Err(refuse("the name is used by the sandbox's own routes"));
    }
    if spec.asset_code.is_empty() {
        return Err(refuse("assetCode is empty"));
    }
    for key in &spec.keys.keys {
        if let Err(e) = key.public_key_bytes() {
            return Err(refuse(&e.to_string()));
        }
    }
    let url = shared.urls.wallet_address(&spec.name);
    shared.store().wallet_addresses.insert(
        spec.name,
        WalletAddress {
            public_name: spec.public_name,
            asset_code: spec.asset_code,
            asset_scale: spec.asset_scale,
            keys: spec.keys,
        },
    );
    Ok(url)
}

fn not_found(name: &str) -> ApiError {
    ApiError::other(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no wallet address named {name:?} is hosted here"),
    )
}

/// `GET <base>/<name>`.
pub(crate) async fn get_wallet_address(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<WireWalletAddress>, ApiError> {
    let store = shared.store();
    let wa = store
        .wallet_addresses
        .get(&name)
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(WireWalletAddress {
        id: shared.urls.wallet_address(&name),
        public_name: wa.public_name.clone(),
        asset_code: wa.asset_code.clone(),
        asset_scale: wa.asset_scale,
        auth_server: shared.urls.grant_endpoint.clone(),
        resource_server: shared.urls.resource_server.clone(),
    }))
}

/// `GET <base>/<name>/jwks.json`.
pub(crate) async fn get_keys(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Jwks>, ApiError> {
    let store = shared.store();
    let wa = store
        .wallet_addresses
        .get(&name)
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(wa.keys.clone()))
}
