//! The scale benchmark (issue 14): a million grants in PostgreSQL in a realistic mix, and what
//! operators and workers pay at that size. Figures and plans in `docs/PERFORMANCE.md`.
//!
//! `cargo bench -p grantflow-driver --bench scale` seeds 1,000,000 grants (or
//! `GRANTFLOW_SCALE_GRANTS`) into a scratch database on the server of `DATABASE_URL` (created,
//! then dropped); without `--bench` (as `cargo test --benches` runs it) it seeds 3,000 and only
//! checks that every part works. The mix, by creation order (every hundredth grant alike):
//! 90% final (Canceled 45, Rejected 15, Expired 15, Revoked 10, Failed 3, Lost 2), 5% awaiting
//! interaction (deadlines 1-2 h ahead), 4% issued and idle (keep-alive days ahead), 1% due now
//! (a continue to make); created over the last year, 20,000 users' wallet addresses, access
//! `outgoing-payment` (2/3), `incoming-payment` (1/3 less quotes), `quote` (1 in 50).
//!
//! Parts, in order:
//! - `claim`: a worker's claim (`claim_due`, 16 at a time) until nothing is due, each batch
//!   released a day ahead: latency of every claim.
//! - `list`: `Engine::list` pages of 50, filtered and not, first and deep pages: latency, and
//!   the plan of each (`EXPLAIN (ANALYZE, BUFFERS)`, its node lines).
//! - `prune`: `prune_final` deletes a tenth of the grants (100,000 of a million: final, older
//!   than half a year) in batches of 1,000 while a claimer claims the 1% made due again: the
//!   claims' latency during pruning, beside the `claim` part's.
//! - `worker`: one engine worker (calls answered in-process, as the AS would) makes the
//!   continues of the 1% made due again: the process's resident memory each second.
//!
//! The stored states are real (built through the machine), but one per kind of row: every final
//! row holds the same canceled state whatever its `state_kind` says (the store never opens a
//! state; only the summary columns drive the queries).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is a broken bench

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_driver::{Engine, GrantFilter, ListCursor};
use grantflow_machine::StateKind;
use grantflow_store::{
    AfterWrite, ClaimRequest, Fence, GrantId, GrantStore, ListFilter, PgStore, StateWrite,
};
use support::{
    InstantCalls, block_on, database_url, drop_scratch, engine_config, request_event, rest_state,
    rss_kib, scratch, seed_state,
};

const SCRATCH: &str = "grantflow_bench_scale";

/// Latency figures of a sample, in milliseconds.
fn summary(label: &str, mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "{label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
        at(0.5),
        at(0.99),
        at(1.0),
        ms.len()
    )
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Seeds `n` grants in the mix of the module docs, in batches of 100,000, with their summary
/// columns and one event row each (the request).
async fn seed(store: &PgStore, n: i64, now: DateTime<Utc>) {
    let final_state = rest_state(StateKind::Canceled);
    let issued = rest_state(StateKind::Issued);
    let awaiting = seed_state(false, TimeDelta::hours(2));
    let continuing = seed_state(true, TimeDelta::hours(2));
    let event = request_event();
    // Created one per `spacing` up to now: a year for a million grants.
    let spacing_ms = (365 * 24 * 3600 * 1000 / n.max(1)).max(1);
    let mut from = 1;
    while from <= n {
        let to = (from + 99_999).min(n);
        sqlx::query(
            "WITH s AS (
                 SELECT i, i % 100 AS b FROM generate_series($1::bigint, $2::bigint) AS i
             ), g AS (
                 INSERT INTO grantflow_grants
                     (id, state, version, next_wake_at, created_at, updated_at,
                      state_kind, access_types, wallet_address, last_error)
                 SELECT gen_random_uuid(),
                        (CASE WHEN b < 90 THEN $4 WHEN b < 95 THEN $5
                              WHEN b < 99 THEN $6 ELSE $7 END)::jsonb,
                        1,
                        CASE WHEN b < 90 THEN NULL
                             WHEN b < 95 THEN $3 + (3600 + i % 3600) * interval '1 second'
                             WHEN b < 99 THEN $3 + (1 + i % 7) * interval '1 day'
                             ELSE $3 - interval '1 second' END,
                        $3 - ($9 - i) * $10 * interval '1 millisecond',
                        $3 - ($9 - i) * $10 * interval '1 millisecond',
                        CASE WHEN b < 45 THEN 'Canceled' WHEN b < 60 THEN 'Rejected'
                             WHEN b < 75 THEN 'Expired' WHEN b < 85 THEN 'Revoked'
                             WHEN b < 88 THEN 'Failed' WHEN b < 90 THEN 'Lost'
                             WHEN b < 95 THEN 'AwaitingInteraction' WHEN b < 99 THEN 'Issued'
                             ELSE 'Continuing' END,
                        CASE WHEN i % 50 = 0 THEN ARRAY['quote']
                             WHEN i % 3 = 0 THEN ARRAY['incoming-payment']
                             ELSE ARRAY['outgoing-payment'] END,
                        CASE WHEN i % 50 = 0 THEN NULL
                             ELSE 'https://wallet.example/users/' || (i % 20000) END,
                        CASE WHEN b >= 85 AND b < 90
                             THEN 'the authorization server refused: invalid_request' END
                 FROM s
                 RETURNING id, created_at
             )
             INSERT INTO grantflow_grant_events (grant_id, version, event, at)
             SELECT id, 1, $8::jsonb, created_at FROM g",
        )
        .bind(from)
        .bind(to)
        .bind(now)
        .bind(&final_state)
        .bind(&awaiting)
        .bind(&issued)
        .bind(&continuing)
        .bind(&event)
        .bind(n)
        .bind(spacing_ms)
        .execute(store.pool())
        .await
        .unwrap();
        from = to + 1;
    }
    sqlx::query("VACUUM ANALYZE grantflow_grants")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE grantflow_grant_events")
        .execute(store.pool())
        .await
        .unwrap();
}

/// Claims until nothing is due, 16 at a time, releasing each batch a day ahead; the latency of
/// every claim.
async fn claims(store: &PgStore) -> Vec<f64> {
    let mut latencies = Vec::new();
    loop {
        let now = Utc::now();
        let started = Instant::now();
        let claimed = store
            .claim_due(ClaimRequest {
                owner: "bench-claimer".into(),
                now,
                lease_until: now + TimeDelta::seconds(30),
                limit: 16,
            })
            .await
            .unwrap();
        latencies.push(millis(started.elapsed()));
        if claimed.is_empty() {
            return latencies;
        }
        let writes = claimed
            .into_iter()
            .map(|c| StateWrite {
                id: c.grant.id,
                expected_version: c.grant.version,
                fence: Fence::Lease {
                    token: c.lease.token,
                    then: AfterWrite::Release,
                },
                state: c.grant.state,
                event: r#"{"event":"wake"}"#.into(),
                at: now,
                next_wake_at: Some(now + TimeDelta::days(1)),
                summary: c.grant.summary,
                change_summary: None,
            })
            .collect();
        for result in store.commit(writes, now).await.unwrap() {
            result.unwrap();
        }
    }
}

/// Prunes `target` final grants (batches of 1,000, older than half a year) while a claimer claims
/// the continues made due again (16 at a time, released a day ahead): the claims' latency during
/// pruning, and the pruning's rate.
async fn prune_beside_claims(store: &PgStore, now: DateTime<Utc>, target: u64) -> (Vec<f64>, f64) {
    sqlx::query(
        "UPDATE grantflow_grants SET next_wake_at = now() - interval '1 second'
         WHERE state_kind = 'Continuing'",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let pruner = {
        let store = store.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut pruned = 0;
            while pruned < target {
                let n = store
                    .prune_final(now - TimeDelta::days(180), 1000)
                    .await
                    .unwrap();
                pruned += n;
                if n == 0 {
                    break;
                }
            }
            (pruned, started.elapsed())
        })
    };
    let claim_ms = claims(store).await;
    let (pruned, took) = pruner.await.unwrap();
    println!(
        "prune: {pruned} final grants pruned in {:.1} s ({:.0} grants/s, batches of 1,000)",
        took.as_secs_f64(),
        pruned as f64 / took.as_secs_f64()
    );
    (claim_ms, took.as_secs_f64())
}

/// The cursor in the middle of the rows `filter` matches (for a deep page).
async fn middle(store: &PgStore, state_kind: Option<&str>) -> ListCursor {
    let (created_at, id): (DateTime<Utc>, uuid::Uuid) = sqlx::query_as(
        "SELECT created_at, id FROM grantflow_grants
         WHERE $1::text IS NULL OR state_kind = $1
         ORDER BY created_at DESC, id DESC
         OFFSET (SELECT count(*) / 2 FROM grantflow_grants WHERE $1::text IS NULL OR state_kind = $1)
         LIMIT 1",
    )
    .bind(state_kind)
    .fetch_one(store.pool())
    .await
    .unwrap();
    ListCursor {
        created_at,
        id: GrantId(id),
    }
}

/// The node lines of a plan (scans, limits, sorts, filters), trimmed.
fn plan_shape(lines: &[String]) -> String {
    lines
        .iter()
        .filter(|l| {
            !l.trim_start().starts_with("Buffers:")
                && !l.trim_start().starts_with("Planning")
                && !l.trim_start().starts_with("Execution")
        })
        .map(|l| {
            let l = l.trim_end();
            // Keep the node and its condition, drop PostgreSQL's cost estimates.
            match l.find("  (cost=") {
                Some(i) => {
                    let actual = l.find("(actual").map_or("", |j| &l[j..]);
                    format!("{}  {actual}", &l[..i])
                }
                None => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n      ")
}

async fn lists(store: &PgStore, now: DateTime<Utc>, runs: usize) {
    let engine = Engine::new(
        store.clone(),
        Arc::new(InstantCalls::new()),
        engine_config("scale-list", Duration::from_secs(30)),
    )
    .unwrap();
    let user = "https://wallet.example/users/12345".to_owned();
    let state = |k| GrantFilter {
        state: Some(k),
        ..GrantFilter::default()
    };
    let deep_all = middle(store, None).await;
    let deep_issued = middle(store, Some("Issued")).await;
    let day = now - TimeDelta::days(180);
    let cases: Vec<(&str, GrantFilter, Option<ListCursor>)> = vec![
        ("no filter, first page", GrantFilter::default(), None),
        (
            "no filter, page in the middle",
            GrantFilter::default(),
            Some(deep_all),
        ),
        (
            "state AwaitingInteraction, first page",
            state(StateKind::AwaitingInteraction),
            None,
        ),
        (
            "state Issued, page in the middle",
            state(StateKind::Issued),
            Some(deep_issued),
        ),
        (
            "state Lost (2% of grants), first page",
            state(StateKind::Lost),
            None,
        ),
        (
            "wallet (one user of 20,000), first page",
            GrantFilter {
                wallet: Some(user.clone()),
                ..GrantFilter::default()
            },
            None,
        ),
        (
            "wallet and state Issued",
            GrantFilter {
                wallet: Some(user.clone()),
                state: Some(StateKind::Issued),
                ..GrantFilter::default()
            },
            None,
        ),
        (
            "access quote (2%), first page",
            GrantFilter {
                access: Some("quote".into()),
                ..GrantFilter::default()
            },
            None,
        ),
        (
            "access incoming-payment, created within one day half a year ago",
            GrantFilter {
                access: Some("incoming-payment".into()),
                created_after: Some(day),
                created_before: Some(day + TimeDelta::days(1)),
                ..GrantFilter::default()
            },
            None,
        ),
        (
            "state Failed and access quote (few matches: the worst case)",
            GrantFilter {
                state: Some(StateKind::Failed),
                access: Some("quote".into()),
                ..GrantFilter::default()
            },
            None,
        ),
    ];
    for (label, filter, after) in cases {
        let mut ms = Vec::with_capacity(runs);
        let mut found = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let page = engine.list(&filter, after, 50).await.unwrap();
            ms.push(millis(started.elapsed()));
            found = page.grants.len();
        }
        let plan = store
            .explain_list_page(&ListFilter::from(&filter), after, 50)
            .await
            .unwrap();
        println!(
            "{}, {found} grants\n      {}",
            summary(&format!("list: {label}"), ms),
            plan_shape(&plan)
        );
    }
    engine.shutdown().await;
}

/// One worker makes the continues of the grants made due again; resident memory each second.
async fn worker_memory(store: &PgStore, secs: u64) {
    let due = sqlx::query(
        "UPDATE grantflow_grants SET next_wake_at = now() - interval '1 second'
         WHERE state_kind = 'Continuing'",
    )
    .execute(store.pool())
    .await
    .unwrap()
    .rows_affected();
    let engine = Engine::new(
        store.clone(),
        Arc::new(InstantCalls::new()),
        engine_config("scale-worker", Duration::from_secs(30)),
    )
    .unwrap();
    let before = rss_kib();
    let started = Instant::now();
    engine.start_worker();
    let mut samples = Vec::new();
    let mut done_after = None;
    for _ in 0..secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(rss_kib());
        if done_after.is_none() {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM grantflow_grants WHERE state_kind = 'Continuing'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            if left == 0 {
                done_after = Some(started.elapsed());
            }
        }
    }
    engine.shutdown().await;
    println!(
        "worker: {due} continues made by one worker ({}); RSS {before} KiB before the worker, \
         {} KiB after 1 s, {} KiB at the end, max {} KiB ({secs} samples, 1 a second)",
        match done_after {
            Some(d) => format!("all done within {:.1} s", d.as_secs_f64()),
            None => format!("not all done within {secs} s"),
        },
        samples[0],
        samples[samples.len() - 1],
        samples.iter().max().unwrap()
    );
    assert!(
        done_after.is_some(),
        "the worker did not make every continue"
    );
}

async fn run(url: &str, n: i64, full: bool) {
    let store = scratch(url, SCRATCH, 8).await;
    let now = Utc::now();
    let started = Instant::now();
    seed(&store, n, now).await;
    let sizes: (String, String) = sqlx::query_as(
        "SELECT pg_size_pretty(pg_total_relation_size('grantflow_grants')),
                pg_size_pretty(pg_total_relation_size('grantflow_grant_events'))",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    println!(
        "seed: {n} grants and their request events in {:.1} s (grants {}, events {}, with indexes)",
        started.elapsed().as_secs_f64(),
        sizes.0,
        sizes.1
    );

    let claim_ms = claims(&store).await;
    println!(
        "{}",
        summary("claim: claim_due of 16 until none due", claim_ms)
    );

    lists(&store, now, if full { 30 } else { 3 }).await;
    let (during, _) = prune_beside_claims(&store, now, (n as u64 / 10).max(1)).await;
    println!(
        "{}",
        summary("claim: claim_due of 16 while pruning", during)
    );
    worker_memory(&store, if full { 20 } else { 3 }).await;

    drop(store);
    drop_scratch(url, SCRATCH).await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = std::env::var("GRANTFLOW_SCALE_GRANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 1_000_000 } else { 3_000 });
    let Some(url) = database_url("scale") else {
        return;
    };
    block_on(run(&url, n, full));
}
