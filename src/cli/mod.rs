//! The subcommands of the `grantflow` binary, one file each.
//!
//! # Layout
//!
//! - `demo/`: `grantflow demo` (`mod.rs` the steps, `timeline.rs` the printed timeline,
//!   `calls.rs` the observed calls and the staged crash).
//! - `pay.rs`: `grantflow pay` and `grantflow pay status` (one payment under a grant).
//! - `schedule.rs`: `grantflow schedule`, recurring payments from the shell.
//! - `worker.rs`, `grant.rs`: the engine from the shell (`watch.rs`: `grant watch`, the change
//!   feed); `engine.rs` the settings they share
//!   (database, client identity) and how an engine is built from them; `operations.rs` the
//!   worker's metrics recorder (served with the health endpoints); `webhook.rs` the worker's
//!   webhook flags.
//! - `sandbox.rs`: `grantflow sandbox`; `keys.rs`: `grantflow keys`; `interval.rs`: `grantflow
//!   interval`; `storage_keys.rs`: `grantflow keys storage` and the `--storage-key-file` flags.
//! - `browser.rs`: the demo's small browser (cookies, redirects, the consent form) and
//!   `display_url`, which hides secrets in printed URLs.
//! - `output.rs`: how one-shot commands print (`--json`), fail and exit, and the one time format.
//! - `lookup.rs`: grant ids as typed (a whole id or a unique prefix), and "no such grant".
//! - `seconds.rs`: the range every duration flag is checked against.
//!
//! Error policy: `anyhow` here only, at the edge; every error says what to do next. The crates
//! below return typed errors.

pub mod browser;
pub mod demo;
pub mod engine;
pub mod grant;
pub mod interval;
pub mod keys;
pub mod lookup;
pub mod operations;
pub mod output;
pub mod pay;
pub mod sandbox;
pub mod schedule;
pub mod seconds;
pub mod storage_keys;
pub mod watch;
pub mod webhook;
pub mod worker;
