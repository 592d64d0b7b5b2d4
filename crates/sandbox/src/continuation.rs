//! Continuation: `POST <continue uri>` (continue with `interact_ref`, or poll with no body) and
//! `DELETE <continue uri>` (cancel / revoke the grant), with the reference's checks in its order
//! (protocol notes §1.5, §1.7, §1.8).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use grantflow_protocol::error::GnapErrorCode;
use grantflow_protocol::grant::{
    Continuation, ContinuationToken, GrantContinuation, GrantResponse, IssuedGrant,
};
use grantflow_protocol::secret::Secret;
use uuid::Uuid;

use crate::clock;
use crate::error::ApiError;
use crate::httpsig::{self, SignedRequest};
use crate::journal;
use crate::state::{Finalization, Grant, GrantState, Shared, Store};

fn invalid_grant() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        GnapErrorCode::InvalidContinuation,
        "invalid grant",
    )
}

/// The signature middleware of the continue and cancel routes: a GNAP token and valid signature
/// headers, a (non-revoked) grant matching the continue id and token, a signature by the grant's
/// client. Returns the grant id.
async fn authenticate(
    shared: &Shared,
    continue_id: &str,
    request: &SignedRequest,
) -> Result<Uuid, ApiError> {
    let incoming = &request.incoming();
    let token =
        httpsig::gnap_token(incoming.headers).ok_or_else(httpsig::invalid_signature_headers)?;
    httpsig::check_signature_headers(incoming)?;
    let continue_id = Uuid::parse_str(continue_id).map_err(|_| invalid_grant())?;
    let (grant_id, client) = {
        let store = shared.store();
        let grant_id = store
            .grant_by_continue(continue_id, &Secret::new(token))
            .ok_or_else(invalid_grant)?;
        let grant = store.grants.get(&grant_id).ok_or_else(invalid_grant)?;
        (grant_id, grant.client.clone())
    };
    journal::concerns(grant_id);
    httpsig::verify_client_request(shared, incoming, &client).await?;
    Ok(grant_id)
}

fn is_too_fast(grant: &Grant, now: DateTime<Utc>, wait_seconds: u64) -> bool {
    now < clock::plus_seconds(grant.last_continued_at, wait_seconds)
}

fn continuation_of(shared: &Shared, grant: &Grant, wait: Option<u64>) -> Continuation {
    Continuation {
        access_token: ContinuationToken {
            value: grant.continue_token.clone(),
        },
        uri: shared.urls.continue_uri(grant.continue_id),
        wait,
    }
}

/// Issues the grant's token and finalizes it as ISSUED; the answer of a successful continue or
/// of a poll on an approved grant.
fn issue(
    shared: &Shared,
    store: &mut Store,
    grant_id: Uuid,
    now: DateTime<Utc>,
) -> Result<GrantResponse, ApiError> {
    let grant = store
        .grants
        .get_mut(&grant_id)
        .ok_or_else(|| ApiError::internal("grant vanished while being continued"))?;
    grant.state = GrantState::Finalized(Finalization::Issued);
    journal::acted(grant_id);
    let access = grant.access.clone();
    let continue_ = continuation_of(shared, grant, None);
    let management_id = store.issue_token(
        grant_id,
        access,
        now,
        shared.config.access_token_lifetime_seconds,
    );
    let access_token = crate::token::wire_token(shared, store, management_id)?;
    Ok(GrantResponse::Issued(IssuedGrant {
        access_token,
        continue_,
        subject: None,
    }))
}

/// The continue body's `interact_ref`: none for an empty body (a poll); a body that is not JSON
/// is a 400 `invalid_request`, one without an `interact_ref` string a 401 `invalid_request`.
pub(crate) fn interact_ref_of(body: &[u8]) -> Result<Option<Secret>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::validation(format!("continue body is not JSON: {e}")))?;
    match value.get("interact_ref").and_then(|v| v.as_str()) {
        Some(r) => Ok(Some(Secret::new(r))),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            GnapErrorCode::InvalidRequest,
            "missing interaction reference",
        )),
    }
}

/// `POST <base>/auth/continue/{id}`.
pub(crate) async fn continue_grant(
    State(shared): State<Shared>,
    Path(continue_id): Path<String>,
    request: SignedRequest,
) -> Result<Json<GrantResponse>, ApiError> {
    let grant_id = authenticate(&shared, &continue_id, &request).await?;

    let interact_ref = interact_ref_of(request.body())?;

    let now = shared.now();
    let wait = shared.config.wait_seconds;
    let mut store = shared.store();
    match interact_ref {
        Some(interact_ref) => {
            // continueGrant.
            let not_found = || {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    GnapErrorCode::InvalidContinuation,
                    "grant not found",
                )
            };
            let (_, interaction) = store
                .interaction_by_ref(&interact_ref)
                .ok_or_else(not_found)?;
            if interaction.grant_id != grant_id {
                return Err(not_found());
            }
            let grant = store.grants.get(&grant_id).ok_or_else(not_found)?;
            if grant.is_rejected() || grant.is_revoked() {
                return Err(not_found());
            }
            if is_too_fast(grant, now, wait) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    GnapErrorCode::TooFast,
                    "continued grant faster than \"wait\" period",
                ));
            }
            if grant.state != GrantState::Approved {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    GnapErrorCode::RequestDenied,
                    "grant interaction not approved",
                ));
            }
            Ok(Json(issue(&shared, &mut store, grant_id, now)?))
        }
        None => {
            // pollGrantContinuation.
            let grant = store.grants.get(&grant_id).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    GnapErrorCode::InvalidRequest,
                    "grant not found",
                )
            })?;
            if is_too_fast(grant, now, wait) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    GnapErrorCode::TooFast,
                    "polled grant faster than \"wait\" period",
                ));
            }
            if grant.is_finishable() {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    GnapErrorCode::RequestDenied,
                    "grant cannot be polled",
                ));
            }
            match grant.state {
                GrantState::Pending => {
                    let response = GrantResponse::Continuation(GrantContinuation {
                        continue_: continuation_of(&shared, grant, Some(wait)),
                    });
                    if let Some(g) = store.grants.get_mut(&grant_id) {
                        g.last_continued_at = now;
                        journal::acted(grant_id);
                    }
                    Ok(Json(response))
                }
                GrantState::Approved => Ok(Json(issue(&shared, &mut store, grant_id, now)?)),
                GrantState::Finalized(_) => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    GnapErrorCode::RequestDenied,
                    "grant cannot be continued",
                )),
            }
        }
    }
}

/// `DELETE <base>/auth/continue/{id}`: finalizes the grant as REVOKED and revokes all its
/// tokens, whatever state it was in (pending, issued, even rejected, as the reference does).
pub(crate) async fn cancel(
    State(shared): State<Shared>,
    Path(continue_id): Path<String>,
    request: SignedRequest,
) -> Result<StatusCode, ApiError> {
    let grant_id = authenticate(&shared, &continue_id, &request).await?;
    let now = shared.now();
    let mut store = shared.store();
    let grant = store.grants.get_mut(&grant_id).ok_or_else(invalid_grant)?;
    if grant.is_revoked() {
        // Revoked by a concurrent cancel after our lookup: the reference's lookup would not
        // have found it.
        return Err(invalid_grant());
    }
    grant.state = GrantState::Finalized(Finalization::Revoked);
    store.revoke_tokens_of(grant_id, now);
    journal::acted(grant_id);
    Ok(StatusCode::NO_CONTENT)
}
