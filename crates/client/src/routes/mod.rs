//! The Open Payments calls, one file per resource; each is a thin `impl Client` block over
//! [`Client::execute`](crate::Client).

mod grant;
mod token;
mod wallet_address;
