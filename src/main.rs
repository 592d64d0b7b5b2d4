//! The `grantflow` command line.

use clap::Parser;

/// Open Payments grants as durable workflows.
#[derive(Debug, Parser)]
#[command(name = "grantflow", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
