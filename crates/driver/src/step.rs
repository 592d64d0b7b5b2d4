//! The one way a grant is advanced, whoever advances it (a worker woken by time, the
//! application's request or command, a finish callback), always while holding its lease:
//!
//! 1. feed an event to the machine and commit the transition with its event row ([`apply`]);
//!    if the transition starts a call, the committed state says the call is in flight and the
//!    lease is kept (and renewed while the call runs);
//! 2. make the call, outside any transaction;
//! 3. feed the outcome to the machine and commit that transition the same way, until a
//!    transition starts no call ([`run_calls`]); the last commit releases the lease with the
//!    grant's next wake-up time.
//!
//! A crash between 1 and 3 leaves "in flight" in the store; the lease lapses, a worker claims the
//! grant and feeds it a `Wake` ([`advance_claimed`]), and the machine decides what to do.
//!
//! [`apply`]: Inner::apply
//! [`run_calls`]: Inner::run_calls
//! [`advance_claimed`]: Inner::advance_claimed

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_machine::{Change, Effects, Event, GrantState, MachineError, transition};
use grantflow_store::{
    AfterWrite, Claimed, Fence, GrantId, GrantStore, GrantSummary, Lease, RefusedReason,
    StateWrite, StoreError,
};
use tracing::Instrument;

use crate::calls::CallOutcome;
use crate::engine::Inner;
use crate::error::EngineError;
use crate::feed;
use crate::finish_token::sendable;
use crate::metrics;
use crate::summary::summarize;
use crate::time::{after, delta, plus};
use crate::view::{GrantChange, decode_state};

/// How long a grant the machine cannot wake sleeps before it is tried again.
const STUCK_RETRY: TimeDelta = TimeDelta::seconds(60);

/// The first pause before committing a call's answer again while the database is unreachable.
const ANSWER_RETRY_FIRST: Duration = Duration::from_millis(100);

/// The longest pause between two tries to commit a call's answer: the answer lands within this
/// long of the database coming back.
const ANSWER_RETRY_MAX: Duration = Duration::from_secs(2);

/// A grant this engine holds the lease of, with the state and version it last committed.
pub(crate) struct Held {
    pub(crate) id: GrantId,
    pub(crate) version: i64,
    pub(crate) state: GrantState,
    pub(crate) lease: Lease,
    /// The wake-up time the grant had before it was claimed (restored on a no-op release).
    pub(crate) due_at: Option<DateTime<Utc>>,
    /// The summary last written with the state (carries the request's access types and wallet
    /// address forward once the state no longer holds the request).
    pub(crate) summary: GrantSummary,
}

impl Held {
    /// The grant as claimed, or (if its state cannot be read) the error and the lease to give
    /// back.
    pub(crate) fn from_claimed(c: Claimed) -> Result<Self, (EngineError, Lease)> {
        match decode_state(c.grant.id, &c.grant.state) {
            Ok(state) => Ok(Self {
                id: c.grant.id,
                version: c.grant.version,
                state,
                lease: c.lease,
                due_at: c.due_at,
                summary: c.grant.summary,
            }),
            Err(e) => Err((e, c.lease)),
        }
    }

    /// When the grant should next wake if it is given back unchanged.
    pub(crate) fn unchanged_wake(&self) -> Option<DateTime<Utc>> {
        self.due_at.or(self.state.next_wake_at())
    }
}

impl<S: GrantStore> Inner<S> {
    /// Feeds `event` to a held grant and commits the transition (step 1 or 3 of the module
    /// docs). Returns the effects; a call among them is in flight in the committed state.
    pub(crate) async fn apply(
        &self,
        held: &mut Held,
        event: Event,
        retry_after: Option<Duration>,
    ) -> Result<Effects, EngineError> {
        let now = self.now();
        let event_kind = event.kind();
        let t = transition(&held.state, event.clone(), now, &self.config.machine).map_err(
            |source| EngineError::Refused {
                grant: held.id,
                source,
            },
        )?;
        let starts_call = t.effects.call_effect().is_some();
        let mut wake = t.next_wake_at();
        if let (Some(after), Some(call)) = (retry_after, t.state.call())
            && !call.in_flight()
        {
            let not_before = plus(now, delta(after.min(self.config.max_retry_after)));
            wake = wake.map(|w| w.max(not_before));
        }
        let then = if starts_call {
            AfterWrite::Keep {
                until: after(now, self.config.lease),
            }
        } else {
            AfterWrite::Release
        };
        let summary = summarize(&t.state, &held.summary);
        let write = StateWrite {
            id: held.id,
            expected_version: held.version,
            fence: Fence::Lease {
                token: held.lease.token,
                then: then.clone(),
            },
            state: t.state.to_json()?,
            event: serde_json::to_string(&event)?,
            at: now,
            next_wake_at: wake,
            summary: summary.clone(),
            change_summary: Some(feed::summary(
                held.state.kind(),
                &t.state,
                event_kind,
                t.effects.change(),
            )),
        };
        match self.committer.commit(write).await? {
            Ok(committed) => {
                metrics::transition(t.edge);
                if let Some(call) = t.state.call().filter(|c| c.in_flight() && c.attempts > 1) {
                    metrics::retry(call.kind, self.budget_used(call, now));
                }
                let from = held.state.kind();
                held.version = committed.version;
                if let AfterWrite::Keep { until } = then {
                    held.lease.until = until;
                }
                held.state = t.state;
                held.summary = summary;
                tracing::debug!(
                    event = ?event_kind,
                    from = ?from,
                    to = ?held.state.kind(),
                    version = held.version,
                    "transition"
                );
                match t.effects.change() {
                    Some(c @ (Change::Lost | Change::Failed)) => {
                        tracing::warn!(change = ?c, state = ?held.state.kind(), "grant changed");
                    }
                    Some(c) => {
                        tracing::info!(change = ?c, state = ?held.state.kind(), "grant changed")
                    }
                    None => {}
                }
                self.publish(GrantChange {
                    grant: held.id,
                    version: held.version,
                    from,
                    event: event_kind,
                    kind: held.state.kind(),
                    change: t.effects.change(),
                });
                Ok(t.effects)
            }
            Err(refused) => {
                if refused.reason == RefusedReason::LeaseLost {
                    metrics::lease_lost("commit");
                }
                Err(EngineError::LeaseLost {
                    grant: held.id,
                    reason: refused.reason,
                })
            }
        }
    }

    /// The share of `call`'s recovery budget spent at `now` (0 while it has not failed).
    fn budget_used(&self, call: &grantflow_machine::Call, now: DateTime<Utc>) -> f64 {
        let budget = self.config.machine.recovery_budget.num_milliseconds();
        match &call.trouble {
            // Milliseconds fit an f64 exactly far beyond any budget.
            #[allow(clippy::cast_precision_loss)]
            Some(trouble) if budget > 0 => {
                ((now - trouble.since).num_milliseconds() as f64 / budget as f64).clamp(0.0, 1.0)
            }
            _ => 0.0,
        }
    }

    /// [`apply`](Self::apply) without `Retry-After`; if the machine refuses the event, the grant
    /// is given back unchanged (with the wake-up it had) before the refusal is returned.
    pub(crate) async fn apply_or_give_back(
        &self,
        held: &mut Held,
        event: Event,
    ) -> Result<Effects, EngineError> {
        match self.apply(held, event, None).await {
            Err(e @ EngineError::Refused { .. }) => {
                self.release(&held.lease, held.unchanged_wake()).await;
                Err(e)
            }
            other => other,
        }
    }

    /// Applies `event` to a held grant and makes the calls it starts (the whole of steps 1-3).
    pub(crate) async fn apply_and_run(
        &self,
        held: &mut Held,
        event: Event,
    ) -> Result<(), EngineError> {
        let effects = self.apply_or_give_back(held, event).await?;
        self.run_calls(held, effects).await
    }

    /// Makes the calls committed transitions asked for, feeding each outcome back (steps 2 and
    /// 3), until a transition starts no call (its commit released the lease).
    pub(crate) async fn run_calls(
        &self,
        held: &mut Held,
        mut effects: Effects,
    ) -> Result<(), EngineError> {
        while let Some(effect) = effects.call_effect().cloned() {
            let outcome = self.call_renewing(held, &effect).await;
            effects = match self.apply_answer(held, outcome).await {
                Ok(effects) => effects,
                Err(EngineError::Refused { grant, source }) => {
                    // The machine refused the outcome of its own call (an answer of the wrong
                    // shape). Keep the state, call still in flight, and give the grant back: its
                    // next Wake resolves the call as ambiguous.
                    tracing::error!(error = %source, "the machine refused a call's outcome");
                    self.release(&held.lease, held.state.next_wake_at()).await;
                    return Err(EngineError::Refused { grant, source });
                }
                Err(e) => return Err(e),
            };
        }
        Ok(())
    }

    /// Commits a call's outcome, holding on to it while the database cannot be reached.
    ///
    /// The answer may be the only copy of what the AS did (a continue's access token cannot be
    /// fetched again), so it is not dropped for an outage: the commit is retried with back-off
    /// (from [`ANSWER_RETRY_FIRST`] doubling up to [`ANSWER_RETRY_MAX`]) until it is taken or
    /// refused (another worker took the grant over: its lease was claimed), or the engine shuts
    /// down. The lease's fence makes a late commit safe: it lands only if no one claimed the
    /// grant meanwhile.
    async fn apply_answer(
        &self,
        held: &mut Held,
        outcome: CallOutcome,
    ) -> Result<Effects, EngineError> {
        let mut pause = ANSWER_RETRY_FIRST;
        let mut held_since: Option<std::time::Instant> = None;
        loop {
            match self
                .apply(held, outcome.event.clone(), outcome.retry_after)
                .await
            {
                Err(EngineError::Store(error)) if error.is_unreachable() => {
                    if held_since.is_none() {
                        held_since = Some(std::time::Instant::now());
                        tracing::warn!(
                            %error,
                            outcome = ?outcome.event.kind(),
                            "the database is unreachable: keeping the call's answer until it can be committed"
                        );
                    }
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = self.shutdown.cancelled() => {
                            tracing::error!(
                                outcome = ?outcome.event.kind(),
                                "shutting down with a call's answer not committed (the database is unreachable)"
                            );
                            return Err(EngineError::Store(error));
                        }
                    }
                    pause = (pause * 2).min(ANSWER_RETRY_MAX);
                }
                result => {
                    if let (Some(since), Ok(_)) = (held_since, &result) {
                        tracing::info!(
                            millis = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                            "the call's answer kept through the outage is committed"
                        );
                    }
                    return result;
                }
            }
        }
    }

    /// Makes one call, renewing the lease every third of its length (by the tokio timer or the
    /// engine's clock, whichever comes first) while the call runs.
    async fn call_renewing(
        &self,
        held: &mut Held,
        effect: &grantflow_machine::Effect,
    ) -> CallOutcome {
        let call_kind = effect.call_kind();
        let kind = call_kind.map_or("none", |k| k.as_str());
        let span = tracing::info_span!("call", kind);
        let started = std::time::Instant::now();
        let keys = self.config.finish_token_keys.as_deref();
        let effect = match sendable(effect, held.id, keys) {
            Ok(effect) => effect,
            Err(detail) => {
                tracing::error!(parent: &span, %detail, "the call cannot be made");
                return CallOutcome::event(Event::NotSent { detail });
            }
        };
        let call = self.calls.call(&effect).instrument(span.clone());
        tokio::pin!(call);
        let every = (self.config.lease / 3).max(Duration::from_millis(10));
        let outcome = loop {
            let clock_turn = self.config.clock.sleep_until(after(self.now(), every));
            tokio::select! {
                outcome = &mut call => break outcome,
                () = tokio::time::sleep(every) => {}
                () = clock_turn => {}
            }
            match self
                .store
                .renew(&held.lease, after(self.now(), self.config.lease))
                .await
            {
                Ok(lease) => held.lease = lease,
                Err(error) => {
                    if matches!(error, StoreError::LeaseLost(_)) {
                        metrics::lease_lost("renew");
                    }
                    tracing::warn!(parent: &span, %error, "could not renew the lease during a call")
                }
            }
        };
        if let Some(call_kind) = call_kind {
            metrics::as_call(call_kind, outcome.event.kind(), started.elapsed());
        }
        tracing::debug!(
            parent: &span,
            outcome = ?outcome.event.kind(),
            millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "call finished"
        );
        outcome
    }

    /// Gives a lease back without a transition; the grant sleeps until `wake`.
    pub(crate) async fn release(&self, lease: &Lease, wake: Option<DateTime<Utc>>) {
        if let Err(error) = self.store.release(lease, wake, self.now()).await {
            if matches!(error, StoreError::LeaseLost(_)) {
                metrics::lease_lost("release");
            }
            tracing::warn!(%error, "could not release a lease; it will lapse");
        }
    }

    /// A worker's turn on a claimed grant: a `Wake`, then whatever calls it starts.
    pub(crate) async fn advance_claimed(&self, claimed: Claimed) {
        let mut held = match Held::from_claimed(claimed) {
            Ok(h) => h,
            Err((error, lease)) => {
                tracing::error!(%error, "cannot read a claimed grant; retrying it in an hour");
                self.release(&lease, Some(plus(self.now(), TimeDelta::hours(1))))
                    .await;
                return;
            }
        };
        if self.shutdown.is_cancelled() {
            self.release(&held.lease, held.due_at).await;
            return;
        }
        match self.apply(&mut held, Event::Wake, None).await {
            Ok(effects) => {
                if let Err(error) = self.run_calls(&mut held, effects).await {
                    tracing::warn!(%error, "grant step did not complete");
                }
            }
            Err(EngineError::Refused { source, .. }) => {
                let wake = match source {
                    MachineError::NotDue { at } => Some(at),
                    MachineError::NothingScheduled { .. } | MachineError::Final { .. } => None,
                    other => {
                        tracing::error!(error = %other, "the machine cannot wake this grant");
                        Some(plus(self.now(), STUCK_RETRY))
                    }
                };
                self.release(&held.lease, wake).await;
            }
            Err(error) => tracing::warn!(%error, "could not advance a claimed grant"),
        }
    }
}
