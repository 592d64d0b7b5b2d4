//! What operators rely on, on both databases: the readiness check of the schema.

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
