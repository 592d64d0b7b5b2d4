//! The grant request: `POST <base>/auth/<tenant>`.
//!
//! Checks run in this order: tenant; the signature (headers, `Content-Digest` and the signature
//! itself) against the keys of the client the body names, reading nothing of the body but its
//! `client` field; then the body's shape (400 `invalid_request`) and the route's own rules
//! (`canSkipInteraction`, client and `interact` requirements). The reference checks the body's
//! shape first and answers a malformed body without a `code`; see `docs/sandbox.md`. A grant that needs no
//! interaction is issued at once (state `APPROVED`, token in the response, no `wait`); any
//! other grant is `PENDING` with an interaction whose redirect opens the consent page.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantflow_protocol::error::{GnapErrorCode, parse_json};
use grantflow_protocol::grant::{
    AccessAction, AccessItem, Client, Continuation, ContinuationToken, GrantRequest, GrantResponse,
    InteractResponse, IssuedGrant, PendingGrant,
};
use grantflow_protocol::secret::Secret;
use uuid::Uuid;

use crate::error::ApiError;
use crate::httpsig::{self, SignedRequest};
use crate::journal;
use crate::state::{
    ClientIdentity, Finish, Grant, GrantState, Interaction, InteractionState, Shared, random_hex,
};

fn invalid_request(description: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        GnapErrorCode::InvalidRequest,
        description,
    )
}

fn invalid_client(description: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        GnapErrorCode::InvalidClient,
        description,
    )
}

/// Whether an access item can be granted without interaction (the reference's defaults:
/// `INCOMING_PAYMENT_INTERACTION=false`, `QUOTE_INTERACTION=false`,
/// `LIST_ALL_ACCESS_INTERACTION=true`). Incoming-payment and quote items never carry limits in
/// Open Payments, so "without limits" holds for them by construction.
fn skips_interaction(item: &AccessItem) -> bool {
    match item {
        AccessItem::IncomingPayment(_) | AccessItem::Quote(_) => {
            !item.actions().contains(&AccessAction::ListAll)
        }
        AccessItem::OutgoingPayment(_) => false,
    }
}

fn item_identifier(item: &AccessItem) -> Option<&str> {
    match item {
        AccessItem::IncomingPayment(a) => a.identifier.as_deref(),
        AccessItem::OutgoingPayment(a) => Some(a.identifier.as_str()),
        AccessItem::Quote(_) => None,
    }
}

/// The `client` a grant request body names, read alone (the rest of the body is read only once
/// the signature is verified). A body without a readable `client` names no one, whose keys are
/// then unknown: 400 `invalid_client` "could not determine client".
pub(crate) fn client_of(body: &[u8]) -> Client {
    #[derive(serde::Deserialize)]
    struct ClientOnly {
        client: Client,
    }
    serde_json::from_slice::<ClientOnly>(body)
        .map(|c| c.client)
        .unwrap_or_else(|_| Client::WalletAddress(String::new()))
}

/// The grant request body, read once its signature is verified, with the reference's schema
/// checks: a malformed body or one that breaks them is a 400 `invalid_request`.
pub(crate) fn parse_request(body: &[u8]) -> Result<GrantRequest, ApiError> {
    let request: GrantRequest =
        parse_json(body).map_err(|e| ApiError::validation(e.to_string()))?;
    if let Some(at) = &request.access_token {
        if at.access.is_empty() || at.access.len() > 3 {
            return Err(ApiError::validation(
                "access_token.access must have between 1 and 3 items",
            ));
        }
    }
    if request
        .interact
        .as_ref()
        .is_some_and(|i| i.start.is_empty())
    {
        return Err(ApiError::validation("interact.start must not be empty"));
    }
    Ok(request)
}

/// `POST <base>/auth/<tenant>`.
pub(crate) async fn request(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    signed: SignedRequest,
) -> Result<Json<GrantResponse>, ApiError> {
    if tenant != shared.config.tenant {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            GnapErrorCode::InvalidRequest,
            "unknown tenant",
        ));
    }
    // Signature first, against the key the `client` field names: nothing else of an
    // unauthenticated body is read.
    let client = match client_of(signed.body()) {
        Client::Jwk { jwk } => ClientIdentity::Jwk(jwk),
        other => {
            ClientIdentity::WalletAddress(other.wallet_address().unwrap_or_default().to_owned())
        }
    };
    httpsig::verify_client_request(&shared, &signed.incoming(), &client).await?;

    let request = parse_request(signed.body())?;

    // canSkipInteraction.
    let access = request
        .access_token
        .as_ref()
        .map(|a| a.access.clone())
        .unwrap_or_default();
    let has_subject = request
        .subject
        .as_ref()
        .is_some_and(|s| !s.sub_ids.is_empty());
    if !has_subject && access.is_empty() {
        return Err(invalid_request("subject or access_token required"));
    }
    let interactive = has_subject || !access.iter().all(skips_interaction);
    for item in &access {
        if !skips_interaction(item) && item_identifier(item).is_none() {
            return Err(invalid_request("access identifier required"));
        }
        if let AccessItem::OutgoingPayment(op) = item
            && let Some(limits) = &op.limits
            && limits.debit_amount.is_some()
            && limits.receive_amount.is_some()
        {
            return Err(invalid_request("only one access amount allowed"));
        }
    }
    if has_subject {
        return Err(invalid_request(
            "subject requests are not supported by the sandbox",
        ));
    }

    let now = shared.now();
    let continue_id = Uuid::new_v4();
    let continue_token = Secret::new(random_hex(10));
    let continuation = |wait: Option<u64>| Continuation {
        access_token: ContinuationToken {
            value: continue_token.clone(),
        },
        uri: shared.urls.continue_uri(continue_id),
        wait,
    };

    if !interactive {
        let grant_id = Uuid::new_v4();
        let expires_in = shared.config.access_token_lifetime_seconds;
        let mut store = shared.store();
        store.grants.insert(
            grant_id,
            Grant {
                state: GrantState::Approved,
                access: access.clone(),
                client,
                client_display: None,
                finish: None,
                continue_id,
                continue_token: continue_token.clone(),
                last_continued_at: now,
            },
        );
        store.grants_by_continue.insert(continue_id, grant_id);
        let management_id = store.issue_token(grant_id, access, now, expires_in);
        journal::acted(grant_id);
        let token = crate::token::wire_token(&shared, &store, management_id)?;
        return Ok(Json(GrantResponse::Issued(IssuedGrant {
            access_token: token,
            continue_: continuation(None),
            subject: None,
        })));
    }

    // Interactive: the client must be a wallet address with a public name, and say how.
    let Some(interact) = &request.interact else {
        return Err(invalid_request("missing required request field 'interact'"));
    };
    let ClientIdentity::WalletAddress(client_url) = &client else {
        return Err(invalid_client(
            "JWK client identifier cannot be used for interactive grants",
        ));
    };
    // The consent page names the client by its wallet address's `publicName`: registered here
    // for a wallet address the sandbox hosts, fetched for any other (as its keys were).
    let public_name = match shared.urls.hosted_wallet_name(client_url) {
        Some(name) => shared
            .store()
            .wallet_addresses
            .get(name)
            .and_then(|wa| wa.public_name.clone()),
        None => match shared.remote.wallet_address(client_url, shared.now()).await {
            Ok(document) => document.public_name,
            Err(why) => {
                tracing::debug!(%why, "sandbox: client wallet address unreadable");
                None
            }
        },
    };
    let Some(public_name) = public_name else {
        return Err(invalid_client("missing required request field 'client'"));
    };
    let client_display = (public_name, client_url.clone());

    let grant_id = Uuid::new_v4();
    let interaction_id = Uuid::new_v4();
    let nonce = random_hex(8);
    let finish = interact.finish.as_ref().map(|f| Finish {
        uri: f.uri.clone(),
        client_nonce: f.nonce.clone(),
    });
    let mut redirect = url::Url::parse(&shared.urls.interaction_start(interaction_id, &nonce))
        .map_err(|e| ApiError::internal(format!("interaction URL: {e}")))?;
    redirect
        .query_pairs_mut()
        .append_pair("clientName", &client_display.0)
        .append_pair("clientUri", &client_display.1);
    {
        let mut store = shared.store();
        store.grants.insert(
            grant_id,
            Grant {
                state: GrantState::Pending,
                access,
                client,
                client_display: Some(client_display),
                finish,
                continue_id,
                continue_token: continue_token.clone(),
                last_continued_at: now,
            },
        );
        store.grants_by_continue.insert(continue_id, grant_id);
        journal::acted(grant_id);
        store.insert_interaction(
            interaction_id,
            Interaction {
                grant_id,
                interact_ref: Secret::new(Uuid::new_v4().to_string()),
                nonce: Secret::new(nonce.clone()),
                state: InteractionState::Pending,
                created_at: now,
                expires_in: shared.config.interaction_lifetime_seconds,
            },
        );
    }
    Ok(Json(GrantResponse::Pending(PendingGrant {
        interact: InteractResponse {
            redirect: redirect.to_string(),
            finish: Secret::new(nonce),
        },
        continue_: continuation(Some(shared.config.wait_seconds)),
    })))
}
