//! Group commit: the writes of concurrent grants share one store batch.
//!
//! Each grant writes one transition at a time; many grants run at once. A write is queued with a
//! reply channel; a committer task takes the first write it finds, drains whatever else is queued
//! (up to `commit_batch`) and commits all of them in one [`GrantStore::commit`]. Idle, a write is
//! committed alone at once; under load, batches grow and the cost of a commit is shared. Several
//! committer tasks pipeline batches. A batch never holds two writes of one grant (a grant has at
//! most one write outstanding), and if it ever did, the second waits for the next batch.

use std::sync::Arc;

use grantflow_store::{GrantStore, StateWrite, StoreError, WriteResult};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::engine::clock_now;
use crate::error::EngineError;

type Reply = oneshot::Sender<Result<WriteResult, Arc<StoreError>>>;

/// The sending side: cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    tx: mpsc::UnboundedSender<(StateWrite, Reply)>,
}

impl Committer {
    /// Starts `tasks` committer tasks; they stop when every `Committer` is dropped.
    pub(crate) fn start<S: GrantStore>(store: S, tasks: usize, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<(StateWrite, Reply)>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            let (store, rx) = (store.clone(), rx.clone());
            tokio::spawn(async move {
                let mut carry: Option<(StateWrite, Reply)> = None;
                loop {
                    let mut batch = Vec::new();
                    {
                        let mut rx = rx.lock().await;
                        let first = match carry.take() {
                            Some(w) => w,
                            None => match rx.recv().await {
                                Some(w) => w,
                                None => return,
                            },
                        };
                        batch.push(first);
                        while batch.len() < max_batch.max(1) {
                            match rx.try_recv() {
                                Ok(w) => {
                                    if batch.iter().any(|(b, _)| b.id == w.0.id) {
                                        carry = Some(w);
                                        break;
                                    }
                                    batch.push(w);
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                    match store.commit(writes, clock_now()).await {
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
                }
            });
        }
        Self { tx }
    }

    /// Queues one write and waits for its result.
    pub(crate) async fn commit(&self, write: StateWrite) -> Result<WriteResult, EngineError> {
        let (reply, result) = oneshot::channel();
        if self.tx.send((write, reply)).is_err() {
            return Err(EngineError::ShuttingDown);
        }
        match result.await {
            Ok(r) => r.map_err(EngineError::Store),
            Err(_) => Err(EngineError::ShuttingDown),
        }
    }
}
