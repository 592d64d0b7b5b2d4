//! [`Engine`]: the application API, and the one way every grant is advanced.
//!
//! Every change to a grant happens while holding its lease, in the same three steps, whoever
//! makes it (a worker woken by time, the application's request or command, a finish callback):
//!
//! 1. feed an event to the machine and commit the transition with its event row; if the
//!    transition starts a call, the committed state says the call is in flight and the lease is
//!    kept (and renewed while the call runs);
//! 2. make the call, outside any transaction;
//! 3. feed the outcome to the machine and commit that transition the same way, until a
//!    transition starts no call; the last commit releases the lease with the grant's next
//!    wake-up time.
//!
//! A crash between 1 and 3 leaves "in flight" in the store; the lease lapses, a worker claims the
//! grant and feeds it a `Wake`, and the machine decides (re-send once, or `Lost`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use grantflow_machine::{
    Change, Effects, Event, FinishCallback, GrantIntent, GrantState, MachineError, Outcome,
    TokenState, transition,
};
use grantflow_protocol::Secret;
use grantflow_protocol::grant::{
    AccessItem, AccessTokenRequest, Client, FinishMethod, GrantRequest, InteractFinish,
    InteractRequest, InteractStart,
};
use grantflow_store::{
    AfterWrite, Claimed, Fence, GrantId, GrantStore, Lease, NewGrant, NewLease, StateWrite,
};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::calls::{CallOutcome, Calls};
use crate::committer::Committer;
use crate::config::EngineConfig;
use crate::error::{EngineError, OrderPart};
use crate::view::{AccessTokenView, GrantChange, GrantView, HistoryEntry, decode_state};

/// How a grant's user interaction finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    /// The user is redirected to a finish URI of this engine ([`crate::finish_router`]) with the
    /// `hash` and `interact_ref`; the engine verifies and continues at once.
    Redirect,
    /// No finish URI: the engine polls the AS (honouring `wait`) until the user has decided.
    Poll,
    /// No interaction (grants the AS issues at once, e.g. incoming payments).
    None,
}

/// Which part of an order differs from the request first made under its idempotency key, if
/// any.
fn differs(
    first: &GrantIntent,
    grant_endpoint: &str,
    access: &[AccessItem],
    interaction: Interaction,
) -> Option<OrderPart> {
    let first_access = first
        .request
        .access_token
        .as_ref()
        .map_or(&[][..], |t| t.access.as_slice());
    let first_interaction = match &first.request.interact {
        None => Interaction::None,
        Some(i) if i.finish.is_some() => Interaction::Redirect,
        Some(_) => Interaction::Poll,
    };
    if first.grant_endpoint != grant_endpoint {
        Some(OrderPart::GrantEndpoint)
    } else if first_access != access {
        Some(OrderPart::Access)
    } else if first_interaction != interaction {
        Some(OrderPart::Interaction)
    } else {
        None
    }
}

/// What the application asks for.
#[derive(Debug, Clone)]
pub struct GrantOrder {
    /// The application's key for this request: asking again with the same key and the same
    /// request returns the same grant and sends nothing; with another request (grant endpoint,
    /// access or interaction) it is [`EngineError::IdempotencyKeyReused`].
    pub idempotency_key: String,
    /// The grant endpoint (the user's wallet address's `authServer`, see
    /// [`Engine::grant_endpoint_for`]), exactly as it will be used.
    pub grant_endpoint: String,
    /// The access wanted (with limits).
    pub access: Vec<AccessItem>,
    /// How the interaction finishes.
    pub interaction: Interaction,
}

/// What [`Engine::request`] returns.
#[derive(Debug, Clone)]
pub struct RequestedGrant {
    /// The grant's id.
    pub id: GrantId,
    /// `false` when the idempotency key was used before: this is that grant.
    pub inserted: bool,
    /// The URL to send the user to, if the AS already gave it.
    pub redirect: Option<String>,
    /// The grant's state now.
    pub kind: grantflow_machine::StateKind,
}

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

/// The durable grant engine over a [`GrantStore`]. Cheap to clone; clones share everything.
///
/// Run workers with [`Engine::start_worker`], mount [`crate::finish_router`] at the configured
/// `finish_base_url`, and call the application API from anywhere.
pub struct Engine<S: GrantStore> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S: GrantStore> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: GrantStore> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker_id", &self.inner.config.worker_id)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<S: GrantStore> {
    pub(crate) store: S,
    pub(crate) calls: Arc<dyn Calls>,
    pub(crate) config: EngineConfig,
    /// Every transition this engine commits, for `subscribe` and `wait_for`.
    pub(crate) changes: broadcast::Sender<GrantChange>,
    /// Group commit of all writes.
    pub(crate) committer: Committer,
    /// Cancelled by `shutdown`: workers stop claiming; no new requests are taken.
    pub(crate) shutdown: CancellationToken,
    /// Grant work spawned outside workers (the continue after a finish callback): shutdown waits
    /// for it.
    pub(crate) background: TaskTracker,
    /// The running workers, joined by `shutdown`.
    pub(crate) workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A grant this engine holds the lease of, with the state and version it last committed.
pub(crate) struct Held {
    pub(crate) id: GrantId,
    pub(crate) version: i64,
    pub(crate) state: GrantState,
    pub(crate) lease: Lease,
    /// The wake-up time the grant had before it was claimed (restored on a no-op release).
    pub(crate) due_at: Option<DateTime<Utc>>,
}

impl Held {
    fn from_claimed(c: Claimed) -> Result<(Self, Lease), (EngineError, Lease)> {
        match decode_state(c.grant.id, &c.grant.state) {
            Ok(state) => Ok((
                Self {
                    id: c.grant.id,
                    version: c.grant.version,
                    state,
                    lease: c.lease.clone(),
                    due_at: c.due_at,
                },
                c.lease,
            )),
            Err(e) => Err((e, c.lease)),
        }
    }
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The engine's clock, at the store's precision (microseconds), so that the instants fed to the
/// machine are exactly the ones recorded, and a replay of the log reproduces the state.
pub(crate) fn clock_now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// How long a grant the machine cannot wake sleeps before it is tried again.
const STUCK_RETRY: TimeDelta = TimeDelta::seconds(60);

impl<S: GrantStore> Engine<S> {
    /// An engine over `store`, making calls with `calls`. No worker runs until
    /// [`start_worker`](Self::start_worker).
    pub fn new(store: S, calls: Arc<dyn Calls>, config: EngineConfig) -> Self {
        let committer = Committer::start(store.clone(), config.committers, config.commit_batch);
        Self {
            inner: Arc::new(Inner {
                store,
                calls,
                config,
                changes: broadcast::channel(4096).0,
                committer,
                shutdown: CancellationToken::new(),
                background: TaskTracker::new(),
                workers: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Requests a grant: records it (idempotently, by the order's key), sends the grant request,
    /// and returns once the AS answered (or the call failed and was left to a worker to retry).
    ///
    /// The returned `redirect` is where to send the user when the grant needs interaction.
    pub async fn request(&self, order: GrantOrder) -> Result<RequestedGrant, EngineError> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        match url::Url::parse(&order.grant_endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => {
                return Err(EngineError::BadGrantEndpoint {
                    endpoint: order.grant_endpoint.clone(),
                    reason: format!("scheme {:?} is not http(s)", u.scheme()),
                });
            }
            Err(e) => {
                return Err(EngineError::BadGrantEndpoint {
                    endpoint: order.grant_endpoint.clone(),
                    reason: e.to_string(),
                });
            }
        }
        let id = GrantId::new_random();
        let asked = (
            order.idempotency_key.clone(),
            order.grant_endpoint.clone(),
            order.access.clone(),
            order.interaction,
        );
        let interact = match order.interaction {
            Interaction::Redirect => {
                let base = inner
                    .config
                    .finish_base_url
                    .as_ref()
                    .ok_or(EngineError::NoFinishUrl)?;
                let uri = format!(
                    "{}/finish/{id}/{}",
                    base.as_str().trim_end_matches('/'),
                    random_token()
                );
                Some(InteractRequest {
                    start: vec![InteractStart::Redirect],
                    finish: Some(InteractFinish {
                        method: FinishMethod::Redirect,
                        uri,
                        nonce: Secret::new(random_token()),
                    }),
                })
            }
            Interaction::Poll => Some(InteractRequest {
                start: vec![InteractStart::Redirect],
                finish: None,
            }),
            Interaction::None => None,
        };
        let request = GrantRequest {
            access_token: Some(AccessTokenRequest {
                access: order.access,
            }),
            client: Client::WalletAddress(inner.config.client_wallet_address.clone()),
            interact,
            subject: None,
        };
        let event = Event::Request {
            intent: GrantIntent::new(order.grant_endpoint, request).into(),
        };
        let now = clock_now();
        let t = transition(
            &GrantState::Initial,
            event.clone(),
            now,
            &inner.config.machine,
        )
        .map_err(|source| EngineError::Refused { grant: id, source })?;
        let created = inner
            .store
            .create(
                NewGrant {
                    id,
                    idempotency_key: Some(order.idempotency_key),
                    state: t.state.to_json()?,
                    event: serde_json::to_string(&event)?,
                    next_wake_at: t.next_wake_at(),
                    lease: Some(NewLease {
                        owner: inner.config.worker_id.clone(),
                        until: now + delta(inner.config.lease),
                    }),
                },
                now,
            )
            .await?;
        let Some(lease) = created.lease.clone().filter(|_| created.inserted) else {
            let view = GrantView::from_record(created.grant)?;
            let (key, grant_endpoint, access, interaction) = asked;
            let first = self.history(view.id).await?;
            if let Some(Event::Request { intent }) = first.first().map(|h| &h.event)
                && let Some(differs) = differs(intent, &grant_endpoint, &access, interaction)
            {
                tracing::warn!(
                    grant = %view.id,
                    %differs,
                    "idempotency key reused for another request; refused"
                );
                return Err(EngineError::IdempotencyKeyReused {
                    key,
                    grant: view.id,
                    differs,
                });
            }
            tracing::info!(grant = %view.id, "grant request repeated with a known idempotency key");
            return Ok(RequestedGrant {
                id: view.id,
                inserted: false,
                redirect: view.redirect().map(str::to_owned),
                kind: view.kind(),
            });
        };
        let span = tracing::info_span!("grant", id = %id);
        async {
            tracing::info!("grant requested");
            inner.publish(id, 1, &t.state, t.effects.change());
            let mut held = Held {
                id,
                version: 1,
                state: t.state,
                lease,
                due_at: None,
            };
            if let Err(error) = inner.run_calls(&mut held, t.effects).await {
                tracing::warn!(%error, "the grant request did not complete; a worker carries the grant on");
            }
            Ok(RequestedGrant {
                id,
                inserted: true,
                redirect: held.state.redirect().map(str::to_owned),
                kind: held.state.kind(),
            })
        }
        .instrument(span)
        .await
    }

    /// The grant endpoint for grants on the user's wallet address: its `authServer`, fetched
    /// from the wallet address (put it in [`GrantOrder::grant_endpoint`]).
    pub async fn grant_endpoint_for(&self, wallet_address: &str) -> Result<String, EngineError> {
        self.inner
            .calls
            .auth_server(wallet_address)
            .await
            .map_err(|reason| EngineError::WalletAddress {
                address: wallet_address.to_owned(),
                reason,
            })
    }

    /// Reads a grant.
    pub async fn get(&self, id: GrantId) -> Result<GrantView, EngineError> {
        self.inner.get(id).await
    }

    /// Lists grants, newest first, skipping `offset` (for operators and command lines).
    pub async fn list(&self, limit: u32, offset: u64) -> Result<Vec<GrantView>, EngineError> {
        self.inner
            .store
            .list(limit, offset)
            .await?
            .into_iter()
            .map(GrantView::from_record)
            .collect()
    }

    /// Reads the grant created under an idempotency key, if any.
    pub async fn get_by_idempotency_key(
        &self,
        key: &str,
    ) -> Result<Option<GrantView>, EngineError> {
        self.inner
            .store
            .get_by_idempotency_key(key)
            .await?
            .map(GrantView::from_record)
            .transpose()
    }

    /// A grant's recorded events, oldest first (replaying them through the machine from
    /// `GrantState::Initial` gives its state).
    pub async fn history(&self, id: GrantId) -> Result<Vec<HistoryEntry>, EngineError> {
        let records = self.inner.store.history(id).await?;
        if records.is_empty() {
            return Err(EngineError::NotFound(id));
        }
        records.into_iter().map(HistoryEntry::from_record).collect()
    }

    /// Every transition this engine commits from now on. Transitions made by other processes on
    /// a shared database are not broadcast: use [`wait_for`](Self::wait_for), which also polls.
    pub fn subscribe(&self) -> broadcast::Receiver<GrantChange> {
        self.inner.changes.subscribe()
    }

    /// Waits until `done` holds for the grant (checked now, at every change this engine makes,
    /// and every `poll_interval` for changes made elsewhere), or `timeout` passes.
    pub async fn wait_for(
        &self,
        id: GrantId,
        timeout: Duration,
        mut done: impl FnMut(&GrantView) -> bool,
    ) -> Result<GrantView, EngineError> {
        let inner = &self.inner;
        let mut changes = inner.changes.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = inner.get(id).await?;
            if done(&view) {
                return Ok(view);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(EngineError::Timeout(id));
            }
            let pause = (deadline - now).min(inner.config.poll_interval);
            let _ = tokio::time::timeout(pause, wait_change(&mut changes, id)).await;
        }
    }

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
        let deadline = tokio::time::Instant::now() + inner.config.command_wait;
        let mut changes = inner.changes.subscribe();
        loop {
            let view = inner.get(id).await?;
            match usable_token(&view.state, clock_now(), delta(inner.config.token_margin)) {
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
                    let _ = tokio::time::timeout(
                        Duration::from_millis(50),
                        wait_change(&mut changes, id),
                    )
                    .await;
                }
            }
        }
    }

    /// Takes a finish callback: `token` is the last segment of the grant's finish URI and `query`
    /// the redirect's query string (`hash=...&interact_ref=...` or `result=...`).
    ///
    /// The hash is verified against the grant's nonces by the machine before anything is written;
    /// a forged or replayed callback writes nothing and is logged. An accepted one is recorded in
    /// one transaction and the continue is sent at once (in the background).
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
    pub async fn finish_callback_url(
        &self,
        url: &str,
    ) -> Result<(GrantId, CallbackOutcome), CallbackRefusal> {
        let parsed = url::Url::parse(url).map_err(|_| CallbackRefusal::UnknownGrant)?;
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

    /// Waits for ctrl-c (SIGINT) or SIGTERM, then shuts down gracefully (see
    /// [`shutdown`](Self::shutdown)). What a worker process runs on its main task.
    pub async fn shutdown_on_signal(&self) -> std::io::Result<()> {
        wait_for_signal().await?;
        tracing::info!("signal received: shutting down");
        self.shutdown().await;
        Ok(())
    }

    /// Resolves when [`shutdown`](Self::shutdown) begins: pass it to the server that serves
    /// [`crate::finish_router`] (e.g. axum's `with_graceful_shutdown`) so both stop together.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.inner.shutdown.clone().cancelled_owned()
    }

    /// Graceful shutdown: workers stop claiming, grants in hand finish their calls (up to
    /// `shutdown_grace`; after it their leases are left to lapse, and other workers resume them),
    /// background work finishes, and this returns.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutdown.cancel();
        let workers: Vec<_> = match inner.workers.lock() {
            Ok(mut w) => w.drain(..).collect(),
            Err(poisoned) => poisoned.into_inner().drain(..).collect(),
        };
        for w in workers {
            let _ = w.await;
        }
        inner.background.close();
        if tokio::time::timeout(inner.config.shutdown_grace, inner.background.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace elapsed with callback work still running");
        }
        tracing::info!(worker = %inner.config.worker_id, "engine stopped");
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

enum TokenCheck {
    Usable(AccessTokenView),
    Expired,
    Busy,
    None,
}

fn usable_token(state: &GrantState, now: DateTime<Utc>, margin: TimeDelta) -> TokenCheck {
    match state {
        GrantState::Finalized(Outcome::Issued(i)) => match i.token_state {
            TokenState::Active { .. } => {
                if i.expires_at.is_none_or(|e| e > now + margin) {
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

/// Waits for the next change of grant `id` broadcast by this engine.
pub(crate) async fn wait_change(changes: &mut broadcast::Receiver<GrantChange>, id: GrantId) {
    loop {
        match changes.recv().await {
            Ok(c) if c.grant == id => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

impl<S: GrantStore> Inner<S> {
    pub(crate) async fn get(&self, id: GrantId) -> Result<GrantView, EngineError> {
        let record = self.store.get(id).await?.ok_or(EngineError::NotFound(id))?;
        GrantView::from_record(record)
    }

    fn publish(
        &self,
        id: GrantId,
        version: i64,
        state: &GrantState,
        change: Option<grantflow_machine::Change>,
    ) {
        // No receiver is fine: nobody is waiting.
        let _ = self.changes.send(GrantChange {
            grant: id,
            version,
            kind: state.kind(),
            change,
        });
    }

    /// Feeds `event` to a held grant and commits the transition (step 1 or 3 of the module
    /// docs). Returns the effects; a call among them is in flight in the committed state.
    pub(crate) async fn apply(
        &self,
        held: &mut Held,
        event: Event,
        retry_after: Option<Duration>,
    ) -> Result<Effects, EngineError> {
        let now = clock_now();
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
            let not_before = now + delta(after.min(self.config.max_retry_after));
            wake = wake.map(|w| w.max(not_before));
        }
        let then = if starts_call {
            AfterWrite::Keep {
                until: now + delta(self.config.lease),
            }
        } else {
            AfterWrite::Release
        };
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
        };
        match self.committer.commit(write).await? {
            Ok(committed) => {
                let from = held.state.kind();
                held.version = committed.version;
                if let AfterWrite::Keep { until } = then {
                    held.lease.until = until;
                }
                held.state = t.state;
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
                self.publish(held.id, held.version, &held.state, t.effects.change());
                Ok(t.effects)
            }
            Err(refused) => Err(EngineError::LeaseLost {
                grant: held.id,
                reason: refused.reason,
            }),
        }
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
            effects = match self.apply(held, outcome.event, outcome.retry_after).await {
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

    /// Makes one call, renewing the lease every third of its length while the call runs.
    async fn call_renewing(
        &self,
        held: &mut Held,
        effect: &grantflow_machine::Effect,
    ) -> CallOutcome {
        let kind = effect.call_kind().map_or("none", |k| k.as_str());
        let span = tracing::info_span!("call", kind);
        let started = std::time::Instant::now();
        let call = self.calls.call(effect).instrument(span.clone());
        tokio::pin!(call);
        let every = (self.config.lease / 3).max(Duration::from_millis(10));
        let outcome = loop {
            tokio::select! {
                outcome = &mut call => break outcome,
                () = tokio::time::sleep(every) => {
                    let until = clock_now() + delta(self.config.lease);
                    match self.store.renew(&held.lease, until).await {
                        Ok(lease) => held.lease = lease,
                        Err(error) => tracing::warn!(parent: &span, %error, "could not renew the lease during a call"),
                    }
                }
            }
        };
        tracing::debug!(
            parent: &span,
            outcome = ?outcome.event.kind(),
            millis = started.elapsed().as_millis() as u64,
            "call finished"
        );
        outcome
    }

    pub(crate) async fn release(&self, lease: &Lease, wake: Option<DateTime<Utc>>) {
        if let Err(error) = self.store.release(lease, wake, clock_now()).await {
            tracing::warn!(%error, "could not release a lease; it will lapse");
        }
    }

    /// A worker's turn on a claimed grant: a `Wake`, then whatever calls it starts.
    pub(crate) async fn advance_claimed(&self, claimed: Claimed) {
        let (mut held, lease) = match Held::from_claimed(claimed) {
            Ok(h) => h,
            Err((error, lease)) => {
                tracing::error!(%error, "cannot read a claimed grant; retrying it in an hour");
                self.release(&lease, Some(clock_now() + TimeDelta::hours(1)))
                    .await;
                return;
            }
        };
        if self.shutdown.is_cancelled() {
            self.release(&lease, held.due_at).await;
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
                        Some(clock_now() + STUCK_RETRY)
                    }
                };
                self.release(&lease, wake).await;
            }
            Err(error) => tracing::warn!(%error, "could not advance a claimed grant"),
        }
    }

    /// Claims one grant for a command, waiting (up to `command_wait`) while another holds it.
    async fn claim_for_command(&self, id: GrantId) -> Result<Held, EngineError> {
        let deadline = tokio::time::Instant::now() + self.config.command_wait;
        let mut changes = self.changes.subscribe();
        loop {
            let now = clock_now();
            let claimed = self
                .store
                .claim_grant(
                    id,
                    &self.config.worker_id,
                    now,
                    now + delta(self.config.lease),
                )
                .await?;
            match claimed {
                Some(c) => {
                    return match Held::from_claimed(c) {
                        Ok((held, _)) => Ok(held),
                        Err((error, lease)) => {
                            self.release(&lease, None).await;
                            Err(error)
                        }
                    };
                }
                None => {
                    if self.store.get(id).await?.is_none() {
                        return Err(EngineError::NotFound(id));
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(EngineError::Busy(id));
                    }
                    let _ = tokio::time::timeout(
                        Duration::from_millis(25),
                        wait_change(&mut changes, id),
                    )
                    .await;
                }
            }
        }
    }

    /// Resolves a call left in flight by a holder that died, before a command is applied: a
    /// `Wake` (the machine re-sends once or gives up), its calls, then the grant is held again.
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
            match self.apply(&mut held, event, None).await {
                Ok(effects) => self.run_calls(&mut held, effects).await,
                Err(e @ EngineError::Refused { .. }) => {
                    self.release(&held.lease, held.due_at.or(held.state.next_wake_at()))
                        .await;
                    Err(e)
                }
                Err(e) => Err(e),
            }
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
            let margin = delta(self.config.token_margin);
            if !matches!(
                usable_token(&held.state, clock_now(), margin),
                TokenCheck::Expired
            ) {
                self.release(&held.lease, held.due_at.or(held.state.next_wake_at()))
                    .await;
                return Ok(());
            }
            match self.apply(&mut held, Event::RotateNow, None).await {
                Ok(effects) => self.run_calls(&mut held, effects).await,
                Err(e @ EngineError::Refused { .. }) => {
                    self.release(&held.lease, held.due_at.or(held.state.next_wake_at()))
                        .await;
                    Err(e)
                }
                Err(e) => Err(e),
            }
        }
        .instrument(span)
        .await
    }

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
        if !finish_token_matches(&view.state, token) {
            tracing::warn!("finish callback refused: the finish URI token does not match");
            return Err(CallbackRefusal::Forged);
        }
        let callback =
            FinishCallback::from_query_pairs(url::form_urlencoded::parse(query.as_bytes()))
                .inspect_err(|error| tracing::warn!(%error, "finish callback refused"))?;
        let event = Event::FinishCallback { callback };
        // Dry run on the state as read: a forged or replayed callback writes nothing, not even a
        // lease.
        if let Err(source) = transition(
            &view.state,
            event.clone(),
            clock_now(),
            &self.config.machine,
        ) {
            return Err(refusal(source));
        }
        let mut held = self.claim_for_command(id).await?;
        let effects = match self.apply(&mut held, event, None).await {
            Ok(effects) => effects,
            Err(EngineError::Refused { source, .. }) => {
                self.release(&held.lease, held.due_at).await;
                return Err(refusal(source));
            }
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
            self.background.spawn(
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

/// Whether `token` is the last segment of the grant's finish URI (constant-time comparison).
fn finish_token_matches(state: &GrantState, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let intent = match state {
        GrantState::Requested(s) => &s.intent,
        GrantState::AwaitingInteraction(s) => &s.intent,
        GrantState::Continuing(s) => &s.intent,
        // Any other state refuses callbacks anyway; the machine says why.
        _ => return true,
    };
    let Some(uri) = intent
        .request
        .interact
        .as_ref()
        .and_then(|i| i.finish.as_ref())
        .map(|f| f.uri.as_str())
    else {
        return false;
    };
    let expected = uri.rsplit('/').next().unwrap_or_default();
    expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
}
