//! The subcommands of the `grantflow` binary, one file each.

pub mod browser;
pub mod demo;
pub mod engine;
pub mod grant;
pub mod interval;
pub mod keys;
pub mod output;
pub mod sandbox;
pub mod worker;
