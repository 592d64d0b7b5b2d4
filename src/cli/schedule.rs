//! `grantflow schedule create|list|status|pause|resume|cancel`: recurring payments from the
//! shell, against the database a worker runs on (the worker pays each occurrence as it comes
//! due; these commands only record and read).
//!
//! `create` takes an issued grant (id or unique prefix) with outgoing-payment access, the
//! incoming payment to pay, the amount in minor units, and the cadence: every window of the
//! grant's `limits.interval` by default, or `--every` an interval of its own. Human text by
//! default, `--json` for scripts.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use grantflow_driver::{
    Engine, EngineConfig, EngineError, ScheduleCadence, ScheduleOrder, ScheduleView,
};
use grantflow_interval::RepeatingInterval;
use grantflow_payment::PaymentAmount;
use grantflow_payment::schedule::OccurrenceRecord;
use grantflow_protocol::amount::Amount;
use grantflow_store::ScheduleId;
use serde_json::{Value, json};

use crate::cli::engine::{ClientArgs, DatabaseArgs, Store, build_engine};
use crate::cli::lookup;
use crate::cli::output::{LogFormat, Report, finish, init_logs, runtime, time};

/// `grantflow schedule ...`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    command: ScheduleCommand,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    client: ClientArgs,
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
enum ScheduleCommand {
    /// Create a recurring payment under an issued grant (a worker pays each occurrence).
    Create(Box<CreateArgs>),
    /// List schedules, newest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: u32,
    },
    /// Show a schedule: its state, grant, next wake-up, counts and newest occurrences.
    Status {
        /// The schedule id.
        id: ScheduleId,
    },
    /// Pause a schedule: occurrences that come due meanwhile are skipped.
    Pause {
        /// The schedule id.
        id: ScheduleId,
    },
    /// Resume a paused schedule from its next occurrence.
    Resume {
        /// The schedule id.
        id: ScheduleId,
    },
    /// Cancel a schedule (a payment being made runs to its end).
    Cancel {
        /// The schedule id.
        id: ScheduleId,
    },
}

/// `schedule create`.
#[derive(Debug, Args)]
struct CreateArgs {
    /// The issued grant to pay under (its id, or a unique prefix).
    #[arg(long)]
    grant: String,
    /// The incoming payment URL to pay every time.
    #[arg(long)]
    receiver: String,
    /// What each occurrence debits, in minor units (with --receive: what it delivers).
    #[arg(long, value_name = "VALUE")]
    amount: u64,
    /// The amount's asset code.
    #[arg(long, default_value = "USD")]
    asset_code: String,
    /// The amount's asset scale.
    #[arg(long, default_value_t = 2)]
    asset_scale: u8,
    /// Fix what the receiver gets instead of what the sender is debited.
    #[arg(long)]
    receive: bool,
    /// Pay once per window of this repeating interval (e.g. `R/2026-12-01T09:00:00Z/P1D`)
    /// instead of once per window of the grant's `limits.interval`.
    #[arg(long, value_name = "INTERVAL")]
    every: Option<RepeatingInterval>,
    /// The first occurrence is the window containing this instant (RFC 3339; default: now).
    #[arg(long)]
    start: Option<DateTime<Utc>>,
    /// No occurrence comes due at or after this instant (RFC 3339; default: never).
    #[arg(long)]
    end: Option<DateTime<Utc>>,
    /// The key that makes a repeated create return the same schedule (default: a new one).
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
}

/// Runs `grantflow schedule ...` and returns the process exit code.
pub fn run(args: ScheduleArgs) -> ExitCode {
    init_logs(args.log_format, "warn");
    let json = args.json;
    finish(json, runtime().and_then(|rt| rt.block_on(schedule(args))))
}

async fn schedule(args: ScheduleArgs) -> anyhow::Result<Report> {
    let reads_only = matches!(
        args.command,
        ScheduleCommand::List { .. } | ScheduleCommand::Status { .. }
    );
    let engine = build_engine(
        &args.database,
        &args.client,
        EngineConfig::unique_worker_id("cli"),
        !reads_only,
        |_| {},
    )
    .await?;
    let report = command(&engine, &args.command).await;
    engine.shutdown().await;
    report
}

async fn command(engine: &Engine<Store>, command: &ScheduleCommand) -> anyhow::Result<Report> {
    let view = match command {
        ScheduleCommand::Create(args) => create(engine, args).await?,
        ScheduleCommand::List { limit } => return list(engine, *limit).await,
        ScheduleCommand::Status { id } => engine.schedule_status(*id).await.map_err(explain)?,
        ScheduleCommand::Pause { id } => engine.pause_schedule(*id).await.map_err(explain)?,
        ScheduleCommand::Resume { id } => engine.resume_schedule(*id).await.map_err(explain)?,
        ScheduleCommand::Cancel { id } => engine.cancel_schedule(*id).await.map_err(explain)?,
    };
    Ok(status(&view))
}

/// An engine error, with what to do when the schedule is unknown.
fn explain(error: EngineError) -> anyhow::Error {
    match error {
        EngineError::ScheduleNotFound(id) => anyhow::anyhow!(
            "no schedule {id}; `grantflow schedule list` shows the schedules in this database"
        ),
        other => other.into(),
    }
}

async fn create(engine: &Engine<Store>, args: &CreateArgs) -> anyhow::Result<ScheduleView> {
    let grant = lookup::resolve(engine, &args.grant).await?;
    let amount = Amount::new(args.amount, args.asset_code.clone(), args.asset_scale);
    let order = ScheduleOrder {
        idempotency_key: args
            .idempotency_key
            .clone()
            .unwrap_or_else(|| format!("cli-{}", ScheduleId::new_random())),
        grant,
        receiver: args.receiver.clone(),
        amount: if args.receive {
            PaymentAmount::Receive(amount)
        } else {
            PaymentAmount::Debit(amount)
        },
        cadence: match &args.every {
            Some(interval) => ScheduleCadence::Interval(Box::new(*interval)),
            None => ScheduleCadence::GrantWindows,
        },
        start: args.start,
        end: args.end,
        metadata: None,
    };
    engine
        .schedule(order)
        .await
        .context("the schedule was not created")
}

async fn list(engine: &Engine<Store>, limit: u32) -> anyhow::Result<Report> {
    let views = engine.schedules(limit).await?;
    let mut human = String::new();
    for v in &views {
        let t = v.tally();
        human.push_str(&format!(
            "{}  {:<16} paid {:>4}  next {}\n",
            v.id,
            v.kind().as_str(),
            t.paid,
            v.next_wake_at.map_or_else(|| "-".to_owned(), time)
        ));
    }
    if views.is_empty() {
        human.push_str("no schedules\n");
    }
    Ok(Report {
        human,
        json: Value::Array(views.iter().map(summary).collect()),
    })
}

fn summary(v: &ScheduleView) -> Value {
    let t = v.tally();
    json!({
        "id": v.id.to_string(),
        "state": v.kind().as_str(),
        "grant": v.grant(),
        "next_wake_at": v.next_wake_at,
        "paid": t.paid,
        "failed": t.failed,
        "unknown": t.unknown,
        "skipped": t.skipped,
        "reason": v.state.reason(),
    })
}

fn status(v: &ScheduleView) -> Report {
    let t = v.tally();
    let mut human = format!(
        "schedule {}\n  state    {}\n  grant    {}\n  next     {}\n  paid {}  failed {}  unknown {}  skipped {}\n",
        v.id,
        v.kind().as_str(),
        v.grant().unwrap_or("-"),
        v.next_wake_at.map_or_else(|| "-".to_owned(), time),
        t.paid,
        t.failed,
        t.unknown,
        t.skipped
    );
    if let Some(reason) = v.state.reason() {
        human.push_str(&format!("  reason   {reason}\n"));
    }
    let recent = v
        .state
        .progress()
        .map(|p| p.recent.clone())
        .unwrap_or_default();
    for r in &recent {
        human.push_str(&format!("  {}\n", record(r)));
    }
    let mut json = summary(v);
    json["recent"] = serde_json::to_value(&recent).unwrap_or(Value::Null);
    Report { human, json }
}

fn record(r: &OccurrenceRecord) -> String {
    match r {
        OccurrenceRecord::Paid {
            occurrence,
            payment,
            ..
        } => format!("#{occurrence} paid: {payment}"),
        OccurrenceRecord::Failed {
            occurrence, reason, ..
        } => format!("#{occurrence} failed: {reason}"),
        OccurrenceRecord::Unknown {
            occurrence, reason, ..
        } => format!("#{occurrence} unknown: {reason}"),
        OccurrenceRecord::Skipped { from, to, reason } => {
            format!("#{from}..#{to} skipped: {reason}")
        }
    }
}
