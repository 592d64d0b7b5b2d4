//! Token management: `POST <manage>` rotates, `DELETE <manage>` revokes (protocol notes §1.9).
//!
//! Like the reference, the management id in the URL identifies the token (the `Authorization`
//! value must be present but is not compared), the request must be signed by the grant's client,
//! and a rotated or revoked token is unknown: rotating it again is `401 invalid_client "invalid
//! access token"`. An expired token can be rotated.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantflow_protocol::error::GnapErrorCode;
use grantflow_protocol::grant::{AccessToken, RotatedToken};
use uuid::Uuid;

use crate::error::ApiError;
use crate::httpsig::{self, SignedRequest};
use crate::journal;
use crate::state::{Shared, Store};

/// The wire form of the token with this management id.
pub(crate) fn wire_token(
    shared: &Shared,
    store: &Store,
    management_id: Uuid,
) -> Result<AccessToken, ApiError> {
    let token = store
        .tokens
        .get(&management_id)
        .ok_or_else(|| ApiError::internal("token vanished while being issued"))?;
    Ok(AccessToken {
        value: token.value.clone(),
        manage: shared.urls.manage_uri(management_id),
        expires_in: Some(token.expires_in),
        access: token.access.clone(),
    })
}

fn invalid_access_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        GnapErrorCode::InvalidClient,
        "invalid access token",
    )
}

/// The token routes' middleware: valid signature headers with a GNAP token, a live token for
/// the management id, a signature by the grant's client. Returns the management id.
async fn authenticate(
    shared: &Shared,
    management_id: &str,
    request: &SignedRequest,
) -> Result<Uuid, ApiError> {
    let incoming = &request.incoming();
    httpsig::gnap_token(incoming.headers).ok_or_else(httpsig::invalid_signature_headers)?;
    httpsig::check_signature_headers(incoming)?;
    let management_id = Uuid::parse_str(management_id).map_err(|_| invalid_access_token())?;
    let client = {
        let store = shared.store();
        let token = store
            .tokens
            .get(&management_id)
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(invalid_access_token)?;
        let grant = store
            .grants
            .get(&token.grant_id)
            .ok_or_else(invalid_access_token)?;
        journal::concerns(token.grant_id);
        grant.client.clone()
    };
    httpsig::verify_client_request(shared, incoming, &client).await?;
    Ok(management_id)
}

/// `POST <base>/auth/token/{id}`: revoke the token, issue a new one (new value, new management
/// id, fresh lifetime) for the same grant and access.
pub(crate) async fn rotate(
    State(shared): State<Shared>,
    Path(management_id): Path<String>,
    request: SignedRequest,
) -> Result<Json<RotatedToken>, ApiError> {
    let old_id = authenticate(&shared, &management_id, &request).await?;
    let now = shared.now();
    let mut store = shared.store();
    // Re-checked under the lock: of two concurrent rotations of one token, one wins.
    let old = store
        .tokens
        .get_mut(&old_id)
        .filter(|t| t.revoked_at.is_none())
        .ok_or_else(invalid_access_token)?;
    old.revoked_at = Some(now);
    let (grant_id, access) = (old.grant_id, old.access.clone());
    let new_id = store.issue_token(
        grant_id,
        access,
        now,
        shared.config.access_token_lifetime_seconds,
    );
    journal::acted(grant_id);
    Ok(Json(RotatedToken {
        access_token: wire_token(&shared, &store, new_id)?,
    }))
}

/// `DELETE <base>/auth/token/{id}`.
pub(crate) async fn revoke(
    State(shared): State<Shared>,
    Path(management_id): Path<String>,
    request: SignedRequest,
) -> Result<StatusCode, ApiError> {
    let id = authenticate(&shared, &management_id, &request).await?;
    let now = shared.now();
    if let Some(t) = shared.store().tokens.get_mut(&id)
        && t.revoked_at.is_none()
    {
        t.revoked_at = Some(now);
        journal::acted(t.grant_id);
    }
    Ok(StatusCode::NO_CONTENT)
}
