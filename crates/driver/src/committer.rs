//! Group commit: the writes of concurrent grants share one store batch.
//!
//! Each grant writes one transition at a time; many grants run at once. A write is queued with a
//! reply channel on a bounded queue (`commit_queue`: a full queue makes writers wait, it never
//! grows without bound). One batcher task owns the receiving end: it waits for a free commit
//! slot (`committers` of them), takes the first queued write, drains whatever else is queued (up
//! to `commit_batch`) and hands the batch to a commit task holding the slot. Idle, a write is
//! committed alone at once; while every slot is busy, the queue fills and the next batch is
//! bigger, so the cost of a commit is shared. A batch never holds two writes of one grant (a
//! grant has at most one write outstanding, and if it ever did, the second waits for the next
//! batch).
//!
//! The batcher joins its commit tasks: a panicking one is logged, and the callers of its writes
//! get [`EngineError::TaskFailed`] (the write's outcome is unknown). [`Committer::close`], called
//! by [`Engine::shutdown`](crate::Engine::shutdown) once nothing else writes, lets the batcher
//! commit what is queued and waits for it.

use std::sync::Arc;

use grantflow_store::{GrantStore, StateWrite, StoreError, WriteResult};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
use crate::time::{self, Clock};

type Reply = oneshot::Sender<Result<WriteResult, Arc<StoreError>>>;
type Queued = (StateWrite, Reply);

/// The sending side, and the batcher task.
#[derive(Debug)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Queued>,
    /// Cancelled by `close`: the batcher commits what is queued and stops.
    stop: CancellationToken,
    /// The batcher, joined by `close`.
    batcher: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// How the batcher is tuned.
pub(crate) struct Tuning {
    /// Commit tasks at once.
    pub(crate) slots: usize,
    /// Most writes in one batch.
    pub(crate) max_batch: usize,
    /// Most writes queued.
    pub(crate) queue: usize,
}

impl Committer {
    /// Starts the batcher on the current tokio runtime.
    pub(crate) fn start<S: GrantStore>(store: S, clock: Arc<dyn Clock>, tuning: Tuning) -> Self {
        let (tx, rx) = mpsc::channel(tuning.queue.max(1));
        let stop = CancellationToken::new();
        let batcher = tokio::spawn(batcher(store, clock, rx, tuning, stop.clone()));
        Self {
            tx,
            stop,
            batcher: std::sync::Mutex::new(Some(batcher)),
        }
    }

    /// Queues one write (waiting for room) and waits for its result.
    pub(crate) async fn commit(&self, write: StateWrite) -> Result<WriteResult, EngineError> {
        let (reply, result) = oneshot::channel();
        if self.tx.send((write, reply)).await.is_err() {
            return Err(self.gone());
        }
        match result.await {
            Ok(r) => r.map_err(EngineError::Store),
            Err(_) => Err(self.gone()),
        }
    }

    /// Why a write got no answer: the committer was closed, or a task of it panicked.
    fn gone(&self) -> EngineError {
        if self.stop.is_cancelled() {
            EngineError::ShuttingDown
        } else {
            EngineError::TaskFailed("commit")
        }
    }

    /// Commits what is queued, then stops the batcher and waits for it. Writes queued after
    /// this get [`EngineError::ShuttingDown`].
    pub(crate) async fn close(&self) {
        self.stop.cancel();
        let batcher = match self.batcher.lock() {
            Ok(mut b) => b.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(batcher) = batcher
            && let Err(error) = batcher.await
        {
            tracing::error!(%error, "the commit batcher failed");
        }
    }
}

async fn batcher<S: GrantStore>(
    store: S,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<Queued>,
    tuning: Tuning,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(tuning.slots.max(1)));
    let max_batch = tuning.max_batch.max(1);
    let mut commits = JoinSet::new();
    let mut carry: Option<Queued> = None;
    let mut closed = false;
    loop {
        while let Some(done) = commits.try_join_next() {
            report(done);
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break; // never closed
        };
        let first = match carry.take() {
            Some(w) => w,
            None => {
                let next = tokio::select! {
                    w = rx.recv() => w,
                    () = stop.cancelled(), if !closed => {
                        // No new writes; what is queued is still committed.
                        rx.close();
                        closed = true;
                        continue;
                    }
                };
                match next {
                    Some(w) => w,
                    None => break,
                }
            }
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(w) if batch.iter().any(|(b, _)| b.id == w.0.id) => {
                    carry = Some(w);
                    break;
                }
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let (store, clock) = (store.clone(), clock.clone());
        commits.spawn(async move {
            let _slot = slot;
            let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match store.commit(writes, time::now(&*clock)).await {
                Ok(results) => {
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(Ok(result));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "commit of a batch of transitions failed");
                    let error = Arc::new(error);
                    for reply in replies {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
        });
    }
    while let Some(done) = commits.join_next().await {
        report(done);
    }
}

fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done {
        tracing::error!(%error, "a commit task failed; its writes' outcomes are unknown");
    }
}
