//! ISO 8601 repeating intervals for Open Payments limits: parsing, windows and allowance.
//!
//! See `ARCHITECTURE.md` at the root of the workspace for where this crate sits.
