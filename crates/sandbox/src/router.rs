//! The router: wires every path of the route table (`route.rs`) to its handler, with the request
//! middleware (fault injection, journal, log line) around every protocol route and the control
//! API beside them.

use axum::Router;
use axum::routing::{get, post, put};

use crate::route::{
    CONTINUE, GRANT_REQUEST, INCOMING_PAYMENT, INCOMING_PAYMENT_COMPLETE, INCOMING_PAYMENTS,
    INTERACTION_CHOICE, INTERACTION_FINISH, INTERACTION_START, OUTGOING_PAYMENT,
    OUTGOING_PAYMENT_GRANT, OUTGOING_PAYMENTS, QUOTE, QUOTES, TOKEN, WALLET_ADDRESS,
    WALLET_ADDRESS_KEYS,
};
use crate::state::Shared;
use crate::{admin, continuation, grant, guard, interaction, intercept, resource, token, wallet};

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
            post(resource::incoming::create_incoming_payment)
                .get(resource::incoming::list_incoming_payments),
        )
        .route(
            INCOMING_PAYMENT,
            get(resource::incoming::get_incoming_payment),
        )
        .route(
            INCOMING_PAYMENT_COMPLETE,
            post(resource::incoming::complete_incoming_payment),
        )
        .route(QUOTES, post(resource::quote::create_quote))
        .route(QUOTE, get(resource::quote::get_quote))
        .route(
            OUTGOING_PAYMENTS,
            post(resource::outgoing::create_outgoing_payment)
                .get(resource::outgoing::list_outgoing_payments),
        )
        .route(
            OUTGOING_PAYMENT,
            get(resource::outgoing::get_outgoing_payment),
        )
        .route(
            OUTGOING_PAYMENT_GRANT,
            get(resource::spending::get_grant_spent_amounts),
        )
        .layer(axum::middleware::from_fn(guard::single_content_type))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            intercept::observe,
        ));
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
        .route(
            "/_sandbox/journal",
            get(admin::get_journal).delete(admin::clear_journal),
        )
        .route("/_sandbox/clock", get(admin::get_clock))
        .route("/_sandbox/clock/advance", post(admin::advance_clock));
    protocol
        .merge(control)
        .fallback(guard::not_found)
        .with_state(shared)
}
