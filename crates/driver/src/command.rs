//! The application's commands on one grant: cancel, revoke, rotate, and a valid access token
//! (rotating first when needed). A command takes the grant's lease for itself (waiting for
//! whoever holds it, on notifications rather than by polling), resolves a call a dead holder
//! left in flight, and then advances the grant like any other path (`step.rs`).

use chrono::{DateTime, Utc};
use grantflow_machine::{Event, GrantState, Outcome, TokenState};
use grantflow_store::{GrantId, GrantStore};
use tracing::Instrument;

use crate::engine::{Engine, Inner, wait_change};
use crate::error::EngineError;
use crate::step::Held;
use crate::time::{after, deadline_in};
use crate::view::{AccessTokenView, GrantView};

impl<S: GrantStore> Engine<S> {
    /// Cancels the grant (at the AS too, once it exists there), and returns it afterwards.
    pub async fn cancel(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner.command(id, Event::Cancel).await?;
        self.inner.get(id).await
    }

    /// Revokes the access token of an issued grant, and returns it afterwards.
    pub async fn revoke(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner.command(id, Event::Revoke).await?;
        self.inner.get(id).await
    }

    /// Rotates the access token of an issued grant now, and returns it afterwards.
    pub async fn rotate(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner.command(id, Event::RotateNow).await?;
        self.inner.get(id).await
    }

    /// A valid access token: the current one, or, if it has expired (or is about to), a rotated
    /// one. Concurrent callers for one grant cause one rotation: the lease admits one rotator,
    /// and the others find the fresh token when it is done.
    pub async fn access_token(&self, id: GrantId) -> Result<AccessTokenView, EngineError> {
        let inner = &self.inner;
        let deadline = deadline_in(inner.config.command_wait);
        let mut changes = inner.changes.subscribe();
        let mut wakes = inner.store.wake_signal();
        loop {
            let view = inner.get(id).await?;
            match usable_token(&view.state, inner.now(), &inner.config.machine) {
                TokenCheck::Usable(token) => return Ok(token),
                TokenCheck::None => {
                    return Err(EngineError::NoAccessToken {
                        grant: id,
                        state: view.kind(),
                    });
                }
                TokenCheck::Expired => inner.rotate_if_expired(id).await?,
                TokenCheck::Busy => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(EngineError::Busy(id));
                    }
                    // A rotation is running: this engine's, which broadcasts its end, or another
                    // process's, seen by the store's wake-ups or the poll interval.
                    tokio::select! {
                        () = wait_change(&mut changes, id) => {}
                        _ = wakes.wait(inner.config.poll_interval) => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
            }
        }
    }
}

impl<S: GrantStore> Inner<S> {
    /// Claims one grant for a command, waiting (up to `command_wait`) while another holds it.
    ///
    /// The wait ends at the first of: a change of the grant committed by this engine (its
    /// holder here finished), a wake-up from the store (a grant became due, in any process),
    /// the holder's lease lapsing on the engine's clock, or the poll interval (a holder in
    /// another process that released the grant without making it due).
    pub(crate) async fn claim_for_command(&self, id: GrantId) -> Result<Held, EngineError> {
        let deadline = deadline_in(self.config.command_wait);
        let mut changes = self.changes.subscribe();
        let mut wakes = self.store.wake_signal();
        loop {
            let now = self.now();
            let claimed = self
                .store
                .claim_grant(
                    id,
                    &self.config.worker_id,
                    now,
                    after(now, self.config.lease),
                )
                .await?;
            if let Some(c) = claimed {
                return match Held::from_claimed(c) {
                    Ok(held) => Ok(held),
                    Err((error, lease)) => {
                        self.release(&lease, None).await;
                        Err(error)
                    }
                };
            }
            let Some(record) = self.store.get(id).await? else {
                return Err(EngineError::NotFound(id));
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Busy(id));
            }
            let Some(lease) = record.lease else {
                continue; // released between the claim and the read: claim again
            };
            tokio::select! {
                () = wait_change(&mut changes, id) => {}
                _ = wakes.wait(self.config.poll_interval) => {}
                () = self.config.clock.sleep_until(lease.until) => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Resolves a call left in flight by a holder that died, before a command is applied: a
    /// `Wake` (the machine decides how), its calls, then the grant is held again.
    async fn settle(&self, held: &mut Held) -> Result<(), EngineError> {
        if held.state.call_in_flight().is_some() {
            let effects = self.apply(held, Event::Wake, None).await?;
            self.run_calls(held, effects).await?;
            *held = self.claim_for_command(held.id).await?;
        }
        Ok(())
    }

    /// Applies an application command under the grant's lease and runs its calls.
    pub(crate) async fn command(&self, id: GrantId, event: Event) -> Result<(), EngineError> {
        if self.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let span = tracing::info_span!("command", grant = %id, event = ?event.kind());
        async {
            let mut held = self.claim_for_command(id).await?;
            self.settle(&mut held).await?;
            self.apply_and_run(&mut held, event).await
        }
        .instrument(span)
        .await
    }

    /// Rotates the token if, once the grant is held, it is still expired (another caller may
    /// have rotated it while this one waited for the lease).
    async fn rotate_if_expired(&self, id: GrantId) -> Result<(), EngineError> {
        let span = tracing::info_span!("rotate_if_expired", grant = %id);
        async {
            let mut held = self.claim_for_command(id).await?;
            self.settle(&mut held).await?;
            if !matches!(
                usable_token(&held.state, self.now(), &self.config.machine),
                TokenCheck::Expired
            ) {
                self.release(&held.lease, held.unchanged_wake()).await;
                return Ok(());
            }
            self.apply_and_run(&mut held, Event::RotateNow).await
        }
        .instrument(span)
        .await
    }
}

enum TokenCheck {
    Usable(AccessTokenView),
    Expired,
    Busy,
    None,
}

fn usable_token(
    state: &GrantState,
    now: DateTime<Utc>,
    config: &grantflow_machine::Config,
) -> TokenCheck {
    match state {
        GrantState::Finalized(Outcome::Issued(i)) => match i.token_state {
            TokenState::Active { .. } => {
                // The machine's margin adapts to the token's lifetime: a fresh token is usable.
                if i.usable_at(now, config) {
                    TokenCheck::Usable(AccessTokenView {
                        value: i.token.value.clone(),
                        manage: i.token.manage.clone(),
                        expires_at: i.expires_at,
                        access: i.token.access.clone(),
                    })
                } else {
                    TokenCheck::Expired
                }
            }
            TokenState::Rotating { .. } => TokenCheck::Busy,
            TokenState::Revoking { .. } => TokenCheck::None,
        },
        _ => TokenCheck::None,
    }
}
