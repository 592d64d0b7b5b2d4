//! Async HTTP client for Open Payments wallet addresses, authorization servers and resource servers.
//!
//! See `ARCHITECTURE.md` at the root of the workspace for where this crate sits.
