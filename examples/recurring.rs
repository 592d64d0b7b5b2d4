//! A daily subscription: pay 2.00 in each window of the grant's interval while the grant allows,
//! and ask the user for a new grant when the series ends or the grant is lost.
//!
//! The subscriber is `alice`, the merchant `bob`, both on a sandbox started here. The grant is
//! an outgoing-payment grant with `debitAmount` 2.00 and `interval` `R2/<start>/P1D`; the
//! sandbox enforces it per window in the reference server's reading (`R2` is three daily
//! windows there), and so does this example, with `grantflow-interval`. Days pass by moving the
//! sandbox's clock, so five days take a second:
//!
//! ```text
//! cargo run --example recurring
//! ```
//!
//! The user's consent is given through the sandbox's interaction API, and the finish redirect is
//! handed to the engine with [`Engine::finish_callback`] (an application that serves the
//! callback itself would mount `grantflow::driver::finish_router` instead, see `embed.rs`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use grantflow::client::Client;
use grantflow::driver::{ClientCalls, Engine, EngineConfig, GrantOrder, Interaction};
use grantflow::interval::{Reading, RepeatingInterval};
use grantflow::machine::StateKind;
use grantflow::protocol::amount::Amount;
use grantflow::protocol::grant::{
    AccessAction, AccessItem, IncomingPaymentAccess, OutgoingPaymentAccess, OutgoingPaymentLimits,
};
use grantflow::protocol::incoming_payment::CreateIncomingPayment;
use grantflow::protocol::keys::PrivateKey;
use grantflow::protocol::outgoing_payment::CreateOutgoingPayment;
use grantflow::protocol::wallet_address::WalletAddress;
use grantflow::sandbox::{Sandbox, SandboxClock, SandboxConfig, SandboxHandle, WalletAddressSpec};
use grantflow::seal::{KeyId, KeyRing, SealingStore, StorageKey};
use grantflow::store::{AnyStore, GrantId};
use url::Url;

/// What the subscription pays per window, in minor units.
const PRICE: u64 = 200;
/// How many days the example runs.
const DAYS: u32 = 5;
/// The reading of `R<n>` the sandbox enforces (the reference server's).
const READING: Reading = Reading::RafikiCompatible;

/// The subscription's grant and the interval it was granted for.
struct Subscription {
    grant: GrantId,
    interval: RepeatingInterval,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let start: DateTime<Utc> = Utc::now()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
        .parse()?;
    let clock = SandboxClock::manual(start);
    let key = PrivateKey::generate();
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 0,
        // Tokens outlive the simulated days (the sandbox judges expiry by its own clock).
        access_token_lifetime_seconds: 30 * 24 * 3600,
        clock: clock.clone(),
        ..SandboxConfig::default()
    })
    .await?;
    let our_wallet = sandbox.put_wallet_address(WalletAddressSpec::client(
        "streaming",
        "Example Streaming",
        key.public_jwks("k1"),
    ))?;
    let client = Client::builder(our_wallet.parse()?, "k1", key).build()?;
    // Tokens and nonces are sealed in the database under a storage key; a real deployment loads
    // its key file (`KeyRing::from_file`), made once by `grantflow keys storage generate`.
    // The same keys make the finish URIs' path tokens, which are then never stored.
    let storage_keys = Arc::new(KeyRing::new(vec![StorageKey::generate(KeyId::new(
        "subscriptions-run",
    )?)])?);
    let store = SealingStore::new(
        AnyStore::connect("sqlite::memory:", 1).await?,
        storage_keys.clone(),
    );
    let config = EngineConfig::new("subscriptions-1", our_wallet)
        .with_finish_base_url("http://127.0.0.1:3344/grantflow".parse()?)
        .with_finish_token_keys(storage_keys);
    let engine = Engine::new(store, Arc::new(ClientCalls::new(client.clone())), config)?;
    engine.start_worker();

    let alice = client
        .get_wallet_address(&sandbox.wallet_address_url("alice").parse()?)
        .await?;
    let bob = client
        .get_wallet_address(&sandbox.wallet_address_url("bob").parse()?)
        .await?;
    let merchant_account = open_incoming_payment(&engine, &client, &bob).await?;

    let mut subscription: Option<Subscription> = None;
    let mut grants = 0;
    for day in 0..DAYS {
        let now = clock.now();
        // A new grant when there is none, the series is over, or the grant was lost.
        let usable = match &subscription {
            Some(s) => {
                let view = engine.get(s.grant).await?;
                view.kind() == StateKind::Issued && !s.interval.has_ended(READING, now)
            }
            None => false,
        };
        if !usable {
            if let Some(old) = &subscription {
                println!(
                    "day {day}: the grant's series {} is over or the grant is gone: asking the user again",
                    old.interval
                );
            }
            grants += 1;
            subscription = Some(subscribe(&engine, &sandbox, &alice, now, grants).await?);
        }
        let Some(s) = &subscription else {
            bail!("no subscription");
        };
        let window = s
            .interval
            .window_at(READING, now)
            .context("no window contains today")?;
        let token = engine.access_token(s.grant).await?;
        let paid = client
            .create_outgoing_payment(
                &Url::parse(&alice.resource_server)?,
                &token.value,
                &CreateOutgoingPayment::FromIncomingPayment {
                    wallet_address: alice.id.clone(),
                    incoming_payment: merchant_account.clone(),
                    debit_amount: Amount::new(PRICE, alice.asset_code.clone(), alice.asset_scale),
                    metadata: None,
                },
            )
            .await;
        match paid {
            Ok(p) => println!(
                "day {day}: paid {} in window {} ({} → {})",
                money(&p.debit_amount),
                window.index,
                window.start.format("%m-%d %H:%M"),
                window.end.format("%m-%d %H:%M")
            ),
            Err(e) => println!("day {day}: the payment was refused: {e}"),
        }
        if day == 0 {
            // The window's allowance is spent: a second payment today is refused.
            let again = client
                .create_outgoing_payment(
                    &Url::parse(&alice.resource_server)?,
                    &token.value,
                    &CreateOutgoingPayment::FromIncomingPayment {
                        wallet_address: alice.id.clone(),
                        incoming_payment: merchant_account.clone(),
                        debit_amount: Amount::new(
                            PRICE,
                            alice.asset_code.clone(),
                            alice.asset_scale,
                        ),
                        metadata: None,
                    },
                )
                .await;
            match again {
                Ok(_) => bail!("a second payment in one window was accepted"),
                Err(e) => println!(
                    "day {day}: a second payment the same day is refused ({})",
                    e.status().map_or(0, |s| s.as_u16())
                ),
            }
        }
        clock.advance(Duration::from_secs(24 * 3600));
    }
    println!("{DAYS} days, {grants} grants asked for");

    engine.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
}

/// Asks the user for a daily subscription grant starting `now`, and waits until it is issued.
async fn subscribe(
    engine: &Engine<SealingStore<AnyStore>>,
    sandbox: &SandboxHandle,
    user: &WalletAddress,
    now: DateTime<Utc>,
    n: u32,
) -> anyhow::Result<Subscription> {
    let interval: RepeatingInterval =
        format!("R2/{}/P1D", now.to_rfc3339_opts(SecondsFormat::Secs, true)).parse()?;
    let requested = engine
        .request(GrantOrder {
            idempotency_key: format!("subscription-{}-{n}", user.id),
            grant_endpoint: user.auth_server.clone(),
            access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
                identifier: user.id.clone(),
                actions: vec![AccessAction::Create, AccessAction::Read],
                limits: Some(OutgoingPaymentLimits {
                    receiver: None,
                    debit_amount: Some(Amount::new(
                        PRICE,
                        user.asset_code.clone(),
                        user.asset_scale,
                    )),
                    receive_amount: None,
                    interval: Some(interval),
                }),
            })],
            interaction: Interaction::Redirect,
        })
        .await?;
    let redirect = requested.redirect.context("the grant needs no consent?")?;
    // The user approves at their wallet; their browser comes back with the finish redirect.
    let outcome = sandbox.approve_interaction(&redirect)?;
    let back = Url::parse(outcome.redirect.context("no finish redirect")?.expose())?;
    let token = back
        .path_segments()
        .and_then(|mut s| s.next_back())
        .context("finish URL without a token")?
        .to_owned();
    engine
        .finish_callback(requested.id, &token, back.query().unwrap_or_default())
        .await?;
    let view = engine
        .wait_for(requested.id, Duration::from_secs(30), |v| {
            v.kind() == StateKind::Issued || v.is_final()
        })
        .await?;
    if view.kind() != StateKind::Issued {
        bail!("the subscription grant ended {}", view.kind());
    }
    println!(
        "grant {} issued: {} per day, interval {interval}",
        requested.id,
        money(&Amount::new(
            PRICE,
            user.asset_code.clone(),
            user.asset_scale
        ))
    );
    Ok(Subscription {
        grant: requested.id,
        interval,
    })
}

/// The merchant's side: an incoming payment at `merchant` the subscription pays into.
async fn open_incoming_payment(
    engine: &Engine<SealingStore<AnyStore>>,
    client: &Client,
    merchant: &WalletAddress,
) -> anyhow::Result<String> {
    let g = engine
        .request(GrantOrder {
            idempotency_key: format!("merchant-{}", merchant.id),
            grant_endpoint: merchant.auth_server.clone(),
            access: vec![AccessItem::IncomingPayment(IncomingPaymentAccess {
                actions: vec![AccessAction::Create, AccessAction::Read],
                identifier: Some(merchant.id.clone()),
            })],
            interaction: Interaction::None,
        })
        .await?;
    engine
        .wait_for(g.id, Duration::from_secs(30), |v| {
            v.kind() == StateKind::Issued || v.is_final()
        })
        .await?;
    let token = engine.access_token(g.id).await?;
    let payment = client
        .create_incoming_payment(
            &Url::parse(&merchant.resource_server)?,
            &token.value,
            &CreateIncomingPayment {
                wallet_address: merchant.id.clone(),
                incoming_amount: None,
                expires_at: None,
                metadata: None,
            },
        )
        .await?;
    Ok(payment.id)
}

/// `2.00 USD`.
fn money(amount: &Amount) -> String {
    let scale = u32::from(amount.asset_scale);
    let unit = 10u64.pow(scale.min(19));
    format!(
        "{}.{:0width$} {}",
        amount.value / unit,
        amount.value % unit,
        amount.asset_code,
        width = scale as usize
    )
}
