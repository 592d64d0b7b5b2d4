//! Payments under grants, as the application sees them: [`Engine::pay`] orders one, exactly
//! once per idempotency key and grant; [`Engine::payment`] reads it; the worker drives it to
//! `Sent` or `Failed` (`payment_step.rs`).
//!
//! A payment is a workflow like a grant: its row (`grantflow_payments`) holds the payment
//! machine's state (`grantflow-payment`) with the grant it is made under and the RS it pays at
//! ([`StoredPayment`]); every transition is committed before the call it starts; a worker claims
//! due payments under a lease, as it claims grants, and a crash leaves "in flight" for the
//! machine to resolve (a lost create is looked up by its quote's id before anything is sent
//! again). Its changes go to the same change feed as grants'
//! ([`FeedChange::Payment`](crate::FeedChange::Payment)).
//!
//! # The limit check and the ledger
//!
//! Before quoting, [`Engine::pay`] checks the order against the grant's `limits` in the window
//! that contains now ([`grantflow_payment::limit::check_order`], the reference's reading), given
//! the grant's **ledger**: the payments of this grant whose committed state says they may have
//! debited (a create sent or about to be, or sent: `Sending`, `Confirming`, `Sent`, and `Failed`
//! when a create's outcome stayed unknown), read from the payments table (one indexed query, no
//! call to the RS). A refusal is [`EngineError::LimitRefused`], naming the window, the amount
//! left and when the next window starts; nothing is stored.
//!
//! **Reconciliation rule**: once the quote is in hand (the token too, and the RS just answered),
//! the engine reads the RS's spent amounts for the grant (`GET /outgoing-payment-grant`, one
//! cheap GET per payment) and checks the quote against the larger of the RS's sums and its own,
//! so payments made by other clients of the grant count before anything is created. If that GET
//! fails, the ledger alone decides (the RS still enforces its limit on the create).
//!
//! Two payments of one grant checked at the same instant by two workers can both pass the
//! engine's check (the check is not serialised per grant); the RS's own limit then refuses the
//! second create, which fails the payment with the RS's answer. Nothing is paid over the limit.

use std::sync::Arc;

use grantflow_payment::{PaymentAmount, PaymentEvent, PaymentState, PaymentStateKind};
use grantflow_protocol::incoming_payment::Metadata;
use grantflow_store::{GrantId, GrantStore, NewLease, NewPayment, PaymentId, PaymentRecord};
use tracing::Instrument;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::payment_step::{HeldPayment, change_summary, ledger_row};
use crate::payment_view::{
    PaymentHistoryEntry, PaymentView, StoredPayment, grant_end, outgoing_access,
};
use crate::time::{after, deadline_in};

/// One payment the application asks for: pay `receiver` (an incoming payment URL) `amount`
/// under `grant` (an issued grant with `outgoing-payment` access, and `quote` access).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOrder {
    /// The grant to pay under (its `outgoing-payment` access names the sending wallet address
    /// and the limits).
    pub grant: GrantId,
    /// The incoming payment URL to pay.
    pub receiver: String,
    /// What to debit from the sender, or what to deliver to the receiver.
    pub amount: PaymentAmount,
    /// The application's key for this payment, unique per grant: ordering again with the same
    /// grant and key returns the same payment (and never pays twice).
    pub idempotency_key: String,
    /// The client's metadata for the outgoing payment.
    pub metadata: Option<Metadata>,
}

impl<S: GrantStore> Engine<S> {
    /// Orders a payment under an issued grant and returns its id at once; the engine then
    /// quotes, checks the quote against the limits, and creates the outgoing payment from it
    /// (exactly once, across crashes), in the background and, after a crash, in any worker.
    /// Follow it with [`payment`](Self::payment), [`wait_for_payment`](Self::wait_for_payment)
    /// or the change feed.
    ///
    /// The same grant and idempotency key return the payment ordered first (its order must be
    /// the same: otherwise [`EngineError::PaymentKeyReused`]).
    ///
    /// Refused, with nothing stored, when the order does not fit what the grant's limits leave
    /// in the current window ([`EngineError::LimitRefused`]: the window, the amount left, when
    /// the next window starts), when the grant ended ([`EngineError::ConsentNeeded`]: the user
    /// must consent again), or when it cannot pay ([`EngineError::NotPayable`]).
    ///
    /// Cancel safety: once the payment is recorded its calls run in a task of the engine;
    /// dropping the future before that records nothing.
    pub async fn pay(&self, order: PaymentOrder) -> Result<PaymentId, EngineError> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        if let Some(first) = inner
            .store
            .get_payment_by_key(order.grant, &order.idempotency_key)
            .await?
        {
            return repeated(first, &order);
        }
        let token = match self.access_token(order.grant).await {
            Err(EngineError::NoAccessToken { grant, state }) => {
                return Err(match grant_end(state) {
                    Some(end) => EngineError::ConsentNeeded { grant, end },
                    None => EngineError::NotPayable {
                        grant,
                        reason: format!("the grant is {state}, not issued"),
                    },
                });
            }
            other => other?,
        };
        let (wallet_address, limits) = outgoing_access(order.grant, &token.access)?;
        let resource_server = inner.resource_server(&wallet_address).await?;
        let machine_order = Arc::new(grantflow_payment::PaymentOrder {
            wallet_address,
            receiver: order.receiver.clone(),
            amount: order.amount.clone(),
            metadata: order.metadata.clone(),
        });
        let now = inner.now();
        let ledger = inner
            .ledger(order.grant, limits.as_ref(), now, None)
            .await?;
        let headroom = grantflow_payment::limit::check_order(
            limits.as_ref(),
            grantflow_payment::limit::DEFAULT_READING,
            &ledger,
            None,
            &machine_order,
            now,
        )
        .map_err(|refused| EngineError::LimitRefused {
            grant: order.grant,
            refused: Box::new(refused),
        })?;
        let event = PaymentEvent::Order {
            order: machine_order,
            headroom,
        };
        let id = PaymentId::new_random();
        let t = grantflow_payment::transition(
            &PaymentState::Initial,
            event.clone(),
            now,
            &inner.config.payment,
        )
        .map_err(|source| EngineError::PaymentRefused {
            payment: id,
            source,
        })?;
        let stored = StoredPayment {
            resource_server,
            payment: t.state,
        };
        let until = after(now, inner.config.lease);
        let created = inner
            .store
            .create_payment(
                NewPayment {
                    id,
                    grant: order.grant,
                    idempotency_key: order.idempotency_key.clone(),
                    state: serde_json::to_string(&stored)?,
                    event: serde_json::to_string(&event)?,
                    next_wake_at: stored.payment.next_wake_at(),
                    lease: Some(NewLease {
                        owner: inner.config.worker_id.clone(),
                        until,
                    }),
                    state_kind: stored.payment.kind().as_str().to_owned(),
                    ledger: ledger_row(&stored.payment, now),
                    change_summary: Some(change_summary(
                        order.grant,
                        PaymentStateKind::Initial,
                        event.kind(),
                        &stored.payment,
                        t.change,
                    )),
                },
                now,
            )
            .await?;
        let Some(lease) = created.lease.clone().filter(|_| created.inserted) else {
            return repeated(created.payment, &order);
        };
        crate::metrics::leases_taken("pay", 1);
        tracing::info!(payment = %id, grant = %order.grant, "payment ordered");
        let mut held = HeldPayment {
            id,
            grant: order.grant,
            version: 1,
            stored,
            lease,
            due_at: None,
            token: None,
        };
        let effect = t.effect;
        let span = tracing::info_span!("payment", payment = %id);
        inner.spawn_background(
            "payment",
            {
                let inner = inner.clone();
                async move {
                    if let Err(error) = inner.run_payment(&mut held, effect).await {
                        tracing::warn!(%error, "the payment did not complete here; a worker carries it on");
                    }
                }
            }
            .instrument(span),
        );
        Ok(id)
    }

    /// Reads a payment.
    ///
    /// Cancel safety: a read.
    pub async fn payment(&self, id: PaymentId) -> Result<PaymentView, EngineError> {
        let record = self
            .inner
            .store
            .get_payment(id)
            .await?
            .ok_or(EngineError::PaymentNotFound(id))?;
        PaymentView::from_record(record)
    }

    /// Reads the payment ordered under `grant` with `idempotency_key`, if any.
    ///
    /// Cancel safety: a read.
    pub async fn payment_by_key(
        &self,
        grant: GrantId,
        idempotency_key: &str,
    ) -> Result<Option<PaymentView>, EngineError> {
        self.inner
            .store
            .get_payment_by_key(grant, idempotency_key)
            .await?
            .map(PaymentView::from_record)
            .transpose()
    }

    /// The payments ordered under `grant`, oldest first (at most `limit`).
    ///
    /// Cancel safety: a read.
    pub async fn payments(
        &self,
        grant: GrantId,
        limit: u32,
    ) -> Result<Vec<PaymentView>, EngineError> {
        self.inner
            .store
            .list_payments(grant, limit)
            .await?
            .into_iter()
            .map(PaymentView::from_record)
            .collect()
    }

    /// A payment's recorded events, oldest first (replaying them through
    /// `grantflow_payment::transition` from `Initial` gives its machine state).
    ///
    /// Cancel safety: a read.
    pub async fn payment_history(
        &self,
        id: PaymentId,
    ) -> Result<Vec<PaymentHistoryEntry>, EngineError> {
        let records = self.inner.store.payment_history(id).await?;
        if records.is_empty() {
            return Err(EngineError::PaymentNotFound(id));
        }
        records
            .into_iter()
            .map(PaymentHistoryEntry::from_record)
            .collect()
    }

    /// Waits until the payment is final (`Sent` or `Failed`), checking whenever the change feed
    /// says something committed and at least every `poll_interval`, or `timeout` passes
    /// ([`EngineError::PaymentTimeout`]).
    ///
    /// Cancel safety: a read.
    pub async fn wait_for_payment(
        &self,
        id: PaymentId,
        timeout: std::time::Duration,
    ) -> Result<PaymentView, EngineError> {
        let mut feed = self.inner.store.feed_signal();
        let deadline = deadline_in(timeout);
        loop {
            let view = self.payment(id).await?;
            if view.is_final() {
                return Ok(view);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(EngineError::PaymentTimeout(id));
            }
            let pause = (deadline - now).min(self.inner.config.poll_interval);
            feed.wait(pause).await;
        }
    }

    /// What `limits` (a grant's outgoing-payment limits) leave at `at` after the payments this
    /// engine made, or may have made, under `grant` in the window containing `at`, in the
    /// reference's reading: the engine's own ledger, one indexed query, no call to the RS
    /// (payments by other clients of the grant are not in it). What the console shows as spent.
    ///
    /// `Err(EngineError::LimitRefused)` when no window of the interval contains `at` (it names
    /// the next one).
    ///
    /// Cancel safety: a read.
    pub async fn headroom(
        &self,
        grant: GrantId,
        limits: Option<&grantflow_protocol::grant::OutgoingPaymentLimits>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<grantflow_payment::Headroom, EngineError> {
        let ledger = self.inner.ledger(grant, limits, at, None).await?;
        grantflow_payment::limit::headroom(
            limits,
            grantflow_payment::limit::DEFAULT_READING,
            &ledger,
            None,
            at,
        )
        .map_err(|refused| EngineError::LimitRefused {
            grant,
            refused: Box::new(refused),
        })
    }
}

/// The answer to an order whose grant and key were used before: that payment, if the order is
/// the same as the one it was made for.
fn repeated(first: PaymentRecord, order: &PaymentOrder) -> Result<PaymentId, EngineError> {
    let view = PaymentView::from_record(first)?;
    let same = view.state.order().is_none_or(|o| {
        o.receiver == order.receiver && o.amount == order.amount && o.metadata == order.metadata
    });
    if !same {
        return Err(EngineError::PaymentKeyReused {
            key: order.idempotency_key.clone(),
            payment: view.id,
        });
    }
    tracing::info!(payment = %view.id, "payment ordered again with a known idempotency key");
    Ok(view.id)
}
