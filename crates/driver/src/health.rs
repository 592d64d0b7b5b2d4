//! Health endpoints for orchestrators and the metrics endpoint: [`operations_router`].
//!
//! - `GET /healthz`: the process is up and serving HTTP: always `200 {"status":"ok"}`. A
//!   liveness probe: failing it means "restart me", so it checks nothing a restart cannot fix
//!   (a database outage is not one).
//! - `GET /readyz`: [`Engine::readiness`]: `200 {"status":"ready"}`, or `503
//!   {"status":"unready","reason":...,"detail":...}` when the engine is shutting down, the
//!   database does not answer within [`READINESS_TIMEOUT`], or it lacks a migration of this
//!   build. A readiness probe: failing it takes the process out of the finish callback's load
//!   balancer until it passes again.
//! - `GET /metrics`: the Prometheus text the process's recorder renders, when one is given.
//!
//! The probe's database check also feeds the engine's database status, so an outage seen only
//! by the probe is logged once too.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use grantflow_store::{GrantStore, StoreError};
use serde_json::json;

use crate::engine::Engine;

/// How long `/readyz` waits for the database before it answers 503 (keep the orchestrator's
/// probe timeout above it).
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Renders the metrics exposition text (e.g. `PrometheusHandle::render` of
/// `metrics-exporter-prometheus`).
pub type MetricsText = Arc<dyn Fn() -> String + Send + Sync>;

/// Whether the engine can take work: what `/readyz` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// It can.
    Ready,
    /// It cannot, for this reason.
    Unready(Unready),
}

/// Why the engine cannot take work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unready {
    /// A graceful shutdown has begun: the engine takes no new work.
    ShuttingDown,
    /// The database could not be reached (connection refused or lost, no connection in time).
    DatabaseUnreachable(String),
    /// The database did not answer within [`READINESS_TIMEOUT`].
    DatabaseTimeout,
    /// The database lacks these migrations of this build (see
    /// [`StoreError::MigrationsMissing`]).
    MigrationsMissing(Vec<i64>),
    /// The check's query failed otherwise.
    DatabaseError(String),
}

impl Unready {
    /// The short machine-readable reason: `shutting_down`, `database_unreachable`,
    /// `database_timeout`, `migrations_missing` or `database_error`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ShuttingDown => "shutting_down",
            Self::DatabaseUnreachable(_) => "database_unreachable",
            Self::DatabaseTimeout => "database_timeout",
            Self::MigrationsMissing(_) => "migrations_missing",
            Self::DatabaseError(_) => "database_error",
        }
    }

    /// A sentence for people.
    pub fn detail(&self) -> String {
        match self {
            Self::ShuttingDown => "the worker is shutting down".to_owned(),
            Self::DatabaseUnreachable(e) | Self::DatabaseError(e) => e.clone(),
            Self::DatabaseTimeout => format!(
                "the database did not answer within {} ms",
                READINESS_TIMEOUT.as_millis()
            ),
            Self::MigrationsMissing(v) => format!("migrations not applied: {v:?}"),
        }
    }
}

impl<S: GrantStore> Engine<S> {
    /// Whether the engine can take work: not shutting down, and the database answers within
    /// [`READINESS_TIMEOUT`] with every migration of this build applied.
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn readiness(&self) -> Readiness {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Readiness::Unready(Unready::ShuttingDown);
        }
        let Ok(checked) = tokio::time::timeout(READINESS_TIMEOUT, inner.store.check_schema()).await
        else {
            inner.database.no_answer(READINESS_TIMEOUT);
            return Readiness::Unready(Unready::DatabaseTimeout);
        };
        inner.database.saw(&checked);
        match checked {
            Ok(()) => Readiness::Ready,
            Err(StoreError::MigrationsMissing { missing }) => {
                Readiness::Unready(Unready::MigrationsMissing(missing))
            }
            Err(e) if e.is_unreachable() => {
                Readiness::Unready(Unready::DatabaseUnreachable(e.to_string()))
            }
            Err(e) => Readiness::Unready(Unready::DatabaseError(e.to_string())),
        }
    }
}

struct OpsState<S: GrantStore> {
    engine: Engine<S>,
    metrics: Option<MetricsText>,
}

impl<S: GrantStore> Clone for OpsState<S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The router of `/healthz`, `/readyz` and (with `metrics`) `/metrics` (see the module docs).
/// `grantflow worker` merges it into its finish callback listener.
pub fn operations_router<S: GrantStore>(engine: Engine<S>, metrics: Option<MetricsText>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>));
    if metrics.is_some() {
        router = router.route("/metrics", get(render_metrics::<S>));
    }
    router.with_state(OpsState { engine, metrics })
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

async fn readyz<S: GrantStore>(State(state): State<OpsState<S>>) -> Response {
    match state.engine.readiness().await {
        Readiness::Ready => {
            (StatusCode::OK, axum::Json(json!({"status": "ready"}))).into_response()
        }
        Readiness::Unready(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({
                "status": "unready",
                "reason": why.reason(),
                "detail": why.detail(),
            })),
        )
            .into_response(),
    }
}

async fn render_metrics<S: GrantStore>(State(state): State<OpsState<S>>) -> Response {
    let text = state.metrics.as_ref().map(|m| m()).unwrap_or_default();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
