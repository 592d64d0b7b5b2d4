//! `grantflow demo`: the seed flows end to end in one process, with a crash in the middle.
//!
//! A sandbox (wallet addresses `alice` and `bob`, and the demo's client wallet address) runs
//! in-process on loopback; the engine runs on SQLite in a temporary folder (or the database of
//! `--database-url`), signing with a key generated for the run. The steps:
//!
//! 1. fetch the wallet addresses; an incoming-payment grant and an incoming payment at bob; a
//!    quote grant and a quote at alice;
//! 2. the outgoing-payment grant of the seeds (debit limit from the quote, `interval`
//!    `R/<now>/P1D`, redirect finish with a nonce);
//! 3. approval through the consent page over HTTP, as a browser would (`--interactive`: by a
//!    person);
//! 4. the first worker dies after the finish callback is recorded and before the continue is
//!    sent (its runtime is torn down: no shutdown, no lease released); a second worker on the
//!    same database resumes the grant, re-sends the continue once, and gets the access token;
//! 5. an outgoing payment within the limit (window, amount left, next window start), and one
//!    over the limit, refused by the sandbox;
//! 6. token rotation, revocation, cancellation of the other grants; a summary.
//!
//! Any failure names its step and exits 1. The timeline never shows a token, nonce or
//! `interact_ref`.

mod calls;
mod timeline;

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use chrono::{SecondsFormat, TimeDelta, Utc};
use clap::Args;
use grantflow_client::Client;
use grantflow_driver::{Engine, EngineConfig, GrantOrder, Interaction, finish_router};
use grantflow_interval::{Allowance, Debit, Fit, Reading, RepeatingInterval};
use grantflow_machine::StateKind;
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::{
    AccessAction, AccessItem, IncomingPaymentAccess, OutgoingPaymentAccess, OutgoingPaymentLimits,
    QuoteAccess,
};
use grantflow_protocol::incoming_payment::CreateIncomingPayment;
use grantflow_protocol::keys::PrivateKey;
use grantflow_protocol::outgoing_payment::CreateOutgoingPayment;
use grantflow_protocol::quote::{CreateQuote, Quote, QuoteAmount, QuoteMethod};
use grantflow_protocol::wallet_address::WalletAddress;
use grantflow_sandbox::{Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};
use grantflow_store::{AnyStore, GrantId};
use url::Url;

use crate::cli::browser::{Browser, display_url};
use crate::cli::engine::redact;
use crate::cli::keys::write_private_key;
use crate::cli::output::runtime;
use calls::ObservedCalls;
use timeline::{Timeline, short};

/// The key id the demo's client key is published under.
const KEY_ID: &str = "demo-key-1";
/// The longest any one wait of the demo lasts (without `--interactive`).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// `grantflow demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run the engine on this database (`postgres://...` or `sqlite:...`) instead of SQLite in
    /// a temporary folder. Deliberately not read from `GRANTFLOW_DATABASE_URL`: the demo never
    /// writes into a deployment's database unless asked on its command line.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Wait for a person to open the consent page and click Approve, instead of approving over
    /// HTTP as a browser would.
    #[arg(long)]
    interactive: bool,
    /// Port of the in-process sandbox (0: any free port).
    #[arg(long, default_value_t = 0)]
    sandbox_port: u16,
}

/// Runs the demo and returns the process exit code.
pub fn run(args: DemoArgs) -> ExitCode {
    let result = runtime().and_then(|rt| rt.block_on(demo(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!();
            println!("✗ {error:#}");
            eprintln!("error: the demo failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The step being run, for the error that names it.
struct Step {
    number: usize,
    title: &'static str,
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let timeline = Arc::new(Timeline::new());
    let mut step = Step {
        number: 0,
        title: "set-up",
    };
    let mut demo = Demo::default();
    let result = demo.run(&args, &timeline, &mut step).await;
    demo.stop().await;
    result.map_err(|e| anyhow!("step {} ({}) failed: {e:#}", step.number, step.title))
}

/// Everything the demo started, so it can all be stopped whatever happens.
#[derive(Default)]
struct Demo {
    sandbox: Option<SandboxHandle>,
    first_worker: Option<KillableRuntime>,
    engine: Option<Engine<AnyStore>>,
    temp: Option<tempfile::TempDir>,
}

impl Demo {
    async fn stop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
        drop(self.first_worker.take());
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.shutdown().await;
        }
        drop(self.temp.take());
    }

    async fn run(
        &mut self,
        args: &DemoArgs,
        timeline: &Arc<Timeline>,
        step: &mut Step,
    ) -> anyhow::Result<()> {
        let t = timeline;
        // ── set-up ───────────────────────────────────────────────────────────────────
        t.line("grantflow demo: Open Payments grants as durable workflows, on a local sandbox");
        let temp = tempfile::Builder::new()
            .prefix("grantflow-demo-")
            .tempdir()
            .context("cannot create a temporary folder")?;
        let key = PrivateKey::generate();
        let key_path = temp.path().join("client-key.pem");
        write_private_key(&key_path, &key, false)?;
        t.line(format_args!(
            "client key: new Ed25519 key {KEY_ID}, generated for this run ({})",
            key_path.display()
        ));
        let database_url = match &args.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite:{}", temp.path().join("grants.db").display()),
        };
        self.temp = Some(temp);
        let sandbox = Sandbox::start(SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], args.sandbox_port)),
            wait_seconds: 1,
            wallet_addresses: vec![
                WalletAddressSpec::account("alice", "Alice", "USD", 2),
                WalletAddressSpec::account("bob", "Bob", "USD", 2),
                WalletAddressSpec::client("demo-client", "grantflow demo", key.public_jwks(KEY_ID)),
            ],
            ..SandboxConfig::default()
        })
        .await
        .context("cannot start the sandbox (try another --sandbox-port)")?;
        let client_wallet = sandbox.wallet_address_url("demo-client");
        t.line(format_args!(
            "sandbox: {} (authorization server, resource server, consent page); client wallet address {}",
            sandbox.base_url(),
            client_wallet
        ));
        t.line(format_args!("database: {}", redact(&database_url)));
        let alice_url = sandbox.wallet_address_url("alice");
        let bob_url = sandbox.wallet_address_url("bob");
        self.sandbox = Some(sandbox);

        let client = Client::builder(
            client_wallet.parse().context("client wallet address")?,
            KEY_ID,
            key.clone(),
        )
        .timeout(Duration::from_secs(5))
        .build()?;

        // The first worker, in a runtime of its own so that it can be killed outright.
        let callback_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot listen for finish callbacks on loopback")?;
        let finish_base: Url = format!("http://{}", callback_listener.local_addr()?)
            .parse()
            .context("finish base URL")?;
        let (crash_tx, crash_rx) = tokio::sync::oneshot::channel();
        let first = KillableRuntime::new("demo-worker-1")?;
        let engine1 = {
            let calls = ObservedCalls::new(
                grantflow_driver::ClientCalls::new(client.clone()),
                timeline.clone(),
                "worker-1",
            )
            .crash_before_continue(crash_tx);
            let config = engine_config("worker-1", &client_wallet, finish_base.clone());
            let url = database_url.clone();
            let timeline = timeline.clone();
            first
                .run(async move {
                    let store = AnyStore::connect(&url, 4)
                        .await
                        .with_context(|| format!("cannot open the database {}", redact(&url)))?;
                    let engine = Engine::new(store, Arc::new(calls), config);
                    watch(&engine, timeline, "worker-1");
                    engine.start_worker();
                    callback_listener.set_nonblocking(true)?;
                    let listener = tokio::net::TcpListener::from_std(callback_listener)?;
                    let router = finish_router(engine.clone());
                    tokio::spawn(async move {
                        let _ = axum::serve(listener, router).await;
                    });
                    anyhow::Ok(engine)
                })
                .await??
        };
        self.first_worker = Some(first);
        t.line(format_args!(
            "worker-1: engine on the database, finish callbacks at {finish_base}finish/…"
        ));

        // ── 1 ────────────────────────────────────────────────────────────────────────
        *step = Step {
            number: 1,
            title: "wallet addresses, incoming payment, quote",
        };
        t.step(1, step.title);
        let alice = fetch_wallet_address(t, &client, &alice_url).await?;
        let bob = fetch_wallet_address(t, &client, &bob_url).await?;

        let incoming_grant = self
            .request(
                t,
                &engine1,
                "incoming-payment @bob",
                GrantOrder {
                    idempotency_key: format!("demo-{}-incoming", Utc::now().timestamp_micros()),
                    grant_endpoint: bob.auth_server.clone(),
                    access: vec![AccessItem::IncomingPayment(IncomingPaymentAccess {
                        actions: vec![
                            AccessAction::Create,
                            AccessAction::Read,
                            AccessAction::List,
                            AccessAction::Complete,
                        ],
                        identifier: Some(bob.id.clone()),
                    })],
                    interaction: Interaction::None,
                },
            )
            .await?;
        let engine1_ref = &engine1;
        let first_ref = self.first_worker.as_ref().context("worker-1")?;
        let token = first_ref
            .run({
                let e = engine1_ref.clone();
                async move { e.access_token(incoming_grant).await }
            })
            .await??;
        let bob_rs = parse_url("bob's resource server", &bob.resource_server)?;
        let mut metadata = serde_json::Map::new();
        metadata.insert("description".into(), "grantflow demo".into());
        let incoming = client
            .create_incoming_payment(
                &bob_rs,
                &token.value,
                &CreateIncomingPayment {
                    wallet_address: bob.id.clone(),
                    incoming_amount: None,
                    expires_at: None,
                    metadata: Some(metadata),
                },
            )
            .await
            .context("cannot create the incoming payment at bob")?;
        t.line(format_args!(
            "   POST {}/incoming-payments → incoming payment {}",
            display_url(&bob.resource_server),
            display_url(&incoming.id)
        ));

        let quote_grant = self
            .request(
                t,
                &engine1,
                "quote @alice",
                GrantOrder {
                    idempotency_key: format!("demo-{}-quote", Utc::now().timestamp_micros()),
                    grant_endpoint: alice.auth_server.clone(),
                    access: vec![AccessItem::Quote(QuoteAccess {
                        actions: vec![AccessAction::Create, AccessAction::Read],
                    })],
                    interaction: Interaction::None,
                },
            )
            .await?;
        let quote_token = first_ref
            .run({
                let e = engine1_ref.clone();
                async move { e.access_token(quote_grant).await }
            })
            .await??;
        let alice_rs = parse_url("alice's resource server", &alice.resource_server)?;
        let budget = Amount::new(1000, alice.asset_code.clone(), alice.asset_scale);
        let quote = create_quote(
            t,
            &client,
            &alice_rs,
            &quote_token.value,
            &alice,
            &incoming.id,
            budget,
        )
        .await?;

        // ── 2 ────────────────────────────────────────────────────────────────────────
        *step = Step {
            number: 2,
            title: "outgoing-payment grant, as in the seeds",
        };
        t.step(2, step.title);
        let interval: RepeatingInterval = format!(
            "R/{}/P1D",
            Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
        )
        .parse()
        .map_err(|e| anyhow!("the demo's interval does not parse: {e}"))?;
        let limit = quote.debit_amount.clone();
        t.line(format_args!(
            "   access: outgoing-payment on {} (list, list-all, read, read-all, create); limits: debitAmount {} (from the quote), interval {interval}; finish: redirect with a nonce",
            display_url(&alice.id),
            money(&limit)
        ));
        let outgoing_grant = self
            .request(
                t,
                &engine1,
                "outgoing-payment @alice",
                GrantOrder {
                    idempotency_key: format!("demo-{}-outgoing", Utc::now().timestamp_micros()),
                    grant_endpoint: alice.auth_server.clone(),
                    access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
                        identifier: alice.id.clone(),
                        actions: vec![
                            AccessAction::List,
                            AccessAction::ListAll,
                            AccessAction::Read,
                            AccessAction::ReadAll,
                            AccessAction::Create,
                        ],
                        limits: Some(OutgoingPaymentLimits {
                            receiver: None,
                            debit_amount: Some(limit.clone()),
                            receive_amount: None,
                            interval: Some(interval),
                        }),
                    })],
                    interaction: Interaction::Redirect,
                },
            )
            .await?;
        let view = first_ref
            .run({
                let e = engine1_ref.clone();
                async move { e.get(outgoing_grant).await }
            })
            .await??;
        ensure!(
            view.kind() == StateKind::AwaitingInteraction,
            "expected the grant to await interaction, it is {}",
            view.kind()
        );
        let redirect = view
            .redirect()
            .context("the pending grant has no redirect URL")?
            .to_owned();
        t.line(format_args!(
            "   redirect the user to: {}",
            display_url(&redirect)
        ));

        // ── 3 ────────────────────────────────────────────────────────────────────────
        *step = Step {
            number: 3,
            title: "the user approves",
        };
        t.step(3, step.title);
        let crashed = if args.interactive {
            println!();
            println!("    Open this URL in a browser and click Approve (ctrl-c to stop):");
            println!("    {redirect}");
            println!();
            crash_rx
                .await
                .context("worker-1 stopped before the continue")?;
            None
        } else {
            let log = timeline.clone();
            let mut browser =
                Browser::new()?.with_log(Box::new(move |line| log.line(format_args!("   {line}"))));
            let page = with_timeout("the consent page", browser.open(&redirect)).await??;
            ensure!(
                page.status.is_success(),
                "the consent page answered {}",
                page.status
            );
            let finished = with_timeout("approving", browser.press(&page, "accept")).await??;
            ensure!(
                finished.status.is_success()
                    && finished.url.as_str().starts_with(finish_base.as_str()),
                "the browser ended at {} with {}, not on the finish callback",
                display_url(finished.url.as_str()),
                finished.status
            );
            Some(with_timeout("the continue", crash_rx).await?)
        };
        if let Some(Err(_)) = crashed {
            bail!("worker-1 stopped before the continue");
        }

        // ── 4 ────────────────────────────────────────────────────────────────────────
        *step = Step {
            number: 4,
            title: "crash after the callback, resume on a new worker",
        };
        t.step(4, step.title);
        drop(self.first_worker.take());
        t.line("   worker-1 killed: its runtime is torn down, nothing shut down, its lease not released");
        let store = AnyStore::connect(&database_url, 4)
            .await
            .context("cannot reopen the database")?;
        let config = engine_config("worker-2", &client_wallet, finish_base.clone());
        let calls = ObservedCalls::new(
            grantflow_driver::ClientCalls::new(client.clone()),
            timeline.clone(),
            "worker-2",
        );
        let engine = Engine::new(store, Arc::new(calls), config);
        let stored = engine.get(outgoing_grant).await?;
        t.line(format_args!(
            "   in the database: {} is {} with {} in flight (v{}), next attention at {}",
            t.name(outgoing_grant),
            stored.kind(),
            stored
                .state
                .call_in_flight()
                .map_or_else(|| "no call".to_owned(), |c| format!("a {c}")),
            stored.version,
            stored
                .next_wake_at
                .map_or_else(|| "-".to_owned(), |w| w.format("%H:%M:%S%.3f").to_string())
        ));
        watch(&engine, timeline.clone(), "worker-2");
        engine.start_worker();
        self.engine = Some(engine.clone());
        t.line("   worker-2 started on the same database");
        let issued = engine
            .wait_for(outgoing_grant, STEP_TIMEOUT, |v| {
                v.kind() == StateKind::Issued || v.is_final()
            })
            .await?;
        ensure!(
            issued.kind() == StateKind::Issued,
            "the grant ended {} instead of Issued",
            issued.kind()
        );
        t.caught_up(outgoing_grant, issued.version).await;
        t.line(format_args!(
            "   {} resumed and finalized with an access token; its recorded history:",
            t.name(outgoing_grant)
        ));
        for entry in engine.history(outgoing_grant).await? {
            t.line(format_args!(
                "      v{:<2} {}  {}",
                entry.version,
                entry.at.format("%H:%M:%S%.3f"),
                entry.event.kind()
            ));
        }
        t.line(
            "   (worker-1's wake marked the continue in flight and died; worker-2's wake found it in \
             flight after the lease lapsed, an ambiguous outcome, and re-sent it once: the AS had \
             never seen it, so it answered with the token)",
        );

        // ── 5 ────────────────────────────────────────────────────────────────────────
        *step = Step {
            number: 5,
            title: "payments within and over the limit",
        };
        t.step(5, step.title);
        let quote_token = engine.access_token(quote_grant).await?;
        let token = engine.access_token(outgoing_grant).await?;
        let first_amount = Amount::new(400, limit.asset_code.clone(), limit.asset_scale);
        let quote_b = create_quote(
            t,
            &client,
            &alice_rs,
            &quote_token.value,
            &alice,
            &incoming.id,
            first_amount.clone(),
        )
        .await?;
        let payment = client
            .create_outgoing_payment(
                &alice_rs,
                &token.value,
                &CreateOutgoingPayment::FromQuote {
                    wallet_address: alice.id.clone(),
                    quote_id: quote_b.id.clone(),
                    metadata: None,
                },
            )
            .await
            .context("the outgoing payment within the limit was refused")?;
        let paid_at = Utc::now();
        t.line(format_args!(
            "   POST {}/outgoing-payments → paid {} to bob ({})",
            display_url(&alice.resource_server),
            money(&payment.debit_amount),
            display_url(&payment.id)
        ));
        let spent = client
            .get_outgoing_payment_grant_spent_amounts(&alice_rs, &token.value)
            .await
            .context("cannot read what the grant has spent")?;
        let spent_value = spent.spent_debit_amount.as_ref().map_or(0, |a| a.value);
        let allowance_limit = interval_amount(&limit);
        let allowance = Allowance::new(&interval, Reading::RafikiCompatible, allowance_limit);
        let debits = [Debit {
            amount: interval_amount(&payment.debit_amount),
            at: paid_at,
        }];
        let remaining = allowance
            .remaining(&debits, Utc::now())
            .map_err(|e| anyhow!("allowance: {e}"))?;
        let window = remaining
            .window
            .context("no window of the interval contains now")?;
        ensure!(
            remaining.spent.value == spent_value,
            "the sandbox says the grant spent {spent_value}, the allowance computes {}",
            remaining.spent.value
        );
        t.line(format_args!(
            "   window {} → {}: spent {} of {}, {} left (the sandbox agrees: spent {})",
            window.start.format("%Y-%m-%d %H:%M:%S"),
            window.end.format("%Y-%m-%d %H:%M:%S"),
            money(&limit.clone().with(remaining.spent.value)),
            money(&limit),
            money(&limit.clone().with(remaining.left.value)),
            money(&limit.clone().with(spent_value)),
        ));
        let next = interval
            .next_window_start(Reading::RafikiCompatible, Utc::now())
            .context("the interval has no next window")?;
        t.line(format_args!(
            "   the next window starts {} UTC, with the full {} again",
            next.format("%Y-%m-%d %H:%M:%S"),
            money(&limit)
        ));

        let over = Amount::new(
            remaining.left.value + 300,
            limit.asset_code.clone(),
            limit.asset_scale,
        );
        let fit = allowance
            .check(
                &debits,
                &Debit {
                    amount: interval_amount(&over),
                    at: Utc::now(),
                },
            )
            .map_err(|e| anyhow!("allowance: {e}"))?;
        ensure!(
            matches!(fit, Fit::ExceedsLimit { .. }),
            "the allowance says {} fits",
            money(&over)
        );
        let quote_c = create_quote(
            t,
            &client,
            &alice_rs,
            &quote_token.value,
            &alice,
            &incoming.id,
            over.clone(),
        )
        .await?;
        match client
            .create_outgoing_payment(
                &alice_rs,
                &token.value,
                &CreateOutgoingPayment::FromQuote {
                    wallet_address: alice.id.clone(),
                    quote_id: quote_c.id.clone(),
                    metadata: None,
                },
            )
            .await
        {
            Ok(p) => bail!(
                "the sandbox accepted a payment of {} over the limit ({})",
                money(&p.debit_amount),
                display_url(&p.id)
            ),
            Err(e) => t.line(format_args!(
                "   POST {}/outgoing-payments of {} → refused as expected: {}",
                display_url(&alice.resource_server),
                money(&over),
                refusal(&e)
            )),
        }

        // ── 6 ────────────────────────────────────────────────────────────────────────
        *step = Step {
            number: 6,
            title: "rotate, revoke, cancel",
        };
        t.step(6, step.title);
        let before = engine.access_token(outgoing_grant).await?;
        let rotated = engine.rotate(outgoing_grant).await?;
        t.caught_up(outgoing_grant, rotated.version).await;
        let after = engine.access_token(outgoing_grant).await?;
        ensure!(
            after.manage != before.manage && after.value != before.value,
            "the rotation gave the same token"
        );
        t.line("   rotated: a new token and a new manage URL (the old token is revoked by the AS)");
        let revoked = engine.revoke(outgoing_grant).await?;
        t.caught_up(outgoing_grant, revoked.version).await;
        ensure!(
            revoked.kind() == StateKind::Revoked,
            "after revoke the grant is {}",
            revoked.kind()
        );
        match client
            .get_outgoing_payment_grant_spent_amounts(&alice_rs, &after.value)
            .await
        {
            Ok(_) => bail!("the revoked token still works at the resource server"),
            Err(e) => t.line(format_args!(
                "   the revoked token is refused by the resource server: {}",
                refusal(&e)
            )),
        }
        for id in [quote_grant, incoming_grant] {
            let view = engine.cancel(id).await?;
            t.caught_up(id, view.version).await;
            ensure!(
                view.kind() == StateKind::Canceled,
                "{} is {} after cancel",
                t.name(id),
                view.kind()
            );
        }

        // ── summary ──────────────────────────────────────────────────────────────────
        *step = Step {
            number: 7,
            title: "summary",
        };
        println!();
        t.line("── summary");
        for id in [incoming_grant, quote_grant, outgoing_grant] {
            let view = engine.get(id).await?;
            let events = engine.history(id).await?.len();
            t.line(format_args!(
                "   {:<44} {:<10} {events} events",
                t.name(id),
                view.kind().to_string()
            ));
        }
        t.line(format_args!(
            "   crash: worker-1 died before sending the continue; worker-2 resumed {} from the database and finalized it",
            short(outgoing_grant)
        ));
        t.line(format_args!(
            "   payments: {} paid within the {} limit; {} refused over it",
            money(&payment.debit_amount),
            money(&limit),
            money(&over)
        ));
        t.line(format_args!(
            "   done in {:.1}s; no token, nonce or interact_ref was printed",
            t.elapsed()
        ));
        Ok(())
    }

    /// Requests a grant on the first worker and waits until the AS answered.
    async fn request(
        &self,
        t: &Timeline,
        engine: &Engine<AnyStore>,
        label: &str,
        order: GrantOrder,
    ) -> anyhow::Result<GrantId> {
        let first = self
            .first_worker
            .as_ref()
            .context("worker-1 is not running")?;
        t.expect(label);
        let requested = first
            .run({
                let e = engine.clone();
                async move { e.request(order).await }
            })
            .await??;
        t.label(requested.id, label, requested.kind);
        let wanted = |k: StateKind| {
            matches!(k, StateKind::Issued | StateKind::AwaitingInteraction) || k.is_finalized()
        };
        let view = first
            .run({
                let e = engine.clone();
                async move {
                    e.wait_for(requested.id, STEP_TIMEOUT, move |v| {
                        wanted(v.kind()) || v.is_final()
                    })
                    .await
                }
            })
            .await??;
        t.caught_up(requested.id, view.version).await;
        ensure!(
            matches!(
                view.kind(),
                StateKind::Issued | StateKind::AwaitingInteraction
            ),
            "{} ended {}",
            t.name(requested.id),
            view.kind()
        );
        Ok(requested.id)
    }
}

/// The engine settings of the demo: short leases and call timeouts, so the resume after the
/// crash takes a second, not the production default of half a minute.
fn engine_config(worker: &str, client_wallet: &str, finish_base: Url) -> EngineConfig {
    let mut config = EngineConfig::new(worker, client_wallet).with_finish_base_url(finish_base);
    config.lease = Duration::from_secs(1);
    config.poll_interval = Duration::from_millis(100);
    config.shutdown_grace = Duration::from_secs(2);
    config.command_wait = Duration::from_secs(10);
    config.machine.call_timeout = TimeDelta::seconds(1);
    config
}

/// Prints the engine's transitions on the timeline.
fn watch(engine: &Engine<AnyStore>, timeline: Arc<Timeline>, worker: &'static str) {
    let mut changes = engine.subscribe();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(change) => timeline.transition(worker, &change),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

async fn fetch_wallet_address(
    t: &Timeline,
    client: &Client,
    url: &str,
) -> anyhow::Result<WalletAddress> {
    let parsed = parse_url("wallet address", url)?;
    let w = client
        .get_wallet_address(&parsed)
        .await
        .with_context(|| format!("cannot fetch the wallet address {url}"))?;
    t.line(format_args!(
        "   GET {} → {} ({} scale {}), authServer {}, resourceServer {}",
        display_url(url),
        w.public_name.as_deref().unwrap_or("?"),
        w.asset_code,
        w.asset_scale,
        display_url(&w.auth_server),
        display_url(&w.resource_server)
    ));
    Ok(w)
}

async fn create_quote(
    t: &Timeline,
    client: &Client,
    resource_server: &Url,
    token: &grantflow_protocol::Secret,
    sender: &WalletAddress,
    receiver: &str,
    debit: Amount,
) -> anyhow::Result<Quote> {
    let quote = client
        .create_quote(
            resource_server,
            token,
            &CreateQuote {
                wallet_address: sender.id.clone(),
                receiver: receiver.to_owned(),
                method: QuoteMethod::Ilp,
                amount: QuoteAmount::Debit(debit.clone()),
            },
        )
        .await
        .with_context(|| format!("cannot create a quote for {}", money(&debit)))?;
    t.line(format_args!(
        "   POST {}/quotes → quote {}: debit {}, receive {}",
        display_url(resource_server.as_str().trim_end_matches('/')),
        display_url(&quote.id),
        money(&quote.debit_amount),
        money(&quote.receive_amount)
    ));
    Ok(quote)
}

/// `403 Forbidden (Insufficient grant)`: the status and the server's description.
fn refusal(error: &grantflow_client::ClientError) -> String {
    match error.kind() {
        grantflow_client::ErrorKind::Status(s) => {
            let mut text = format!(
                "{} {}",
                s.status.as_u16(),
                s.status.canonical_reason().unwrap_or("")
            );
            if let Some(description) = s.description() {
                text.push_str(&format!(" ({description})"));
            }
            text
        }
        _ => error.to_string(),
    }
}

fn parse_url(what: &str, url: &str) -> anyhow::Result<Url> {
    url.parse()
        .with_context(|| format!("{what} is not a URL: {}", display_url(url)))
}

/// `12.34 USD`.
fn money(amount: &Amount) -> String {
    let scale = usize::from(amount.asset_scale);
    let digits = amount.value.to_string();
    let number = if scale == 0 {
        digits
    } else if digits.len() > scale {
        format!(
            "{}.{}",
            &digits[..digits.len() - scale],
            &digits[digits.len() - scale..]
        )
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    format!("{number} {}", amount.asset_code)
}

/// The same amount in the interval crate's type.
fn interval_amount(amount: &Amount) -> grantflow_interval::Amount {
    grantflow_interval::Amount::new(amount.value, amount.asset_code.clone(), amount.asset_scale)
}

trait WithValue {
    fn with(self, value: u64) -> Self;
}

impl WithValue for Amount {
    fn with(mut self, value: u64) -> Self {
        self.value = value;
        self
    }
}

async fn with_timeout<F: Future>(what: &str, future: F) -> anyhow::Result<F::Output> {
    tokio::time::timeout(STEP_TIMEOUT, future)
        .await
        .map_err(|_| anyhow!("{what} took longer than {}s", STEP_TIMEOUT.as_secs()))
}

/// A tokio runtime of its own, for the worker the demo kills: dropping it tears down every task
/// it runs at once (no graceful shutdown, nothing released), as a killed process would.
struct KillableRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl KillableRuntime {
    fn new(name: &str) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
            .context("cannot start the first worker's runtime")?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Runs `future` on this runtime and waits for it.
    async fn run<F>(&self, future: F) -> anyhow::Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref().context("the runtime is gone")?;
        runtime
            .spawn(future)
            .await
            .map_err(|e| anyhow!("worker-1's task failed: {e}"))
    }
}

impl Drop for KillableRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_minor_units() {
        assert_eq!(money(&Amount::new(1234, "USD", 2)), "12.34 USD");
        assert_eq!(money(&Amount::new(5, "USD", 2)), "0.05 USD");
        assert_eq!(money(&Amount::new(7, "JPY", 0)), "7 JPY");
    }
}
