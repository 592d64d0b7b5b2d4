//! The route table: every path the sandbox serves, in one place.
//!
//! ```text
//! GET    /{wallet}                                wallet address            (wallet.rs)
//! GET    /{wallet}/jwks.json                      its keys                  (wallet.rs)
//! POST   /auth/{tenant}                           grant request             (grant.rs)
//! POST   /auth/continue/{id}                      continue / poll           (continuation.rs)
//! DELETE /auth/continue/{id}                      cancel / revoke grant     (continuation.rs)
//! POST   /auth/token/{id}                         rotate access token       (token.rs)
//! DELETE /auth/token/{id}                         revoke access token       (token.rs)
//! GET    /auth/interact/{id}/{nonce}              consent page              (interaction.rs)
//! POST   /auth/interact/{id}/{nonce}/choice       Approve / Deny form       (interaction.rs)
//! GET    /auth/interact/{id}/{nonce}/finish       redirect to the client    (interaction.rs)
//! POST   /rs/incoming-payments                    create                    (resource.rs)
//! GET    /rs/incoming-payments?wallet-address=    list                      (resource.rs)
//! GET    /rs/incoming-payments/{id}               get (public without auth) (resource.rs)
//! POST   /rs/incoming-payments/{id}/complete      complete                  (resource.rs)
//! POST   /rs/quotes                               create                    (resource.rs)
//! GET    /rs/quotes/{id}                          get                       (resource.rs)
//! POST   /rs/outgoing-payments                    create (limits enforced)  (resource.rs)
//! GET    /rs/outgoing-payments?wallet-address=    list                      (resource.rs)
//! GET    /rs/outgoing-payments/{id}               get                       (resource.rs)
//! GET    /rs/outgoing-payment-grant               the grant's spent amounts (resource.rs)
//! ...    /_sandbox/...                            control API for tests     (admin.rs)
//! ```

use axum::Router;
use axum::routing::{get, post, put};

use crate::state::Shared;
use crate::{admin, continuation, faults, grant, guard, interaction, resource, token, wallet};

pub(crate) const WALLET_ADDRESS: &str = "/{wallet}";
pub(crate) const WALLET_ADDRESS_KEYS: &str = "/{wallet}/jwks.json";
pub(crate) const GRANT_REQUEST: &str = "/auth/{tenant}";
pub(crate) const CONTINUE: &str = "/auth/continue/{id}";
pub(crate) const TOKEN: &str = "/auth/token/{id}";
pub(crate) const INTERACTION_START: &str = "/auth/interact/{id}/{nonce}";
pub(crate) const INTERACTION_CHOICE: &str = "/auth/interact/{id}/{nonce}/choice";
pub(crate) const INTERACTION_FINISH: &str = "/auth/interact/{id}/{nonce}/finish";
pub(crate) const INCOMING_PAYMENTS: &str = "/rs/incoming-payments";
pub(crate) const INCOMING_PAYMENT: &str = "/rs/incoming-payments/{id}";
pub(crate) const INCOMING_PAYMENT_COMPLETE: &str = "/rs/incoming-payments/{id}/complete";
pub(crate) const QUOTES: &str = "/rs/quotes";
pub(crate) const QUOTE: &str = "/rs/quotes/{id}";
pub(crate) const OUTGOING_PAYMENTS: &str = "/rs/outgoing-payments";
pub(crate) const OUTGOING_PAYMENT: &str = "/rs/outgoing-payments/{id}";
pub(crate) const OUTGOING_PAYMENT_GRANT: &str = "/rs/outgoing-payment-grant";

/// Path segments a hosted wallet address may not use, because the routes above own them.
pub(crate) const RESERVED_NAMES: [&str; 4] = ["auth", "rs", "_sandbox", "favicon.ico"];

/// Builds the router with fault injection on every protocol route (not on the control API).
pub(crate) fn router(shared: Shared) -> Router {
    let protocol = Router::new()
        .route(WALLET_ADDRESS, get(wallet::get_wallet_address))
        .route(WALLET_ADDRESS_KEYS, get(wallet::get_keys))
        .route(GRANT_REQUEST, post(grant::request))
        .route(
            CONTINUE,
            post(continuation::continue_grant).delete(continuation::cancel),
        )
        .route(TOKEN, post(token::rotate).delete(token::revoke))
        .route(INTERACTION_START, get(interaction::start))
        .route(INTERACTION_CHOICE, post(interaction::choice))
        .route(INTERACTION_FINISH, get(interaction::finish))
        .route(
            INCOMING_PAYMENTS,
            post(resource::create_incoming_payment).get(resource::list_incoming_payments),
        )
        .route(INCOMING_PAYMENT, get(resource::get_incoming_payment))
        .route(
            INCOMING_PAYMENT_COMPLETE,
            post(resource::complete_incoming_payment),
        )
        .route(QUOTES, post(resource::create_quote))
        .route(QUOTE, get(resource::get_quote))
        .route(
            OUTGOING_PAYMENTS,
            post(resource::create_outgoing_payment).get(resource::list_outgoing_payments),
        )
        .route(OUTGOING_PAYMENT, get(resource::get_outgoing_payment))
        .route(
            OUTGOING_PAYMENT_GRANT,
            get(resource::get_grant_spent_amounts),
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.faults.clone(),
            faults::inject,
        ))
        .layer(axum::middleware::from_fn(guard::single_content_type));
    let control = Router::new()
        .route(
            "/_sandbox/faults",
            get(admin::list_faults).delete(admin::clear_faults),
        )
        .route(
            "/_sandbox/faults/{route}",
            put(admin::set_fault).delete(admin::clear_fault),
        )
        .route(
            "/_sandbox/interactions/{id}/approve",
            post(admin::approve_interaction),
        )
        .route(
            "/_sandbox/interactions/{id}/deny",
            post(admin::deny_interaction),
        )
        .route(
            "/_sandbox/wallet-addresses/{name}",
            put(admin::put_wallet_address),
        )
        .route("/_sandbox/clock", get(admin::get_clock))
        .route("/_sandbox/clock/advance", post(admin::advance_clock));
    protocol
        .merge(control)
        .fallback(guard::not_found)
        .with_state(shared)
}
