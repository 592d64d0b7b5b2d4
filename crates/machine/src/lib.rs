//! The pure grant lifecycle of an Open Payments grant: a total, deterministic transition function (no I/O, no clock).
//!
//! See `ARCHITECTURE.md` at the root of the workspace for where this crate sits.
