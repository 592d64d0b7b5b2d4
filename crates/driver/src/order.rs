//! Ordering a grant: what the application asks for ([`GrantOrder`]), the GNAP grant request
//! built from it (with the finish URI and nonce), the idempotency check against the first
//! request made under the same key, and [`Engine::request`], which records the grant and sends
//! the request at once.

use base64::Engine as _;
use grantflow_machine::{Event, GrantIntent, GrantState, StateKind, transition};
use grantflow_protocol::Secret;
use grantflow_protocol::grant::{
    AccessItem, AccessTokenRequest, Client, FinishMethod, GrantRequest, InteractFinish,
    InteractRequest, InteractStart,
};
use grantflow_store::{GrantId, GrantStore, GrantSummary, NewGrant, NewLease};
use tracing::Instrument;
use url::Url;

use crate::engine::{Engine, Inner};
use crate::error::{EngineError, OrderPart};
use crate::feed;
use crate::finish_token::stored_finish_uri;
use crate::step::Held;
use crate::summary::summarize;
use crate::time::after;
use crate::view::{GrantChange, GrantView, HistoryEntry};

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

/// Which part of an order differs from the request first made under its idempotency key, if
/// any.
fn differs(first: &GrantIntent, order: &GrantOrder) -> Option<OrderPart> {
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
    if first.grant_endpoint != order.grant_endpoint {
        Some(OrderPart::GrantEndpoint)
    } else if first_access != order.access {
        Some(OrderPart::Access)
    } else if first_interaction != order.interaction {
        Some(OrderPart::Interaction)
    } else {
        None
    }
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The GNAP grant request for `order` (a fresh finish nonce and the finish URI as stored, see
/// `finish_token.rs`, if it finishes by redirect).
fn grant_request<S: GrantStore>(
    inner: &Inner<S>,
    id: GrantId,
    order: &GrantOrder,
) -> Result<GrantRequest, EngineError> {
    let interact = match order.interaction {
        Interaction::Redirect => {
            let base = inner
                .config
                .finish_base_url
                .as_ref()
                .ok_or(EngineError::NoFinishUrl)?;
            Some(InteractRequest {
                start: vec![InteractStart::Redirect],
                finish: Some(InteractFinish {
                    method: FinishMethod::Redirect,
                    uri: stored_finish_uri(base, id, inner.config.finish_token_keys.as_deref())?
                        .into(),
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
    Ok(GrantRequest {
        access_token: Some(AccessTokenRequest {
            access: order.access.clone(),
        }),
        client: Client::WalletAddress(inner.config.client_wallet_address.clone()),
        interact,
        subject: None,
    })
}

fn check_grant_endpoint(endpoint: &str) -> Result<(), EngineError> {
    let reason = match Url::parse(endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => return Ok(()),
        Ok(u) => format!("scheme {:?} is not http(s)", u.scheme()),
        Err(e) => e.to_string(),
    };
    Err(EngineError::BadGrantEndpoint {
        endpoint: endpoint.to_owned(),
        reason,
    })
}

impl<S: GrantStore> Engine<S> {
    /// Requests a grant: records it (idempotently, by the order's key), sends the grant request,
    /// and returns once the AS answered (or the call failed and was left to a worker to retry).
    ///
    /// The returned `redirect` is where to send the user when the grant needs interaction.
    ///
    /// Cancel safety: once the grant is recorded it is carried on whatever happens to this
    /// future (dropped mid-call, the grant's lease lapses and a worker resolves the call).
    pub async fn request(&self, order: GrantOrder) -> Result<RequestedGrant, EngineError> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        check_grant_endpoint(&order.grant_endpoint)?;
        let id = GrantId::new_random();
        let event = Event::Request {
            intent: GrantIntent::new(
                order.grant_endpoint.clone(),
                grant_request(inner, id, &order)?,
            )
            .into(),
        };
        let now = inner.now();
        let t = transition(
            &GrantState::Initial,
            event.clone(),
            now,
            &inner.config.machine,
        )
        .map_err(|source| EngineError::Refused { grant: id, source })?;
        let summary = summarize(&t.state, &GrantSummary::default());
        let created = inner
            .store
            .create(
                NewGrant {
                    id,
                    idempotency_key: Some(order.idempotency_key.clone()),
                    state: t.state.to_json()?,
                    event: serde_json::to_string(&event)?,
                    next_wake_at: t.next_wake_at(),
                    lease: Some(NewLease {
                        owner: inner.config.worker_id.clone(),
                        until: after(now, inner.config.lease),
                    }),
                    summary: summary.clone(),
                    change_summary: Some(feed::summary(
                        StateKind::Initial,
                        &t.state,
                        event.kind(),
                        t.effects.change(),
                    )),
                },
                now,
            )
            .await?;
        let Some(lease) = created.lease.clone().filter(|_| created.inserted) else {
            return self.repeated(created.grant, order).await;
        };
        crate::metrics::leases_taken("request", 1);
        crate::metrics::transition(t.edge);
        let span = tracing::info_span!("grant", grant = %id);
        async {
            tracing::info!("grant requested");
            inner.publish(GrantChange {
                grant: id,
                version: 1,
                from: StateKind::Initial,
                event: event.kind(),
                kind: t.state.kind(),
                change: t.effects.change(),
            });
            let mut held = Held {
                id,
                version: 1,
                state: t.state,
                lease,
                due_at: None,
                summary,
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

    /// The answer to an order whose idempotency key was used before: that grant, if the order
    /// is the same as its first request (read from its first event only).
    async fn repeated(
        &self,
        first: grantflow_store::GrantRecord,
        order: GrantOrder,
    ) -> Result<RequestedGrant, EngineError> {
        let view = GrantView::from_record(first)?;
        let first_event = self
            .inner
            .store
            .first_event(view.id)
            .await?
            .map(HistoryEntry::from_record)
            .transpose()?;
        if let Some(HistoryEntry {
            event: Event::Request { intent },
            ..
        }) = &first_event
            && let Some(differs) = differs(intent, &order)
        {
            tracing::warn!(
                grant = %view.id,
                %differs,
                "idempotency key reused for another request; refused"
            );
            return Err(EngineError::IdempotencyKeyReused {
                key: order.idempotency_key,
                grant: view.id,
                differs,
            });
        }
        tracing::info!(grant = %view.id, "grant request repeated with a known idempotency key");
        Ok(RequestedGrant {
            id: view.id,
            inserted: false,
            redirect: view.redirect().map(str::to_owned),
            kind: view.kind(),
        })
    }

    /// The grant endpoint for grants on the user's wallet address: its `authServer`, fetched
    /// from the wallet address (put it in [`GrantOrder::grant_endpoint`]).
    ///
    /// Cancel safety: a `GET` of a public document; dropping the future changes nothing.
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
}
