//! The one way a schedule is advanced, whoever advances it (a worker that claimed it, or a
//! command), always under the schedule's lease, in the grant loop's shape (`step.rs`):
//!
//! 1. feed an event to the schedule machine and commit the transition with its event row (the
//!    lease kept when it asks for something to be done, released otherwise);
//! 2. do what it asks: order the occurrence's payment with its key ([`Engine::pay`], which
//!    returns the payment made earlier with that key), or request the new grant with its key
//!    ([`Engine::request`], likewise), and read where that payment or grant is;
//! 3. feed the outcome back (`Paid`, `PaymentFailed`, `ConsentGiven`, `ConsentRefused`) until a
//!    transition asks for nothing, or the outcome is not known yet: then the lease is released
//!    and the schedule sleeps until its wake-up (the machine asks again then, with the same key).
//!
//! A crash anywhere leaves the last committed state: its wake-up comes, a worker claims it, and
//! the machine asks again with the same key. Nothing is ordered twice.

use std::sync::Arc;
use std::time::Duration;

use grantflow_machine::{Event, StateKind};
use grantflow_payment::schedule::{
    Cadence, ScheduleEffect, ScheduleError, ScheduleEvent, ScheduleState, transition,
};
use grantflow_payment::{CallKind, Failure, PaymentState};
use grantflow_protocol::grant::AccessItem;
use grantflow_store::{
    AfterWrite, ClaimedSchedule, Fence, GrantId, GrantStore, ScheduleId, ScheduleLease,
    ScheduleWrite,
};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::order::{GrantOrder, Interaction};
use crate::payment::PaymentOrder;
use crate::payment_view::grant_end;
use crate::schedule_view::{ScheduleSummary, ScheduleView};
use crate::time::after;
use crate::view::HistoryEntry;

/// How often a command looks again for a schedule another worker holds.
const COMMAND_RETRY: Duration = Duration::from_millis(50);

/// A schedule this engine holds the lease of, with what it last committed.
struct Held {
    id: ScheduleId,
    version: i64,
    state: ScheduleState,
    lease: ScheduleLease,
}

impl<S: GrantStore> Inner<S> {
    /// A worker's turn on a claimed schedule: wake it and carry out what it asks.
    pub(crate) async fn advance_claimed_schedule(self: &Arc<Self>, c: ClaimedSchedule) {
        match self.drive_schedule(c, ScheduleEvent::Wake).await {
            Ok(_) | Err(EngineError::ScheduleRefused { .. }) => {}
            Err(error) => {
                tracing::warn!(%error, "schedule step failed; it is retried at its wake-up")
            }
        }
    }

    /// A command on a schedule: take its lease (waiting up to `command_wait` for a worker
    /// holding it), apply `event`, carry out what it asks.
    pub(crate) async fn command_schedule(
        self: &Arc<Self>,
        id: ScheduleId,
        event: ScheduleEvent,
    ) -> Result<ScheduleView, EngineError> {
        let give_up = tokio::time::Instant::now() + self.config.command_wait;
        loop {
            let now = self.now();
            let claimed = self
                .store
                .claim_schedule(
                    id,
                    &self.config.worker_id,
                    now,
                    after(now, self.config.lease),
                )
                .await?;
            if let Some(c) = claimed {
                return self.drive_schedule(c, event).await;
            }
            if self.store.get_schedule(id).await?.is_none() {
                return Err(EngineError::ScheduleNotFound(id));
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(EngineError::ScheduleBusy(id));
            }
            tokio::time::sleep(COMMAND_RETRY).await;
        }
    }

    /// Applies `first`, then the outcomes of what each transition asks, under the lease.
    async fn drive_schedule(
        self: &Arc<Self>,
        c: ClaimedSchedule,
        first: ScheduleEvent,
    ) -> Result<ScheduleView, EngineError> {
        let view = ScheduleView::from_record(c.schedule)?;
        let mut held = Held {
            id: view.id,
            version: view.version,
            state: view.state,
            lease: c.lease,
        };
        let mut next = Some(first);
        while let Some(event) = next.take() {
            let now = self.now();
            let t = match transition(&held.state, event.clone(), now, &self.config.schedule) {
                Ok(t) => t,
                Err(source) => {
                    // Nothing to do now (not due, a stale outcome, a command that means nothing
                    // here): the schedule sleeps as it was.
                    self.store
                        .release_schedule(&held.lease, held.state.next_wake_at(), now)
                        .await?;
                    if matches!(source, ScheduleError::NotDue { .. }) {
                        return self.schedule_view(held.id).await;
                    }
                    return Err(EngineError::ScheduleRefused {
                        schedule: held.id,
                        source: Box::new(source),
                    });
                }
            };
            let then = if t.effect.is_some() {
                AfterWrite::Keep {
                    until: after(now, self.config.lease),
                }
            } else {
                AfterWrite::Release
            };
            let write = ScheduleWrite {
                id: held.id,
                expected_version: held.version,
                fence: Fence::Lease {
                    token: held.lease.token,
                    then: then.clone(),
                },
                state: serde_json::to_string(&t.state)?,
                event: serde_json::to_string(&event)?,
                at: now,
                next_wake_at: t.next_wake_at(),
                state_kind: t.state.kind().as_str().to_owned(),
                change_summary: Some(crate::feed::schedule_summary(ScheduleSummary {
                    from: held.state.kind(),
                    event: event.kind(),
                    kind: t.state.kind(),
                    records: t.records.clone(),
                })),
            };
            held.version = self
                .store
                .commit_schedule(write, now)
                .await?
                .map_err(|reason| EngineError::ScheduleLeaseLost {
                    schedule: held.id,
                    reason: Box::new(reason),
                })?;
            tracing::info!(
                edge = %t.edge,
                kind = %t.state.kind(),
                records = t.records.len(),
                "schedule transition"
            );
            held.state = t.state;
            if let AfterWrite::Keep { until } = then {
                held.lease.until = until;
            }
            if let Some(effect) = t.effect {
                next = self.carry_out(&held.state, effect).await;
                if next.is_none() {
                    // The outcome is not known yet: ask again at the wake-up.
                    self.store
                        .release_schedule(&held.lease, held.state.next_wake_at(), self.now())
                        .await?;
                }
            }
        }
        self.schedule_view(held.id).await
    }

    async fn schedule_view(self: &Arc<Self>, id: ScheduleId) -> Result<ScheduleView, EngineError> {
        Engine {
            inner: self.clone(),
        }
        .schedule_status(id)
        .await
    }

    /// Does what the schedule asks; the event that tells the outcome, if it is known now.
    async fn carry_out(
        self: &Arc<Self>,
        state: &ScheduleState,
        effect: ScheduleEffect,
    ) -> Option<ScheduleEvent> {
        let engine = Engine {
            inner: self.clone(),
        };
        match effect {
            ScheduleEffect::Pay {
                grant, key, order, ..
            } => {
                let Ok(grant) = grant.parse() else {
                    return Some(gave_up(key, format!("{grant:?} is not a grant id")));
                };
                let ordered = engine
                    .pay(PaymentOrder {
                        grant: GrantId(grant),
                        receiver: order.receiver.clone(),
                        amount: order.amount.clone(),
                        idempotency_key: key.clone(),
                        metadata: order.metadata.clone(),
                    })
                    .await;
                match ordered {
                    Ok(payment) => match engine.payment(payment).await.map(|p| p.state) {
                        Ok(PaymentState::Sent(sent)) => Some(ScheduleEvent::Paid {
                            key,
                            payment: sent.payment.id,
                        }),
                        Ok(PaymentState::Failed(failed)) => Some(ScheduleEvent::PaymentFailed {
                            key,
                            failure: failed.failure,
                        }),
                        Ok(_) => None,
                        Err(error) => {
                            tracing::warn!(%error, "could not read the occurrence's payment");
                            None
                        }
                    },
                    Err(EngineError::LimitRefused { refused, .. }) => {
                        Some(ScheduleEvent::PaymentFailed {
                            key,
                            failure: Failure::LimitReached { refused: *refused },
                        })
                    }
                    Err(EngineError::ConsentNeeded { end, .. }) => {
                        Some(ScheduleEvent::PaymentFailed {
                            key,
                            failure: Failure::ConsentNeeded {
                                end,
                                maybe_paid_from: None,
                            },
                        })
                    }
                    Err(
                        error @ (EngineError::NotPayable { .. }
                        | EngineError::PaymentKeyReused { .. }),
                    ) => Some(gave_up(key, error.to_string())),
                    Err(error) => {
                        tracing::warn!(%error, "could not order the occurrence's payment; asking again at the wake-up");
                        None
                    }
                }
            }
            ScheduleEffect::RequestConsent { key, previous, .. } => {
                let order = match self.consent_order(state, &key, previous.as_deref()).await {
                    Ok(order) => order,
                    Err(error) => {
                        tracing::warn!(%error, "could not build the new grant request");
                        return None;
                    }
                };
                match engine.request(order).await {
                    Ok(requested) if requested.kind == StateKind::Issued => {
                        Some(ScheduleEvent::ConsentGiven {
                            key,
                            grant: requested.id.to_string(),
                        })
                    }
                    Ok(requested) => grant_end(requested.kind)
                        .map(|end| ScheduleEvent::ConsentRefused { key, end }),
                    Err(error) => {
                        tracing::warn!(%error, "could not request the new grant; asking again at the wake-up");
                        None
                    }
                }
            }
            ScheduleEffect::CancelConsent { key } => {
                if let Ok(Some(grant)) = engine.get_by_idempotency_key(&key).await
                    && !grant.is_final()
                    && let Err(error) = engine.cancel(grant.id).await
                {
                    tracing::warn!(%error, "could not cancel the schedule's grant request");
                }
                None
            }
        }
    }

    /// The request for the grant that replaces `previous`: its grant endpoint and access (read
    /// from its first event), with the interval re-anchored for a grant-window cadence.
    async fn consent_order(
        &self,
        state: &ScheduleState,
        key: &str,
        previous: Option<&str>,
    ) -> Result<GrantOrder, EngineError> {
        let previous = previous
            .and_then(|p| p.parse().ok())
            .map(GrantId)
            .ok_or_else(|| EngineError::NotPayable {
                grant: GrantId(uuid::Uuid::nil()),
                reason: "the schedule has no grant to take the access from".into(),
            })?;
        let first = self
            .store
            .first_event(previous)
            .await?
            .map(HistoryEntry::from_record)
            .transpose()?;
        let Some(HistoryEntry {
            event: Event::Request { intent },
            ..
        }) = first
        else {
            return Err(EngineError::NotFound(previous));
        };
        let mut access = intent
            .request
            .access_token
            .as_ref()
            .map(|t| t.access.clone())
            .unwrap_or_default();
        let renewed = state
            .progress()
            .and_then(|p| p.order.cadence.renewed_grant_interval(self.now()))
            .filter(|_| {
                state
                    .progress()
                    .is_some_and(|p| matches!(p.order.cadence, Cadence::GrantWindows { .. }))
            });
        if let Some(interval) = renewed {
            for item in &mut access {
                if let AccessItem::OutgoingPayment(o) = item
                    && let Some(limits) = o.limits.as_mut()
                {
                    limits.interval = Some(interval);
                }
            }
        }
        Ok(GrantOrder {
            idempotency_key: key.to_owned(),
            grant_endpoint: intent.grant_endpoint.clone(),
            access,
            interaction: if self.config.finish_base_url.is_some() {
                Interaction::Redirect
            } else {
                Interaction::Poll
            },
        })
    }
}

/// The failure of a payment that could not be ordered at all (nothing was paid).
fn gave_up(key: String, reason: String) -> ScheduleEvent {
    ScheduleEvent::PaymentFailed {
        key,
        failure: Failure::GaveUp {
            call: CallKind::CreateQuote,
            attempts: 0,
            last_error: reason,
        },
    }
}
