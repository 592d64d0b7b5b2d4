//! The entry point of the request-body fuzz target (`fuzz/`, issue 13): the exact parsing the
//! handlers run on a body, without the server around it. Not part of the API.
//!
//! Each route that reads a body is here with the function its handler calls: the grant request
//! (`grant::client_of`, then `grant::parse_request`), continue (`continuation::interact_ref_of`)
//! and the resource server's create routes (`resource::parse_body` into the protocol's `Create*`
//! types). Token rotation and the other routes read no body. Every refusal is the handler's own
//! GNAP/Open Payments error body, so a fuzzer can check that it carries a `code`.

use grantflow_protocol::error::GnapError;
use grantflow_protocol::incoming_payment::CreateIncomingPayment;
use grantflow_protocol::outgoing_payment::CreateOutgoingPayment;
use grantflow_protocol::quote::CreateQuote;

use crate::error::ApiError;
use crate::route::Route;
use crate::{continuation, grant, resource};

/// The routes whose handlers read a request body.
pub const BODY_ROUTES: [Route; 5] = [
    Route::GrantRequest,
    Route::Continue,
    Route::IncomingPaymentCreate,
    Route::QuoteCreate,
    Route::OutgoingPaymentCreate,
];

/// Parses `body` as `route`'s handler does: `Ok` when the handler would go on, the error body it
/// would answer otherwise. A route that reads no body accepts any.
pub fn parse_body(route: Route, body: &[u8]) -> Result<(), GnapError> {
    let refused = |e: ApiError| e.body;
    match route {
        Route::GrantRequest => {
            grant::client_of(body);
            grant::parse_request(body).map(drop).map_err(refused)
        }
        Route::Continue => continuation::interact_ref_of(body)
            .map(drop)
            .map_err(refused),
        Route::IncomingPaymentCreate => resource::parse_body::<CreateIncomingPayment>(body)
            .map(drop)
            .map_err(refused),
        Route::QuoteCreate => resource::parse_body::<CreateQuote>(body)
            .map(drop)
            .map_err(refused),
        Route::OutgoingPaymentCreate => resource::parse_body::<CreateOutgoingPayment>(body)
            .map(drop)
            .map_err(refused),
        _ => Ok(()),
    }
}
