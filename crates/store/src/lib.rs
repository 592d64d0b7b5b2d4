//! Durable persistence of grants and their event log: PostgreSQL, and SQLite as the embedded default.
//!
//! See `ARCHITECTURE.md` at the root of the workspace for where this crate sits.
