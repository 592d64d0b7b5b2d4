//! `grantflow worker`: claims and advances due grants, and serves the finish callback (and
//! `/healthz`, `/readyz`, `/metrics` for operators: `docs/operations.md`, and the console at
//! `/console`: `docs/console.md`), until ctrl-c or
//! SIGTERM; then shuts down gracefully (stops claiming, lets calls in flight finish
//! within the grace period, releases the rest to their leases).
//!
//! Run as many as you like on one PostgreSQL database: leases keep them from running the same
//! grant's calls twice. Logs go to stderr (`RUST_LOG` filters them, `--log-format json` for
//! machines) and never contain a token, nonce, `interact_ref` or key.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use grantflow_console::{ConsoleConfig, OperatorToken, console_router};
use grantflow_driver::{Engine, EngineConfig, Retention, finish_router, operations_router};
use grantflow_protocol::text::display_url;
use url::Url;

use crate::cli::engine::{ClientArgs, DatabaseArgs, LifecycleArgs, Store, build_engine, redact};
use crate::cli::keys::{KeySetDir, watch_key_set};
use crate::cli::operations::install_metrics;
use crate::cli::output::{LogFormat, fail, init_logs, runtime};
use crate::cli::sandbox::shutdown_signal;
use crate::cli::seconds::{DAY, seconds};
use crate::cli::webhook::WebhookArgs;

/// `grantflow worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    lifecycle: LifecycleArgs,
    /// Address the finish callback listens on (the `--public-url` must reach it).
    #[arg(
        long,
        env = "GRANTFLOW_LISTEN",
        default_value = "127.0.0.1:3344",
        value_name = "ADDR"
    )]
    listen: SocketAddr,
    /// This worker's id in leases (default: `worker-<pid>-<random>`); unique per process.
    #[arg(long, env = "GRANTFLOW_WORKER_ID", value_name = "ID")]
    worker_id: Option<String>,
    /// Lease length in seconds: how long a grant waits for another worker if this one dies.
    #[arg(
        long,
        env = "GRANTFLOW_LEASE_SECONDS",
        default_value_t = 30,
        value_parser = seconds(1, DAY)
    )]
    lease_seconds: u64,
    /// Seconds a graceful shutdown lets calls in flight finish.
    #[arg(
        long,
        env = "GRANTFLOW_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        value_parser = seconds(0, DAY)
    )]
    shutdown_grace_seconds: u64,
    /// With --key-set: seconds between re-reads of the key set (a `keys activate` or `retire`
    /// takes effect within this).
    #[arg(
        long,
        env = "GRANTFLOW_KEY_RELOAD_SECONDS",
        default_value_t = 5,
        value_parser = seconds(1, DAY)
    )]
    key_reload_seconds: u64,
    /// Days final grants (rejected, canceled, revoked, failed, lost, expired) and their events
    /// are kept after their last change before the worker deletes them; `off` (or 0) keeps
    /// them forever. Default 90: past a card-dispute window, and short enough that the tables
    /// stop growing; export what audits need first (`grant history`; docs/operations.md).
    #[arg(
        long,
        env = "GRANTFLOW_RETENTION_DAYS",
        default_value = "90",
        value_name = "DAYS|off",
        value_parser = retention_days
    )]
    retention_days: RetentionDays,
    #[command(flatten)]
    webhook: WebhookArgs,
    /// A file holding the console's operator token (at least 16 characters): whoever signs in
    /// at /console with it may cancel, rotate and revoke grants. Without it the console is
    /// read-only (docs/console.md).
    #[arg(long, env = "GRANTFLOW_CONSOLE_TOKEN_FILE", value_name = "PATH")]
    console_token_file: Option<std::path::PathBuf>,
    /// Log format on stderr.
    #[arg(long, env = "GRANTFLOW_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// Runs the worker until a shutdown signal and returns the process exit code.
pub fn run(args: WorkerArgs) -> ExitCode {
    init_logs(args.log_format, "info");
    let result = runtime().and_then(|rt| rt.block_on(work(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fail(false, &error);
            ExitCode::FAILURE
        }
    }
}

async fn work(args: WorkerArgs) -> anyhow::Result<()> {
    let worker_id = args
        .worker_id
        .clone()
        .unwrap_or_else(|| EngineConfig::unique_worker_id("worker"));
    let mut client = args.client.clone();
    let public_url: Url = match &client.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", args.listen)
            .parse()
            .context("--listen does not make a URL; pass --public-url")?,
    };
    client.public_url = Some(public_url.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for finish callbacks (in use? pass another --listen)",
                args.listen
            )
        })?;
    // With a key set, the client shares its keys with a watcher that follows the folder.
    let key_set = match &client.key_set {
        Some(dir) => {
            let set = KeySetDir::new(dir.clone());
            let keys = set.load()?;
            client.keys = Some(keys.clone());
            Some((set, keys))
        }
        None => None,
    };
    let console = match &args.console_token_file {
        Some(path) => {
            ConsoleConfig::read_only().with_operator_token(OperatorToken::from_file(path)?)
        }
        None => ConsoleConfig::read_only(),
    };
    // Before the engine: it records from its construction on.
    let stop = tokio_util::sync::CancellationToken::new();
    let metrics = install_metrics(stop.clone())?;
    let lease = Duration::from_secs(args.lease_seconds.max(1));
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let webhook = args.webhook.config(lease)?;
    let engine = build_engine(&args.database, &client, worker_id.clone(), true, |config| {
        config.lease = lease;
        config.shutdown_grace = grace;
        args.lifecycle.apply(&mut config.machine);
    })
    .await?;
    engine.start_worker();
    engine.start_grant_counts(GRANT_COUNTS_EVERY);
    if let RetentionDays(Some(days)) = args.retention_days {
        engine.start_retention(Retention::new(Duration::from_secs(days * DAY)));
    }
    // Printed after the first line (which scripts wait for).
    let webhook_line = match webhook {
        Some(webhook) => {
            let (url, consumer) = (display_url(webhook.url.as_str()), webhook.consumer.clone());
            engine.start_webhook(webhook)?;
            Some(format!(
                "grantflow worker {worker_id}: webhook: changes to {url} (consumer {consumer})"
            ))
        }
        None => None,
    };
    let router = finish_router(engine.clone())
        .merge(operations_router(engine.clone(), Some(metrics)))
        .merge(console_routes(engine.clone(), console));
    if let Some((set, keys)) = key_set {
        let every = Duration::from_secs(args.key_reload_seconds.max(1));
        let id = worker_id.clone();
        tokio::spawn(watch_key_set(set, keys, every, stop.clone(), move |keys| {
            println!(
                "grantflow worker {id}: client keys reloaded: signing with {} (published: {})",
                keys.active_key_id(),
                keys.key_ids().join(", ")
            );
        }));
    }
    let server = tokio::spawn({
        let stop = stop.clone();
        async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
    });
    println!(
        "grantflow worker {worker_id}: database {}, client {}, finish callbacks at {}finish/… \
         (listening on {}). ctrl-c to stop.",
        redact(args.database.database_url.as_deref().unwrap_or_default()),
        client.wallet_address.as_ref().map_or("-", |u| u.as_str()),
        ensure_slash(&public_url),
        args.listen
    );
    println!(
        "grantflow worker {worker_id}: console at http://{}/console ({})",
        args.listen,
        if args.console_token_file.is_some() {
            "actions for whoever signs in with the console token"
        } else {
            "read-only: pass --console-token-file for actions"
        }
    );
    if let Some(line) = webhook_line {
        println!("{line}");
    }
    shutdown_signal().await?;
    println!("grantflow worker {worker_id}: stopping (finishing calls in flight)…");
    engine.shutdown().await;
    stop.cancel();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the finish callback server failed"),
        Err(e) => tracing::warn!(error = %e, "the finish callback server task failed"),
    }
    println!("grantflow worker {worker_id}: stopped.");
    Ok(())
}

/// The operator console at `/console` (and `/console/`, redirected there): docs/console.md.
fn console_routes(engine: Engine<Store>, config: ConsoleConfig) -> axum::Router {
    axum::Router::new()
        .nest("/console", console_router(engine, config))
        .route(
            "/console/",
            axum::routing::get(|| async { axum::response::Redirect::permanent("/console") }),
        )
}

fn ensure_slash(url: &Url) -> String {
    let s = url.as_str();
    if s.ends_with('/') {
        s.to_owned()
    } else {
        format!("{s}/")
    }
}

/// How often a worker refreshes the grants-by-state gauge (one aggregate query).
const GRANT_COUNTS_EVERY: Duration = Duration::from_secs(30);

/// `--retention-days`: `None` keeps final grants forever.
#[derive(Debug, Clone, Copy)]
struct RetentionDays(Option<u64>);

/// Parses `--retention-days`: a number of days (at most 100 years), or `off`/`0`.
fn retention_days(text: &str) -> Result<RetentionDays, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(RetentionDays(None));
    }
    match text.parse::<u64>() {
        Ok(0) => Ok(RetentionDays(None)),
        Ok(days) if days <= 36_500 => Ok(RetentionDays(Some(days))),
        _ => Err(format!(
            "{text:?} is not a number of days from 0 to 36500, or `off`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_days_or_off() {
        assert_eq!(retention_days("90").unwrap().0, Some(90));
        assert_eq!(retention_days("off").unwrap().0, None);
        assert_eq!(retention_days("0").unwrap().0, None);
        for bad in ["-1", "36501", "ninety", "1.5"] {
            let err = retention_days(bad).unwrap_err();
            assert!(err.contains("or `off`"), "{err}");
        }
    }
}
