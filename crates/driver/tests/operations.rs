//! The operations endpoints over real HTTP: `/healthz`, `/readyz` (ready, shutting down, a
//! migration missing) and `/metrics` after one full lifecycle against the sandbox, with the
//! Prometheus exporter a worker installs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use grantflow_driver::metrics::{self, RATIO_BUCKETS, RECOVERY_BUDGET_USED, SECONDS_BUCKETS};
use grantflow_driver::{Engine, Interaction, MetricsText, operations_router};
use grantflow_machine::StateKind;
use grantflow_store::GrantStore;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::Value;
use support::*;

/// The process's recorder (installed once: tests of this file may share a process).
fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .unwrap()
                .set_buckets_for_metric(Matcher::Full(RECOVERY_BUDGET_USED.into()), RATIO_BUCKETS)
                .unwrap()
                .install_recorder()
                .unwrap();
            metrics::describe();
            handle
        })
        .clone()
}

/// Serves the operations router of `engine` on a loopback port; its base URL.
async fn serve<S: GrantStore>(engine: &Engine<S>, metrics: Option<MetricsText>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = operations_router(engine.clone(), metrics);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get_json(url: &str) -> (u16, Value) {
    let (status, body) = get(url).await;
    (status, serde_json::from_str(&body).unwrap())
}

/// One sample of the exposition text: its labels and value.
type Sample = (BTreeMap<String, String>, f64);

/// Parses the Prometheus text format: every sample by its name (`family`, `family_bucket`,
/// `family_count`, ...), and the families announced by `# TYPE`.
fn parse(text: &str) -> (BTreeMap<String, Vec<Sample>>, Vec<String>) {
    let mut samples: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    let mut families = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').unwrap();
                let labels = labels
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (k, v) = l.split_once('=').unwrap();
                        (k.to_owned(), v.trim_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        samples
            .entry(name.to_owned())
            .or_default()
            .push((labels, value));
    }
    (samples, families)
}

/// The sum of the samples of `name` whose labels include every pair of `with`.
fn total(samples: &BTreeMap<String, Vec<Sample>>, name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .get(name)
        .map(|series| {
            series
                .iter()
                .filter(|(labels, _)| {
                    with.iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
                })
                .map(|(_, v)| v)
                .sum()
        })
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_serve_the_families_after_a_lifecycle() {
    let handle = recorder();
    let world = World::quick().await;
    let engine = world.engine(sqlite().await, |_| {}).await;
    engine.start_worker();
    let render: MetricsText = Arc::new(move || handle.render());
    let base = serve(&engine, Some(render)).await;

    // Request, approve, issue, rotate, revoke.
    let g = engine
        .request(world.outgoing("measured", Interaction::Redirect))
        .await
        .unwrap();
    assert_eq!(
        world.approve_and_follow(g.redirect.as_ref().unwrap()).await,
        200
    );
    wait_kind(&engine, g.id, StateKind::Issued).await;
    engine.rotate(g.id).await.unwrap();
    engine.revoke(g.id).await.unwrap();
    wait_kind(&engine, g.id, StateKind::Revoked).await;

    engine.refresh_grant_counts().await.unwrap();
    // Retention 0: the revoked grant goes at once (in one batch), and is counted.
    assert_eq!(engine.prune_final(Duration::ZERO, 10).await.unwrap(), 1);
    assert!(engine.get(g.id).await.is_err());

    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let (samples, families) = parse(&text);
    // Every family is there (the rare events' series at zero).
    for family in metrics::FAMILIES {
        assert!(
            families.iter().any(|f| f == family),
            "{family} missing from\n{text}"
        );
    }
    // Every edge of this lifecycle, counted at least once.
    for edge in [
        "RequestSent",
        "PendingWithFinish",
        "FinishVerified",
        "Rotated",
        "TokenRevoked",
    ] {
        assert!(
            total(&samples, metrics::TRANSITIONS, &[("edge", edge)]) >= 1.0,
            "no {edge} transition in\n{text}"
        );
    }
    assert!(total(&samples, metrics::TRANSITIONS, &[("to", "Revoked")]) >= 1.0);
    for route in [
        "grant_request",
        "continue",
        "rotate",
        "revoke_token",
        "cancel",
    ] {
        assert!(
            total(
                &samples,
                metrics::AS_CALLS,
                &[("route", route), ("outcome", "answered")]
            ) >= 1.0,
            "no answered {route} call in\n{text}"
        );
        let count = format!("{}_count", metrics::AS_CALL_DURATION);
        assert!(total(&samples, &count, &[("route", route)]) >= 1.0);
        let sum = format!("{}_sum", metrics::AS_CALL_DURATION);
        assert!(total(&samples, &sum, &[("route", route)]) > 0.0);
    }
    // The histograms are histograms (buckets), not summaries.
    let buckets = format!("{}_bucket", metrics::AS_CALL_DURATION);
    assert!(
        total(&samples, &buckets, &[("le", "+Inf")]) >= 5.0,
        "{text}"
    );
    assert!(total(&samples, metrics::LEASES_TAKEN, &[("by", "request")]) >= 1.0);
    assert!(total(&samples, metrics::LEASES_TAKEN, &[("by", "command")]) >= 1.0);
    let claims = format!("{}_count", metrics::CLAIM_DURATION);
    assert!(total(&samples, &claims, &[]) >= 1.0, "{text}");
    assert_eq!(total(&samples, metrics::DATABASE_UP, &[]), 1.0);
    // Counted before the pruning: one revoked grant, and a series for every state.
    assert_eq!(
        total(&samples, metrics::GRANTS, &[("state", "Revoked")]),
        1.0
    );
    assert_eq!(
        total(&samples, metrics::GRANTS, &[("state", "Issued")]),
        0.0
    );
    assert_eq!(samples[metrics::GRANTS].len(), StateKind::ALL.len());
    assert_eq!(total(&samples, metrics::PRUNED_GRANTS, &[]), 1.0);
    // Every family is documented with its help text.
    assert!(
        text.contains(&format!("# HELP {} ", metrics::TRANSITIONS)),
        "{text}"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_ready_then_shutting_down() {
    let world = World::quick().await;
    let engine = world.engine(sqlite().await, |_| {}).await;
    let base = serve(&engine, None).await;
    assert_eq!(
        get_json(&format!("{base}/healthz")).await,
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        get_json(&format!("{base}/readyz")).await,
        (200, serde_json::json!({"status": "ready"}))
    );
    // No metrics recorder given: no /metrics route.
    assert_eq!(get(&format!("{base}/metrics")).await.0, 404);

    engine.shutdown().await;
    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unready");
    assert_eq!(body["reason"], "shutting_down");
    // Liveness does not depend on it.
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_unready_while_a_migration_is_missing() {
    let world = World::quick().await;
    let store = sqlite().await;
    let engine = world.engine(store.clone(), |_| {}).await;
    let base = serve(&engine, None).await;
    // The newest migration forgotten, as a database a newer build has not migrated looks.
    let newest: i64 = sqlx::query_scalar(
        "DELETE FROM _sqlx_migrations
         WHERE version = (SELECT max(version) FROM _sqlx_migrations) RETURNING version",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "migrations_missing");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&newest.to_string()),
        "{body}"
    );
    engine.shutdown().await;
}
