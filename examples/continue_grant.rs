//! The seed flow "Continue a grant request", in Rust.
//!
//! After the user approved the grant that the `outgoing_payment_grant` example requested, the
//! authorization server redirected their browser to the finish URI with `interact_ref` (and
//! `hash`). This example sends the continuation request with that reference and prints the
//! access token it gets:
//!
//! ```text
//! OUTGOING_PAYMENT_ACCESS_TOKEN = ...
//! OUTGOING_PAYMENT_ACCESS_TOKEN_MANAGE_URL = https://auth.example/token/...
//! ```
//!
//! Settings (environment variables, as in the seed):
//!
//! | variable | meaning |
//! |---|---|
//! | `WALLET_ADDRESS` | the client's wallet address URL |
//! | `PRIVATE_KEY_PATH` | the Ed25519 private key, PKCS#8 PEM |
//! | `KEY_ID` | the key's id in the wallet address's `jwks.json` |
//! | `CONTINUE_ACCESS_TOKEN` | printed by `outgoing_payment_grant` |
//! | `CONTINUE_URI` | printed by `outgoing_payment_grant` |
//! | `INTERACT_REF` | the `interact_ref` query parameter of the finish redirect |
//!
//! A continuation is not idempotent: the authorization server accepts an `interact_ref` once.
//! Run this once per approval (the durable engine in `grantflow-driver` handles a lost answer).

use std::process::ExitCode;

use anyhow::{Context, bail};
use grantflow::client::Client;
use grantflow::protocol::grant::GrantResponse;
use grantflow::protocol::keys::PrivateKey;
use grantflow::protocol::secret::Secret;
use url::Url;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    // Settings, as the seed names them.
    let wallet_address: Url = required("WALLET_ADDRESS", "the client's wallet address URL")?
        .parse()
        .context("WALLET_ADDRESS is not a URL")?;
    let private_key_path = required("PRIVATE_KEY_PATH", "the Ed25519 PKCS#8 PEM key file")?;
    let key_id = required(
        "KEY_ID",
        "the key's `kid` in the wallet address's jwks.json",
    )?;
    let continue_access_token = Secret::new(required(
        "CONTINUE_ACCESS_TOKEN",
        "the CONTINUE_ACCESS_TOKEN printed by the outgoing_payment_grant example",
    )?);
    let continue_uri: Url = required(
        "CONTINUE_URI",
        "the CONTINUE_URI printed by the outgoing_payment_grant example",
    )?
    .parse()
    .context("CONTINUE_URI is not a URL")?;
    let interact_ref = Secret::new(required(
        "INTERACT_REF",
        "the `interact_ref` query parameter of the finish redirect after approval",
    )?);

    // Initialize client
    let key = PrivateKey::from_pkcs8_pem_file(private_key_path.as_ref())
        .context("PRIVATE_KEY_PATH: cannot load the private key")?;
    let client = Client::builder(wallet_address, key_id, key)
        .build()
        .context("cannot build the Open Payments client")?;

    // Continue grant
    let grant = client
        .continue_grant(&continue_uri, &continue_access_token, Some(&interact_ref))
        .await
        .context("the continuation request failed")?;

    // Check grant state
    let GrantResponse::Issued(grant) = grant else {
        bail!("Expected finalized grant. Received non-finalized grant.");
    };

    // Output
    println!(
        "OUTGOING_PAYMENT_ACCESS_TOKEN = {}",
        grant.access_token.value.expose()
    );
    println!(
        "OUTGOING_PAYMENT_ACCESS_TOKEN_MANAGE_URL = {}",
        grant.access_token.manage
    );
    Ok(())
}

/// A setting that must be present and non-empty.
fn required(name: &str, what: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("{name} is not set: set it to {what}"))
}
