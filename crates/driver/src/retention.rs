//! Background upkeep a worker process runs beside its claims: pruning final grants after a
//! retention ([`Engine::start_retention`]) and refreshing the grants-by-state gauge
//! ([`Engine::start_grant_counts`]).
//!
//! Pruning deletes a final grant (rejected, canceled, revoked, failed, lost, expired) and its
//! events once its last change is older than the retention, in bounded batches (one transaction
//! each, a pause between, so claims and commits keep their latency), never a live or issued
//! grant: the store checks final-ness in the same statement (rule 12 of its contract). An
//! operator who must keep the audit trail longer exports it first (`grantflow grant history`).

use std::time::Duration;

use grantflow_machine::StateKind;
use grantflow_store::GrantStore;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::metrics;
use crate::time::{delta, plus};

/// How the retention task prunes.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Final grants whose last change is older than this are deleted with their events.
    pub keep: Duration,
    /// Grants deleted per transaction at most.
    pub batch: u32,
    /// The pause between two batches of one round (lets claims and commits through).
    pub pause: Duration,
    /// The time between rounds (a round prunes batches until one is not full).
    pub every: Duration,
}

impl Retention {
    /// Keeps final grants for `keep`; batches of 1,000 with 100 ms between them, a round every
    /// 10 minutes.
    pub fn new(keep: Duration) -> Self {
        Self {
            keep,
            batch: 1000,
            pause: Duration::from_millis(100),
            every: Duration::from_secs(600),
        }
    }
}

impl<S: GrantStore> Engine<S> {
    /// Deletes up to `batch` final grants (and their events) whose last change is older than
    /// `keep` on the engine's clock; how many it deleted.
    ///
    /// Cancel safety: one store transaction; dropping the future either lets it commit or rolls
    /// it back.
    pub async fn prune_final(&self, keep: Duration, batch: u32) -> Result<u64, EngineError> {
        let inner = &self.inner;
        let older_than = plus(inner.now(), -delta(keep));
        let result = inner.store.prune_final(older_than, batch).await;
        inner.database.saw(&result);
        let pruned = result?;
        metrics::pruned(pruned);
        Ok(pruned)
    }

    /// Starts the retention task: every `retention.every`, prune batches until one is not full,
    /// pausing between them; until [`shutdown`](Self::shutdown).
    pub fn start_retention(&self, retention: Retention) {
        let engine = self.clone();
        let stop = self.inner.shutdown.clone();
        self.inner.spawn_background("retention", async move {
            loop {
                let mut round = 0u64;
                loop {
                    match engine.prune_final(retention.keep, retention.batch).await {
                        Ok(n) => {
                            round += n;
                            if n < u64::from(retention.batch) {
                                break;
                            }
                        }
                        Err(error) => {
                            if !matches!(&error, EngineError::Store(e) if e.is_unreachable()) {
                                tracing::warn!(%error, "pruning final grants failed");
                            }
                            break;
                        }
                    }
                    tokio::select! {
                        () = tokio::time::sleep(retention.pause) => {}
                        () = stop.cancelled() => return,
                    }
                }
                if round > 0 {
                    tracing::info!(pruned = round, "final grants past the retention deleted");
                }
                tokio::select! {
                    () = tokio::time::sleep(retention.every) => {}
                    () = stop.cancelled() => return,
                }
            }
        });
    }

    /// Counts the grants by state once and sets the `grantflow_grants` gauge.
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn refresh_grant_counts(&self) -> Result<(), EngineError> {
        let result = self.inner.store.count_by_state().await;
        self.inner.database.saw(&result);
        let counts: Vec<(StateKind, u64)> = result?
            .into_iter()
            .filter_map(|(kind, n)| {
                let kind = kind?;
                StateKind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == kind)
                    .map(|k| (k, n))
            })
            .collect();
        metrics::grant_counts(&counts);
        Ok(())
    }

    /// Starts the task that refreshes the `grantflow_grants` gauge every `every`, until
    /// [`shutdown`](Self::shutdown).
    pub fn start_grant_counts(&self, every: Duration) {
        let engine = self.clone();
        let stop = self.inner.shutdown.clone();
        self.inner.spawn_background("grant counts", async move {
            loop {
                if let Err(error) = engine.refresh_grant_counts().await
                    && !matches!(&error, EngineError::Store(e) if e.is_unreachable())
                {
                    tracing::warn!(%error, "counting grants by state failed");
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = stop.cancelled() => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store prunes by the names in `FINAL_STATE_KINDS`: exactly the machine's final kinds.
    #[test]
    fn the_store_knows_the_machines_final_kinds() {
        let machine: Vec<&str> = StateKind::ALL
            .into_iter()
            .filter(|k| k.is_final())
            .map(StateKind::as_str)
            .collect();
        assert_eq!(machine, grantflow_store::FINAL_STATE_KINDS.to_vec());
    }
}
