//! The subcommands of the `grantflow` binary, one file each.

pub mod interval;
pub mod keys;
pub mod output;
pub mod sandbox;
