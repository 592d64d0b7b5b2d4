//! The worker loop: claim due grants (and due payments, in the same loop, with the room left),
//! advance each in its own task, sleep until the next one is due.
//!
//! A worker claims up to `claim_batch` due grants at once (never more than it has room for under
//! `max_concurrent_grants`), and spawns one task per grant that feeds it a `Wake` and runs the
//! calls that follow (see [`crate::Engine`]'s module docs). With nothing due it sleeps until the
//! earliest `next_wake_at` in the store, a wake-up from the store (a grant became due anywhere),
//! or `poll_interval`, whichever comes first.
//!
//! Shutdown: the loop stops claiming, waits up to `shutdown_grace` for its grant tasks, then
//! aborts the rest; their leases lapse and other workers resume those grants (the machine treats
//! a call left in flight as an ambiguous outcome).

use std::sync::Arc;
use std::time::Duration;

use grantflow_store::{ClaimRequest, GrantStore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::engine::{Engine, Inner};
use crate::metrics;
use crate::time::after;

/// The shortest pause when grants are due but none could be claimed (another worker is taking
/// them right now).
const MIN_PAUSE: Duration = Duration::from_millis(10);

/// A running worker. [`Engine::shutdown`] stops every worker gracefully; [`abort`](Self::abort)
/// kills one at once, as a crash would (its leases lapse; tests use it).
#[derive(Debug)]
pub struct WorkerHandle {
    abort: tokio::task::AbortHandle,
}

impl WorkerHandle {
    /// Stops the worker and its grant tasks immediately, mid-call if need be, without releasing
    /// anything: what a `kill -9` would leave behind.
    pub fn abort(&self) {
        self.abort.abort();
    }
}

impl<S: GrantStore> Engine<S> {
    /// Starts a worker: a task that claims and advances due grants until
    /// [`shutdown`](Self::shutdown). Several workers may run in one engine, and many engines on
    /// one PostgreSQL database.
    pub fn start_worker(&self) -> WorkerHandle {
        let inner = self.inner.clone();
        let span = tracing::info_span!("worker", worker = %inner.config.worker_id);
        let handle = tokio::spawn(worker_loop(inner).instrument(span));
        let abort = handle.abort_handle();
        match self.inner.workers.lock() {
            Ok(mut w) => w.push(handle),
            Err(poisoned) => poisoned.into_inner().push(handle),
        }
        WorkerHandle { abort }
    }
}

async fn worker_loop<S: GrantStore>(inner: Arc<Inner<S>>) {
    let config = &inner.config;
    let mut grants: JoinSet<()> = JoinSet::new();
    let mut signal = inner.store.wake_signal();
    let max = config.max_concurrent_grants.max(1);
    tracing::info!("worker started");
    loop {
        while let Some(done) = grants.try_join_next() {
            if let Err(e) = done
                && e.is_panic()
            {
                tracing::error!("a grant task panicked");
            }
        }
        if inner.shutdown.is_cancelled() {
            break;
        }
        let room = max.saturating_sub(grants.len());
        if room == 0 {
            tokio::select! {
                _ = grants.join_next() => {}
                () = inner.shutdown.cancelled() => {}
            }
            continue;
        }
        let limit = u32::try_from(room)
            .unwrap_or(u32::MAX)
            .min(config.claim_batch.max(1));
        let now = inner.now();
        let started = std::time::Instant::now();
        let result = inner
            .store
            .claim_due(ClaimRequest {
                owner: config.worker_id.clone(),
                now,
                lease_until: after(now, config.lease),
                limit,
            })
            .await;
        let unreachable = inner.database.saw(&result);
        let claimed = match result {
            Ok(claimed) => {
                metrics::claim(
                    started.elapsed(),
                    claimed
                        .iter()
                        .filter_map(|c| c.due_at)
                        .map(|due| (now - due).to_std().unwrap_or_default()),
                );
                metrics::leases_taken("claim", claimed.len() as u64);
                claimed
            }
            Err(error) => {
                // An outage is logged once by the database status, not at every poll.
                if !unreachable {
                    tracing::warn!(%error, "claim failed; retrying after the poll interval");
                }
                tokio::select! {
                    () = tokio::time::sleep(config.poll_interval) => {}
                    () = inner.shutdown.cancelled() => {}
                }
                continue;
            }
        };
        let got = claimed.len();
        for c in claimed {
            let inner = inner.clone();
            let span = tracing::info_span!("grant", grant = %c.grant.id);
            grants.spawn(async move { inner.advance_claimed(c).await }.instrument(span));
        }
        // Payments share the loop, the room and the lease length (`payment_step.rs`).
        let payments = claim_payments(&inner, limit.saturating_sub(got as u32)).await;
        let got = got + payments.len();
        for c in payments {
            let inner = inner.clone();
            let span = tracing::info_span!("payment", payment = %c.payment.id);
            grants.spawn(async move { inner.advance_claimed_payment(c).await }.instrument(span));
        }
        // Schedules too (`schedule_step.rs`).
        let schedules = claim_schedules(&inner, limit.saturating_sub(got as u32)).await;
        let got = got + schedules.len();
        for c in schedules {
            let inner = inner.clone();
            let span = tracing::info_span!("schedule", schedule = %c.schedule.id);
            grants.spawn(async move { inner.advance_claimed_schedule(c).await }.instrument(span));
        }
        if got >= limit as usize {
            continue;
        }
        // Sleep until the earliest wake-up on the engine's clock, a wake-up from the store, or
        // the poll interval (a lost notification, another process's writes).
        let next = match (
            inner.store.next_wake_at().await,
            inner.store.next_payment_wake_at().await,
            inner.store.next_schedule_wake_at().await,
        ) {
            (Ok(g), Ok(p), Ok(s)) => Ok(g.into_iter().chain(p).chain(s).min()),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
        };
        let unreachable = inner.database.saw(&next);
        let next = match next {
            Ok(next) => next,
            Err(error) => {
                if !unreachable {
                    tracing::warn!(%error, "could not read the next wake-up time");
                }
                None
            }
        };
        let due = async {
            match next {
                // Grants are due but none was claimed: another worker is taking them right now.
                Some(at) if at <= inner.now() => tokio::time::sleep(MIN_PAUSE).await,
                Some(at) => inner.config.clock.sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = due => {}
            _ = signal.wait(config.poll_interval) => {}
            () = inner.shutdown.cancelled() => {}
        }
    }
    let in_hand = grants.len();
    tracing::info!(in_hand, "worker stopping: no more claims");
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while grants.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            abandoned = grants.len(),
            "shutdown grace elapsed; abandoning grants to their leases"
        );
        grants.abort_all();
        while grants.join_next().await.is_some() {}
    }
    tracing::info!("worker stopped");
}

/// Claims up to `limit` due payments (none when `limit` is 0); a failure is logged and claims
/// nothing (the grant claim beside it reports the database's state).
async fn claim_payments<S: GrantStore>(
    inner: &Arc<Inner<S>>,
    limit: u32,
) -> Vec<grantflow_store::ClaimedPayment> {
    if limit == 0 {
        return Vec::new();
    }
    let now = inner.now();
    match inner
        .store
        .claim_due_payments(ClaimRequest {
            owner: inner.config.worker_id.clone(),
            now,
            lease_until: after(now, inner.config.lease),
            limit,
        })
        .await
    {
        Ok(claimed) => {
            metrics::leases_taken("claim", claimed.len() as u64);
            claimed
        }
        Err(error) => {
            tracing::warn!(%error, "payment claim failed; retrying at the next turn");
            Vec::new()
        }
    }
}

/// Claims up to `limit` due schedules (none when `limit` is 0), as [`claim_payments`] does.
async fn claim_schedules<S: GrantStore>(
    inner: &Arc<Inner<S>>,
    limit: u32,
) -> Vec<grantflow_store::ClaimedSchedule> {
    if limit == 0 {
        return Vec::new();
    }
    let now = inner.now();
    match inner
        .store
        .claim_due_schedules(ClaimRequest {
            owner: inner.config.worker_id.clone(),
            now,
            lease_until: after(now, inner.config.lease),
            limit,
        })
        .await
    {
        Ok(claimed) => {
            metrics::leases_taken("claim", claimed.len() as u64);
            claimed
        }
        Err(error) => {
            tracing::warn!(%error, "schedule claim failed; retrying at the next turn");
            Vec::new()
        }
    }
}
