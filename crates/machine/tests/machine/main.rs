//! Integration tests of the grant lifecycle machine: the seed flows step by step, the property
//! tests, the stored format and the generated diagram.

#![allow(clippy::unwrap_used, clippy::expect_used)] // fixtures: a panic is the test failing

mod common;
mod diagram;
mod properties;
mod seeds;
mod snapshot;
