//! Recurring schedules, as the application sees them: [`Engine::schedule`] creates one (once
//! per idempotency key), [`Engine::schedule_status`] and [`Engine::schedules`] read them,
//! [`Engine::pause_schedule`], [`Engine::resume_schedule`] and [`Engine::cancel_schedule`]
//! command them; a worker drives them (`schedule_step.rs`).
//!
//! A schedule is a workflow like a grant or a payment: its row (`grantflow_schedules`) holds the
//! pure schedule machine's state (`grantflow_payment::schedule`); each occurrence's payment is an
//! ordinary [`Engine::pay`] with the idempotency key `schedule/<schedule id>/<occurrence>`, made
//! under the schedule's grant. The key is committed with the decision to pay, before the
//! payment is ordered, and the payments table is unique on (grant, key): a crash anywhere
//! re-orders the same key and finds the payment, so an occurrence is paid at most once. Its
//! changes go to the change feed ([`FeedChange::Schedule`](crate::FeedChange::Schedule)).
//!
//! Decisions: the schedule is created with an issued grant (the grant to pay under is asked of
//! the user first, with [`Engine::request`]); when that grant can pay no more, the schedule
//! requests a new one itself, with the same grant endpoint and access as the grant it replaces
//! (for a [`ScheduleCadence::GrantWindows`] cadence, its interval re-anchored on the current
//! window), keyed `schedule/<id>/consent/<n>` so a crash requests it once; the user's redirect
//! is in that grant's changes. Commands take the schedule's lease (waiting up to
//! `command_wait` for a worker holding it), apply the event and release it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantflow_interval::{Reading, RepeatingInterval};
use grantflow_payment::limit::DEFAULT_READING;
use grantflow_payment::schedule::{
    Cadence, ScheduleEvent, ScheduleEventKind, ScheduleOrder as MachineOrder, ScheduleState,
    ScheduleStateKind, transition,
};
use grantflow_payment::{PaymentAmount, PaymentOrder};
use grantflow_protocol::grant::AccessItem;
use grantflow_protocol::incoming_payment::Metadata;
use grantflow_store::{GrantId, GrantStore, NewSchedule, ScheduleId};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::schedule_view::{ScheduleSummary, ScheduleView};

/// When a schedule pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleCadence {
    /// Once per window of the grant's `limits.interval` (in the reference's reading), continued
    /// past the grant's repetitions (a new grant is asked for then).
    GrantWindows,
    /// Once per window of this interval (in the ISO 8601 reading).
    Interval(Box<RepeatingInterval>),
}

/// A recurring payment the application asks for: pay `receiver` `amount` under `grant` once per
/// occurrence of `cadence`, from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleOrder {
    /// The application's key: ordering again with it returns the first schedule.
    pub idempotency_key: String,
    /// The issued grant to pay under (`outgoing-payment` access, and `quote`).
    pub grant: GrantId,
    /// The incoming payment URL to pay every time.
    pub receiver: String,
    /// What each occurrence debits, or delivers.
    pub amount: PaymentAmount,
    /// When it pays.
    pub cadence: ScheduleCadence,
    /// The first occurrence is the window that contains this instant (`None`: now).
    pub start: Option<DateTime<Utc>>,
    /// No occurrence comes due at or after this instant (`None`: until the cadence ends).
    pub end: Option<DateTime<Utc>>,
    /// The client's metadata for each outgoing payment.
    pub metadata: Option<Metadata>,
}

/// The grant's `outgoing-payment` access item: the sending wallet address and the interval.
pub(crate) fn outgoing(access: &[AccessItem]) -> Option<(String, Option<RepeatingInterval>)> {
    access.iter().find_map(|a| match a {
        AccessItem::OutgoingPayment(o) => Some((
            o.identifier.clone(),
            o.limits.as_ref().and_then(|l| l.interval),
        )),
        _ => None,
    })
}

impl<S: GrantStore> Engine<S> {
    /// Creates a recurring schedule under an issued grant (once per idempotency key) and returns
    /// it; a worker pays each occurrence as it comes due.
    ///
    /// Refused, with nothing stored, when the grant cannot pay ([`EngineError::NotPayable`],
    /// [`EngineError::ConsentNeeded`]), or when the order cannot be followed (a
    /// [`ScheduleCadence::GrantWindows`] cadence under a grant without an interval, a
    /// `duration/end` interval, an end before the start: [`EngineError::ScheduleRefused`]).
    pub async fn schedule(&self, order: ScheduleOrder) -> Result<ScheduleView, EngineError> {
        let now = self.inner.now();
        let token = self.access_token(order.grant).await.map_err(|e| match e {
            EngineError::NoAccessToken { grant, state } => {
                match crate::payment_view::grant_end(state) {
                    Some(end) => EngineError::ConsentNeeded { grant, end },
                    None => EngineError::NotPayable {
                        grant,
                        reason: format!("the grant is {state}, not issued"),
                    },
                }
            }
            other => other,
        })?;
        let (wallet_address, interval) =
            outgoing(&token.access).ok_or_else(|| EngineError::NotPayable {
                grant: order.grant,
                reason: "the grant has no outgoing-payment access".into(),
            })?;
        let cadence = match order.cadence {
            ScheduleCadence::Interval(interval) => Cadence::Interval {
                interval: *interval,
                reading: Reading::Iso8601,
            },
            ScheduleCadence::GrantWindows => Cadence::GrantWindows {
                interval: interval.ok_or_else(|| EngineError::NotPayable {
                    grant: order.grant,
                    reason: "the grant's limits have no interval: give the schedule its own".into(),
                })?,
                reading: DEFAULT_READING,
            },
        };
        let id = ScheduleId::new_random();
        let machine_order = Arc::new(MachineOrder {
            payment: Arc::new(PaymentOrder {
                wallet_address,
                receiver: order.receiver,
                amount: order.amount,
                metadata: order.metadata,
            }),
            cadence,
            start: order.start.unwrap_or(now),
            end: order.end,
        });
        let event = ScheduleEvent::Order {
            schedule: id.to_string(),
            order: machine_order,
            grant: Some(order.grant.to_string()),
        };
        let t = transition(
            &ScheduleState::Initial,
            event.clone(),
            now,
            &self.inner.config.schedule,
        )
        .map_err(|source| EngineError::ScheduleRefused {
            schedule: id,
            source: Box::new(source),
        })?;
        let created = self
            .inner
            .store
            .create_schedule(
                NewSchedule {
                    id,
                    idempotency_key: order.idempotency_key,
                    state: serde_json::to_string(&t.state)?,
                    event: serde_json::to_string(&event)?,
                    next_wake_at: t.next_wake_at(),
                    state_kind: t.state.kind().as_str().to_owned(),
                    change_summary: Some(crate::feed::schedule_summary(ScheduleSummary {
                        from: ScheduleStateKind::Initial,
                        event: ScheduleEventKind::Order,
                        kind: t.state.kind(),
                        records: t.records,
                    })),
                },
                now,
            )
            .await?;
        if created.inserted {
            tracing::info!(schedule = %id, grant = %order.grant, "schedule created");
        }
        ScheduleView::from_record(created.schedule)
    }

    /// Reads one schedule.
    pub async fn schedule_status(&self, id: ScheduleId) -> Result<ScheduleView, EngineError> {
        let record = self
            .inner
            .store
            .get_schedule(id)
            .await?
            .ok_or(EngineError::ScheduleNotFound(id))?;
        ScheduleView::from_record(record)
    }

    /// The newest schedules, at most `limit`.
    pub async fn schedules(&self, limit: u32) -> Result<Vec<ScheduleView>, EngineError> {
        self.inner
            .store
            .list_schedules(limit)
            .await?
            .into_iter()
            .map(ScheduleView::from_record)
            .collect()
    }

    /// Pauses a schedule: occurrences that come due while paused are skipped (a payment being
    /// made finishes first).
    pub async fn pause_schedule(&self, id: ScheduleId) -> Result<ScheduleView, EngineError> {
        self.inner.command_schedule(id, ScheduleEvent::Pause).await
    }

    /// Resumes a paused schedule from the next occurrence.
    pub async fn resume_schedule(&self, id: ScheduleId) -> Result<ScheduleView, EngineError> {
        self.inner.command_schedule(id, ScheduleEvent::Resume).await
    }

    /// Cancels a schedule (a payment being made runs to its own end).
    pub async fn cancel_schedule(&self, id: ScheduleId) -> Result<ScheduleView, EngineError> {
        self.inner.command_schedule(id, ScheduleEvent::Cancel).await
    }
}
