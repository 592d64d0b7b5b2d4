//! Open Payments wire types, RFC 9421 HTTP message signatures, the GNAP finish hash and keys (no I/O).
//!
//! See `ARCHITECTURE.md` at the root of the workspace for where this crate sits.
