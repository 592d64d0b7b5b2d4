//! [`Amount`]: a value in minor units of an asset, as Open Payments puts it on the wire (`value`
//! a decimal string of a u64, `assetCode`, `assetScale`).
//!
//! The type is `grantflow_interval::Amount`, re-exported here: one type for the wire and for the
//! allowance, so no conversion exists between them. It lives in the interval crate because this
//! crate depends on that one.

pub use grantflow_interval::{Amount, u64_string};
