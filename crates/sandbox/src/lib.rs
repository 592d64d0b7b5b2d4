//! A local Open Payments server (authorization server, resource server, wallet addresses, consent page) for the demo, tests and development.
//!
//! See `ARCHITECTURE.md` at the root of the workspace for where this crate sits.
