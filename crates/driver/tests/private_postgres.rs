//! The test-support helper `support::private_postgres`: a private cluster starts, stops (its
//! clients' queries fail) and starts again on the same port with everything committed before;
//! dropping it removes the cluster. Locally it skips (saying so) without the PostgreSQL server
//! programs; in CI it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgPoolOptions;
use support::private_postgres::PrivatePostgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_cluster_stops_and_starts_with_its_data() {
    let Some(pg) = tokio::task::block_in_place(PrivatePostgres::launch) else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&pg.url())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE kept (v int)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO kept VALUES (42)")
        .execute(&pool)
        .await
        .unwrap();

    tokio::task::block_in_place(|| pg.stop());
    assert!(
        sqlx::query("SELECT 1").execute(&pool).await.is_err(),
        "a stopped server answered"
    );

    tokio::task::block_in_place(|| pg.start());
    // The pool replaces its broken connections: the first query may still meet one.
    let mut kept = None;
    for _ in 0..5 {
        if let Ok(row) = sqlx::query("SELECT v FROM kept").fetch_one(&pool).await {
            kept = Some(row.get::<i32, _>("v"));
            break;
        }
    }
    assert_eq!(kept, Some(42), "the data committed before the stop");
    pool.close().await;

    let data = std::path::PathBuf::from(
        sqlx::query("SHOW data_directory")
            .fetch_one(
                &PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&pg.url())
                    .await
                    .unwrap(),
            )
            .await
            .unwrap()
            .get::<String, _>(0),
    );
    assert!(data.exists());
    tokio::task::block_in_place(|| drop(pg));
    assert!(!data.exists(), "the cluster is removed on drop");
}
