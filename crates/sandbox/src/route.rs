//! [`Route`]: the named endpoints, and the route table: every path the sandbox serves, in one
//! place. The router (`router.rs`) wires these paths to their handlers; fault injection and the
//! request journal name a request by its [`Route`].
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
//! POST   /rs/incoming-payments                    create                    (resource/incoming.rs)
//! GET    /rs/incoming-payments?wallet-address=    list                      (resource/incoming.rs)
//! GET    /rs/incoming-payments/{id}               get (public without auth) (resource/incoming.rs)
//! POST   /rs/incoming-payments/{id}/complete      complete                  (resource/incoming.rs)
//! POST   /rs/quotes                               create                    (resource/quote.rs)
//! GET    /rs/quotes/{id}                          get                       (resource/quote.rs)
//! POST   /rs/outgoing-payments                    create (limits enforced)  (resource/outgoing.rs)
//! GET    /rs/outgoing-payments?wallet-address=    list                      (resource/outgoing.rs)
//! GET    /rs/outgoing-payments/{id}               get                       (resource/outgoing.rs)
//! GET    /rs/outgoing-payment-grant               the grant's spent amounts (resource/spending.rs)
//! ...    /_sandbox/...                            control API for tests     (admin.rs)
//! ```

use std::fmt;
use std::str::FromStr;

use axum::http::Method;
use serde::{Deserialize, Serialize};

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

/// A named sandbox endpoint, the unit fault injection targets.
///
/// The names (see [`Route::name`]) are what the admin HTTP API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `GET <wallet address>`
    WalletAddress,
    /// `GET <wallet address>/jwks.json`
    WalletAddressKeys,
    /// `POST <authServer>`: the grant request.
    GrantRequest,
    /// `POST <continue uri>`: continue (with `interact_ref`) or poll.
    Continue,
    /// `DELETE <continue uri>`: cancel or revoke the grant.
    Cancel,
    /// `POST <manage url>`: rotate the access token.
    TokenRotate,
    /// `DELETE <manage url>`: revoke the access token.
    TokenRevoke,
    /// `GET <interact redirect>`: the consent page (interaction start).
    InteractionStart,
    /// `POST .../choice`: the consent form's Approve/Deny.
    InteractionChoice,
    /// `GET .../finish`: the interaction finish (redirect to the client).
    InteractionFinish,
    /// `POST <RS>/incoming-payments`
    IncomingPaymentCreate,
    /// `GET <RS>/incoming-payments`
    IncomingPaymentList,
    /// `GET <RS>/incoming-payments/{id}`
    IncomingPaymentGet,
    /// `POST <RS>/incoming-payments/{id}/complete`
    IncomingPaymentComplete,
    /// `POST <RS>/quotes`
    QuoteCreate,
    /// `GET <RS>/quotes/{id}`
    QuoteGet,
    /// `POST <RS>/outgoing-payments`
    OutgoingPaymentCreate,
    /// `GET <RS>/outgoing-payments`
    OutgoingPaymentList,
    /// `GET <RS>/outgoing-payments/{id}`
    OutgoingPaymentGet,
    /// `GET <RS>/outgoing-payment-grant`: the grant's spent amounts.
    OutgoingPaymentGrant,
}

impl Route {
    /// Every route, in the order of the table above.
    pub const ALL: [Route; 20] = [
        Route::WalletAddress,
        Route::WalletAddressKeys,
        Route::GrantRequest,
        Route::Continue,
        Route::Cancel,
        Route::TokenRotate,
        Route::TokenRevoke,
        Route::InteractionStart,
        Route::InteractionChoice,
        Route::InteractionFinish,
        Route::IncomingPaymentCreate,
        Route::IncomingPaymentList,
        Route::IncomingPaymentGet,
        Route::IncomingPaymentComplete,
        Route::QuoteCreate,
        Route::QuoteGet,
        Route::OutgoingPaymentCreate,
        Route::OutgoingPaymentList,
        Route::OutgoingPaymentGet,
        Route::OutgoingPaymentGrant,
    ];

    /// The route's name in the admin API, e.g. `token_rotate`.
    pub fn name(self) -> &'static str {
        match self {
            Route::WalletAddress => "wallet_address",
            Route::WalletAddressKeys => "wallet_address_keys",
            Route::GrantRequest => "grant_request",
            Route::Continue => "continue",
            Route::Cancel => "cancel",
            Route::TokenRotate => "token_rotate",
            Route::TokenRevoke => "token_revoke",
            Route::InteractionStart => "interaction_start",
            Route::InteractionChoice => "interaction_choice",
            Route::InteractionFinish => "interaction_finish",
            Route::IncomingPaymentCreate => "incoming_payment_create",
            Route::IncomingPaymentList => "incoming_payment_list",
            Route::IncomingPaymentGet => "incoming_payment_get",
            Route::IncomingPaymentComplete => "incoming_payment_complete",
            Route::QuoteCreate => "quote_create",
            Route::QuoteGet => "quote_get",
            Route::OutgoingPaymentCreate => "outgoing_payment_create",
            Route::OutgoingPaymentList => "outgoing_payment_list",
            Route::OutgoingPaymentGet => "outgoing_payment_get",
            Route::OutgoingPaymentGrant => "outgoing_payment_grant",
        }
    }

    /// The route an HTTP method and axum path template belong to (the templates above).
    pub(crate) fn from_matched(method: &Method, template: &str) -> Option<Route> {
        let route = match (method.as_str(), template) {
            ("GET", WALLET_ADDRESS) => Route::WalletAddress,
            ("GET", WALLET_ADDRESS_KEYS) => Route::WalletAddressKeys,
            ("POST", GRANT_REQUEST) => Route::GrantRequest,
            ("POST", CONTINUE) => Route::Continue,
            ("DELETE", CONTINUE) => Route::Cancel,
            ("POST", TOKEN) => Route::TokenRotate,
            ("DELETE", TOKEN) => Route::TokenRevoke,
            ("GET", INTERACTION_START) => Route::InteractionStart,
            ("POST", INTERACTION_CHOICE) => Route::InteractionChoice,
            ("GET", INTERACTION_FINISH) => Route::InteractionFinish,
            ("POST", INCOMING_PAYMENTS) => Route::IncomingPaymentCreate,
            ("GET", INCOMING_PAYMENTS) => Route::IncomingPaymentList,
            ("GET", INCOMING_PAYMENT) => Route::IncomingPaymentGet,
            ("POST", INCOMING_PAYMENT_COMPLETE) => Route::IncomingPaymentComplete,
            ("POST", QUOTES) => Route::QuoteCreate,
            ("GET", QUOTE) => Route::QuoteGet,
            ("POST", OUTGOING_PAYMENTS) => Route::OutgoingPaymentCreate,
            ("GET", OUTGOING_PAYMENTS) => Route::OutgoingPaymentList,
            ("GET", OUTGOING_PAYMENT) => Route::OutgoingPaymentGet,
            ("GET", OUTGOING_PAYMENT_GRANT) => Route::OutgoingPaymentGrant,
            _ => return None,
        };
        Some(route)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given is not one of [`Route::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown sandbox route {0:?}; known routes: wallet_address, wallet_address_keys, grant_request, continue, cancel, token_rotate, token_revoke, interaction_start, interaction_choice, interaction_finish, incoming_payment_create, incoming_payment_list, incoming_payment_get, incoming_payment_complete, quote_create, quote_get, outgoing_payment_create, outgoing_payment_list, outgoing_payment_get, outgoing_payment_grant"
)]
pub struct UnknownRoute(pub String);

impl FromStr for Route {
    type Err = UnknownRoute;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Route::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRoute(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Route::ALL {
            assert_eq!(r.name().parse::<Route>(), Ok(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.name()));
        }
        assert!("nope".parse::<Route>().is_err());
    }
}
