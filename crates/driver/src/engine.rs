//! [`Engine`]: the type the application holds, its construction, reads, change feed and
//! shutdown. The other parts of its API live beside the job they do: [`Engine::request`] in
//! `order.rs`, the commands in `command.rs`, finish callbacks in `finish.rs`, and the one way a
//! grant is advanced in `step.rs`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use grantflow_store::{FeedPosition, GrantId, GrantStore};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::calls::Calls;
use crate::committer::{Committer, Tuning};
use crate::config::EngineConfig;
use crate::database::DatabaseStatus;
use crate::error::EngineError;
use crate::feed::{FeedEntry, Subscription};
use crate::time::{self, deadline_in};
use crate::view::{GrantChange, GrantView, HistoryEntry};

/// The durable grant engine over a [`GrantStore`]. Cheap to clone; clones share everything.
///
/// Run workers with [`Engine::start_worker`], mount [`crate::finish_router`] at the configured
/// `finish_base_url`, and call the application API from anywhere.
pub struct Engine<S: GrantStore> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S: GrantStore> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: GrantStore> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker_id", &self.inner.config.worker_id)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<S: GrantStore> {
    pub(crate) store: S,
    pub(crate) calls: Arc<dyn Calls>,
    pub(crate) config: EngineConfig,
    /// Every transition this engine commits, for `wait_for` and commands waiting for a grant's
    /// lease in this process (the application reads the store's change feed instead).
    pub(crate) changes: broadcast::Sender<GrantChange>,
    /// Group commit of all writes; closed last by `shutdown`.
    pub(crate) committer: Committer,
    /// Cancelled by `shutdown`: workers stop claiming; no new requests are taken.
    pub(crate) shutdown: CancellationToken,
    /// Grant work spawned outside workers (the continue after a finish callback): shutdown waits
    /// for it.
    pub(crate) background: TaskTracker,
    /// The running workers, joined by `shutdown`.
    pub(crate) workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Whether the database answers, as last seen (logs its changes once).
    pub(crate) database: DatabaseStatus,
}

impl<S: GrantStore> Engine<S> {
    /// An engine over `store`, making calls with `calls`. No worker runs until
    /// [`start_worker`](Self::start_worker).
    ///
    /// Fails with [`EngineError::NoRuntime`] outside a tokio runtime (the engine starts its
    /// commit task at once).
    pub fn new(store: S, calls: Arc<dyn Calls>, config: EngineConfig) -> Result<Self, EngineError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(EngineError::NoRuntime);
        }
        let committer = Committer::start(
            store.clone(),
            config.clock.clone(),
            Tuning {
                slots: config.committers,
                max_batch: config.commit_batch,
                queue: config.commit_queue,
            },
        );
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                calls,
                config,
                changes: broadcast::channel(4096).0,
                committer,
                shutdown: CancellationToken::new(),
                background: TaskTracker::new(),
                workers: std::sync::Mutex::new(Vec::new()),
                database: DatabaseStatus::new(),
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Reads a grant.
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn get(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner.get(id).await
    }

    /// Reads the grant created under an idempotency key, if any.
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn get_by_idempotency_key(
        &self,
        key: &str,
    ) -> Result<Option<GrantView>, EngineError> {
        self.inner
            .store
            .get_by_idempotency_key(key)
            .await?
            .map(GrantView::from_record)
            .transpose()
    }

    /// A grant's recorded events, oldest first (replaying them through the machine from
    /// `GrantState::Initial` gives its state).
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn history(&self, id: GrantId) -> Result<Vec<HistoryEntry>, EngineError> {
        let records = self.inner.store.history(id).await?;
        if records.is_empty() {
            return Err(EngineError::NotFound(id));
        }
        records.into_iter().map(HistoryEntry::from_record).collect()
    }

    /// Every change committed from now on, by any process on the database (the change feed:
    /// see [`Subscription`]). Reads the feed's head once, so no change committed after this
    /// returns is missed. It may also hand out changes committed shortly before it: on
    /// PostgreSQL the head is read below the oldest transaction still running on the server (a
    /// change is readable only once nothing older can still commit), so while a long transaction
    /// runs elsewhere the head lags. Like every feed consumer, skip what you already saw (by
    /// [`GrantChange::version`](crate::GrantChange::version) or position).
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn subscribe(&self) -> Result<Subscription<S>, EngineError> {
        let head = self.inner.store.feed_head().await?;
        Ok(self.subscribe_after(head))
    }

    /// The transitions this engine itself commits from now on, as they commit (no database
    /// round trip; a slow receiver loses the oldest). Changes made by other processes are not in
    /// it: the application reads [`subscribe`](Self::subscribe); this is for showing what one
    /// engine does (the demo's timeline, diagnostics).
    pub fn own_changes(&self) -> broadcast::Receiver<GrantChange> {
        self.inner.changes.subscribe()
    }

    /// Every change after `position` (from the start of the feed when `None`): how a consumer
    /// that stored the position of the last entry it handled resumes.
    pub fn subscribe_after(&self, position: Option<FeedPosition>) -> Subscription<S> {
        Subscription::new(
            self.inner.store.clone(),
            position,
            self.inner.config.poll_interval,
            self.inner.config.clock.clone(),
        )
    }

    /// Up to `limit` changes after `position`, without waiting (an empty answer: none yet).
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn changes_after(
        &self,
        position: Option<FeedPosition>,
        limit: u32,
    ) -> Result<Vec<FeedEntry>, EngineError> {
        let page = self.inner.store.changes_after(position, limit).await?;
        Ok(page
            .changes
            .into_iter()
            .map(FeedEntry::from_record)
            .collect())
    }

    /// Waits until `done` holds for the grant (checked now, whenever the change feed says
    /// something committed, by this process or another on the database, and at least every
    /// `poll_interval`), or `timeout` passes.
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn wait_for(
        &self,
        id: GrantId,
        timeout: Duration,
        mut done: impl FnMut(&GrantView) -> bool,
    ) -> Result<GrantView, EngineError> {
        let inner = &self.inner;
        let mut feed = inner.store.feed_signal();
        let mut changes = inner.changes.subscribe();
        let deadline = deadline_in(timeout);
        loop {
            let view = inner.get(id).await?;
            if done(&view) {
                return Ok(view);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(EngineError::Timeout(id));
            }
            let pause = (deadline - now).min(inner.config.poll_interval);
            tokio::select! {
                _ = feed.wait(pause) => {}
                _ = tokio::time::timeout(pause, wait_change(&mut changes, id)) => {}
            }
        }
    }

    /// Waits for ctrl-c (SIGINT) or SIGTERM, then shuts down gracefully (see
    /// [`shutdown`](Self::shutdown)). What a worker process runs on its main task.
    ///
    /// Cancel safety: dropped before a signal, nothing happened; dropped after, as
    /// [`shutdown`](Self::shutdown).
    pub async fn shutdown_on_signal(&self) -> std::io::Result<()> {
        wait_for_signal().await?;
        tracing::info!("signal received: shutting down");
        self.shutdown().await;
        Ok(())
    }

    /// Resolves when [`shutdown`](Self::shutdown) begins: pass it to the server that serves
    /// [`crate::finish_router`] (e.g. axum's `with_graceful_shutdown`) so both stop together.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.shutdown.clone().cancelled_owned()
    }

    /// Graceful shutdown: workers stop claiming, grants in hand finish their calls (up to
    /// `shutdown_grace`; after it their leases are left to lapse, and other workers resume them),
    /// background work finishes, the commit task commits what is queued, and this returns.
    ///
    /// Cancel safety: dropping the future stops the waiting, not the shutdown (no new work is
    /// taken from the first poll on).
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutdown.cancel();
        let workers: Vec<_> = match inner.workers.lock() {
            Ok(mut w) => w.drain(..).collect(),
            Err(poisoned) => poisoned.into_inner().drain(..).collect(),
        };
        for w in workers {
            if let Err(error) = w.await
                && error.is_panic()
            {
                tracing::error!(%error, "a worker panicked");
            }
        }
        inner.background.close();
        if tokio::time::timeout(inner.config.shutdown_grace, inner.background.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace elapsed with background work still running");
        }
        inner.committer.close().await;
        tracing::info!(worker = %inner.config.worker_id, "engine stopped");
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Waits for the next change of grant `id` broadcast by this engine.
pub(crate) async fn wait_change(changes: &mut broadcast::Receiver<GrantChange>, id: GrantId) {
    loop {
        match changes.recv().await {
            Ok(c) if c.grant == id => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

impl<S: GrantStore> Inner<S> {
    /// The engine's clock now (see [`crate::time`]).
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        time::now(&*self.config.clock)
    }

    pub(crate) async fn get(&self, id: GrantId) -> Result<GrantView, EngineError> {
        let record = self.store.get(id).await?.ok_or(EngineError::NotFound(id))?;
        GrantView::from_record(record)
    }

    /// Tells this process's waiters (commands waiting for a lease, `wait_for`) at once; other
    /// processes hear of it through the store's change feed.
    pub(crate) fn publish(&self, change: GrantChange) {
        // No receiver is fine: nobody is waiting.
        let _ = self.changes.send(change);
    }

    /// Runs `work` in a task the engine tracks (shutdown waits for it) and awaits its result.
    /// Dropping the returned future does not stop the work: it runs to its end, so a call it
    /// started is never left half-done by a caller that gave up.
    pub(crate) async fn detached<T, Fut>(
        self: &Arc<Self>,
        work: impl FnOnce(Arc<Self>) -> Fut,
    ) -> Result<T, EngineError>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, EngineError>> + Send + 'static,
    {
        if self.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let task = self
            .background
            .spawn(work(self.clone()).instrument(tracing::Span::current()));
        match task.await {
            Ok(result) => result,
            Err(error) => {
                tracing::error!(%error, "an engine task failed");
                Err(EngineError::TaskFailed("command"))
            }
        }
    }

    /// Runs `work` as tracked background work (shutdown waits for it); a panic in it is logged.
    pub(crate) fn spawn_background(
        &self,
        what: &'static str,
        work: impl Future<Output = ()> + Send + 'static,
    ) {
        let task = tokio::spawn(work);
        self.background.spawn(async move {
            if let Err(error) = task.await
                && error.is_panic()
            {
                tracing::error!(%error, what, "a background task panicked");
            }
        });
    }
}
