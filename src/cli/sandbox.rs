//! `grantflow sandbox`: run the local Open Payments server (`grantflow-sandbox`) in the
//! foreground until ctrl-c (or SIGTERM), printing the wallet addresses it hosts.
//!
//! Every flag has a `GRANTFLOW_SANDBOX_*` environment variable. `--client-key` publishes the
//! public half of a key file at a client wallet address, so `grantflow worker`, the examples or
//! any Open Payments client can sign as that wallet address right away.
//!
//! The log on stderr has one line per request the sandbox receives (`sandbox: request`: route,
//! status, error code, whether it acted, whether the answer was delivered, fault, grant); the same
//! records are in the journal, `GET /_sandbox/journal`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use grantflow_protocol::finish_hash::FinishHashEncoding;
use grantflow_sandbox::{Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};
use serde_json::json;

use crate::cli::keys::load_key;
use crate::cli::output::{LogFormat, fail, init_logs, runtime};
use crate::cli::seconds::{DAY, YEAR, seconds};

/// `grantflow sandbox ...`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on. Keep it on loopback: the control API has no authentication.
    #[arg(long, env = "GRANTFLOW_SANDBOX_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, env = "GRANTFLOW_SANDBOX_PORT", default_value_t = 4000)]
    port: u16,
    /// Seconds a client must wait between continuation calls (`continue.wait`).
    #[arg(
        long,
        env = "GRANTFLOW_SANDBOX_WAIT_SECONDS",
        default_value_t = 5,
        value_parser = seconds(0, DAY)
    )]
    wait_seconds: u64,
    /// Lifetime of issued access tokens in seconds (`expires_in`).
    #[arg(
        long,
        env = "GRANTFLOW_SANDBOX_TOKEN_LIFETIME",
        default_value_t = 600,
        value_parser = seconds(1, YEAR)
    )]
    token_lifetime: u64,
    /// Lifetime of an interaction (the consent page) in seconds.
    #[arg(
        long,
        env = "GRANTFLOW_SANDBOX_INTERACTION_LIFETIME",
        default_value_t = 600,
        value_parser = seconds(1, YEAR)
    )]
    interaction_lifetime: u64,
    /// Lifetime of a quote in seconds.
    #[arg(
        long,
        env = "GRANTFLOW_SANDBOX_QUOTE_LIFETIME",
        default_value_t = 300,
        value_parser = seconds(1, YEAR)
    )]
    quote_lifetime: u64,
    /// Encoding of the finish redirect's `hash`: `padded` (standard base64 with padding, what
    /// the reference server sends) or `rfc9635` (base64url without padding).
    #[arg(
        long,
        env = "GRANTFLOW_SANDBOX_HASH_ENCODING",
        value_enum,
        default_value = "padded"
    )]
    hash_encoding: HashEncodingArg,
    /// How `limits.interval` windows are computed: `rafiki` (what the reference server
    /// enforces) or `iso` (ISO 8601).
    #[arg(
        long,
        env = "GRANTFLOW_SANDBOX_INTERVAL_READING",
        value_enum,
        default_value = "rafiki"
    )]
    interval_reading: ReadingArg,
    /// A wallet address to host, `NAME[:ASSET[:SCALE]]` (e.g. `alice:USD:2`); repeat the flag
    /// for more. Default: `alice` and `bob` in USD, scale 2.
    #[arg(long = "wallet-address", value_name = "NAME[:ASSET[:SCALE]]")]
    wallet_addresses: Vec<String>,
    /// A PKCS#8 PEM key file whose public key to publish at the client wallet address
    /// (`--client-name`), so a client can sign with it.
    #[arg(long, env = "GRANTFLOW_KEY_FILE", value_name = "PATH")]
    client_key: Option<PathBuf>,
    /// The key id to publish `--client-key` under.
    #[arg(
        long,
        env = "GRANTFLOW_KEY_ID",
        value_name = "KID",
        requires = "client_key"
    )]
    client_key_id: Option<String>,
    /// The name of the client wallet address that publishes `--client-key`.
    #[arg(long, env = "GRANTFLOW_SANDBOX_CLIENT_NAME", default_value = "client")]
    client_name: String,
    /// Print one JSON line (URLs and wallet addresses) once listening, instead of the text.
    #[arg(long)]
    json: bool,
    /// Format of the log on stderr (one line per request the sandbox receives; `RUST_LOG`
    /// filters it, default `info`).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// `--hash-encoding`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum HashEncodingArg {
    /// Standard base64 with padding (the reference server).
    Padded,
    /// base64url without padding (RFC 9635).
    Rfc9635,
}

/// `--interval-reading`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReadingArg {
    /// What the reference server enforces.
    Rafiki,
    /// ISO 8601.
    Iso,
}

/// Runs `grantflow sandbox` until ctrl-c and returns the process exit code.
pub fn run(args: SandboxArgs) -> ExitCode {
    let json_output = args.json;
    init_logs(args.log_format, "info");
    let result = runtime().and_then(|rt| rt.block_on(serve(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fail(json_output, &error);
            ExitCode::FAILURE
        }
    }
}

/// The sandbox configuration the flags describe.
fn config(args: &SandboxArgs) -> anyhow::Result<SandboxConfig> {
    let mut config = SandboxConfig {
        bind: SocketAddr::new(args.bind, args.port),
        wait_seconds: args.wait_seconds,
        access_token_lifetime_seconds: args.token_lifetime,
        interaction_lifetime_seconds: args.interaction_lifetime,
        quote_lifetime_seconds: args.quote_lifetime,
        finish_hash_encoding: match args.hash_encoding {
            HashEncodingArg::Padded => FinishHashEncoding::PaddedBase64,
            HashEncodingArg::Rfc9635 => FinishHashEncoding::Rfc9635,
        },
        interval_reading: match args.interval_reading {
            ReadingArg::Rafiki => grantflow_interval::Reading::RafikiCompatible,
            ReadingArg::Iso => grantflow_interval::Reading::Iso8601,
        },
        ..SandboxConfig::default()
    };
    if !args.wallet_addresses.is_empty() {
        config.wallet_addresses = args
            .wallet_addresses
            .iter()
            .map(|spec| parse_wallet_address(spec))
            .collect::<anyhow::Result<_>>()?;
    }
    if let Some(path) = &args.client_key {
        let key_id = args.client_key_id.as_deref().with_context(|| {
            "--client-key needs --client-key-id: the key id to publish the key under".to_owned()
        })?;
        let key = load_key(path)?;
        config.wallet_addresses.push(WalletAddressSpec::client(
            &args.client_name,
            "grantflow client",
            key.public_jwks(key_id),
        ));
    }
    Ok(config)
}

/// Parses `NAME[:ASSET[:SCALE]]`.
fn parse_wallet_address(spec: &str) -> anyhow::Result<WalletAddressSpec> {
    let mut parts = spec.split(':');
    let name = parts.next().unwrap_or_default();
    anyhow::ensure!(
        !name.is_empty(),
        "--wallet-address {spec:?}: expected NAME[:ASSET[:SCALE]], e.g. alice:USD:2"
    );
    let asset = parts.next().unwrap_or("USD");
    let scale = match parts.next() {
        Some(scale) => scale.parse().with_context(|| {
            format!("--wallet-address {spec:?}: the scale must be a number from 0 to 255")
        })?,
        None => 2,
    };
    anyhow::ensure!(
        parts.next().is_none(),
        "--wallet-address {spec:?}: expected NAME[:ASSET[:SCALE]], e.g. alice:USD:2"
    );
    let mut public_name = name.to_owned();
    if let Some(first) = public_name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    Ok(WalletAddressSpec::account(name, &public_name, asset, scale))
}

async fn serve(args: SandboxArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let addr = config.bind;
    let sandbox = Sandbox::start(config).await.with_context(|| {
        format!(
            "cannot start the sandbox on {addr} (is the port in use? pick another with --port, or \
             --port 0 for a free one)"
        )
    })?;
    print_listening(&sandbox, args.json)?;
    shutdown_signal().await?;
    if !args.json {
        println!("Stopping the sandbox.");
    }
    sandbox.shutdown().await;
    Ok(())
}

fn print_listening(sandbox: &SandboxHandle, json_output: bool) -> anyhow::Result<()> {
    let wallet_addresses: Vec<_> = sandbox
        .config()
        .wallet_addresses
        .iter()
        .map(|w| {
            json!({
                "name": w.name,
                "url": sandbox.wallet_address_url(&w.name),
                "asset_code": w.asset_code,
                "asset_scale": w.asset_scale,
                "keys": w.keys.keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    if json_output {
        println!(
            "{}",
            json!({
                "base_url": sandbox.base_url(),
                "auth_server": sandbox.auth_server_url(),
                "resource_server": sandbox.resource_server_url(),
                "wallet_addresses": wallet_addresses,
            })
        );
        return Ok(());
    }
    println!("grantflow sandbox listening on {}", sandbox.base_url());
    println!("  authorization server  {}", sandbox.auth_server_url());
    println!("  resource server       {}", sandbox.resource_server_url());
    println!("Wallet addresses:");
    for w in &sandbox.config().wallet_addresses {
        let keys = if w.keys.keys.is_empty() {
            String::new()
        } else {
            let kids: Vec<_> = w.keys.keys.iter().map(|k| k.kid.as_str()).collect();
            format!("  keys: {}", kids.join(", "))
        };
        println!(
            "  {:<40} {} (scale {}){keys}",
            sandbox.wallet_address_url(&w.name),
            w.asset_code,
            w.asset_scale
        );
    }
    println!("Press ctrl-c to stop.");
    Ok(())
}

/// Resolves on ctrl-c, or SIGTERM on Unix.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot listen for ctrl-c")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for ctrl-c")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallet_address_flags_parse_with_defaults() {
        let w = parse_wallet_address("carol").unwrap();
        assert_eq!(
            (w.name.as_str(), w.asset_code.as_str(), w.asset_scale),
            ("carol", "USD", 2)
        );
        assert_eq!(w.public_name.as_deref(), Some("Carol"));
        let w = parse_wallet_address("dave:EUR:3").unwrap();
        assert_eq!((w.asset_code.as_str(), w.asset_scale), ("EUR", 3));
        assert!(parse_wallet_address(":USD").is_err());
        assert!(parse_wallet_address("a:USD:x").is_err());
        assert!(parse_wallet_address("a:USD:2:9").is_err());
    }
}
