//! The application's commands on one grant: cancel, revoke, rotate, and a valid access token
//! (rotating first when needed). A command takes the grant's lease for itself (waiting for
//! whoever holds it, on notifications rather than by polling), resolves a call a dead holder
//! left in flight, and then advances the grant like any other path (`step.rs`).

use chrono::{DateTime, Utc};
use grantflow_machine::{Config as MachineConfig, Event, GrantState, Outcome, TokenState};
use grantflow_protocol::Secret;
use grantflow_store::{GrantId, GrantStore};
use tracing::Instrument;

use crate::engine::{Engine, Inner, wait_change};
use crate::error::EngineError;
use crate::step::Held;
use crate::time::{after, deadline_in};
use crate::view::{AccessTokenView, GrantView};

impl<S: GrantStore> Engine<S> {
    /// Cancels the grant (at the AS too, once it exists there), and returns it afterwards.
    ///
    /// Cancel safety: the command runs in a task of the engine; dropping this future does not
    /// stop it (the grant is canceled all the same, and shutdown waits for it).
    pub async fn cancel(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner
            .detached(move |inner| async move { inner.command(id, Event::Cancel).await })
            .await?;
        self.inner.get(id).await
    }

    /// Revokes the access token of an issued grant, and returns it afterwards.
    ///
    /// Cancel safety: as [`cancel`](Self::cancel).
    pub async fn revoke(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner
            .detached(move |inner| async move { inner.command(id, Event::Revoke).await })
            .await?;
        self.inner.get(id).await
    }

    /// Rotates the access token of an issued grant now, and returns it afterwards.
    ///
    /// Cancel safety: as [`cancel`](Self::cancel): a rotation once sent is always recorded.
    pub async fn rotate(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner
            .detached(move |inner| async move { inner.command(id, Event::RotateNow).await })
            .await?;
        self.inner.get(id).await
    }

    /// A valid access token: the current one, or, if it has expired (or is about to), a rotated
    /// one. One call makes at most one rotation and returns within `command_wait` with a token
    /// or an error ([`EngineError::Busy`] when the grant stayed busy that long).
    ///
    /// A token just issued or rotated is handed out whatever its lifetime: the margin of
    /// `token_margin` shrinks to half the token's lifetime for short-lived tokens. Concurrent
    /// callers for one grant cause one rotation: only a caller that finds the stale token still
    /// in place once it holds the lease rotates; the others get the fresh token.
    ///
    /// A rotation that a dead holder left in flight (its lease lapsed), or whose retry is due,
    /// is stepped here as a worker would, not left for one.
    ///
    /// Cancel safety: the work runs in a task of the engine; dropping this future (or its
    /// deadline passing) never leaves a rotation half-done.
    pub async fn access_token(&self, id: GrantId) -> Result<AccessTokenView, EngineError> {
        self.token(id, None).await
    }

    /// A fresh access token after the resource server refused `refused` as inactive (`403`,
    /// "Inactive Token"): the grant's token is rotated if it is still `refused` (at most one
    /// rotation, however many callers report it), and the token after that is returned. For
    /// code that makes RS calls with this engine's tokens (the engine makes none itself yet).
    ///
    /// Cancel safety: as [`access_token`](Self::access_token).
    pub async fn access_token_refused(
        &self,
        id: GrantId,
        refused: &Secret,
    ) -> Result<AccessTokenView, EngineError> {
        self.token(id, Some(refused.clone())).await
    }

    async fn token(
        &self,
        id: GrantId,
        refused: Option<Secret>,
    ) -> Result<AccessTokenView, EngineError> {
        let deadline = deadline_in(self.inner.config.command_wait);
        let work = self
            .inner
            .detached(move |inner| async move { inner.access_token(id, refused, deadline).await });
        tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or(Err(EngineError::Busy(id)))
    }
}

impl<S: GrantStore> Inner<S> {
    /// [`Engine::access_token`]'s work: hand the token out, rotate once, or wait for a
    /// rotation in progress; `refused` is a token the RS refused (rotate it even if unexpired).
    async fn access_token(
        &self,
        id: GrantId,
        refused: Option<Secret>,
        deadline: tokio::time::Instant,
    ) -> Result<AccessTokenView, EngineError> {
        let mut changes = self.changes.subscribe();
        let mut wakes = self.store.wake_signal();
        // Set once this call has rotated, or seen a rotation end: the token is then fresh.
        let mut fresh = false;
        // The token that rotation replaces: still in place once it ended, the rotation gave up.
        let mut replaced: Option<Secret> = None;
        loop {
            let view = self.get(id).await?;
            match usable_token(&view.state, self.now(), &self.config.machine) {
                TokenCheck::Usable(token) if refused.as_ref() != Some(&token.value) => {
                    return Ok(token);
                }
                // Expired or refused, after a rotation: a new token (however short-lived) is
                // handed out; the old one still in place means the rotation gave up.
                TokenCheck::Usable(token) | TokenCheck::Expired(token) if fresh => {
                    if replaced.as_ref() == Some(&token.value) {
                        return Err(EngineError::RotationGaveUp(id));
                    }
                    return Ok(token);
                }
                TokenCheck::Usable(token) | TokenCheck::Expired(token) => {
                    self.rotate_if_still(id, &token.value).await?;
                    fresh = true;
                    replaced = Some(token.value);
                }
                TokenCheck::None => {
                    return Err(EngineError::NoAccessToken {
                        grant: id,
                        state: view.kind(),
                    });
                }
                TokenCheck::Busy(rotating) => {
                    replaced.get_or_insert(rotating);
                    if tokio::time::Instant::now() >= deadline {
                        return Err(EngineError::Busy(id));
                    }
                    if self.step_if_due(id).await? {
                        fresh = true;
                        continue;
                    }
                    // A rotation is running: this engine's, which broadcasts its end, or another
                    // process's, seen by the store's wake-ups or the poll interval; or it waits
                    // for its next attempt, stepped here when due if no worker took it.
                    let next_attempt = view.next_wake_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
                    tokio::select! {
                        () = wait_change(&mut changes, id) => {}
                        _ = wakes.wait(self.config.poll_interval) => {}
                        () = self.config.clock.sleep_until(next_attempt) => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                    fresh = true;
                }
            }
        }
    }

    /// Steps a busy grant that nobody holds, as a worker would, once it is due: a call that a
    /// holder which died (a crash, a killed process) left in flight once its lease lapsed (the
    /// machine resolves it: a rotation is re-sent; `Lost` only if the AS's answer proves the
    /// lost attempt acted), or a retry whose back-off has passed. Without this, `access_token`
    /// in a process with no worker would wait for one until `Busy`. False (nothing done) while
    /// a holder's lease runs or before the grant is due.
    async fn step_if_due(&self, id: GrantId) -> Result<bool, EngineError> {
        let Some(record) = self.store.get(id).await? else {
            return Err(EngineError::NotFound(id));
        };
        let now = self.now();
        let held = record.lease.is_some_and(|lease| lease.until > now);
        let due = record.next_wake_at.is_some_and(|at| at <= now);
        if held || !due {
            return Ok(false);
        }
        let until = after(now, self.config.lease);
        let Some(claimed) = self
            .store
            .claim_grant(id, &self.config.worker_id, now, until)
            .await?
        else {
            return Ok(false); // another took it first
        };
        self.advance_claimed(claimed).await;
        Ok(true)
    }

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
                crate::metrics::leases_taken("command", 1);
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

    /// Rotates the token if, once the grant is held, it is still `stale` (another caller may
    /// have rotated it while this one waited for the lease).
    async fn rotate_if_still(&self, id: GrantId, stale: &Secret) -> Result<(), EngineError> {
        let span = tracing::info_span!("rotate_if_still", grant = %id);
        async {
            let mut held = self.claim_for_command(id).await?;
            self.settle(&mut held).await?;
            let still = match &held.state {
                GrantState::Finalized(Outcome::Issued(i)) => {
                    matches!(i.token_state, TokenState::Active { .. }) && &i.token.value == stale
                }
                _ => false,
            };
            if !still {
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
    /// Usable at this instant (the machine's rule: [`Issued::usable_at`](grantflow_machine::Issued::usable_at)).
    Usable(AccessTokenView),
    /// Expired, or inside the margin of its expiry.
    Expired(AccessTokenView),
    /// Being rotated (the token it replaces).
    Busy(Secret),
    /// No token (not issued, ended, being revoked).
    None,
}

/// Whether the grant's token can be handed out at `now`. The machine decides
/// ([`Issued::usable_at`](grantflow_machine::Issued::usable_at)): its margin adapts to the token's lifetime, so a token just issued or
/// rotated is usable whatever its lifetime.
fn usable_token(state: &GrantState, now: DateTime<Utc>, config: &MachineConfig) -> TokenCheck {
    let GrantState::Finalized(Outcome::Issued(i)) = state else {
        return TokenCheck::None;
    };
    let view = || AccessTokenView {
        value: i.token.value.clone(),
        manage: i.token.manage.clone(),
        expires_at: i.expires_at,
        access: i.token.access.clone(),
    };
    match i.token_state {
        TokenState::Active { .. } if i.usable_at(now, config) => TokenCheck::Usable(view()),
        TokenState::Active { .. } => TokenCheck::Expired(view()),
        TokenState::Rotating { .. } => TokenCheck::Busy(i.token.value.clone()),
        TokenState::Revoking { .. } => TokenCheck::None,
    }
}
