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
//!
//! Layout: this file runs the steps in order and stops what they started; `setup.rs` starts the
//! sandbox and the first worker; one file per step or pair of steps (`grants.rs` 1-2,
//! `approval.rs` 3, `resume.rs` 4, `payments.rs` 5, `manage.rs` 6 and the summary);
//! `resources.rs` the resource-server calls and money formatting; `killable.rs` the runtime the
//! first worker dies with; `calls.rs` the observed, crash-staging `Calls`; `timeline.rs` the
//! printed timeline.

mod approval;
mod calls;
mod grants;
mod killable;
mod manage;
mod payments;
mod resources;
mod resume;
mod setup;
mod timeline;

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use grantflow_driver::Engine;
use grantflow_sandbox::SandboxHandle;
use grantflow_seal::SealingStore;
use grantflow_store::AnyStore;

use crate::cli::output::runtime;
use killable::KillableRuntime;
use timeline::Timeline;

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

impl Step {
    /// Moves on to step `number` and prints its heading.
    fn enter(&mut self, t: &Timeline, number: usize, title: &'static str) {
        *self = Step { number, title };
        t.step(number, title);
    }
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
    engine: Option<Engine<SealingStore<AnyStore>>>,
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

    /// The steps in order; each one's file says what it shows.
    async fn run(
        &mut self,
        args: &DemoArgs,
        timeline: &Arc<Timeline>,
        step: &mut Step,
    ) -> anyhow::Result<()> {
        let t = timeline;
        let (setup, crash) = self.set_up(args, t).await?;

        step.enter(t, 1, "wallet addresses, incoming payment, quote");
        let first = self.first_grants(t, &setup).await?;

        step.enter(t, 2, "outgoing-payment grant, as in the seeds");
        let outgoing = self.outgoing_grant(t, &setup, &first).await?;

        step.enter(t, 3, "the user approves");
        approval::approve(args, t, &setup.finish_base, &outgoing.redirect, crash).await?;

        step.enter(t, 4, "crash after the callback, resume on a new worker");
        let engine = self.resume(t, &setup, outgoing.grant).await?;

        step.enter(t, 5, "payments within and over the limit");
        let payments =
            payments::within_and_over(t, &engine, &setup.client, &first, &outgoing).await?;

        step.enter(t, 6, "rotate, revoke, cancel");
        manage::rotate_revoke_cancel(t, &engine, &setup.client, &first, &outgoing).await?;

        *step = Step {
            number: 7,
            title: "summary",
        };
        manage::summary(t, &engine, &first, &outgoing, &payments).await
    }

    /// Runs `future` on the first worker's runtime and waits for it.
    async fn on_first_worker<F>(&self, future: F) -> anyhow::Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.first_worker
            .as_ref()
            .context("worker-1 is not running")?
            .run(future)
            .await
    }
}

async fn with_timeout<F: Future>(what: &str, future: F) -> anyhow::Result<F::Output> {
    tokio::time::timeout(STEP_TIMEOUT, future)
        .await
        .map_err(|_| anyhow!("{what} took longer than {}s", STEP_TIMEOUT.as_secs()))
}
