//! The one way a payment is advanced, whoever advances it ([`Engine::pay`](crate::Engine::pay)
//! right after the order, or a worker that claimed it), always under the payment's lease, in the
//! grant loop's shape (`step.rs`):
//!
//! 1. feed an event to the payment machine and commit the transition with its event row and
//!    the payment's ledger entry ([`Inner::apply_payment`]); a call it starts is committed as in
//!    flight and the lease is kept;
//! 2. get the grant's token from the grant engine (rotated first when the machine asks: the RS
//!    answered 403 "Inactive Token"), make the call, renewing the lease meanwhile;
//! 3. feed the outcome back, until a transition starts no call (its commit released the lease).
//!
//! A crash anywhere leaves "in flight" behind; the lease lapses, a worker claims the payment and
//! feeds it a `Wake`; the machine looks a lost create up by its quote's id before anything else.
//!
//! A grant that ended (the grant engine has no token and the grant is final) is fed to the
//! machine as `GrantEnded`: the payment fails with "the user must consent again".

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_payment::limit::{self, DEFAULT_READING};
use grantflow_payment::{
    Effect, Failure, Headroom, Ledger, LedgerEntry, LimitRefused, PaymentChange, PaymentEvent,
    PaymentEventKind, PaymentState, PaymentStateKind, QuoteInfo, transition,
};
use grantflow_protocol::Secret;
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::OutgoingPaymentLimits;
use grantflow_store::{
    AfterWrite, ClaimedPayment, Fence, GrantId, GrantStore, LedgerRow, PaymentId, PaymentLease,
    PaymentWrite, StoreError,
};
use url::Url;

use crate::engine::Inner;
use crate::error::EngineError;
use crate::payment_calls::{PaymentAnswer, make_payment_call};
use crate::payment_view::{PaymentSummary, StoredPayment, change_name, grant_end, outgoing_access};
use crate::time::{after, plus};

/// How long a payment the machine cannot wake sleeps before it is tried again.
const STUCK_RETRY: TimeDelta = TimeDelta::seconds(60);

/// A payment this engine holds the lease of, with what it last committed.
pub(crate) struct HeldPayment {
    pub(crate) id: PaymentId,
    pub(crate) grant: GrantId,
    pub(crate) version: i64,
    pub(crate) stored: StoredPayment,
    pub(crate) lease: PaymentLease,
    /// The wake-up it had before it was claimed (restored on a no-op release).
    pub(crate) due_at: Option<DateTime<Utc>>,
    /// The token the last call used (in memory only: asked to refresh, this one is reported to
    /// the grant engine as refused).
    pub(crate) token: Option<Secret>,
}

/// The change feed's text for one payment transition.
pub(crate) fn change_summary(
    grant: GrantId,
    from: PaymentStateKind,
    event: PaymentEventKind,
    to: &PaymentState,
    change: Option<PaymentChange>,
) -> String {
    crate::feed::payment_summary(PaymentSummary {
        grant,
        from,
        event,
        kind: to.kind(),
        change: change.map(|c| change_name(c).to_owned()),
    })
}

/// What the payment may have debited, as of `state` committed at `now`: the outgoing payment's
/// amounts at its creation once `Sent`; the quote's from the moment a create may be sent until
/// the payment is found or proven absent; kept when it failed with a create's outcome unknown.
pub(crate) fn ledger_row(state: &PaymentState, now: DateTime<Utc>) -> Option<LedgerRow> {
    let (at, debit, receive) = match state {
        PaymentState::Sent(s) => (
            s.payment.created_at,
            &s.payment.debit_amount,
            &s.payment.receive_amount,
        ),
        PaymentState::Sending(s) => (now, &s.quote.debit_amount, &s.quote.receive_amount),
        PaymentState::Confirming(s) => (now, &s.quote.debit_amount, &s.quote.receive_amount),
        PaymentState::Failed(f) if failure_may_have_paid(&f.failure) => {
            let q = f.quote.as_ref()?;
            (now, &q.debit_amount, &q.receive_amount)
        }
        PaymentState::Initial | PaymentState::Quoting(_) | PaymentState::Failed(_) => {
            return None;
        }
    };
    let entry = LedgerEntry {
        at,
        debit: debit.clone(),
        receive: receive.clone(),
    };
    Some(LedgerRow {
        at,
        // Amounts and an instant serialise as plain values: this cannot fail.
        entry: serde_json::to_string(&entry).unwrap_or_default(),
    })
}

/// Whether a payment that failed this way may still have an outgoing payment at the RS.
fn failure_may_have_paid(failure: &Failure) -> bool {
    match failure {
        Failure::ConsentNeeded {
            maybe_paid_from, ..
        } => maybe_paid_from.is_some(),
        Failure::OutcomeUnknown { .. } | Failure::PaymentFailed { .. } => true,
        _ => false,
    }
}

impl<S: GrantStore> Inner<S> {
    /// The grant's ledger for the window containing `at` (everything without an interval),
    /// without `except`'s entry: one indexed query.
    pub(crate) async fn ledger(
        &self,
        grant: GrantId,
        limits: Option<&OutgoingPaymentLimits>,
        at: DateTime<Utc>,
        except: Option<PaymentId>,
    ) -> Result<Ledger, EngineError> {
        let from = limits
            .and_then(|l| l.interval.as_ref())
            .and_then(|i| i.window_at(DEFAULT_READING, at))
            .map(|w| w.start);
        let rows = self.store.payment_ledger(grant, from, except).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            match serde_json::from_str::<LedgerEntry>(&row.entry) {
                Ok(e) => entries.push(e),
                Err(error) => {
                    return Err(EngineError::Store(std::sync::Arc::new(
                        StoreError::Corrupt {
                            grant: Some(grant),
                            detail: format!("a payment ledger entry does not read back: {error}"),
                        },
                    )));
                }
            }
        }
        Ok(Ledger::from_entries(entries))
    }

    /// The `resourceServer` of a wallet address.
    pub(crate) async fn resource_server(
        &self,
        wallet_address: &str,
    ) -> Result<String, EngineError> {
        let client = self.calls.client().ok_or(EngineError::NoPaymentCalls)?;
        let url = Url::parse(wallet_address).map_err(|e| EngineError::WalletAddress {
            address: wallet_address.to_owned(),
            reason: e.to_string(),
        })?;
        client
            .get_wallet_address(&url)
            .await
            .map(|w| w.resource_server)
            .map_err(|e| EngineError::WalletAddress {
                address: wallet_address.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Feeds `event` to a held payment and commits the transition; returns the call to make
    /// (already in flight in the committed state).
    pub(crate) async fn apply_payment(
        &self,
        held: &mut HeldPayment,
        event: PaymentEvent,
    ) -> Result<Option<Effect>, EngineError> {
        let now = self.now();
        let from = held.stored.payment.kind();
        let t = transition(
            &held.stored.payment,
            event.clone(),
            now,
            &self.config.payment,
        )
        .map_err(|source| EngineError::PaymentRefused {
            payment: held.id,
            source,
        })?;
        let then = if t.effect.is_some() {
            AfterWrite::Keep {
                until: after(now, self.config.lease),
            }
        } else {
            AfterWrite::Release
        };
        let stored = StoredPayment {
            resource_server: held.stored.resource_server.clone(),
            payment: t.state,
        };
        let write = PaymentWrite {
            id: held.id,
            expected_version: held.version,
            fence: Fence::Lease {
                token: held.lease.token,
                then: then.clone(),
            },
            state: serde_json::to_string(&stored)?,
            event: serde_json::to_string(&event)?,
            at: now,
            next_wake_at: stored.payment.next_wake_at(),
            state_kind: stored.payment.kind().as_str().to_owned(),
            ledger: ledger_row(&stored.payment, now),
            change_summary: Some(change_summary(
                held.grant,
                from,
                event.kind(),
                &stored.payment,
                t.change,
            )),
        };
        match self.store.commit_payment(write, now).await? {
            Ok(version) => {
                held.version = version;
                if let AfterWrite::Keep { until } = then {
                    held.lease.until = until;
                }
                tracing::debug!(edge = %t.edge, version, "payment transition");
                match t.change {
                    Some(PaymentChange::Failed) => tracing::warn!(
                        reason = stored.payment.reason().unwrap_or_default(),
                        "payment failed"
                    ),
                    Some(PaymentChange::Sent) => tracing::info!("payment sent"),
                    _ => {}
                }
                held.stored = stored;
                Ok(t.effect)
            }
            Err(reason) => Err(EngineError::PaymentLeaseLost {
                payment: held.id,
                reason: Box::new(reason),
            }),
        }
    }

    /// Makes the calls committed transitions asked for, feeding each outcome back, until a
    /// transition starts no call.
    pub(crate) async fn run_payment(
        self: &Arc<Self>,
        held: &mut HeldPayment,
        mut effect: Option<Effect>,
    ) -> Result<(), EngineError> {
        while let Some(e) = effect {
            let event = self.payment_call(held, &e).await;
            effect = match self.apply_payment(held, event).await {
                Ok(effect) => effect,
                Err(error @ EngineError::PaymentRefused { .. }) => {
                    // The machine refused the outcome of its own call: keep the state (call in
                    // flight) and give the payment back; its next Wake resolves the call.
                    tracing::error!(%error, "the payment machine refused a call's outcome");
                    self.release_payment(&held.lease, held.stored.payment.next_wake_at())
                        .await;
                    return Err(error);
                }
                Err(e) => return Err(e),
            };
        }
        Ok(())
    }

    /// One call: the token, the call (renewing the lease), and its outcome as an event.
    async fn payment_call(
        self: &Arc<Self>,
        held: &mut HeldPayment,
        effect: &Effect,
    ) -> PaymentEvent {
        let view = match self.payment_token(held, effect.refresh_token).await {
            Ok(view) => view,
            Err(event) => return event,
        };
        let token = view.value.clone();
        let Some(client) = self.calls.client() else {
            return PaymentEvent::NotSent {
                error: EngineError::NoPaymentCalls.to_string(),
            };
        };
        let rs = match Url::parse(&held.stored.resource_server) {
            Ok(rs) => rs,
            Err(e) => {
                return PaymentEvent::NotSent {
                    error: format!("the resource server URL does not parse: {e}"),
                };
            }
        };
        let call = make_payment_call(client, &rs, &token, &effect.call);
        let answer = self.renewing(held, call).await;
        let quote = match &answer {
            PaymentAnswer::Quote(q) => Some(QuoteInfo::from(q)),
            _ => None,
        };
        let headroom = match quote {
            Some(_) => {
                let limits = outgoing_access(held.grant, &view.access)
                    .ok()
                    .and_then(|(_, limits)| limits);
                Some(
                    self.quote_headroom(held, limits.as_ref(), client, &rs, &token)
                        .await,
                )
            }
            None => None,
        };
        answer.into_event(|_| headroom.unwrap_or_else(Headroom::unlimited))
    }

    /// The grant's token for a call, or the event that says why there is none.
    async fn payment_token(
        self: &Arc<Self>,
        held: &mut HeldPayment,
        refresh: bool,
    ) -> Result<crate::view::AccessTokenView, PaymentEvent> {
        let got = match (refresh, held.token.take()) {
            (true, Some(refused)) => self.token_for(held.grant, Some(refused)).await,
            (true, None) => match self.token_for(held.grant, None).await {
                // The token the RS refused was not kept (a crash since): the current one is
                // reported as refused, which rotates it once.
                Ok(current) => self.token_for(held.grant, Some(current.value)).await,
                Err(e) => Err(e),
            },
            (false, _) => self.token_for(held.grant, None).await,
        };
        match got {
            Ok(view) => {
                held.token = Some(view.value.clone());
                Ok(view)
            }
            Err(EngineError::NoAccessToken { state, .. }) if grant_end(state).is_some() => {
                Err(PaymentEvent::GrantEnded {
                    end: grant_end(state).unwrap_or(grantflow_payment::GrantEnd::Lost),
                })
            }
            Err(error) => Err(PaymentEvent::NotSent {
                error: format!("no token for the grant: {error}"),
            }),
        }
    }

    /// The grant engine's token (rotating `refused` first, if given).
    async fn token_for(
        self: &Arc<Self>,
        grant: GrantId,
        refused: Option<Secret>,
    ) -> Result<crate::view::AccessTokenView, EngineError> {
        let engine = crate::Engine {
            inner: Arc::clone(self),
        };
        match refused {
            Some(refused) => engine.access_token_refused(grant, &refused).await,
            None => engine.access_token(grant).await,
        }
    }

    /// What the grant's limits leave for a quote just received: the ledger of the grant's other
    /// payments, reconciled with the RS's spent amounts (the larger sum counts; see the
    /// reconciliation rule in `payment.rs`).
    async fn quote_headroom(
        self: &Arc<Self>,
        held: &HeldPayment,
        limits: Option<&OutgoingPaymentLimits>,
        client: &grantflow_client::Client,
        rs: &Url,
        token: &Secret,
    ) -> Headroom {
        let now = self.now();
        let Some(limits) = limits else {
            return Headroom::unlimited();
        };
        let ledger = match self
            .ledger(held.grant, Some(limits), now, Some(held.id))
            .await
        {
            Ok(l) => l,
            Err(error) => {
                tracing::warn!(%error, "could not read the ledger; the RS's spent amounts decide");
                Ledger::new()
            }
        };
        let spent = match client
            .get_outgoing_payment_grant_spent_amounts(rs, token)
            .await
        {
            Ok(s) => Some(s),
            Err(error) => {
                tracing::debug!(%error, "no spent amounts from the RS; the ledger decides");
                None
            }
        };
        match limit::headroom(Some(limits), DEFAULT_READING, &ledger, spent.as_ref(), now) {
            Ok(h) => h,
            Err(LimitRefused::NoWindow {
                next_window_start, ..
            }) => Headroom {
                window: None,
                debit_left: limits.debit_amount.as_ref().map(zero),
                receive_left: limits.receive_amount.as_ref().map(zero),
                next_window_start,
            },
            Err(_) => Headroom::unlimited(),
        }
    }

    /// Awaits `call`, renewing the payment's lease every third of its length meanwhile.
    async fn renewing(
        &self,
        held: &mut HeldPayment,
        call: impl std::future::Future<Output = PaymentAnswer>,
    ) -> PaymentAnswer {
        tokio::pin!(call);
        let every = (self.config.lease / 3).max(Duration::from_millis(10));
        loop {
            tokio::select! {
                answer = &mut call => return answer,
                () = tokio::time::sleep(every) => {}
            }
            match self
                .store
                .renew_payment(&held.lease, after(self.now(), self.config.lease))
                .await
            {
                Ok(lease) => held.lease = lease,
                Err(error) => tracing::warn!(%error, "could not renew a payment's lease"),
            }
        }
    }

    /// Gives a payment's lease back without a transition.
    pub(crate) async fn release_payment(&self, lease: &PaymentLease, wake: Option<DateTime<Utc>>) {
        if let Err(error) = self.store.release_payment(lease, wake, self.now()).await {
            tracing::warn!(%error, "could not release a payment's lease; it will lapse");
        }
    }

    /// A worker's turn on a claimed payment: a `Wake`, then whatever calls it starts.
    pub(crate) async fn advance_claimed_payment(self: &Arc<Self>, claimed: ClaimedPayment) {
        let stored = match StoredPayment::decode(claimed.payment.id, &claimed.payment.state) {
            Ok(s) => s,
            Err(error) => {
                tracing::error!(%error, "cannot read a claimed payment; retrying it in an hour");
                self.release_payment(&claimed.lease, Some(plus(self.now(), TimeDelta::hours(1))))
                    .await;
                return;
            }
        };
        let mut held = HeldPayment {
            id: claimed.payment.id,
            grant: claimed.payment.grant,
            version: claimed.payment.version,
            stored,
            lease: claimed.lease,
            due_at: claimed.due_at,
            token: None,
        };
        if self.shutdown.is_cancelled() {
            self.release_payment(&held.lease, held.due_at).await;
            return;
        }
        match self.apply_payment(&mut held, PaymentEvent::Wake).await {
            Ok(effect) => {
                if let Err(error) = self.run_payment(&mut held, effect).await {
                    tracing::warn!(%error, "payment step did not complete");
                }
            }
            Err(EngineError::PaymentRefused { source, .. }) => {
                let wake = match source {
                    grantflow_payment::PaymentError::NotDue { wake_at } => Some(wake_at),
                    grantflow_payment::PaymentError::Final { .. } => None,
                    other => {
                        tracing::error!(error = %other, "the machine cannot wake this payment");
                        Some(plus(self.now(), STUCK_RETRY))
                    }
                };
                self.release_payment(&held.lease, wake).await;
            }
            Err(error) => tracing::warn!(%error, "could not advance a claimed payment"),
        }
    }
}

/// Nothing, in `limit`'s asset.
fn zero(limit: &Amount) -> Amount {
    Amount::new(0, limit.asset_code.clone(), limit.asset_scale)
}
