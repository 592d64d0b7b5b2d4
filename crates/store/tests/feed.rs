//! The change feed's contract (points 12 and 13 of `GrantStore`'s docs) on PostgreSQL and SQLite,
//! and on PostgreSQL the hazard it exists for: a transaction that took a smaller `seq` but
//! commits after one with a larger `seq` must not be skipped by a reader.
//!
//! PostgreSQL's feed is held back while any writing transaction older than a change is still
//! running anywhere in the cluster (other tests share it), so readers here read until the feed
//! stops holding changes back, as a real consumer does, instead of asserting on one read.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_store::*;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// Every change after `after`, read in pages of `page` until none is held back (bounded).
async fn read_all<S: GrantStore>(
    store: &S,
    mut after: Option<FeedPosition>,
    page: u32,
) -> Vec<FeedRecord> {
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = store.changes_after(after, page).await.unwrap();
        if let Some(last) = got.changes.last() {
            after = Some(last.position);
        }
        let empty = got.changes.is_empty();
        all.extend(got.changes);
        if empty && !got.held_back {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed held changes back for a minute"
        );
        if empty {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn create<S: GrantStore>(store: &S, n: u32) -> GrantId {
    let id = GrantId::new_random();
    store
        .create(
            NewGrant {
                id,
                idempotency_key: None,
                state: json!({"state": "requested"}).to_string(),
                event: json!({"event": "request", "secret": "NONCE"}).to_string(),
                next_wake_at: Some(t0()),
                lease: None,
                summary: GrantSummary::default(),
                change_summary: Some(format!("created {n}")),
            },
            t0(),
        )
        .await
        .unwrap();
    id
}

async fn step<S: GrantStore>(store: &S, id: GrantId, version: i64, note: &str) {
    let written = store
        .commit(
            vec![StateWrite {
                id,
                expected_version: version,
                fence: Fence::Unleased,
                state: json!({"state": note}).to_string(),
                event: json!({"event": note}).to_string(),
                at: t0() + secs(version),
                next_wake_at: Some(t0()),
                summary: GrantSummary::default(),
                change_summary: Some(note.to_owned()),
            }],
            t0(),
        )
        .await
        .unwrap();
    assert!(written[0].is_ok(), "{written:?}");
}

mod scenarios {
    use super::*;

    pub async fn the_feed_hands_out_every_change_once_in_order<S: GrantStore>(store: S) {
        assert_eq!(store.feed_head().await.unwrap(), None);
        let a = create(&store, 1).await;
        let b = create(&store, 2).await;
        step(&store, a, 1, "a2").await;
        step(&store, b, 1, "b2").await;
        step(&store, a, 2, "a3").await;

        let all = read_all(&store, None, 100).await;
        let seen: Vec<_> = all
            .iter()
            .map(|c| (c.grant, c.version, c.summary.clone().unwrap()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (a, 1, "created 1".to_owned()),
                (b, 1, "created 2".to_owned()),
                (a, 2, "a2".to_owned()),
                (b, 2, "b2".to_owned()),
                (a, 3, "a3".to_owned()),
            ],
            "one store, one writer at a time: the feed is the commit order"
        );
        assert_eq!(all[2].at, t0() + secs(1), "the event's time");
        assert!(all.windows(2).all(|w| w[0].position < w[1].position));
        // Pages of two cover the same changes exactly once.
        let paged = read_all(&store, None, 2).await;
        assert_eq!(paged, all);
        // Resuming after any position gives exactly the rest.
        for (i, c) in all.iter().enumerate() {
            assert_eq!(read_all(&store, Some(c.position), 3).await, all[i + 1..]);
        }
        // Positions survive being stored as text.
        let stored = all[1].position.to_string();
        assert_eq!(
            read_all(&store, Some(stored.parse().unwrap()), 100).await,
            all[2..]
        );
        // The head is the last change readable now (on PostgreSQL an older transaction running
        // elsewhere in the cluster may hold it back for a moment).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while store.feed_head().await.unwrap() != Some(all[4].position) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "head never caught up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A refused write adds nothing; an idempotent re-create adds nothing.
        let refused = store
            .commit(
                vec![StateWrite {
                    id: a,
                    expected_version: 1,
                    fence: Fence::Unleased,
                    state: "{}".into(),
                    event: "{}".into(),
                    at: t0(),
                    next_wake_at: None,
                    summary: GrantSummary::default(),
                    change_summary: Some("stale".into()),
                }],
                t0(),
            )
            .await
            .unwrap();
        assert!(refused[0].is_err());
        assert!(
            read_all(&store, Some(all[4].position), 100)
                .await
                .is_empty()
        );
        // The feed never hands out the event text (it holds sealed secrets).
        assert!(!format!("{all:?}").contains("NONCE"));
    }

    pub async fn a_feed_signal_fires_after_a_commit<S: GrantStore>(store: S) {
        let mut signal = store.feed_signal();
        // PostgreSQL's LISTEN task wakes everyone once when it (re)connects: drain that.
        while signal.wait(Duration::from_millis(300)).await {}
        let id = create(&store, 1).await;
        assert!(
            signal.wait(Duration::from_secs(30)).await,
            "woken by create"
        );
        while signal.wait(Duration::from_millis(100)).await {}
        step(&store, id, 1, "two").await;
        assert!(
            signal.wait(Duration::from_secs(30)).await,
            "woken by commit"
        );
    }

    pub async fn one_consumer_per_name_fenced_on_its_token<S: GrantStore>(store: S) {
        let a = create(&store, 1).await;
        step(&store, a, 1, "a2").await;
        let all = read_all(&store, None, 100).await;

        let first = store
            .claim_consumer("webhook", "w1", t0(), t0() + secs(30))
            .await
            .unwrap()
            .expect("a new consumer is free");
        assert_eq!(
            first.position, None,
            "a new consumer starts at the feed's start"
        );
        assert!(
            store
                .claim_consumer("webhook", "w2", t0() + secs(1), t0() + secs(31))
                .await
                .unwrap()
                .is_none(),
            "a live lease excludes a second process"
        );
        assert!(
            store
                .claim_consumer("other", "w2", t0(), t0() + secs(30))
                .await
                .unwrap()
                .is_some(),
            "names are independent"
        );
        let first = store
            .advance_consumer(
                &first,
                Some(all[0].position),
                t0() + secs(2),
                t0() + secs(32),
            )
            .await
            .unwrap();
        // w1 stops renewing (it was killed); its lease lapses and w2 takes over where it was.
        let second = store
            .claim_consumer("webhook", "w2", t0() + secs(33), t0() + secs(63))
            .await
            .unwrap()
            .expect("a lapsed lease is taken over");
        assert_eq!(second.position, Some(all[0].position));
        assert!(second.token > first.token);
        assert!(matches!(
            store
                .advance_consumer(&first, Some(all[1].position), t0() + secs(34), t0() + secs(64))
                .await,
            Err(StoreError::ConsumerLeaseLost(name)) if name == "webhook"
        ));
        assert!(matches!(
            store.release_consumer(&first).await,
            Err(StoreError::ConsumerLeaseLost(_))
        ));
        let second = store
            .advance_consumer(
                &second,
                Some(all[1].position),
                t0() + secs(35),
                t0() + secs(65),
            )
            .await
            .unwrap();
        store.release_consumer(&second).await.unwrap();
        let third = store
            .claim_consumer("webhook", "w3", t0() + secs(36), t0() + secs(66))
            .await
            .unwrap()
            .expect("a released consumer is free at once");
        assert_eq!(third.position, Some(all[1].position));
    }
}

macro_rules! feed_contract {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            use grantflow_store::PgStore;
            $(
                #[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
                async fn $name(pool: sqlx::PgPool) {
                    super::scenarios::$name(PgStore::from_pool(pool)).await;
                }
            )*
        }
        mod sqlite {
            use grantflow_store::SqliteStore;
            $(
                #[tokio::test]
                async fn $name() {
                    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
                    super::scenarios::$name(store).await;
                }
            )*
        }
    };
}

feed_contract!(
    the_feed_hands_out_every_change_once_in_order,
    a_feed_signal_fires_after_a_commit,
    one_consumer_per_name_fenced_on_its_token,
);

/// Inserts a grant and its first event inside `tx`, returning the event's `seq`.
async fn insert_in(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, id: GrantId) -> i64 {
    sqlx::query(
        "INSERT INTO grantflow_grants (id, state, version, created_at, updated_at)
         VALUES ($1, '{}'::jsonb, 1, now(), now())",
    )
    .bind(id.0)
    .execute(&mut **tx)
    .await
    .unwrap();
    sqlx::query_scalar(
        "INSERT INTO grantflow_grant_events (grant_id, version, event, at)
         VALUES ($1, 1, '{}'::jsonb, now()) RETURNING seq",
    )
    .bind(id.0)
    .fetch_one(&mut **tx)
    .await
    .unwrap()
}

/// The hazard: T1 takes the smaller `seq`, T2 the larger, T2 commits first. A reader reading
/// `seq > cursor` would hand out T2's change, store its `seq`, and never see T1's.
#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn a_later_seq_committed_first_does_not_skip_the_earlier_one(pool: sqlx::PgPool) {
    let store = PgStore::from_pool(pool.clone());
    let (first, second) = (GrantId::new_random(), GrantId::new_random());
    let mut t1 = pool.begin().await.unwrap();
    let seq1 = insert_in(&mut t1, first).await;
    let mut t2 = pool.begin().await.unwrap();
    let seq2 = insert_in(&mut t2, second).await;
    assert!(seq1 < seq2);
    t2.commit().await.unwrap();

    // T2 is committed but T1 still runs: T2's change must not be handed out yet.
    let page = store.changes_after(None, 100).await.unwrap();
    assert!(
        page.changes.iter().all(|c| c.grant != second),
        "a change was handed out while an older transaction could still commit before it"
    );
    assert!(page.held_back, "the reader is told to read again soon");
    let cursor = page.changes.last().map(|c| c.position);

    t1.commit().await.unwrap();
    let rest = read_all(&store, cursor, 100).await;
    let grants: Vec<_> = rest.iter().map(|c| c.grant).collect();
    assert!(grants.contains(&first), "the earlier seq was skipped");
    assert!(grants.contains(&second));
    assert_eq!(rest.len(), 2, "each change once: {rest:?}");
}

/// A reader racing many concurrent writers (batches on several connections) sees every event
/// exactly once, each grant's versions in order, whatever the commit interleaving.
#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn a_reader_racing_concurrent_writers_misses_nothing(pool: sqlx::PgPool) {
    let store = PgStore::from_pool(pool);
    let writers = 4;
    let steps = 15;
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = None;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            while seen.len() < writers * (steps as usize) {
                assert!(tokio::time::Instant::now() < deadline, "reader starved");
                let page = store.changes_after(after, 7).await.unwrap();
                if let Some(last) = page.changes.last() {
                    after = Some(last.position);
                }
                if page.changes.is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                seen.extend(page.changes);
            }
            seen
        })
    };
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = create(&store, w as u32).await;
            for v in 1..steps {
                step(&store, id, v, &format!("{w}:{v}")).await;
            }
            id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let seen = reader.await.unwrap();
    assert_eq!(seen.len(), writers * steps as usize);
    for id in ids {
        let versions: Vec<i64> = seen
            .iter()
            .filter(|c| c.grant == id)
            .map(|c| c.version)
            .collect();
        assert_eq!(versions, (1..=steps).collect::<Vec<_>>(), "grant {id}");
    }
}
