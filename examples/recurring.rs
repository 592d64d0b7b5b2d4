//! A daily subscription as a schedule: `Engine::schedule` pays 2.00 in each window of the
//! grant's interval, exactly once per window, and asks the user for a new grant when the series
//! ends. This is what the seed's `limits.interval` is for.
//!
//! The subscriber is `alice`, the merchant `bob`, both on a sandbox started here. The grant is
//! an outgoing-payment grant with `debitAmount` 2.00 and `interval` `R2/<start>/P1D`; the
//! sandbox enforces it per window in the reference server's reading (`R2` is three daily
//! windows there), and so does the engine before it quotes. Days pass by moving the sandbox's
//! and the engine's clocks together, so five days take a few seconds:
//!
//! ```text
//! cargo run --example recurring
//! ```
//!
//! The user's consent (the first grant, and the new one the schedule asks for when the series
//! ends) is given through the sandbox's interaction API, and the finish redirect is handed to
//! the engine with [`Engine::finish_callback`] (an application that serves the callback itself
//! would mount `grantflow::driver::finish_router` instead, see `embed.rs`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use grantflow::client::Client;
use grantflow::driver::{
    ClientCalls, Engine, EngineConfig, GrantOrder, Interaction, ManualClock, ScheduleCadence,
    ScheduleOrder, ScheduleView,
};
use grantflow::machine::StateKind;
use grantflow::payment::PaymentAmount;
use grantflow::payment::schedule::{OccurrenceRecord, ScheduleStateKind};
use grantflow::protocol::amount::Amount;
use grantflow::protocol::grant::{
    AccessAction, AccessItem, IncomingPaymentAccess, OutgoingPaymentAccess, OutgoingPaymentLimits,
    QuoteAccess,
};
use grantflow::protocol::incoming_payment::CreateIncomingPayment;
use grantflow::protocol::keys::PrivateKey;
use grantflow::protocol::wallet_address::WalletAddress;
use grantflow::sandbox::{Sandbox, SandboxClock, SandboxConfig, SandboxHandle, WalletAddressSpec};
use grantflow::seal::{KeyId, KeyRing, SealingStore, StorageKey};
use grantflow::store::{AnyStore, GrantId, ScheduleId};
use url::Url;

/// What the subscription pays per window, in minor units.
const PRICE: u64 = 200;
/// How many days the example runs.
const DAYS: i64 = 5;

type Store = SealingStore<AnyStore>;

/// The sandbox's clock and the engine's, moved together.
struct Time {
    sandbox: SandboxClock,
    engine: ManualClock,
}

impl Time {
    fn advance(&self, by: Duration) {
        self.sandbox.advance(by);
        self.engine.advance(by);
    }

    fn now(&self) -> DateTime<Utc> {
        self.sandbox.now()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let start: DateTime<Utc> = Utc::now()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
        .parse()?;
    let time = Time {
        sandbox: SandboxClock::manual(start),
        engine: ManualClock::new(start),
    };
    let key = PrivateKey::generate();
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 0,
        clock: time.sandbox.clone(),
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
    let mut config = EngineConfig::new("subscriptions-1", our_wallet)
        .with_finish_base_url("http://127.0.0.1:3344/grantflow".parse()?)
        .with_finish_token_keys(storage_keys);
    config.clock = Arc::new(time.engine.clone());
    let engine = Engine::new(store, Arc::new(ClientCalls::new(client.clone())), config)?;
    engine.start_worker();

    let alice = client
        .get_wallet_address(&sandbox.wallet_address_url("alice").parse()?)
        .await?;
    let bob = client
        .get_wallet_address(&sandbox.wallet_address_url("bob").parse()?)
        .await?;
    let merchant_account = open_incoming_payment(&engine, &client, &bob).await?;

    let price = Amount::new(PRICE, alice.asset_code.clone(), alice.asset_scale);
    let grant = subscribe(&engine, &sandbox, &alice, time.now()).await?;
    let schedule = engine
        .schedule(ScheduleOrder {
            idempotency_key: format!("subscription-{}", alice.id),
            grant,
            receiver: merchant_account,
            amount: PaymentAmount::Debit(Amount::new(
                PRICE,
                alice.asset_code.clone(),
                alice.asset_scale,
            )),
            cadence: ScheduleCadence::GrantWindows,
            start: None,
            end: Some(start + TimeDelta::days(DAYS)),
            metadata: None,
        })
        .await?;
    println!(
        "schedule {} pays {} per window",
        schedule.id,
        money(&Amount::new(
            PRICE,
            alice.asset_code.clone(),
            alice.asset_scale
        ))
    );

    let mut consents = 0;
    for day in 0..DAYS {
        let target = u64::try_from(day + 1)?;
        let view = loop {
            let view = settle(&engine, &time, schedule.id, |v| {
                v.tally().paid >= target || v.kind() == ScheduleStateKind::AwaitingConsent
            })
            .await?;
            if view.kind() != ScheduleStateKind::AwaitingConsent {
                break view;
            }
            consents += 1;
            println!(
                "day {day}: the grant's series is over: the schedule asks the user for a new grant"
            );
            approve_renewal(&engine, &sandbox, schedule.id, consents).await?;
            // The schedule sees the new grant at its next look (within five minutes).
            settle(&engine, &time, schedule.id, |v| {
                v.kind() != ScheduleStateKind::AwaitingConsent
            })
            .await?;
        };
        if let Some(OccurrenceRecord::Paid {
            occurrence,
            payment,
            ..
        }) = view.state.progress().and_then(|p| p.recent.back())
        {
            println!(
                "day {day}: paid {} in window {occurrence}: {payment}",
                money(&price)
            );
        }
        time.advance(Duration::from_secs(24 * 3600));
    }
    let done = settle(&engine, &time, schedule.id, |v| v.kind().is_final()).await?;
    let tally = done.tally();
    println!(
        "{DAYS} days: {} paid, {} skipped, {} failed; {} new grant(s) asked for; the schedule is {}",
        tally.paid,
        tally.skipped,
        tally.failed,
        consents,
        done.kind()
    );
    if tally.paid != u64::try_from(DAYS)? {
        bail!("expected {DAYS} payments");
    }

    engine.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
}

/// Moves time on 31 s at a time (a schedule looks at its payment or its grant request again
/// after 30 s) until the schedule satisfies `done`.
async fn settle(
    engine: &Engine<Store>,
    time: &Time,
    id: ScheduleId,
    done: impl Fn(&ScheduleView) -> bool,
) -> anyhow::Result<ScheduleView> {
    for _ in 0..200 {
        for _ in 0..10 {
            let view = engine.schedule_status(id).await?;
            if done(&view) {
                return Ok(view);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        time.advance(Duration::from_secs(31));
    }
    bail!(
        "the schedule did not get there: {:?}",
        engine.schedule_status(id).await?.kind()
    )
}

/// The user approves the grant the schedule requested (its `n`-th), and the engine continues it.
async fn approve_renewal(
    engine: &Engine<Store>,
    sandbox: &SandboxHandle,
    schedule: ScheduleId,
    n: u32,
) -> anyhow::Result<()> {
    let key = format!("schedule/{schedule}/consent/{n}");
    for _ in 0..500 {
        if let Some(grant) = engine.get_by_idempotency_key(&key).await?
            && let Some(redirect) = grant.redirect()
        {
            return approve(engine, sandbox, grant.id, redirect).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the schedule did not request a new grant")
}

/// The user approves at their wallet; their browser comes back with the finish redirect, which
/// the application hands to the engine.
async fn approve(
    engine: &Engine<Store>,
    sandbox: &SandboxHandle,
    grant: GrantId,
    redirect: &str,
) -> anyhow::Result<()> {
    let outcome = sandbox.approve_interaction(redirect)?;
    let back = Url::parse(outcome.redirect.context("no finish redirect")?.expose())?;
    let token = back
        .path_segments()
        .and_then(|mut s| s.next_back())
        .context("finish URL without a token")?
        .to_owned();
    engine
        .finish_callback(grant, &token, back.query().unwrap_or_default())
        .await?;
    let view = engine
        .wait_for(grant, Duration::from_secs(30), |v| {
            v.kind() == StateKind::Issued || v.is_final()
        })
        .await?;
    if view.kind() != StateKind::Issued {
        bail!("the subscription grant ended {}", view.kind());
    }
    Ok(())
}

/// Asks the user for a daily subscription grant starting `now` (two repetitions: three windows
/// in the reference's reading), with quote access for the payments, and waits until it is issued.
async fn subscribe(
    engine: &Engine<Store>,
    sandbox: &SandboxHandle,
    user: &WalletAddress,
    now: DateTime<Utc>,
) -> anyhow::Result<GrantId> {
    let interval = format!("R2/{}/P1D", now.to_rfc3339_opts(SecondsFormat::Secs, true)).parse()?;
    let requested = engine
        .request(GrantOrder {
            idempotency_key: format!("subscription-{}", user.id),
            grant_endpoint: user.auth_server.clone(),
            access: vec![
                AccessItem::OutgoingPayment(OutgoingPaymentAccess {
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
                }),
                AccessItem::Quote(QuoteAccess {
                    actions: vec![AccessAction::Create, AccessAction::Read],
                }),
            ],
            interaction: Interaction::Redirect,
        })
        .await?;
    let redirect = requested.redirect.context("the grant needs no consent?")?;
    approve(engine, sandbox, requested.id, &redirect).await?;
    println!(
        "grant {} issued: {} per day, interval {interval}",
        requested.id,
        money(&Amount::new(
            PRICE,
            user.asset_code.clone(),
            user.asset_scale
        ))
    );
    Ok(requested.id)
}

/// The merchant's side: an incoming payment at `merchant` the subscription pays into.
async fn open_incoming_payment(
    engine: &Engine<Store>,
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
