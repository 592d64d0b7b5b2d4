//! The Open Payments calls, one file per resource; each is a thin `impl Client` block over the
//! transport.

mod common;
mod grant;
mod incoming_payment;
mod outgoing_payment;
mod quote;
mod token;
mod wallet_address;
