//! Integration tests of the schedule machine: flows step by step, the property tests against a
//! model of the engine's idempotent payments, and the generated diagram.

#![allow(clippy::unwrap_used, clippy::expect_used)] // fixtures: a panic is the test failing

mod common;
mod diagram;
mod flows;
mod properties;
