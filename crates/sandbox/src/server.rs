//! Starting and stopping the sandbox: [`Sandbox::start`] and [`SandboxHandle`].
//!
//! Shutdown is designed, not accidental: [`SandboxHandle::shutdown`] stops accepting
//! connections, lets in-flight requests finish (up to a grace period, after which the server task
//! is aborted so a test never hangs on a request stuck in an injected latency), and returns once
//! the listening socket is closed. Dropping the handle without calling it sends the same stop
//! signal and leaves the rest to the runtime.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::clock::SandboxClock;
use crate::config::{SandboxConfig, WalletAddressSpec};
use crate::conn::{ConnectionInfo, SandboxListener};
use crate::error::SandboxError;
use crate::faults::{Fault, FaultRule, FaultTable};
use crate::interaction::{self, Decision, InteractionOutcome};
use crate::journal::{Journal, JournalEntry};
use crate::remote::RemoteWallets;
use crate::route::Route;
use crate::state::{Shared, Store, Urls};
use crate::{router, wallet};

/// How long [`SandboxHandle::shutdown`] waits for in-flight requests before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The sandbox server. See [`Sandbox::start`].
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Binds `config.bind`, hosts the configured wallet addresses and serves until the returned
    /// handle is shut down or dropped. Must be called within a tokio runtime.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), grantflow_sandbox::SandboxError> {
    /// use grantflow_sandbox::{Sandbox, SandboxConfig};
    ///
    /// let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    /// println!("alice is at {}", sandbox.wallet_address_url("alice"));
    /// sandbox.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.bind,
            source,
        })?;
        let urls = Urls::new(format!("http://{addr}"), &config.tenant);
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let shared = Shared {
            clock: config.clock.clone(),
            urls: Arc::new(urls),
            faults: FaultTable::new(stopping),
            journal: Journal::default(),
            store: Arc::new(Mutex::new(Store::default())),
            remote: RemoteWallets::new().map_err(|e| SandboxError::HttpClient {
                reason: e.to_string(),
            })?,
            config: Arc::new(config.clone()),
        };
        for spec in config.wallet_addresses {
            wallet::put(&shared, spec)?;
        }
        let app = router::router(shared.clone());
        let mut stop_signal = stop.subscribe();
        let server = axum::serve(
            SandboxListener::new(listener),
            app.into_make_service_with_connect_info::<ConnectionInfo>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop_signal.wait_for(|stop| *stop).await;
        });
        let task = tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "sandbox: server stopped with an error");
            }
        });
        tracing::info!(base_url = %shared.urls.base, "sandbox: listening");
        Ok(SandboxHandle {
            shared,
            addr,
            stop,
            task: Some(task),
        })
    }
}

/// A running sandbox: its URLs, test controls (interactions, faults, clock, wallet addresses)
/// and shutdown.
#[derive(Debug)]
pub struct SandboxHandle {
    shared: Shared,
    addr: SocketAddr,
    /// Set to `true` once to stop: the server stops accepting and drains its connections, and
    /// requests held in injected latency are cut.
    stop: tokio::sync::watch::Sender<bool>,
    /// The server task, awaited (or aborted after the grace period) by `shutdown`.
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base_url", &self.urls.base)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// The address the sandbox listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.urls.base
    }

    /// The grant request endpoint, which every hosted wallet address gives as `authServer`.
    pub fn auth_server_url(&self) -> &str {
        &self.shared.urls.grant_endpoint
    }

    /// The resource server URL, which every hosted wallet address gives as `resourceServer`.
    pub fn resource_server_url(&self) -> &str {
        &self.shared.urls.resource_server
    }

    /// The URL of the wallet address `name` (hosted or not).
    pub fn wallet_address_url(&self, name: &str) -> String {
        self.shared.urls.wallet_address(name)
    }

    /// Hosts (or replaces) a wallet address and returns its URL. This is how a test publishes its
    /// client's public keys where the authorization server looks for them.
    pub fn put_wallet_address(&self, spec: WalletAddressSpec) -> Result<String, SandboxError> {
        wallet::put(&self.shared, spec)
    }

    /// Approves an interaction as the resource owner would on the consent page, then finishes it
    /// as the browser would. `interaction` is the interaction id or the whole `interact.redirect`
    /// URL.
    pub fn approve_interaction(
        &self,
        interaction: &str,
    ) -> Result<InteractionOutcome, SandboxError> {
        self.decide(interaction, Decision::Approve)
    }

    /// Denies an interaction (the "Deny" button), then finishes it.
    pub fn deny_interaction(&self, interaction: &str) -> Result<InteractionOutcome, SandboxError> {
        self.decide(interaction, Decision::Deny)
    }

    fn decide(
        &self,
        interaction: &str,
        decision: Decision,
    ) -> Result<InteractionOutcome, SandboxError> {
        interaction::decide_and_finish(&self.shared, interaction, decision).map_err(|e| {
            SandboxError::Interaction {
                status: e.status.as_u16(),
                error: e.body,
            }
        })
    }

    /// Injects `fault` into the next `times` requests on `route` (`None`: until cleared).
    pub fn set_fault(&self, route: Route, fault: Fault, times: Option<u32>) {
        self.shared.faults.set(route, FaultRule { fault, times });
    }

    /// Removes the fault on `route`.
    pub fn clear_fault(&self, route: Route) {
        self.shared.faults.clear(route);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear_all();
    }

    /// The current faults by route.
    pub fn faults(&self) -> HashMap<Route, FaultRule> {
        self.shared.faults.list().into_iter().collect()
    }

    /// Every request the sandbox received on a protocol route so far (the last
    /// [`crate::JOURNAL_CAPACITY`]), oldest first: route, grant, status, whether the server acted,
    /// whether the answer was delivered, faults applied. See [`JournalEntry`].
    ///
    /// A request whose answer a client received (or whose connection a fault closed) is in the
    /// journal by then.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal.since(0)
    }

    /// The journal entries after `seq` (from a previous entry's [`JournalEntry::seq`]).
    pub fn journal_since(&self, seq: u64) -> Vec<JournalEntry> {
        self.shared.journal.since(seq)
    }

    /// The journal entries of the grant whose continue URI is `continue_uri`.
    pub fn journal_of_grant(&self, continue_uri: &str) -> Vec<JournalEntry> {
        self.shared
            .journal
            .since(0)
            .into_iter()
            .filter(|e| e.continue_uri.as_deref() == Some(continue_uri))
            .collect()
    }

    /// Forgets the journal's entries (their numbering goes on).
    pub fn clear_journal(&self) {
        self.shared.journal.clear();
    }

    /// The sandbox's clock (a shared clone: advancing it moves the server's time).
    pub fn clock(&self) -> &SandboxClock {
        &self.shared.clock
    }

    /// The configuration the sandbox runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// Stops the server: no new connections, in-flight requests get a short grace period, then
    /// the socket is closed.
    pub async fn shutdown(mut self) {
        self.stop_and_wait().await;
    }

    async fn stop_and_wait(&mut self) {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            // Without an await we cannot wait for the grace period; abort so no task outlives
            // the handle and keeps the port.
            task.abort();
        }
    }
}
