//! The `grantflow` command line. Each subcommand's code lives in `src/cli/<name>.rs`.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Open Payments grants as durable workflows.
#[derive(Debug, Parser)]
#[command(name = "grantflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// ISO 8601 repeating intervals (Open Payments `limits.interval`): parse, find windows.
    Interval(cli::interval::IntervalArgs),
    /// Client signing keys: generate one (PKCS#8 PEM, mode 0600), print a key file's public JWKS,
    /// rotate keys in a key set (add, activate, retire, list); storage keys (`keys storage`),
    /// which seal the secrets in the database.
    Keys(cli::keys::KeysArgs),
    /// Run the local Open Payments server (wallet addresses, auth server, resource server,
    /// consent page) on loopback until ctrl-c.
    Sandbox(cli::sandbox::SandboxArgs),
    /// The seed flows end to end in one process (sandbox, engine on SQLite, a generated key),
    /// with a worker crash and resume in the middle. Exits 0 when every step worked.
    Demo(cli::demo::DemoArgs),
    /// Advance grants and serve the finish callback until ctrl-c (many workers may share one
    /// PostgreSQL database).
    Worker(cli::worker::WorkerArgs),
    /// Grants in the database: request, status, list, history, continue, cancel, rotate, revoke,
    /// token.
    Grant(cli::grant::GrantArgs),
    /// Pay under an issued grant, exactly once (`pay --grant ID --receiver URL --debit|--receive
    /// AMOUNT`), or show a payment (`pay status ID`).
    Pay(cli::pay::PayArgs),
    /// Recurring payments under a grant: create, list, status, pause, resume, cancel (a worker
    /// pays each occurrence).
    Schedule(cli::schedule::ScheduleArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Interval(args) => cli::interval::run(args),
        Command::Keys(args) => cli::keys::run(args),
        Command::Sandbox(args) => cli::sandbox::run(args),
        Command::Demo(args) => cli::demo::run(args),
        Command::Worker(args) => cli::worker::run(args),
        Command::Grant(args) => cli::grant::run(args),
        Command::Pay(args) => cli::pay::run(args),
        Command::Schedule(args) => cli::schedule::run(args),
    }
}
