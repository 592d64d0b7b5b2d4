//! grantflow: Open Payments grants as durable workflows.
//!
//! This facade re-exports the workspace's crates under one name. See `README.md` for the tour and
//! `ARCHITECTURE.md` for the map.
//!
//! - [`machine`]: the pure grant lifecycle (states, events, effects).
//! - [`interval`]: ISO 8601 repeating intervals, windows and allowance.
//! - [`protocol`]: Open Payments wire types, HTTP message signatures, the finish hash, keys.

pub use grantflow_interval as interval;
pub use grantflow_machine as machine;
pub use grantflow_protocol as protocol;
