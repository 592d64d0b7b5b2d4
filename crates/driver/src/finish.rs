//! Finish callbacks: the user's browser comes back from the AS to the grant's finish URI
//! (`<finish_base_url>/finish/<grant id>/<token>?hash=...&interact_ref=...` or `?result=...`).
//! The callback is checked against the grant as read (the URI's token, recomputed or compared, see
//! `finish_token.rs`, then the machine's hash check) without writing anything; only a verifying callback takes the lease, is recorded, and
//! starts the continue, in the background so the browser is answered at once.

use std::sync::Arc;

use grantflow_machine::{
    Change, Event, FinishCallback, GrantIntent, GrantState, MachineError, transition,
};
use grantflow_store::{GrantId, GrantStore};
use tracing::Instrument;
use url::Url;

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::finish_token::token_matches;
use crate::view::HistoryEntry;

/// How a finish callback was taken (it was recorded and the grant moved on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The hash verified: the grant is being continued.
    Approved,
    /// The user denied the grant.
    Rejected,
    /// The interaction failed at the AS (`result=...` other than a denial).
    Failed,
}

/// Why a finish callback changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum CallbackRefusal {
    /// No grant has this id.
    #[error("no such grant")]
    UnknownGrant,
    /// The finish URI's token or the `hash` does not match: forged, or meant for another grant.
    #[error("the finish callback does not verify")]
    Forged,
    /// The grant is not waiting for a callback (a replay, or a late or duplicate redirect).
    #[error("the grant is not waiting for a finish callback (it is {0})")]
    NotWaiting(grantflow_machine::StateKind),
    /// The query is not a finish callback.
    #[error("not a finish callback: {0}")]
    BadQuery(#[from] grantflow_machine::CallbackQueryError),
    /// The engine could not record it (database, busy grant); the browser may retry.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl<S: GrantStore> Engine<S> {
    /// Takes a finish callback: `token` is the last segment of the grant's finish URI and `query`
    /// the redirect's query string (`hash=...&interact_ref=...` or `result=...`).
    ///
    /// The hash is verified against the grant's nonces by the machine before anything is written;
    /// a forged or replayed callback writes nothing and is logged. An accepted one is recorded in
    /// one transaction and the continue is sent at once (in the background).
    ///
    /// Cancel safety: the continue runs in the engine's background work, not in this future;
    /// dropping the future before the callback is recorded records nothing (the browser may
    /// retry), after it changes nothing.
    pub async fn finish_callback(
        &self,
        id: GrantId,
        token: &str,
        query: &str,
    ) -> Result<CallbackOutcome, CallbackRefusal> {
        let span = tracing::info_span!("finish_callback", grant = %id);
        self.inner
            .finish_callback(self, id, token, query)
            .instrument(span)
            .await
    }

    /// Takes a finish callback by its whole URL (what the user's browser was redirected to): the
    /// grant id and token are the last two path segments, the query is the callback. For an
    /// application that serves the finish URI itself and hands the request over.
    ///
    /// Cancel safety: as [`finish_callback`](Self::finish_callback).
    pub async fn finish_callback_url(
        &self,
        url: &str,
    ) -> Result<(GrantId, CallbackOutcome), CallbackRefusal> {
        let parsed = Url::parse(url).map_err(|_| CallbackRefusal::UnknownGrant)?;
        let segments: Vec<&str> = parsed
            .path_segments()
            .map(|s| s.collect())
            .unwrap_or_default();
        let [.., "finish", id, token] = segments.as_slice() else {
            return Err(CallbackRefusal::UnknownGrant);
        };
        let id: GrantId = id.parse().map_err(|_| CallbackRefusal::UnknownGrant)?;
        let outcome = self
            .finish_callback(id, token, parsed.query().unwrap_or(""))
            .await?;
        Ok((id, outcome))
    }
}

impl<S: GrantStore> Inner<S> {
    async fn finish_callback(
        &self,
        engine: &Engine<S>,
        id: GrantId,
        token: &str,
        query: &str,
    ) -> Result<CallbackOutcome, CallbackRefusal> {
        if self.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown.into());
        }
        let view = match self.get(id).await {
            Ok(v) => v,
            Err(EngineError::NotFound(_)) => {
                tracing::warn!("finish callback for an unknown grant");
                return Err(CallbackRefusal::UnknownGrant);
            }
            Err(e) => return Err(e.into()),
        };
        // The token is checked in every state, so a wrong one on an ended grant is refused like
        // an unknown id. An ended grant no longer holds its intent; its first event does.
        let intent = match waiting_intent(&view.state) {
            Some(intent) => Some(Arc::clone(intent)),
            None => self.first_intent(id).await?,
        };
        let keys = self.config.finish_token_keys.as_deref();
        if !intent.is_some_and(|intent| token_matches(&intent, id, token, keys)) {
            tracing::warn!("finish callback refused: the finish URI token does not match");
            return Err(CallbackRefusal::Forged);
        }
        let callback =
            FinishCallback::from_query_pairs(url::form_urlencoded::parse(query.as_bytes()))
                .inspect_err(|error| tracing::warn!(%error, "finish callback refused"))?;
        let event = Event::FinishCallback { callback };
        // Dry run on the state as read: a forged or replayed callback writes nothing, not even a
        // lease.
        if let Err(source) =
            transition(&view.state, event.clone(), self.now(), &self.config.machine)
        {
            return Err(refusal(source));
        }
        let mut held = self.claim_for_command(id).await?;
        let effects = match self.apply_or_give_back(&mut held, event).await {
            Ok(effects) => effects,
            Err(EngineError::Refused { source, .. }) => return Err(refusal(source)),
            Err(e) => return Err(e.into()),
        };
        let outcome = match effects.change() {
            Some(Change::InteractionFinished) => CallbackOutcome::Approved,
            Some(Change::Rejected) => CallbackOutcome::Rejected,
            _ => CallbackOutcome::Failed,
        };
        tracing::info!(outcome = ?outcome, "finish callback recorded");
        if effects.call_effect().is_some() {
            let inner = engine.inner.clone();
            let span = tracing::Span::current();
            self.spawn_background(
                "continue after a finish callback",
                async move {
                    if let Err(error) = inner.run_calls(&mut held, effects).await {
                        tracing::warn!(%error, "the continue after the finish callback did not complete");
                    }
                }
                .instrument(span),
            );
        }
        Ok(outcome)
    }

    /// The intent a grant was requested with, from its first event (an ended grant's state no
    /// longer holds it). Read only for a callback to a grant that is not waiting for one.
    async fn first_intent(&self, id: GrantId) -> Result<Option<Arc<GrantIntent>>, EngineError> {
        let first = self
            .store
            .first_event(id)
            .await?
            .map(HistoryEntry::from_record)
            .transpose()?;
        Ok(match first {
            Some(HistoryEntry {
                event: Event::Request { intent },
                ..
            }) => Some(intent),
            _ => None,
        })
    }
}

fn refusal(source: MachineError) -> CallbackRefusal {
    match source {
        MachineError::FinishHashRejected(_) => {
            tracing::warn!("finish callback refused: the hash does not verify");
            CallbackRefusal::Forged
        }
        MachineError::CallbackForGrantNotWaiting { state } => {
            tracing::warn!(state = ?state, "finish callback refused: the grant is not waiting (replayed?)");
            CallbackRefusal::NotWaiting(state)
        }
        MachineError::Final { state, .. } => {
            tracing::warn!(state = ?state, "finish callback refused: the grant has ended");
            CallbackRefusal::NotWaiting(state)
        }
        other => {
            tracing::warn!(error = %other, "finish callback refused by the machine");
            CallbackRefusal::Forged
        }
    }
}

/// The intent of a grant that may still take a finish callback (it holds it in its state).
fn waiting_intent(state: &GrantState) -> Option<&Arc<GrantIntent>> {
    match state {
        GrantState::Requested(s) => Some(&s.intent),
        GrantState::AwaitingInteraction(s) => Some(&s.intent),
        GrantState::Continuing(s) => Some(&s.intent),
        _ => None,
    }
}
