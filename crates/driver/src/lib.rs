//! The durable grant engine: leased workers, effects through the client, the finish callback and the application API.
//!
//! See `ARCHITECTURE.md` at the root of the workspace for where this crate sits.
