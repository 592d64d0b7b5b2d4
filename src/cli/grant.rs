//! `grantflow grant request|status|list|history|continue|cancel|rotate|revoke|token|reindex|
//! watch`: the application API of the engine from the shell, against the database a worker runs
//! on (`watch`, which streams the change feed, lives in `watch.rs`).
//!
//! `request` sends the grant request itself and prints where to send the user; a running
//! `grantflow worker` (with the same `--public-url`) takes the finish callback and continues the
//! grant, or `grant continue` hands a finish redirect over by hand. Commands that only read
//! (`status`, `list`, `history`) need no key; `list` pages by cursor (`--after`, printed as the
//! next page's) and filters on the summary columns (`--state`, `--wallet`, `--access`). Human
//! text by default, `--json` for scripts; only `token` prints a secret, because that is what it
//! is for.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use grantflow_driver::{
    CallbackOutcome, Engine, EngineConfig, GrantFilter, GrantOrder, GrantPage, GrantView,
    Interaction, ListCursor,
};
use grantflow_machine::{Event, GrantState, Outcome, StateKind};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::{
    AccessAction, AccessItem, IncomingPaymentAccess, OutgoingPaymentAccess, OutgoingPaymentLimits,
    QuoteAccess,
};
use grantflow_store::{GrantId, MAX_PAGE};
use serde_json::{Value, json};
use url::Url;

use crate::cli::engine::{ClientArgs, DatabaseArgs, LifecycleArgs, Store, build_engine};
use crate::cli::lookup::{self, SEE_THE_LIST, explain};
use crate::cli::output::{LogFormat, Report, finish, init_logs, runtime, time, time_ms};
use crate::cli::watch::{self, WatchArgs};

/// `grantflow grant ...`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    #[command(subcommand)]
    command: GrantCommand,
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
enum GrantCommand {
    /// Request a grant from a user's wallet address and print where to send the user.
    Request(RequestArgs),
    /// Show a grant: its state, what it gives access to (types, wallet address, limits), next
    /// wake-up, redirect URL, token expiry, last error.
    Status {
        /// The grant id, or a unique prefix of it (e.g. the 8 characters the demo prints).
        id: String,
    },
    /// List grants, newest first: id, state, access types, version, last update, next wake-up,
    /// wallet address, idempotency key; then the cursor of the next page, if there is one.
    List(ListArgs),
    /// Write the queryable summary (state, access types, wallet address, last error) of grants
    /// stored before summaries were kept; needed once after upgrading, when every worker runs
    /// this version. Safe beside running workers; resumable.
    Reindex {
        /// Grants read at a time.
        #[arg(long, default_value_t = 500, value_name = "N")]
        page: u32,
    },
    /// Show a grant's recorded events, oldest first.
    History {
        /// The grant id, or a unique prefix of it (e.g. the 8 characters the demo prints).
        id: String,
    },
    /// Hand over the finish redirect (the URL the user's browser landed on, with `hash` and
    /// `interact_ref`) when no worker served it; the grant is then continued.
    Continue {
        /// The whole finish URL: `<public url>/finish/<grant id>/<token>?hash=...&interact_ref=...`.
        finish_url: Url,
    },
    /// Cancel a grant (at the authorization server too).
    Cancel {
        /// The grant id, or a unique prefix of it (e.g. the 8 characters the demo prints).
        id: String,
    },
    /// Rotate the access token of an issued grant now.
    Rotate {
        /// The grant id, or a unique prefix of it (e.g. the 8 characters the demo prints).
        id: String,
    },
    /// Revoke the access token of an issued grant.
    Revoke {
        /// The grant id, or a unique prefix of it (e.g. the 8 characters the demo prints).
        id: String,
    },
    /// Print a valid access token (rotating first if it has expired). This prints a secret.
    Token {
        /// The grant id, or a unique prefix of it (e.g. the 8 characters the demo prints).
        id: String,
        /// Wait until the grant is issued (the user approved and it was continued), at most
        /// SECONDS (default 300), instead of failing at once while it is not.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "300")]
        wait: Option<u64>,
    },
    /// Print every change of every grant as it commits (by any process on the database), one
    /// line each, until ctrl-c: from now, after a position, or as a named consumer that resumes.
    Watch(WatchArgs),
}

/// `grant list`.
#[derive(Debug, Args)]
struct ListArgs {
    /// Only grants in this state (`AwaitingInteraction`, `Issued`, `Lost`, ...; any case).
    #[arg(long, value_name = "KIND")]
    state: Option<String>,
    /// Only grants requested for this user's wallet address (exactly as requested).
    #[arg(long, value_name = "URL")]
    wallet: Option<String>,
    /// Only grants whose access includes this type.
    #[arg(long, value_enum, value_name = "TYPE")]
    access: Option<AccessType>,
    /// Only grants created at or after this instant (RFC 3339).
    #[arg(long, value_name = "TIME")]
    created_after: Option<DateTime<Utc>>,
    /// Only grants created before this instant (RFC 3339).
    #[arg(long, value_name = "TIME")]
    created_before: Option<DateTime<Utc>>,
    /// Start after this cursor: the `next` printed by the previous page.
    #[arg(long, value_name = "CURSOR")]
    after: Option<String>,
    /// How many grants to show at most (1 to 1000).
    #[arg(long, default_value_t = 50, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
    limit: u32,
}

/// `grant request`.
#[derive(Debug, Args)]
struct RequestArgs {
    /// The user's wallet address: its `authServer` is asked for the grant.
    #[arg(long = "for", value_name = "URL")]
    wallet_address: Url,
    /// The access type.
    #[arg(long, value_enum)]
    access: AccessType,
    /// Debit limit in minor units of the wallet's asset (outgoing payments).
    #[arg(long, value_name = "N", conflicts_with = "receive_amount")]
    debit_amount: Option<u64>,
    /// Receive limit in minor units of the wallet's asset (outgoing payments).
    #[arg(long, value_name = "N")]
    receive_amount: Option<u64>,
    /// Ask for an outgoing-payment grant without an amount limit: any amount may then leave the
    /// user's account. Required when neither --debit-amount nor --receive-amount is given.
    #[arg(long, conflicts_with_all = ["debit_amount", "receive_amount"])]
    no_limit: bool,
    /// The repeating interval the limit applies to, e.g. R/2026-01-01T00:00:00Z/P1M.
    #[arg(long, value_name = "INTERVAL")]
    interval: Option<String>,
    /// Only pay this incoming payment (outgoing payments).
    #[arg(long, value_name = "URL")]
    receiver: Option<String>,
    /// Poll the authorization server instead of waiting for a finish redirect.
    #[arg(long)]
    poll: bool,
    /// Also ask for quote access (create, read): what `grantflow pay` needs to pay under an
    /// outgoing-payment grant.
    #[arg(long)]
    with_quote: bool,
    /// The idempotency key of this request: asking again with it returns the same grant
    /// (default: a new one).
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
}

/// `--access`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum AccessType {
    /// Create, read, list and complete incoming payments (issued at once).
    IncomingPayment,
    /// Create and read quotes (issued at once).
    Quote,
    /// Create, read and list outgoing payments, within limits (needs the user's consent).
    OutgoingPayment,
}

impl AccessType {
    /// The access item `type` on the wire.
    fn type_str(self) -> &'static str {
        match self {
            Self::IncomingPayment => "incoming-payment",
            Self::Quote => "quote",
            Self::OutgoingPayment => "outgoing-payment",
        }
    }
}

/// Runs `grantflow grant ...` and returns the process exit code.
pub fn run(args: GrantArgs) -> ExitCode {
    init_logs(args.log_format, "warn");
    let json = args.json;
    if let GrantCommand::Watch(watch) = &args.command {
        return watch::run(&args.database, &args.client, &args.lifecycle, watch, json);
    }
    finish(json, runtime().and_then(|rt| rt.block_on(grant(args))))
}

async fn grant(args: GrantArgs) -> anyhow::Result<Report> {
    let worker_id = EngineConfig::unique_worker_id("cli");
    let makes_calls = !matches!(
        args.command,
        GrantCommand::Status { .. }
            | GrantCommand::History { .. }
            | GrantCommand::List { .. }
            | GrantCommand::Reindex { .. }
    );
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
    let report = command(&engine, &args).await;
    engine.shutdown().await;
    report
}

async fn command(engine: &Engine<Store>, args: &GrantArgs) -> anyhow::Result<Report> {
    match &args.command {
        GrantCommand::Request(request) => request_grant(engine, &args.client, request).await,
        GrantCommand::Status { id: text } => {
            let id = lookup::resolve(engine, text).await?;
            let view = engine.get(id).await.map_err(explain)?;
            let requested = requested_access(engine, id).await?;
            Ok(status_with_access(&view, requested.as_deref()))
        }
        GrantCommand::List(list_args) => list_grants(engine, list_args).await,
        GrantCommand::Reindex { page } => {
            let report = engine.reindex(*page, |_, _| {}).await?;
            Ok(Report {
                human: format!(
                    "summaries written for {} grants ({} already right, {} changed meanwhile and \
                     were summarised by their writer)",
                    report.written, report.unchanged, report.moved_on
                ),
                json: json!({
                    "written": report.written,
                    "unchanged": report.unchanged,
                    "moved_on": report.moved_on,
                }),
            })
        }
        GrantCommand::History { id: text } => {
            let entries = engine
                .history(lookup::resolve(engine, text).await?)
                .await
                .map_err(explain)?;
            if entries.is_empty() {
                bail!("no grant {text}; {SEE_THE_LIST}");
            }
            let mut human = String::new();
            let mut rows = Vec::new();
            for e in &entries {
                human.push_str(&format!(
                    "v{:<3} {}  {}\n",
                    e.version,
                    time_ms(e.at),
                    e.event.kind()
                ));
                rows.push(json!({
                    "version": e.version,
                    "at": e.at,
                    "event": e.event.kind().as_str(),
                }));
            }
            Ok(Report {
                human,
                json: Value::Array(rows),
            })
        }
        GrantCommand::Continue { finish_url } => continue_grant(engine, finish_url).await,
        GrantCommand::Cancel { id: text } => {
            let view = engine
                .cancel(lookup::resolve(engine, text).await?)
                .await
                .map_err(explain)?;
            reached(
                &view,
                &[StateKind::Canceled, StateKind::Canceling],
                "cancel",
            )
        }
        GrantCommand::Rotate { id: text } => {
            let view = engine
                .rotate(lookup::resolve(engine, text).await?)
                .await
                .map_err(explain)?;
            reached(&view, &[StateKind::Issued, StateKind::Rotating], "rotation")
        }
        GrantCommand::Revoke { id: text } => {
            let view = engine
                .revoke(lookup::resolve(engine, text).await?)
                .await
                .map_err(explain)?;
            reached(
                &view,
                &[StateKind::Revoked, StateKind::Revoking],
                "revocation",
            )
        }
        GrantCommand::Token { id: text, wait } => {
            token(engine, lookup::resolve(engine, text).await?, *wait).await
        }
        GrantCommand::Watch(_) => bail!("`grant watch` prints as it goes (see `watch::run`)"),
    }
}

/// The command's report when the grant is in one of the states `goal` names; otherwise the
/// command failed (exit code 1), and the error says where the grant ended and why.
fn reached(view: &GrantView, goal: &[StateKind], what: &str) -> anyhow::Result<Report> {
    if goal.contains(&view.kind()) {
        return Ok(status(view));
    }
    let reason = view
        .state
        .reason()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    bail!(
        "the {what} did not succeed: grant {} is {}{reason}",
        view.id,
        view.kind()
    )
}

/// `grant token ID [--wait[=SECONDS]]`.
async fn token(engine: &Engine<Store>, id: GrantId, wait: Option<u64>) -> anyhow::Result<Report> {
    if let Some(seconds) = wait {
        let done = |v: &GrantView| v.kind() == StateKind::Issued || v.is_final();
        match engine
            .wait_for(id, Duration::from_secs(seconds), done)
            .await
        {
            Ok(_) => {}
            Err(grantflow_driver::EngineError::Timeout(_)) => {
                let view = engine.get(id).await.map_err(explain)?;
                bail!(
                    "grant {id} is still {} after {seconds}s: is a `grantflow worker` running,                      and did the user approve?",
                    view.kind()
                )
            }
            Err(e) => return Err(explain(e)),
        }
    }
    let token = engine.access_token(id).await.map_err(|e| match e {
        grantflow_driver::EngineError::NoAccessToken { grant, state } if !state.is_final() => {
            anyhow::anyhow!(
                "grant {grant} has no access token yet: it is {state}; wait for it with                  `grantflow grant token {grant} --wait`, or retry once the user has approved"
            )
        }
        other => explain(other),
    })?;
    Ok(Report {
        human: token.value.expose().to_owned(),
        json: json!({
            "value": token.value.expose(),
            "manage": token.manage,
            "expires_at": token.expires_at,
        }),
    })
}

/// What the grant asked for, from its recorded request (`None` if the history has none).
async fn requested_access(
    engine: &Engine<Store>,
    id: GrantId,
) -> anyhow::Result<Option<Vec<AccessItem>>> {
    let history = engine.history(id).await.map_err(explain)?;
    Ok(history.into_iter().find_map(|e| match e.event {
        Event::Request { intent } => intent
            .request
            .access_token
            .as_ref()
            .map(|t| t.access.clone()),
        _ => None,
    }))
}

/// How long `grant continue` drives the engine beyond the instant the continue is due: the call
/// itself and a retry the AS may ask for.
const CONTINUE_SLACK: Duration = Duration::from_secs(30);
/// The longest `grant continue` waits for a continue the AS scheduled; beyond, a worker must run.
const CONTINUE_MAX_WAIT: Duration = Duration::from_secs(300);

/// `grant continue FINISH_URL`: hands the finish redirect to the engine, then drives the engine
/// in this process (a worker of its own, stopped gracefully on exit) until the grant leaves
/// `Continuing`. The machine schedules the continue at the AS's `continue.wait`, so this honours
/// it without a `grantflow worker` running; a worker elsewhere may take the grant over instead.
/// While it runs, this process's worker may also advance other due grants of the database, as
/// any worker would. If the grant is still `Continuing` at the end, the report says a worker must
/// run.
async fn continue_grant(engine: &Engine<Store>, finish_url: &Url) -> anyhow::Result<Report> {
    let (id, token) = finish_path(finish_url)?;
    let query = finish_url.query().unwrap_or_default();
    let outcome = engine
        .finish_callback(id, &token, query)
        .await
        .map_err(|e| anyhow::anyhow!("the finish callback was refused: {e}"))?;
    let word = match outcome {
        CallbackOutcome::Approved => "approved: the grant is being continued",
        CallbackOutcome::Rejected => "rejected by the user",
        CallbackOutcome::Failed => "the interaction failed at the authorization server",
    };
    let done = |v: &GrantView| v.kind() == StateKind::Issued || v.is_final();
    let mut view = engine.get(id).await?;
    let mut waited = Duration::ZERO;
    if !done(&view) {
        let until_due = view
            .next_wake_at
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or_default();
        let budget = until_due
            .saturating_add(CONTINUE_SLACK)
            .min(CONTINUE_MAX_WAIT);
        engine.start_worker();
        waited = budget;
        view = match engine.wait_for(id, budget, done).await {
            Ok(view) => view,
            Err(grantflow_driver::EngineError::Timeout(_)) => engine.get(id).await?,
            Err(e) => return Err(e.into()),
        };
    }
    let mut report = status(&view);
    report.human = format!("callback {word}\n{}", report.human);
    if view.kind() == StateKind::Continuing {
        report.human.push_str(&format!(
            "the grant is still Continuing after {}s here: run `grantflow worker` on this \
             database to finish it\n",
            waited.as_secs()
        ));
    }
    Ok(report)
}

async fn request_grant(
    engine: &Engine<Store>,
    client: &ClientArgs,
    args: &RequestArgs,
) -> anyhow::Result<Report> {
    let http = client.client()?;
    let wallet = http
        .get_wallet_address(&args.wallet_address)
        .await
        .with_context(|| format!("cannot fetch the wallet address {}", args.wallet_address))?;
    let amount = |value| Amount::new(value, wallet.asset_code.clone(), wallet.asset_scale);
    let (access, interaction) = match args.access {
        AccessType::IncomingPayment => (
            AccessItem::IncomingPayment(IncomingPaymentAccess {
                actions: vec![
                    AccessAction::Create,
                    AccessAction::Read,
                    AccessAction::List,
                    AccessAction::Complete,
                ],
                identifier: Some(wallet.id.clone()),
            }),
            Interaction::None,
        ),
        AccessType::Quote => (
            AccessItem::Quote(QuoteAccess {
                actions: vec![AccessAction::Create, AccessAction::Read],
            }),
            Interaction::None,
        ),
        AccessType::OutgoingPayment => {
            if args.debit_amount.is_none() && args.receive_amount.is_none() && !args.no_limit {
                bail!(
                    "an outgoing-payment grant without --debit-amount or --receive-amount lets any \
                     amount leave the user's account: give a limit, or pass --no-limit to ask for \
                     that"
                );
            }
            let interval = args
                .interval
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--interval: {e}"))?;
            let limits = OutgoingPaymentLimits {
                receiver: args.receiver.clone(),
                debit_amount: args.debit_amount.map(amount),
                receive_amount: args.receive_amount.map(amount),
                interval,
            };
            let interaction = if args.poll {
                Interaction::Poll
            } else {
                if client.public_url.is_none() {
                    bail!(
                        "an outgoing-payment grant needs the user's consent: set \
                         GRANTFLOW_PUBLIC_URL (or `grantflow grant --public-url URL request ...`) \
                         to where `grantflow worker` serves the finish callback, or pass --poll"
                    );
                }
                Interaction::Redirect
            };
            (
                AccessItem::OutgoingPayment(OutgoingPaymentAccess {
                    identifier: wallet.id.clone(),
                    actions: vec![
                        AccessAction::List,
                        AccessAction::ListAll,
                        AccessAction::Read,
                        AccessAction::ReadAll,
                        AccessAction::Create,
                    ],
                    limits: Some(limits),
                }),
                interaction,
            )
        }
    };
    let requested = engine
        .request(GrantOrder {
            idempotency_key: args
                .idempotency_key
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            grant_endpoint: wallet.auth_server.clone(),
            access: if args.with_quote {
                vec![
                    access,
                    AccessItem::Quote(QuoteAccess {
                        actions: vec![AccessAction::Create, AccessAction::Read],
                    }),
                ]
            } else {
                vec![access]
            },
            interaction,
        })
        .await?;
    let view = engine.get(requested.id).await?;
    let mut report = status_with_access(&view, None);
    if !requested.inserted {
        report.human = format!(
            "(this idempotency key was used before: the same grant)\n{}",
            report.human
        );
    }
    Ok(report)
}

/// The grant id and token of a finish URL `<base>/finish/<id>/<token>`.
fn finish_path(url: &Url) -> anyhow::Result<(GrantId, String)> {
    let segments: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    match segments.as_slice() {
        [.., "finish", id, token] if !token.is_empty() => {
            let id = id
                .parse::<uuid::Uuid>()
                .with_context(|| format!("{id:?} in the finish URL is not a grant id"))?;
            Ok((GrantId(id), (*token).to_owned()))
        }
        _ => bail!(
            "not a finish URL: expected <public url>/finish/<grant id>/<token>?hash=...&interact_ref=..."
        ),
    }
}

/// What the grant's current state knows of its access: the request while it is under way, the
/// granted access once issued; `None` once it has ended (the request is in its history).
fn state_access(state: &GrantState) -> Option<&[AccessItem]> {
    fn requested(intent: &grantflow_machine::GrantIntent) -> Option<&[AccessItem]> {
        intent
            .request
            .access_token
            .as_ref()
            .map(|t| t.access.as_slice())
    }
    match state {
        GrantState::Requested(s) => requested(&s.intent),
        GrantState::AwaitingInteraction(s) => requested(&s.intent),
        GrantState::Continuing(s) => requested(&s.intent),
        _ => state.access_token().map(|t| t.access.as_slice()),
    }
}

/// The access types, `outgoing-payment,quote`, each once.
fn access_types(access: &[AccessItem]) -> String {
    let mut types: Vec<&str> = Vec::new();
    for item in access {
        if !types.contains(&item.type_str()) {
            types.push(item.type_str());
        }
    }
    types.join(",")
}

/// One access item in words: its type and actions, the wallet address, and the limits.
fn access_lines(item: &AccessItem) -> Vec<String> {
    let actions: Vec<String> = item.actions().iter().map(ToString::to_string).collect();
    let mut lines = vec![format!("{} ({})", item.type_str(), actions.join(", "))];
    let wallet = match item {
        AccessItem::IncomingPayment(a) => a.identifier.as_deref(),
        AccessItem::OutgoingPayment(a) => Some(a.identifier.as_str()),
        AccessItem::Quote(_) => None,
    };
    if let Some(wallet) = wallet {
        lines.push(format!("  wallet   {wallet}"));
    }
    if let AccessItem::OutgoingPayment(a) = item {
        let limits = a.limits.as_ref();
        let amount = |a: &Amount| format!("{} {} (scale {})", a.value, a.asset_code, a.asset_scale);
        match limits.and_then(|l| l.debit_amount.as_ref()) {
            Some(d) => lines.push(format!("  limit    debit at most {}", amount(d))),
            None => match limits.and_then(|l| l.receive_amount.as_ref()) {
                Some(r) => lines.push(format!("  limit    receive at most {}", amount(r))),
                None => lines.push("  limit    none: any amount may be sent".to_owned()),
            },
        }
        if let Some(interval) = limits.and_then(|l| l.interval.as_ref()) {
            lines.push(format!(
                "  interval {interval} (the limit applies per window)"
            ));
        }
        if let Some(receiver) = limits.and_then(|l| l.receiver.as_ref()) {
            lines.push(format!("  receiver {receiver}"));
        }
    }
    lines
}

/// `grant list`: the filter and cursor checked here (clear errors), one page from the engine.
async fn list_grants(engine: &Engine<Store>, args: &ListArgs) -> anyhow::Result<Report> {
    let filter = GrantFilter {
        state: args
            .state
            .as_deref()
            .map(str::parse::<StateKind>)
            .transpose()?,
        wallet: args.wallet.clone(),
        access: args.access.map(|a| a.type_str().to_owned()),
        created_after: args.created_after,
        created_before: args.created_before,
    };
    let after = args
        .after
        .as_deref()
        .map(str::parse::<ListCursor>)
        .transpose()?;
    Ok(list(&engine.list(&filter, after, args.limit).await?))
}

/// A page of grants as a table and as JSON (`{"grants": [...], "next": cursor or null}`, the
/// same fields as `status`'s summary), without secrets.
fn list(page: &GrantPage) -> Report {
    let mut human = format!(
        "{:<36}  {:<20}  {:<24}  {:>4}  {:<20}  {:<20}  {:<30}  idempotency key\n",
        "grant", "state", "access", "v", "updated", "next wake", "wallet address"
    );
    let mut rows = Vec::with_capacity(page.grants.len());
    for view in &page.grants {
        // The summary's, or what the state knows for a grant not summarised yet.
        let access = if view.access_types.is_empty() {
            state_access(&view.state).map(access_types)
        } else {
            Some(view.access_types.join(","))
        };
        human.push_str(&format!(
            "{:<36}  {:<20}  {:<24}  {:>4}  {:<20}  {:<20}  {:<30}  {}\n",
            view.id,
            view.kind().as_str(),
            access.as_deref().unwrap_or("-"),
            view.version,
            time(view.updated_at),
            view.next_wake_at.map(time).unwrap_or_else(|| "-".into()),
            view.wallet_address.as_deref().unwrap_or("-"),
            view.idempotency_key.as_deref().unwrap_or("-"),
        ));
        rows.push(json!({
            "id": view.id.to_string(),
            "state": view.kind().as_str(),
            "access_types": access.map(|a| a.split(',').map(str::to_owned).collect::<Vec<_>>()),
            "version": view.version,
            "idempotency_key": view.idempotency_key,
            "wallet_address": view.wallet_address,
            "created_at": view.created_at,
            "updated_at": view.updated_at,
            "next_wake_at": view.next_wake_at,
        }));
    }
    if page.grants.is_empty() {
        human = "no grants\n".into();
    }
    let next = page.next.map(|c| c.to_string());
    if let Some(next) = &next {
        human.push_str(&format!("next page: --after {next}\n"));
    }
    Report {
        human,
        json: json!({ "grants": rows, "next": next }),
    }
}

/// A grant as text and JSON, without secrets, with what it gives access to: `requested` (from
/// its recorded request) when given, else what its state knows.
fn status_with_access(view: &GrantView, requested: Option<&[AccessItem]>) -> Report {
    let mut report = status(view);
    let Some(access) = requested.or_else(|| state_access(&view.state)) else {
        return report;
    };
    let mut lines = Vec::new();
    for item in access {
        for (i, line) in access_lines(item).into_iter().enumerate() {
            let label = if i == 0 { "access     " } else { "           " };
            lines.push(format!("{label}{line}"));
        }
    }
    // After the id, state and version lines.
    let mut human: Vec<String> = report.human.lines().map(str::to_owned).collect();
    let at = human.len().min(3);
    human.splice(at..at, lines);
    report.human = human.join("\n");
    report.json["access"] = serde_json::to_value(access).unwrap_or(Value::Null);
    report
}

/// A grant as text and JSON, without secrets.
fn status(view: &GrantView) -> Report {
    let state = &view.state;
    let mut lines = vec![
        format!("grant      {}", view.id),
        format!("state      {}", view.kind()),
        format!("version    {}", view.version),
        format!("created    {}", time(view.created_at)),
        format!("updated    {}", time(view.updated_at)),
    ];
    if let Some(key) = &view.idempotency_key {
        lines.push(format!("idempotency key  {key}"));
    }
    if let Some(at) = view.next_wake_at {
        lines.push(format!("next wake  {}", time(at)));
    }
    if let Some(call) = state.call_in_flight() {
        lines.push(format!("in flight  {call}"));
    }
    if let Some(redirect) = view.redirect() {
        lines.push(format!("redirect   {redirect}"));
    }
    let (token, reason) = match state {
        GrantState::Finalized(Outcome::Issued(issued)) => (
            Some(json!({
                "manage": issued.token.manage,
                "expires_at": issued.expires_at,
            })),
            None,
        ),
        // Why it failed or was lost, or, while a call keeps failing, its last error.
        _ => (None, state.reason()),
    };
    if let Some(t) = &token {
        let expires = match &t["expires_at"] {
            Value::String(at) => at
                .parse::<DateTime<Utc>>()
                .map(time)
                .unwrap_or_else(|_| at.clone()),
            _ => "never (no expiry given)".to_owned(),
        };
        lines.push(format!("token      expires {expires}"));
    }
    if let Some(reason) = &reason {
        let label = if view.is_final() {
            "reason    "
        } else {
            "last error"
        };
        lines.push(format!("{label} {reason}"));
    }
    Report {
        human: lines.join("\n"),
        json: json!({
            "id": view.id.to_string(),
            "state": view.kind().as_str(),
            "version": view.version,
            "idempotency_key": view.idempotency_key,
            "created_at": view.created_at,
            "updated_at": view.updated_at,
            "next_wake_at": view.next_wake_at,
            "in_flight": state.call_in_flight().map(|c| c.to_string()),
            "redirect": view.redirect(),
            "token": token,
            "reason": reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_urls_give_the_grant_and_token() {
        let id = uuid::Uuid::new_v4();
        let url: Url = format!("http://127.0.0.1:3344/app/finish/{id}/tok?hash=h&interact_ref=r")
            .parse()
            .unwrap();
        let (grant, token) = finish_path(&url).unwrap();
        assert_eq!(grant, GrantId(id));
        assert_eq!(token, "tok");
        assert!(finish_path(&"http://x/finish/not-a-uuid/t".parse().unwrap()).is_err());
        assert!(finish_path(&"http://x/other".parse().unwrap()).is_err());
    }
}
