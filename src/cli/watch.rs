//! `grantflow grant watch`: the change feed from the shell. Prints every change committed by
//! any process on the database, one line each (one JSON object per line with `--json`), as it
//! commits, until ctrl-c/SIGTERM or until the reader closes the pipe.
//!
//! Where it starts: from now; after a `--after POSITION` the caller kept (every line carries its
//! position); or, with `--consumer NAME`, after the position stored in the database under that
//! name, which this process advances after printing each batch of changes. One process consumes
//! a name at a time (it holds the name's lease, renewed while it runs): a second one waits until
//! the first stops or its lease lapses (`--lease-seconds` after it was killed), then resumes where
//! the first stored its position. Delivery is at least once: a process killed after printing and
//! before storing prints those changes again on resume; deduplicate by position.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use grantflow_driver::{Engine, EngineConfig, FeedChange, FeedEntry};
use grantflow_store::{ConsumerLease, FeedPosition, GrantStore};
use serde_json::{Value, json};

use crate::cli::engine::{ClientArgs, DatabaseArgs, LifecycleArgs, Store, build_engine};
use crate::cli::output::{fail, print_stdout, runtime, time_ms};
use crate::cli::sandbox::shutdown_signal;
use crate::cli::seconds::{DAY, seconds};

/// `grant watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Start after this position (each printed change carries its own; `0.0` is the start of
    /// the feed) instead of now.
    #[arg(long, value_name = "POSITION", conflicts_with = "consumer")]
    after: Option<FeedPosition>,
    /// Consume as NAME: start after the position stored under NAME (the start of the feed for a
    /// new name) and store the position of each batch printed.
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
    /// With --consumer: how long the name stays taken after this process dies without releasing
    /// it (renewed while it runs).
    #[arg(
        long,
        env = "GRANTFLOW_LEASE_SECONDS",
        default_value_t = 30,
        value_parser = seconds(1, DAY)
    )]
    lease_seconds: u64,
}

/// Runs `grantflow grant watch` and returns the process exit code. Errors as every command
/// reports them; the changes themselves are the output.
pub fn run(
    database: &DatabaseArgs,
    client: &ClientArgs,
    lifecycle: &LifecycleArgs,
    args: &WatchArgs,
    json: bool,
) -> ExitCode {
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let engine = build_engine(
                database,
                client,
                EngineConfig::unique_worker_id("watch"),
                false,
                |config| lifecycle.apply(&mut config.machine),
            )
            .await?;
            let watched = watch(&engine, args, json).await;
            engine.shutdown().await;
            watched
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fail(json, &error);
            ExitCode::FAILURE
        }
    }
}

/// Why the watch ended without an error.
enum Stop {
    /// ctrl-c or SIGTERM.
    Signal,
    /// The reader closed stdout.
    Closed,
}

async fn watch(engine: &Engine<Store>, args: &WatchArgs, json: bool) -> anyhow::Result<()> {
    let lease_length = Duration::from_secs(args.lease_seconds);
    let mut lease = match &args.consumer {
        Some(name) => Some(claim(engine, name, lease_length).await?),
        None => None,
    };
    let mut feed = match (&lease, args.after) {
        (Some(lease), _) => engine.subscribe_after(lease.position),
        (None, Some(after)) => engine.subscribe_after(Some(after)),
        (None, None) => engine.subscribe().await?,
    };
    let signal = shutdown_signal();
    tokio::pin!(signal);
    // The lease is renewed a few times per length, whether changes come or not.
    let mut renew = tokio::time::interval(lease_length / 3);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = loop {
        tokio::select! {
            entry = feed.next() => {
                let mut batch = vec![entry?];
                // What is already read comes along, so a consumer stores once per batch.
                batch.extend(feed.try_next_batch().await?);
                let text: String = batch.iter().map(|e| line(e, json)).collect();
                if print_stdout(&text).is_err() {
                    break Stop::Closed;
                }
                if let Some(held) = &lease {
                    lease = Some(advance(engine, held, feed.position(), lease_length).await?);
                }
            }
            _ = renew.tick() => {
                if let Some(held) = &lease {
                    lease = Some(advance(engine, held, held.position, lease_length).await?);
                }
            }
            ended = &mut signal => {
                ended?;
                break Stop::Signal;
            }
        }
    };
    if let Some(held) = &lease {
        engine
            .store()
            .release_consumer(held)
            .await
            .with_context(|| format!("cannot release the consumer {}", held.name))?;
    }
    match stop {
        Stop::Signal => tracing::info!("stopped on a signal"),
        Stop::Closed => tracing::info!("the reader closed the output"),
    }
    Ok(())
}

/// Takes the consumer's lease, waiting while another process holds it.
async fn claim(
    engine: &Engine<Store>,
    name: &str,
    lease_length: Duration,
) -> anyhow::Result<ConsumerLease> {
    let mut told = false;
    loop {
        let now = chrono::Utc::now();
        let claimed = engine
            .store()
            .claim_consumer(name, &engine.config().worker_id, now, now + lease_length)
            .await
            .with_context(|| format!("cannot claim the consumer {name}"))?;
        if let Some(lease) = claimed {
            return Ok(lease);
        }
        if !told {
            eprintln!(
                "the consumer {name} is held by another process: waiting until it stops or its \
                 lease lapses"
            );
            told = true;
        }
        tokio::time::sleep(Duration::from_secs(1).min(lease_length)).await;
    }
}

/// Stores `position` as the consumer's and renews its lease.
async fn advance(
    engine: &Engine<Store>,
    lease: &ConsumerLease,
    position: Option<FeedPosition>,
    lease_length: Duration,
) -> anyhow::Result<ConsumerLease> {
    let now = chrono::Utc::now();
    engine
        .store()
        .advance_consumer(lease, position, now, now + lease_length)
        .await
        .with_context(|| {
            format!(
                "cannot store the position of the consumer {} (if its lease was lost, another \
                 process consumes it now)",
                lease.name
            )
        })
}

/// One change as printed, ending in a newline.
fn line(entry: &FeedEntry, json: bool) -> String {
    let c = match &entry.change {
        FeedChange::Grant(c) => c,
        FeedChange::Payment(p) => {
            return workflow_line(
                entry,
                json,
                &format!("payment {} (grant {})", p.payment, p.grant),
                p.version,
                (p.from.as_str(), p.kind.as_str(), p.event.as_str()),
                p.change_name(),
            );
        }
        FeedChange::Schedule(s) => {
            return workflow_line(
                entry,
                json,
                &format!("schedule {}", s.schedule),
                s.version,
                (s.from.as_str(), s.kind.as_str(), s.event.as_str()),
                None,
            );
        }
        _ => return other_line(entry, json),
    };
    grant_line(entry, c, json)
}

/// A payment's or a schedule's change: the text line names the workflow (`payment <id> (grant
/// <id>)`, `schedule <id>`); the JSON line is the webhook's body (`"type": "payment"` or
/// `"schedule"`, see docs/operations.md).
fn workflow_line(
    entry: &FeedEntry,
    json: bool,
    what: &str,
    version: i64,
    (from, to, event): (&str, &str, &str),
    change: Option<&str>,
) -> String {
    if json {
        return format!("{}\n", grantflow_driver::webhook_body(entry));
    }
    format!(
        "{}  {}  {what}  v{version:<3} {from} -> {to} ({event}){}\n",
        entry.position,
        time_ms(entry.at),
        change.map(|c| format!(": {c}")).unwrap_or_default(),
    )
}

/// A change this version cannot describe (another kind of workflow, or from before the feed):
/// its id, and its version.
fn other_line(entry: &FeedEntry, json: bool) -> String {
    let position = entry.position.to_string();
    let at = entry.at;
    let version = match &entry.change {
        FeedChange::Other { version, .. } => Some(*version),
        _ => None,
    };
    if json {
        let line = json!({
            "position": position, "at": at, "id": entry.id(), "version": version,
            "other": true,
        });
        format!("{line}\n")
    } else {
        format!(
            "{position}  {}  {}  v{}  (a change this version cannot describe)\n",
            time_ms(at),
            entry.id(),
            version.map(|v| v.to_string()).unwrap_or_default()
        )
    }
}

/// A grant's change.
fn grant_line(entry: &FeedEntry, c: &grantflow_driver::GrantChange, json: bool) -> String {
    let position = entry.position.to_string();
    let at = entry.at;
    // `Change` serialises as its snake_case name.
    let change = c.change.and_then(|c| serde_json::to_value(c).ok());
    if json {
        let line = json!({
            "position": position,
            "at": at,
            "grant": c.grant,
            "version": c.version,
            "from": c.from.as_str(),
            "event": c.event.as_str(),
            "state": c.kind.as_str(),
            "change": change,
        });
        format!("{line}\n")
    } else {
        format!(
            "{position}  {}  {}  v{:<3} {} -> {} ({}){}\n",
            time_ms(at),
            c.grant,
            c.version,
            c.from,
            c.kind,
            c.event.as_str(),
            change
                .as_ref()
                .and_then(Value::as_str)
                .map(|s| format!(": {s}"))
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use grantflow_driver::GrantChange;
    use grantflow_machine::{Change, EventKind, StateKind};
    use grantflow_store::GrantId;

    fn entry(change: FeedChange) -> FeedEntry {
        FeedEntry {
            position: "812.40".parse().unwrap(),
            at: DateTime::parse_from_rfc3339("2026-12-03T12:00:00.250Z")
                .unwrap()
                .to_utc(),
            change,
        }
    }

    #[test]
    fn a_grant_change_prints_as_one_line_of_text_or_json() {
        let grant = GrantId::new_random();
        let change = FeedChange::Grant(GrantChange {
            grant,
            version: 3,
            from: StateKind::AwaitingInteraction,
            event: EventKind::FinishApproved,
            kind: StateKind::Continuing,
            change: Some(Change::InteractionFinished),
        });
        let text = line(&entry(change.clone()), false);
        assert_eq!(
            text,
            format!(
                "812.40  2026-12-03T12:00:00.250Z  {grant}  v3   AwaitingInteraction -> \
                 Continuing (finish(hash, interact_ref)): interaction_finished\n"
            )
        );
        let json = line(&entry(change), true);
        assert!(json.ends_with('\n') && json.trim_end().lines().count() == 1);
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            json!({
                "position": "812.40",
                "at": "2026-12-03T12:00:00.250Z",
                "grant": grant.to_string(),
                "version": 3,
                "from": "AwaitingInteraction",
                "event": "finish(hash, interact_ref)",
                "state": "Continuing",
                "change": "interaction_finished",
            })
        );
    }

    #[test]
    fn a_change_this_version_cannot_describe_still_prints_its_id_and_version() {
        let id = GrantId::new_random();
        let other = FeedChange::Other { id, version: 7 };
        let value: Value = serde_json::from_str(&line(&entry(other.clone()), true)).unwrap();
        assert_eq!(
            value,
            json!({
                "position": "812.40",
                "at": "2026-12-03T12:00:00.250Z",
                "id": id.to_string(),
                "version": 7,
                "other": true,
            })
        );
        assert!(line(&entry(other), false).contains(&format!("{id}  v7  ")));
    }

    #[test]
    fn a_payment_change_names_the_payment_and_its_grant() {
        let grant = GrantId::new_random();
        let payment = grantflow_driver::PaymentId::new_random();
        let change = FeedChange::Payment(grantflow_driver::PaymentUpdate {
            payment,
            grant,
            version: 4,
            from: grantflow_payment::PaymentStateKind::Sending,
            event: grantflow_payment::PaymentEventKind::PaymentFound,
            kind: grantflow_payment::PaymentStateKind::Sent,
            change: Some(grantflow_payment::PaymentChange::Sent),
        });
        let text = line(&entry(change.clone()), false);
        assert_eq!(
            text,
            format!(
                "812.40  2026-12-03T12:00:00.250Z  payment {payment} (grant {grant})  v4   \
                 Sending -> Sent (PaymentFound): sent\n"
            )
        );
        let value: Value = serde_json::from_str(&line(&entry(change), true)).unwrap();
        assert_eq!(value["type"], "payment");
        assert_eq!(value["payment"], payment.to_string());
        assert_eq!(value["grant"], grant.to_string());
        assert_eq!(value["state"], "sent");
        assert_eq!(value["change"], "sent");
    }
}
