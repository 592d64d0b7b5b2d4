//! What operators rely on, on both databases: the readiness check of the schema, pruning final
//! grants after the retention, and counting grants by state.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

use grantflow_store::*;

/// Forgets the newest applied migration, as a database a newer build has not migrated yet
/// looks to it; returns its version.
const FORGET_NEWEST: &str = "DELETE FROM _sqlx_migrations
     WHERE version = (SELECT max(version) FROM _sqlx_migrations) RETURNING version";

/// The schema check passes, then names the migration forgotten by `forget`.
async fn schema_check_names_a_missing_migration<S: GrantStore>(
    store: S,
    forget: impl std::future::Future<Output = Result<i64, sqlx::Error>>,
) {
    store.check_schema().await.unwrap();
    let newest = forget.await.unwrap();
    match store.check_schema().await {
        Err(StoreError::MigrationsMissing { missing }) => assert_eq!(missing, vec![newest]),
        other => panic!("{other:?}"),
    }
}

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn postgres_schema_check_names_a_missing_migration(pool: sqlx::PgPool) {
    let store = PgStore::from_pool(pool.clone());
    let forget = async move { sqlx::query_scalar(FORGET_NEWEST).fetch_one(&pool).await };
    schema_check_names_a_missing_migration(store, forget).await;
}

#[tokio::test]
async fn sqlite_schema_check_names_a_missing_migration() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let pool = store.pool().clone();
    let forget = async move { sqlx::query_scalar(FORGET_NEWEST).fetch_one(&pool).await };
    schema_check_names_a_missing_migration(store, forget).await;
}

#[tokio::test]
async fn an_unreachable_database_is_told_from_a_failed_query() {
    let refused = StoreError::Database {
        operation: "claim due grants",
        source: sqlx::Error::PoolTimedOut,
    };
    assert!(refused.is_unreachable());
    let corrupt = StoreError::Corrupt {
        grant: None,
        detail: "bad row".into(),
    };
    assert!(!corrupt.is_unreachable());
    // A real refused connection (nothing listens on port 1).
    let source = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect("postgres://postgres@127.0.0.1:1/postgres")
        .await
        .unwrap_err();
    let err = StoreError::Database {
        operation: "connect",
        source,
    };
    assert!(err.is_unreachable(), "{err:?}");
}

fn day(n: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
        + chrono::TimeDelta::days(n)
}

/// Creates a grant at `at` whose summary says `kind`, waking at `wake`, leased if `leased`.
async fn grant_at<S: GrantStore>(
    store: &S,
    at: chrono::DateTime<chrono::Utc>,
    kind: Option<&str>,
    wake: Option<chrono::DateTime<chrono::Utc>>,
    leased: bool,
) -> GrantId {
    let id = GrantId::new_random();
    store
        .create(
            NewGrant {
                id,
                idempotency_key: None,
                state: r#"{"s":1}"#.into(),
                event: r#"{"e":1}"#.into(),
                next_wake_at: wake,
                lease: leased.then(|| NewLease {
                    owner: "w".into(),
                    until: at + chrono::TimeDelta::days(1000),
                }),
                summary: GrantSummary {
                    state_kind: kind.map(str::to_owned),
                    ..GrantSummary::default()
                },
                change_summary: None,
            },
            at,
        )
        .await
        .unwrap();
    id
}

/// Rule 12: only final grants older than the retention go, with their events, in batches; live,
/// issued, young, leased and unsummarised grants stay.
async fn pruning_removes_only_old_final_grants<S: GrantStore>(store: S) {
    let revoked = grant_at(&store, day(0), Some("Revoked"), None, false).await;
    let lost = grant_at(&store, day(1), Some("Lost"), None, false).await;
    let young = grant_at(&store, day(30), Some("Canceled"), None, false).await;
    // An issued grant whose token never expires: no wake-up either, yet live.
    let issued = grant_at(&store, day(0), Some("Issued"), None, false).await;
    let waiting = grant_at(
        &store,
        day(0),
        Some("AwaitingInteraction"),
        Some(day(1)),
        false,
    )
    .await;
    let unsummarised = grant_at(&store, day(0), None, None, false).await;
    let leased = grant_at(&store, day(0), Some("Failed"), None, true).await;
    assert_eq!(store.history(revoked).await.unwrap().len(), 1);

    let cutoff = day(10);
    assert_eq!(store.prune_final(cutoff, 1).await.unwrap(), 1);
    // Oldest first.
    assert!(store.get(revoked).await.unwrap().is_none());
    assert!(store.get(lost).await.unwrap().is_some());
    assert_eq!(store.prune_final(cutoff, 1000).await.unwrap(), 1);
    assert_eq!(store.prune_final(cutoff, 1000).await.unwrap(), 0);
    for gone in [revoked, lost] {
        assert!(store.get(gone).await.unwrap().is_none());
        assert!(
            store.history(gone).await.unwrap().is_empty(),
            "events go too"
        );
    }
    for kept in [young, issued, waiting, unsummarised, leased] {
        assert!(store.get(kept).await.unwrap().is_some());
        assert_eq!(store.history(kept).await.unwrap().len(), 1);
    }

    let mut counts = store.count_by_state().await.unwrap();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            (None, 1),
            (Some("AwaitingInteraction".to_owned()), 1),
            (Some("Canceled".to_owned()), 1),
            (Some("Failed".to_owned()), 1),
            (Some("Issued".to_owned()), 1),
        ]
    );
}

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn postgres_pruning_removes_only_old_final_grants(pool: sqlx::PgPool) {
    pruning_removes_only_old_final_grants(PgStore::from_pool(pool)).await;
}

#[tokio::test]
async fn sqlite_pruning_removes_only_old_final_grants() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    pruning_removes_only_old_final_grants(store).await;
}
