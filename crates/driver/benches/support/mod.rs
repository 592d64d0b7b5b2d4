//! What the driver's benches share: a scratch database, an in-process `Calls` that answers like
//! the AS, stored states built through the machine, the resident memory of the process.

#![allow(dead_code)] // each bench uses its part

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use grantflow_driver::{CallFuture, CallOutcome, Calls, EngineConfig};
use grantflow_machine::{
    Answer, Config, Effect, Event, GrantIntent, GrantState, StateKind, transition,
};
use grantflow_protocol::finish_hash::{FinishHashEncoding, finish_hash};
use grantflow_protocol::grant::{GrantRequest, GrantResponse, RotatedToken};
use grantflow_store::PgStore;
use serde_json::json;
use sqlx::Connection;

/// Answers every call at once, as the AS would.
pub struct InstantCalls {
    issued: GrantResponse,
    rotated: RotatedToken,
}

impl InstantCalls {
    pub fn new() -> Self {
        Self {
            issued: serde_json::from_value(json!({
                "access_token": {"value": "BENCHTOKEN", "manage": "http://as.invalid/token/1",
                                 "expires_in": 600,
                                 "access": [{"type": "incoming-payment", "actions": ["create", "read"]}]},
                "continue": {"access_token": {"value": "BENCHCONT"}, "uri": "http://as.invalid/continue/1"}
            }))
            .unwrap(),
            rotated: serde_json::from_value(json!({
                "access_token": {"value": "BENCHTOKEN2", "manage": "http://as.invalid/token/2",
                                 "expires_in": 600,
                                 "access": [{"type": "incoming-payment", "actions": ["create", "read"]}]}
            }))
            .unwrap(),
        }
    }
}

impl Calls for InstantCalls {
    fn call<'a>(&'a self, effect: &'a Effect) -> CallFuture<'a> {
        let answer = match effect {
            Effect::Rotate { .. } => Answer::Rotated(self.rotated.clone()),
            Effect::Cancel { .. } | Effect::RevokeToken { .. } | Effect::Notify { .. } => {
                Answer::NoContent
            }
            _ => Answer::Grant(self.issued.clone()),
        };
        Box::pin(async move { CallOutcome::event(Event::Answered { answer }) })
    }
}

pub fn intent() -> GrantIntent {
    let request: GrantRequest = serde_json::from_value(json!({
        "access_token": {"access": [{"type": "incoming-payment", "actions": ["create", "read"]}]},
        "client": "http://client.invalid/bench",
        "interact": {"start": ["redirect"],
                     "finish": {"method": "redirect", "uri": "http://client.invalid/finish/x",
                                "nonce": "BENCHCLIENTNONCE"}}
    }))
    .unwrap();
    GrantIntent::new("http://as.invalid/", request)
}

/// A stored state, built through the machine: `Continuing` with the continue call due (the
/// finish callback verified before `wait` passed), or `AwaitingInteraction`.
pub fn seed_state(continuing: bool, deadline: TimeDelta) -> String {
    let config = Config {
        interaction_deadline: deadline,
        ..Config::default()
    };
    let t0 = Utc::now() - TimeDelta::hours(1);
    let intent = intent();
    let endpoint = intent.grant_endpoint.clone();
    let mut state = transition(
        &GrantState::Initial,
        Event::Request {
            intent: intent.into(),
        },
        t0,
        &config,
    )
    .unwrap()
    .state;
    let pending: GrantResponse = serde_json::from_value(json!({
        "interact": {"redirect": "http://as.invalid/interact/1/abc", "finish": "BENCHASNONCE"},
        "continue": {"access_token": {"value": "BENCHCONT"}, "uri": "http://as.invalid/continue/1", "wait": 5}
    }))
    .unwrap();
    state = transition(
        &state,
        Event::Answered {
            answer: Answer::Grant(pending),
        },
        t0,
        &config,
    )
    .unwrap()
    .state;
    if continuing {
        let hash = finish_hash(
            "BENCHCLIENTNONCE",
            "BENCHASNONCE",
            "BENCHREF",
            &endpoint,
            FinishHashEncoding::PaddedBase64,
        );
        let callback = grantflow_machine::FinishCallback::from_query_pairs([
            ("hash", hash.as_str()),
            ("interact_ref", "BENCHREF"),
        ])
        .unwrap();
        state = transition(
            &state,
            Event::FinishCallback { callback },
            t0 + TimeDelta::seconds(1),
            &config,
        )
        .unwrap()
        .state;
        assert_eq!(state.kind(), StateKind::Continuing);
        assert!(
            state.call_in_flight().is_none(),
            "the continue is due, not in flight"
        );
    }
    state.to_json().unwrap()
}

/// A fresh scratch database `name` on the server of `url`, migrated.
pub async fn scratch(url: &str, name: &str, connections: u32) -> PgStore {
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut u = url::Url::parse(url).unwrap();
    u.set_path(name);
    PgStore::connect(u.as_str(), connections).await.unwrap()
}

/// Drops the scratch database `name` on the server of `url`.
pub async fn drop_scratch(url: &str, name: &str) {
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// `DATABASE_URL`, or `None` (the bench `what` is skipped, saying so) when it is unset. In CI
/// (`CI=true`) a missing database fails the run instead of skipping it.
pub fn database_url(what: &str) -> Option<String> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        assert!(
            !in_ci,
            "DATABASE_URL is not set, and CI is set: run scripts/test (it starts a throwaway PostgreSQL)"
        );
        println!("DATABASE_URL is not set: the {what} bench is SKIPPED");
        return None;
    };
    Some(url)
}

/// Runs `work` on a runtime of two worker threads (the machine's cores).
pub fn block_on(work: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(work);
}

pub fn engine_config(worker: &str, lease: Duration) -> EngineConfig {
    let mut c = EngineConfig::new(
        EngineConfig::unique_worker_id(worker),
        "http://client.invalid/bench",
    );
    c.lease = lease;
    c.claim_batch = 256;
    c.max_concurrent_grants = 1024;
    c.commit_batch = 512;
    c.poll_interval = Duration::from_millis(100);
    c.shutdown_grace = Duration::from_secs(5);
    c
}

/// The resident memory of this process (`VmRSS`), in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The machine's answer that issues a grant (an incoming-payment token).
fn issued_answer() -> GrantResponse {
    serde_json::from_value(json!({
        "access_token": {"value": "BENCHTOKEN", "manage": "http://as.invalid/token/1",
                         "expires_in": 600,
                         "access": [{"type": "incoming-payment", "actions": ["create", "read"]}]},
        "continue": {"access_token": {"value": "BENCHCONT"}, "uri": "http://as.invalid/continue/1"}
    }))
    .unwrap()
}

/// A stored state built through the machine: an issued grant at rest (its token active), or a
/// grant canceled by the application (`Finalized(Canceled)`), both from [`seed_state`]'s
/// continuing grant.
pub fn rest_state(kind: StateKind) -> String {
    let config = Config::default();
    let t0 = Utc::now() - TimeDelta::hours(1);
    let mut state = GrantState::from_json(&seed_state(true, TimeDelta::days(1))).unwrap();
    let mut at = t0 + TimeDelta::seconds(10);
    let mut step = |state: &GrantState, event: Event| {
        at += TimeDelta::seconds(1);
        transition(state, event, at, &config).unwrap().state
    };
    match kind {
        StateKind::Issued => {
            // The continue (due) starts, then the AS answers with the token.
            state = step(&state, Event::Wake);
            state = step(
                &state,
                Event::Answered {
                    answer: Answer::Grant(issued_answer()),
                },
            );
        }
        StateKind::Canceled => {
            state = step(&state, Event::Cancel);
            if state.call_in_flight().is_none() {
                state = step(&state, Event::Wake);
            }
            state = step(
                &state,
                Event::Answered {
                    answer: Answer::NoContent,
                },
            );
        }
        other => panic!("no rest state built for {other}"),
    }
    assert_eq!(state.kind(), kind);
    state.to_json().unwrap()
}

/// The request event of [`intent`], as stored in a grant's first event row.
pub fn request_event() -> String {
    serde_json::to_string(&Event::Request {
        intent: intent().into(),
    })
    .unwrap()
}
