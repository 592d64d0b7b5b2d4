//! PostgreSQL stops under a running worker and comes back: `/readyz` says 503 while it is down
//! and 200 once it is back, and the worker logs one line when it goes and one when it returns
//! (not one per failed query or poll). On a private cluster of this test (the shared one must
//! never be stopped); its own file, so the log capture is this process's only subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::time::{Duration, Instant};

use grantflow_driver::operations_router;
use grantflow_store::PgStore;
use serde_json::Value;
use support::private_postgres::PrivatePostgres;
use support::*;

/// Asks `/readyz` every 200 ms (for at most 60 s) until its status is `want`; the last body.
async fn readyz_until(url: &str, want: u16) -> Value {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "/readyz never {want}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_postgresql_down_and_back_with_one_log_line_each_way() {
    let Some(pg) = PrivatePostgres::launch() else {
        return;
    };
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let world = World::quick().await;
    let store = PgStore::connect(&pg.url(), 4).await.unwrap();
    let engine = world.engine(store, |_| {}).await;
    engine.start_worker();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let readyz = format!("http://{}/readyz", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, operations_router(engine.clone(), None)).into_future());
    assert_eq!(readyz_until(&readyz, 200).await["status"], "ready");

    tokio::task::block_in_place(|| pg.stop());
    let down = readyz_until(&readyz, 503).await;
    assert_eq!(down["status"], "unready");
    let reason = down["reason"].as_str().unwrap();
    assert!(
        ["database_unreachable", "database_timeout"].contains(&reason),
        "{down}"
    );
    // Several more probes while it is down (and the worker polling meanwhile): still one line.
    for _ in 0..3 {
        readyz_until(&readyz, 503).await;
    }
    assert_eq!(logs.count("database unreachable"), 1);
    assert_eq!(logs.count("database reachable again"), 0);

    tokio::task::block_in_place(|| pg.start());
    assert_eq!(readyz_until(&readyz, 200).await["status"], "ready");
    assert_eq!(logs.count("database unreachable"), 1);
    assert_eq!(logs.count("database reachable again"), 1);
    engine.shutdown().await;
}
