//! The interaction: the consent page, the resource owner's choice, and the finish redirect
//! (protocol notes §1.5 "Interaction start / IdP choice / Interaction finish", §3).
//!
//! The reference server redirects the browser to a separate identity provider; the sandbox is
//! its own identity provider, so the interaction start answers the consent page directly:
//!
//! ```text
//! GET  /auth/interact/{id}/{nonce}          consent page + session cookie
//! POST /auth/interact/{id}/{nonce}/choice   choice=accept|reject, then 303 to ...
//! GET  /auth/interact/{id}/{nonce}/finish   302 to the client's finish URI (hash, interact_ref)
//! ```
//!
//! Tests skip the browser: [`decide_and_finish`] (and `POST /_sandbox/interactions/{id}/approve`)
//! makes the choice and runs the finish step, returning where the browser would have gone.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use grantflow_protocol::error::GnapErrorCode;
use grantflow_protocol::finish_hash::finish_hash;
use grantflow_protocol::secret::Secret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::consent;
use crate::error::ApiError;
use crate::journal;
use crate::state::{Finalization, GrantState, InteractionState, Shared, Store};

/// The resource owner's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Approve,
    Deny,
}

/// Where the browser goes once an interaction finishes, as the client will see it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionOutcome {
    /// The finish redirect (the client's `interact.finish.uri` with `hash` and `interact_ref`, or
    /// with `result=…`); `None` for a grant requested without a finish method (the reference
    /// answers 202 then, and the client polls).
    pub redirect: Option<Secret>,
    /// The `interact_ref` in the redirect, when the grant was approved.
    pub interact_ref: Option<Secret>,
    /// The `hash` in the redirect, when the grant was approved.
    pub hash: Option<String>,
    /// The `result` in the redirect when the interaction did not end in approval
    /// (`grant_rejected`, `grant_invalid`, `invalid_interaction`, `unknown_interaction`).
    pub result: Option<String>,
}

impl std::fmt::Debug for InteractionOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractionOutcome")
            .field("redirect", &self.redirect.as_ref().map(|_| "***"))
            .field("interact_ref", &self.interact_ref)
            .field("hash", &self.hash)
            .field("result", &self.result)
            .finish()
    }
}

fn unknown_interaction(status: StatusCode) -> ApiError {
    ApiError::new(
        status,
        GnapErrorCode::UnknownInteraction,
        "unknown interaction",
    )
}

/// Looks an interaction up by id and (when given) the nonce of its URL.
fn lookup(store: &Store, id: &str, nonce: Option<&str>) -> Option<Uuid> {
    let id = Uuid::parse_str(id).ok()?;
    let interaction = store.interactions.get(&id)?;
    match nonce {
        Some(n) if Secret::new(n) != interaction.nonce => None,
        _ => Some(id),
    }
}

/// The IdP choice (`handleInteractionChoice`): the interaction records the decision; the grant
/// does not change until finish.
fn choose(
    store: &mut Store,
    id: Uuid,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let interaction = store
        .interactions
        .get(&id)
        .ok_or_else(|| unknown_interaction(StatusCode::NOT_FOUND))?;
    let grant = store
        .grants
        .get(&interaction.grant_id)
        .ok_or_else(|| unknown_interaction(StatusCode::NOT_FOUND))?;
    if matches!(grant.state, GrantState::Finalized(f) if f != Finalization::Issued) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            GnapErrorCode::UserDenied,
            "user denied",
        ));
    }
    if interaction.state != InteractionState::Pending || interaction.is_expired(now) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            GnapErrorCode::InvalidInteraction,
            "interaction is not active",
        ));
    }
    if let Some(i) = store.interactions.get_mut(&id) {
        i.state = match decision {
            Decision::Approve => InteractionState::Approved,
            Decision::Deny => InteractionState::Denied,
        };
        journal::acted(i.grant_id);
    }
    Ok(())
}

/// What the finish step answers.
enum Finished {
    /// 302 to the client.
    Redirect(InteractionOutcome),
    /// 202: the grant has no finish method.
    Accepted,
}

fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> Result<String, ApiError> {
    let mut url = url::Url::parse(uri)
        .map_err(|e| ApiError::internal(format!("the grant's finish URI does not parse: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}

fn failure(uri: &str, result: &str, message: Option<&str>) -> Result<Finished, ApiError> {
    let mut pairs = vec![("result", result)];
    if let Some(m) = message {
        pairs.push(("message", m));
    }
    Ok(Finished::Redirect(InteractionOutcome {
        redirect: Some(Secret::new(redirect_with(uri, &pairs)?)),
        interact_ref: None,
        hash: None,
        result: Some(result.to_owned()),
    }))
}

/// The finish step (`finishInteraction`), checks in the reference's order. `session_ok` is the
/// session-cookie check (always true for the test API, which has no browser).
fn finish_step(
    shared: &Shared,
    store: &mut Store,
    id: Uuid,
    session_ok: bool,
    now: DateTime<Utc>,
) -> Result<Finished, ApiError> {
    let interaction = store
        .interactions
        .get(&id)
        .ok_or_else(|| unknown_interaction(StatusCode::NOT_FOUND))?
        .clone();
    let grant_id = interaction.grant_id;
    journal::concerns(grant_id);
    let grant = store
        .grants
        .get(&grant_id)
        .ok_or_else(|| unknown_interaction(StatusCode::NOT_FOUND))?;
    let finish = grant.finish.clone();
    if interaction.is_expired(now) {
        return match &finish {
            Some(f) => failure(&f.uri, "invalid_interaction", Some("interaction expired")),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                GnapErrorCode::InvalidInteraction,
                "interaction expired",
            )),
        };
    }
    if !session_ok {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            GnapErrorCode::InvalidRequest,
            "invalid session",
        ));
    }
    if grant.is_revoked() {
        return match &finish {
            Some(f) => failure(&f.uri, "unknown_interaction", Some("unknown interaction")),
            None => Err(unknown_interaction(StatusCode::NOT_FOUND)),
        };
    }
    let already_issued = grant.state == GrantState::Finalized(Finalization::Issued);
    let new_state = match interaction.state {
        // A grant already issued stays issued (the reference would set it back to APPROVED and
        // allow a second continue; see docs/sandbox.md).
        InteractionState::Approved if already_issued => None,
        InteractionState::Approved => Some(GrantState::Approved),
        InteractionState::Denied => Some(GrantState::Finalized(Finalization::Rejected)),
        InteractionState::Pending => None,
    };
    if let (Some(state), Some(g)) = (new_state, store.grants.get_mut(&grant_id)) {
        g.state = state;
        journal::acted(grant_id);
    }
    match (&finish, interaction.state) {
        (Some(f), InteractionState::Approved) => {
            let hash = finish_hash(
                f.client_nonce.expose(),
                interaction.nonce.expose(),
                interaction.interact_ref.expose(),
                &shared.urls.grant_endpoint,
                shared.config.finish_hash_encoding,
            );
            let redirect = redirect_with(
                &f.uri,
                &[
                    ("hash", hash.as_str()),
                    ("interact_ref", interaction.interact_ref.expose()),
                ],
            )?;
            Ok(Finished::Redirect(InteractionOutcome {
                redirect: Some(Secret::new(redirect)),
                interact_ref: Some(interaction.interact_ref.clone()),
                hash: Some(hash),
                result: None,
            }))
        }
        (Some(f), InteractionState::Denied) => failure(&f.uri, "grant_rejected", None),
        (Some(f), InteractionState::Pending) => failure(&f.uri, "grant_invalid", None),
        (None, InteractionState::Approved | InteractionState::Denied) => Ok(Finished::Accepted),
        (None, InteractionState::Pending) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            GnapErrorCode::InvalidInteraction,
            "interaction is not active",
        )),
    }
}

/// The interaction id in `interaction`: a bare id, or an `interact.redirect` URL.
fn interaction_id_of(interaction: &str) -> &str {
    match interaction.split_once("/interact/") {
        Some((_, rest)) => rest.split(['/', '?']).next().unwrap_or(rest),
        None => interaction,
    }
}

/// Makes the resource owner's decision and finishes the interaction, as a browser on the consent
/// page would; answers where the browser would have been sent.
pub(crate) fn decide_and_finish(
    shared: &Shared,
    interaction: &str,
    decision: Decision,
) -> Result<InteractionOutcome, ApiError> {
    let now = shared.now();
    let mut store = shared.store();
    let id = lookup(&store, interaction_id_of(interaction), None)
        .ok_or_else(|| unknown_interaction(StatusCode::NOT_FOUND))?;
    choose(&mut store, id, decision, now)?;
    match finish_step(shared, &mut store, id, true, now)? {
        Finished::Redirect(outcome) => Ok(outcome),
        Finished::Accepted => Ok(InteractionOutcome {
            redirect: None,
            interact_ref: None,
            hash: None,
            result: None,
        }),
    }
}

/// A `302 Found` to `location`, as the reference's redirects are.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => {
            ApiError::internal("redirect location is not a valid header value").into_response()
        }
    }
}

fn cookie_name(id: &str) -> String {
    format!("grantflow_sandbox_{}", id.replace('-', ""))
}

fn session_nonce<'a>(headers: &'a HeaderMap, id: &str) -> Option<&'a str> {
    let name = cookie_name(id);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `GET /auth/interact/{id}/{nonce}`: the consent page.
pub(crate) async fn start(
    State(shared): State<Shared>,
    Path((id, nonce)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let now = shared.now();
    let store = shared.store();
    let iid = lookup(&store, &id, Some(&nonce))
        .ok_or_else(|| unknown_interaction(StatusCode::BAD_REQUEST))?;
    let interaction = store
        .interactions
        .get(&iid)
        .ok_or_else(|| unknown_interaction(StatusCode::BAD_REQUEST))?;
    journal::concerns(interaction.grant_id);
    let grant = store
        .grants
        .get(&interaction.grant_id)
        .ok_or_else(|| unknown_interaction(StatusCode::BAD_REQUEST))?;
    if interaction.state != InteractionState::Pending || grant.is_revoked() {
        return match &grant.finish {
            Some(f) => Ok(found(&redirect_with(
                &f.uri,
                &[
                    ("result", "invalid_interaction"),
                    ("message", "invalid interaction"),
                ],
            )?)),
            None => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                GnapErrorCode::InvalidInteraction,
                "invalid interaction",
            )),
        };
    }
    let page = consent::render(&consent::ConsentView {
        client: grant.client_display.clone(),
        access: &grant.access,
        choice_action: format!("/auth/interact/{id}/{nonce}/choice"),
        expires_at: interaction.expires_at(),
        expired: interaction.is_expired(now),
        now,
        reading: shared.config.interval_reading,
    });
    let max_age = shared.config.interaction_lifetime_seconds;
    let cookie = format!(
        "{}={nonce}; Path=/auth/interact/; Max-Age={max_age}; HttpOnly; SameSite=Lax",
        cookie_name(&id)
    );
    let mut response = Html(page).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The consent form's body.
#[derive(Debug, Deserialize)]
pub(crate) struct ChoiceForm {
    choice: String,
}

/// `POST /auth/interact/{id}/{nonce}/choice`: records Approve or Deny (from the browser holding
/// the interaction's session cookie), then sends the browser to the finish step.
pub(crate) async fn choice(
    State(shared): State<Shared>,
    Path((id, nonce)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<ChoiceForm>,
) -> Response {
    // Only the browser that opened the consent page may decide (its session cookie holds the
    // nonce), so another page cannot post a decision for it.
    if session_nonce(&headers, &id) != Some(nonce.as_str()) {
        return consent::error_page(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "invalid session",
        );
    }
    let decision = match form.choice.as_str() {
        "accept" => Decision::Approve,
        "reject" => Decision::Deny,
        _ => {
            return consent::error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the choice must be accept or reject",
            );
        }
    };
    let now = shared.now();
    let result = {
        let mut store = shared.store();
        match lookup(&store, &id, Some(&nonce)) {
            Some(iid) => choose(&mut store, iid, decision, now),
            None => Err(unknown_interaction(StatusCode::NOT_FOUND)),
        }
    };
    match result {
        Ok(()) => Redirect::to(&format!("/auth/interact/{id}/{nonce}/finish")).into_response(),
        Err(e) => consent::error_page(
            e.status,
            e.body.code.as_ref().map_or("", |c| c.as_str()),
            e.body.description.as_deref().unwrap_or(""),
        ),
    }
}

/// `GET /auth/interact/{id}/{nonce}/finish`: redirects the browser to the client.
pub(crate) async fn finish(
    State(shared): State<Shared>,
    Path((id, nonce)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = shared.now();
    let session_ok = session_nonce(&headers, &id) == Some(nonce.as_str());
    let mut store = shared.store();
    let iid = lookup(&store, &id, Some(&nonce))
        .ok_or_else(|| unknown_interaction(StatusCode::NOT_FOUND))?;
    match finish_step(&shared, &mut store, iid, session_ok, now)? {
        Finished::Redirect(outcome) => {
            let location = outcome.redirect.as_ref().map(|r| r.expose()).unwrap_or("/");
            Ok(found(location))
        }
        Finished::Accepted => {
            Ok((StatusCode::ACCEPTED, Html(consent::done_page())).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interaction_ids_from_urls() {
        let id = "0b7c3f4e-7a0e-4f0e-9d3c-2f1b0150db73";
        assert_eq!(interaction_id_of(id), id);
        assert_eq!(
            interaction_id_of(&format!(
                "http://127.0.0.1:1/auth/interact/{id}/ABCDEF0123456789?clientName=x"
            )),
            id
        );
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        let id = "0b7c3f4e-7a0e-4f0e-9d3c-2f1b0150db73";
        let cookie = format!("a=b; {}=NONCE; c=d", cookie_name(id));
        h.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(session_nonce(&h, id), Some("NONCE"));
        assert_eq!(session_nonce(&h, "other"), None);
    }
}
