//! The runtime the first worker runs and dies in.

use std::future::Future;

use anyhow::{Context, anyhow};

/// A tokio runtime of its own, for the worker the demo kills: dropping it tears down every task
/// it runs at once (no graceful shutdown, nothing released), as a killed process would.
pub(super) struct KillableRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl KillableRuntime {
    pub(super) fn new(name: &str) -> anyhow::Result<Self> {
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
    pub(super) async fn run<F>(&self, future: F) -> anyhow::Result<F::Output>
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
