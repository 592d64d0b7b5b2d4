//! `grantflow pay --grant ID --receiver URL --debit|--receive AMOUNT [--idempotency-key K]` and
//! `grantflow pay status ID`: one payment under an issued grant from the shell, against the
//! database a worker runs on.
//!
//! `pay` records the payment and makes its first calls in this process (the engine's
//! `Engine::pay`), then waits for it to end (`--wait`, 60 s by default) while this process's own
//! worker carries it on; a `grantflow worker` elsewhere may take it over. AMOUNT is in minor units
//! of the grant's asset (taken from its limit; `--asset CODE:SCALE` when the grant has none).
//! Exit codes as the other commands: 0 sent (or, with `--no-wait`, recorded), 1 refused, failed
//! or still going when the wait ended (the message says which and what to do).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use grantflow_driver::{
    Engine, EngineConfig, EngineError, PaymentAmount, PaymentId, PaymentOrder, PaymentView,
};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::AccessItem;
use serde_json::json;

use crate::cli::engine::{ClientArgs, DatabaseArgs, LifecycleArgs, Store, build_engine};
use crate::cli::lookup::{self, explain};
use crate::cli::output::{LogFormat, Report, finish, init_logs, runtime, time};

/// `grantflow pay ...`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PayArgs {
    #[command(subcommand)]
    command: Option<PayCommand>,
    #[command(flatten)]
    order: OrderArgs,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    lifecycle: LifecycleArgs,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Log format on stderr (`RUST_LOG` filters the logs; default: warnings and errors only).
    #[arg(
        long,
        global = true,
        env = "GRANTFLOW_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum PayCommand {
    /// Show a payment: its state, grant, quote, outgoing payment, next wake-up, reason.
    Status {
        /// The payment id.
        id: PaymentId,
    },
}

/// The order of `grantflow pay`.
#[derive(Debug, Args)]
struct OrderArgs {
    /// The issued grant to pay under (its id, or a unique prefix).
    #[arg(long, value_name = "ID")]
    grant: Option<String>,
    /// The incoming payment URL to pay.
    #[arg(long, value_name = "URL")]
    receiver: Option<String>,
    /// Debit exactly this (minor units) from the grant's wallet address.
    #[arg(long, value_name = "AMOUNT", conflicts_with = "receive")]
    debit: Option<u64>,
    /// Deliver exactly this (minor units) to the receiver.
    #[arg(long, value_name = "AMOUNT")]
    receive: Option<u64>,
    /// The asset of AMOUNT as CODE:SCALE (e.g. USD:2); default: the grant's limit's.
    #[arg(long, value_name = "CODE:SCALE")]
    asset: Option<String>,
    /// The payment's key, unique per grant: paying again with it returns the same payment and
    /// never pays twice (default: a new one).
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    /// Wait at most SECONDS for the payment to end.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    wait: u64,
    /// Return once the payment is recorded (a worker carries it on).
    #[arg(long, conflicts_with = "wait")]
    no_wait: bool,
}

/// Runs `grantflow pay ...` and returns the process exit code.
pub fn run(args: PayArgs) -> ExitCode {
    init_logs(args.log_format, "warn");
    let json = args.json;
    finish(json, runtime().and_then(|rt| rt.block_on(pay(args))))
}

async fn pay(args: PayArgs) -> anyhow::Result<Report> {
    let worker_id = EngineConfig::unique_worker_id("cli");
    let makes_calls = args.command.is_none();
    let engine = build_engine(
        &args.database,
        &args.client,
        worker_id,
        makes_calls,
        |config| {
            args.lifecycle.apply(&mut config.machine);
        },
    )
    .await?;
    let report = match &args.command {
        Some(PayCommand::Status { id }) => engine
            .payment(*id)
            .await
            .map(|v| status(&v))
            .map_err(explain_payment),
        None => order(&engine, &args.order).await,
    };
    engine.shutdown().await;
    report
}

async fn order(engine: &Engine<Store>, args: &OrderArgs) -> anyhow::Result<Report> {
    let (Some(grant), Some(receiver)) = (&args.grant, &args.receiver) else {
        bail!("give --grant ID and --receiver URL (or `grantflow pay status ID`)");
    };
    let grant = lookup::resolve(engine, grant).await?;
    let (value, debit) = match (args.debit, args.receive) {
        (Some(v), None) => (v, true),
        (None, Some(v)) => (v, false),
        _ => bail!("give the amount: --debit AMOUNT or --receive AMOUNT (minor units)"),
    };
    let (code, scale) = match &args.asset {
        Some(text) => parse_asset(text)?,
        None => limit_asset(engine, grant).await?,
    };
    let amount = Amount::new(value, code, scale);
    let id = engine
        .pay(PaymentOrder {
            grant,
            receiver: receiver.clone(),
            amount: if debit {
                PaymentAmount::Debit(amount)
            } else {
                PaymentAmount::Receive(amount)
            },
            idempotency_key: args
                .idempotency_key
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            metadata: None,
        })
        .await
        .map_err(explain_payment)?;
    if args.no_wait {
        return Ok(status(&engine.payment(id).await?));
    }
    // This process's worker carries the payment on while we wait (as `grant continue` does).
    engine.start_worker();
    let view = match engine
        .wait_for_payment(id, Duration::from_secs(args.wait))
        .await
    {
        Ok(view) => view,
        Err(EngineError::PaymentTimeout(_)) => {
            let view = engine.payment(id).await?;
            bail!(
                "payment {id} is still {} after {}s; it carries on in any `grantflow worker` \
                 (see `grantflow pay status {id}`)",
                view.kind(),
                args.wait
            );
        }
        Err(e) => return Err(explain_payment(e)),
    };
    if view.sent().is_none() {
        bail!(
            "payment {id} failed: {}",
            view.reason().unwrap_or_else(|| "no reason recorded".into())
        );
    }
    Ok(status(&view))
}

/// `CODE:SCALE`.
fn parse_asset(text: &str) -> anyhow::Result<(String, u8)> {
    let (code, scale) = text
        .split_once(':')
        .with_context(|| format!("--asset {text:?} is not CODE:SCALE (e.g. USD:2)"))?;
    let scale = scale
        .parse()
        .with_context(|| format!("--asset {text:?}: the scale is not a number from 0 to 255"))?;
    Ok((code.to_owned(), scale))
}

/// The asset of the grant's outgoing-payment limit.
async fn limit_asset(
    engine: &Engine<Store>,
    grant: grantflow_store::GrantId,
) -> anyhow::Result<(String, u8)> {
    let token = engine.access_token(grant).await.map_err(explain_payment)?;
    token
        .access
        .iter()
        .find_map(|a| match a {
            AccessItem::OutgoingPayment(o) => o.limits.as_ref().and_then(|l| {
                l.debit_amount
                    .as_ref()
                    .or(l.receive_amount.as_ref())
                    .map(|a| (a.asset_code.clone(), a.asset_scale))
            }),
            _ => None,
        })
        .with_context(|| {
            format!(
                "grant {grant} has no amount limit to take the asset from: give --asset CODE:SCALE"
            )
        })
}

/// An engine error with what to do next.
fn explain_payment(error: EngineError) -> anyhow::Error {
    match error {
        EngineError::PaymentNotFound(id) => {
            anyhow::anyhow!("no payment {id}: `grantflow pay` prints the ids it records")
        }
        other => explain(other),
    }
}

/// A payment's report.
fn status(v: &PaymentView) -> Report {
    let sent = v.sent();
    let mut human = format!(
        "payment {}\n  state:    {}\n  grant:    {}\n  key:      {}\n",
        v.id,
        v.kind(),
        v.grant,
        v.idempotency_key
    );
    if let Some(s) = sent {
        human.push_str(&format!(
            "  outgoing payment: {}\n  debit:    {} {} (scale {})\n",
            s.payment.id,
            s.payment.debit_amount.value,
            s.payment.debit_amount.asset_code,
            s.payment.debit_amount.asset_scale
        ));
    }
    if let Some(at) = v.next_wake_at {
        human.push_str(&format!("  next wake-up: {}\n", time(at)));
    }
    if let Some(reason) = v.reason() {
        human.push_str(&format!("  reason:   {reason}\n"));
    }
    Report {
        human,
        json: json!({
            "id": v.id,
            "state": v.kind().as_str(),
            "grant": v.grant,
            "idempotency_key": v.idempotency_key,
            "version": v.version,
            "outgoing_payment": sent.map(|s| &s.payment.id),
            "quote": sent.map(|s| &s.quote.id),
            "debit_amount": sent.map(|s| s.payment.debit_amount.value),
            "next_wake_at": v.next_wake_at,
            "reason": v.reason(),
            "created_at": v.created_at,
            "updated_at": v.updated_at,
        }),
    }
}
