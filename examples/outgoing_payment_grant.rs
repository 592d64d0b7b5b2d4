//! The seed flow "Create an outgoing payment grant request", in Rust.
//!
//! Fetches the wallet address, requests an interactive `outgoing-payment` grant with a
//! `debitAmount` limit (and, optionally, an `interval` over which the limit resets) from its
//! authorization server, and prints where the user must go and how to continue the grant:
//!
//! ```text
//! Please interact at the following URL: https://auth.example/interact/...
//! CONTINUE_ACCESS_TOKEN = ...
//! CONTINUE_URI = https://auth.example/continue/...
//! ```
//!
//! Settings (environment variables, as in the seed):
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `WALLET_ADDRESS` | yes | the client's wallet address URL, whose `jwks.json` publishes the key; also the account to debit |
//! | `PRIVATE_KEY_PATH` | yes | the Ed25519 private key, PKCS#8 PEM (`grantflow keys generate`) |
//! | `KEY_ID` | yes | the key's id (`kid`) in the wallet address's `jwks.json` |
//! | `DEBIT_AMOUNT` | yes | the debit limit in minor units (the seed takes it from a quote's `debitAmount.value`) |
//! | `DEBIT_ASSET_CODE`, `DEBIT_ASSET_SCALE` | no | the limit's asset; default: the wallet address's `assetCode`/`assetScale` |
//! | `INTERVAL` | no | an ISO 8601 repeating interval such as `R/2016-08-24T08:00:00Z/P1D` |
//! | `FINISH_URI` | no | where the AS redirects the user afterwards; default `http://localhost:3344` |
//! | `NONCE` | no | the client nonce of the finish hash; default: a new random one, printed as `NONCE = ...` |
//!
//! Run it against the local sandbox (`grantflow sandbox`) or any Open Payments server:
//!
//! ```text
//! WALLET_ADDRESS=... PRIVATE_KEY_PATH=key.pem KEY_ID=... DEBIT_AMOUNT=1000 \
//!     cargo run --example outgoing_payment_grant
//! ```
//!
//! Then open the URL, approve, take `interact_ref` from the finish redirect and run the
//! `continue_grant` example.

use std::process::ExitCode;

use anyhow::{Context, bail};
use grantflow::client::Client;
use grantflow::protocol::amount::Amount;
use grantflow::protocol::grant::{
    AccessAction, AccessItem, AccessTokenRequest, FinishMethod, GrantRequest, GrantResponse,
    InteractFinish, InteractRequest, InteractStart, OutgoingPaymentAccess, OutgoingPaymentLimits,
};
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
    let wallet_address_url: Url = required("WALLET_ADDRESS", "the client's wallet address URL")?
        .parse()
        .context("WALLET_ADDRESS is not a URL")?;
    let private_key_path = required(
        "PRIVATE_KEY_PATH",
        "the Ed25519 PKCS#8 PEM key file (make one with `grantflow keys generate`)",
    )?;
    let key_id = required(
        "KEY_ID",
        "the key's `kid` in the wallet address's jwks.json",
    )?;
    let debit_value: u64 = required(
        "DEBIT_AMOUNT",
        "the debit limit in minor units of the wallet's asset, e.g. 1000",
    )?
    .parse()
    .context("DEBIT_AMOUNT must be a whole number of minor units, e.g. 1000")?;
    let interval = optional("INTERVAL")
        .map(|s| s.parse())
        .transpose()
        .context(
            "INTERVAL is not an ISO 8601 repeating interval like R/2016-08-24T08:00:00Z/P1D",
        )?;
    let finish_uri = optional("FINISH_URI").unwrap_or_else(|| "http://localhost:3344".to_owned());
    let (nonce, nonce_generated) = match optional("NONCE") {
        Some(nonce) => (Secret::new(nonce), false),
        None => (Secret::new(uuid::Uuid::new_v4().to_string()), true),
    };

    // Initialize client
    let key = PrivateKey::from_pkcs8_pem_file(private_key_path.as_ref())
        .context("PRIVATE_KEY_PATH: cannot load the private key")?;
    let client = Client::builder(wallet_address_url.clone(), key_id, key)
        .build()
        .context("cannot build the Open Payments client")?;

    // Get wallet address information
    let wallet_address = client
        .get_wallet_address(&wallet_address_url)
        .await
        .context("cannot fetch WALLET_ADDRESS")?;
    let asset_code = optional("DEBIT_ASSET_CODE").unwrap_or(wallet_address.asset_code.clone());
    let asset_scale = match optional("DEBIT_ASSET_SCALE") {
        Some(scale) => scale
            .parse()
            .context("DEBIT_ASSET_SCALE must be a whole number from 0 to 255")?,
        None => wallet_address.asset_scale,
    };

    // Request outgoing payment grant
    let request = GrantRequest {
        access_token: Some(AccessTokenRequest {
            access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
                identifier: wallet_address.id.clone(),
                actions: vec![
                    AccessAction::List,
                    AccessAction::ListAll,
                    AccessAction::Read,
                    AccessAction::ReadAll,
                    AccessAction::Create,
                ],
                limits: Some(OutgoingPaymentLimits {
                    receiver: None,
                    debit_amount: Some(Amount::new(debit_value, asset_code, asset_scale)),
                    receive_amount: None,
                    interval,
                }),
            })],
        }),
        client: client.grant_client(),
        interact: Some(InteractRequest {
            start: vec![InteractStart::Redirect],
            finish: Some(InteractFinish {
                method: FinishMethod::Redirect,
                uri: finish_uri,
                nonce: nonce.clone(),
            }),
        }),
        subject: None,
    };
    let auth_server: Url = wallet_address
        .auth_server
        .parse()
        .context("the wallet address's authServer is not a URL")?;
    let grant = client
        .request_grant(&auth_server, &request)
        .await
        .context("the grant request failed")?;

    // Check grant state
    let GrantResponse::Pending(grant) = grant else {
        bail!("Expected interactive grant");
    };

    // Output
    println!(
        "Please interact at the following URL: {}",
        grant.interact.redirect
    );
    println!(
        "CONTINUE_ACCESS_TOKEN = {}",
        grant.continue_.access_token.value.expose()
    );
    println!("CONTINUE_URI = {}", grant.continue_.uri);
    if nonce_generated {
        // Needed to check the `hash` of the finish redirect (it was not given, so it is new).
        println!("NONCE = {}", nonce.expose());
    }
    Ok(())
}

/// A setting that must be present and non-empty.
fn required(name: &str, what: &str) -> anyhow::Result<String> {
    optional(name).with_context(|| format!("{name} is not set: set it to {what}"))
}

/// A setting that may be absent (an empty value counts as absent).
fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
