//! PostgreSQL-specific checks: the claim stays an index scan with many final grants.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_store::*;
use serde_json::json;

/// Parses stored JSON text.
fn v(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}
use sqlx::PgPool;

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn claims_use_the_partial_index_with_many_final_grants(pool: PgPool) {
    // 20,000 final grants (no wake-up) and a handful that need attention.
    sqlx::query(
        "INSERT INTO grantflow_grants (id, state, version, next_wake_at, created_at, updated_at)
         SELECT gen_random_uuid(), '{}'::jsonb, 3, NULL, now(), now()
         FROM generate_series(1, 20000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = PgStore::from_pool(pool.clone());
    let now: DateTime<Utc> = Utc::now();
    for _ in 0..5 {
        store
            .create(
                NewGrant {
                    id: GrantId::new_random(),
                    idempotency_key: None,
                    state: json!({}).to_string(),
                    event: json!({}).to_string(),
                    next_wake_at: Some(now),
                    lease: None,
                    summary: GrantSummary::default(),
                    change_summary: None,
                },
                now,
            )
            .await
            .unwrap();
    }
    sqlx::query("ANALYZE grantflow_grants")
        .execute(&pool)
        .await
        .unwrap();
    let plan: serde_json::Value = sqlx::query_scalar(
        "EXPLAIN (FORMAT JSON) SELECT id FROM grantflow_grants
         WHERE next_wake_at IS NOT NULL AND next_wake_at <= $1
         ORDER BY next_wake_at LIMIT 100 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .fetch_one(&pool)
    .await
    .unwrap();
    let plan = plan.to_string();
    assert!(
        plan.contains("grantflow_grants_due"),
        "claim does not use the partial index: {plan}"
    );
    assert!(!plan.contains("Seq Scan"), "claim scans the table: {plan}");

    let index_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM grantflow_grants WHERE next_wake_at IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(index_rows, 5);
    let claimed = store
        .claim_due(ClaimRequest {
            owner: "w".into(),
            now,
            lease_until: now + TimeDelta::seconds(30),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5);
}

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn a_stale_write_racing_a_takeover_never_lands(pool: PgPool) {
    // Many rounds of: A claims, its lease lapses, B takes over and A writes at the same moment.
    // Whatever the interleaving, the final state is B's and the log has no gap.
    let store = PgStore::from_pool(pool);
    let t0 = Utc::now();
    for round in 0..30 {
        let id = GrantId::new_random();
        store
            .create(
                NewGrant {
                    id,
                    idempotency_key: None,
                    state: json!({"round": round}).to_string(),
                    event: json!({}).to_string(),
                    next_wake_at: Some(t0),
                    lease: None,
                    summary: GrantSummary::default(),
                    change_summary: None,
                },
                t0,
            )
            .await
            .unwrap();
        let a = store
            .claim_grant(id, "A", t0, t0 + TimeDelta::seconds(1))
            .await
            .unwrap()
            .unwrap();
        let later = t0 + TimeDelta::seconds(2);
        let a_write = StateWrite {
            id,
            expected_version: 1,
            fence: Fence::Lease {
                token: a.lease.token,
                then: AfterWrite::Release,
            },
            state: json!({"by": "A"}).to_string(),
            event: json!({"by": "A"}).to_string(),
            at: later,
            next_wake_at: None,
            summary: GrantSummary::default(),
            change_summary: None,
        };
        let b_store = store.clone();
        let (a_result, b_claim) = tokio::join!(
            store.commit(vec![a_write], later),
            b_store.claim_grant(id, "B", later, later + TimeDelta::seconds(30))
        );
        let a_result = a_result.unwrap().remove(0);
        match (a_result, b_claim.unwrap()) {
            // A wrote first (its lease was lapsed but not yet taken over: still safe, nobody else
            // ran); B's claim then saw the final, unleased grant.
            (Ok(_), Some(b)) => {
                assert_eq!(b.grant.version, 2);
            }
            (Ok(_), None) => panic!("B could not claim an unleased grant"),
            // B took over first: A is fenced out and B writes on top of version 1.
            (Err(refused), Some(b)) => {
                assert_eq!(refused.reason, RefusedReason::LeaseLost);
                assert_eq!(b.grant.version, 1);
                let r = store
                    .commit(
                        vec![StateWrite {
                            id,
                            expected_version: 1,
                            fence: Fence::Lease {
                                token: b.lease.token,
                                then: AfterWrite::Release,
                            },
                            state: json!({"by": "B"}).to_string(),
                            event: json!({"by": "B"}).to_string(),
                            at: later,
                            next_wake_at: None,
                            summary: GrantSummary::default(),
                            change_summary: None,
                        }],
                        later,
                    )
                    .await
                    .unwrap();
                assert!(r[0].is_ok());
                assert_eq!(
                    v(&store.get(id).await.unwrap().unwrap().state),
                    json!({"by": "B"})
                );
            }
            (Err(refused), None) => panic!("A refused ({refused}) but B did not claim"),
        }
        let versions: Vec<i64> = store
            .history(id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
    }
}
