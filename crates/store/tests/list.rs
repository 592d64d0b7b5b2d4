//! Summaries and keyset pages (rules 10 and 11 of `GrantStore`'s contract), on PostgreSQL
//! (`#[sqlx::test]`, from `DATABASE_URL`) and SQLite (in memory): filters alone and combined,
//! pages that cover every grant exactly once while grants are inserted, rows without a summary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_store::*;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

fn summary(kind: &str, access: &[&str], wallet: Option<&str>) -> GrantSummary {
    GrantSummary {
        state_kind: Some(kind.into()),
        access_types: access.iter().map(|a| (*a).to_owned()).collect(),
        wallet_address: wallet.map(str::to_owned),
        last_error: None,
    }
}

async fn create<S: GrantStore>(store: &S, at: DateTime<Utc>, summary: GrantSummary) -> GrantId {
    let id = GrantId::new_random();
    let created = store
        .create(
            NewGrant {
                id,
                idempotency_key: None,
                state: json!({"n": 1}).to_string(),
                event: json!({"event": "request"}).to_string(),
                next_wake_at: None,
                lease: None,
                summary,
                change_summary: None,
            },
            at,
        )
        .await
        .unwrap();
    assert!(created.inserted);
    id
}

/// Every page of `filter` with `limit`, following the cursors; the ids in order.
async fn all_pages<S: GrantStore>(store: &S, filter: &ListFilter, limit: u32) -> Vec<GrantId> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_page(filter, after, limit).await.unwrap();
        assert!(page.grants.len() <= limit as usize);
        ids.extend(page.grants.iter().map(|g| g.id));
        match page.next {
            Some(next) => {
                assert_eq!(
                    page.grants.len(),
                    limit as usize,
                    "only a full page has a next"
                );
                after = Some(next);
            }
            None => return ids,
        }
    }
}

mod scenarios {
    use super::*;

    pub async fn summaries_are_written_with_their_state<S: GrantStore>(store: S) {
        let alice = "https://wallet.example/alice";
        let id = create(
            &store,
            t0(),
            summary("Requested", &["outgoing-payment", "quote"], Some(alice)),
        )
        .await;
        let read = store.get(id).await.unwrap().unwrap();
        assert_eq!(
            read.summary,
            summary("Requested", &["outgoing-payment", "quote"], Some(alice))
        );
        // A transition replaces the summary as given, errors included.
        let failed = GrantSummary {
            last_error: Some("the AS refused: invalid_request".into()),
            ..summary("Failed", &["outgoing-payment"], Some(alice))
        };
        let write = StateWrite {
            id,
            expected_version: 1,
            fence: Fence::Unleased,
            state: json!({"n": 2}).to_string(),
            event: json!({"event": "refused"}).to_string(),
            at: t0(),
            next_wake_at: None,
            summary: failed.clone(),
            change_summary: None,
        };
        assert!(store.commit(vec![write], t0()).await.unwrap()[0].is_ok());
        assert_eq!(store.get(id).await.unwrap().unwrap().summary, failed);
        // `write_summary` is fenced on the version and changes nothing else.
        let other = summary("Lost", &[], None);
        assert!(!store.write_summary(id, 1, &other).await.unwrap());
        assert!(
            !store
                .write_summary(GrantId::new_random(), 2, &other)
                .await
                .unwrap()
        );
        assert!(store.write_summary(id, 2, &other).await.unwrap());
        let read = store.get(id).await.unwrap().unwrap();
        assert_eq!(read.summary, other);
        assert_eq!(read.version, 2);
        let state: serde_json::Value = serde_json::from_str(&read.state).unwrap();
        assert_eq!(state, json!({"n": 2}));
        assert_eq!(store.history(id).await.unwrap().len(), 2);
    }

    pub async fn filters_select_and_combine<S: GrantStore>(store: S) {
        let alice = "https://wallet.example/alice";
        let bob = "https://wallet.example/bob";
        let specs = [
            summary("Issued", &["outgoing-payment"], Some(alice)),
            summary("AwaitingInteraction", &["outgoing-payment"], Some(bob)),
            summary("Issued", &["incoming-payment"], Some(bob)),
            summary("Canceled", &["quote"], None),
            summary("Issued", &["outgoing-payment", "quote"], Some(alice)),
            GrantSummary::default(), // a row from before summaries
        ];
        let mut ids = Vec::new();
        for (i, s) in specs.into_iter().enumerate() {
            ids.push(create(&store, t0() + ms(i as i64), s).await);
        }
        // Newest first.
        let pick = |which: &[usize]| which.iter().rev().map(|&i| ids[i]).collect::<Vec<_>>();
        let list = |filter: ListFilter| {
            let store = store.clone();
            async move { all_pages(&store, &filter, 2).await }
        };
        assert_eq!(list(ListFilter::default()).await, pick(&[0, 1, 2, 3, 4, 5]));
        let state = |k: &str| ListFilter {
            state_kind: Some(k.into()),
            ..ListFilter::default()
        };
        assert_eq!(list(state("Issued")).await, pick(&[0, 2, 4]));
        assert_eq!(list(state("AwaitingInteraction")).await, pick(&[1]));
        assert!(list(state("Lost")).await.is_empty());
        let wallet = |w: &str| ListFilter {
            wallet_address: Some(w.into()),
            ..ListFilter::default()
        };
        assert_eq!(list(wallet(alice)).await, pick(&[0, 4]));
        assert_eq!(list(wallet(bob)).await, pick(&[1, 2]));
        let access = |a: &str| ListFilter {
            access_type: Some(a.into()),
            ..ListFilter::default()
        };
        assert_eq!(list(access("outgoing-payment")).await, pick(&[0, 1, 4]));
        assert_eq!(list(access("quote")).await, pick(&[3, 4]));
        assert_eq!(list(access("incoming-payment")).await, pick(&[2]));
        let range = ListFilter {
            created_after: Some(t0() + ms(1)),
            created_before: Some(t0() + ms(4)),
            ..ListFilter::default()
        };
        assert_eq!(list(range).await, pick(&[1, 2, 3]));
        let combined = ListFilter {
            state_kind: Some("Issued".into()),
            wallet_address: Some(bob.into()),
            access_type: Some("incoming-payment".into()),
            created_after: Some(t0()),
            created_before: Some(t0() + ms(10)),
        };
        assert_eq!(list(combined).await, pick(&[2]));
        // Limits outside 1..=MAX_PAGE are brought into it.
        assert_eq!(
            store
                .list_page(&ListFilter::default(), None, 0)
                .await
                .unwrap()
                .grants
                .len(),
            1
        );
        assert_eq!(
            store
                .list_page(&ListFilter::default(), None, u32::MAX)
                .await
                .unwrap()
                .grants
                .len(),
            6
        );
    }

    pub async fn pages_cover_every_grant_once_while_grants_are_inserted<S: GrantStore>(store: S) {
        // 150 grants, created three at a time at the same instant: the id breaks the ties.
        let mut before = HashSet::new();
        for i in 0..150 {
            before.insert(create(&store, t0() + ms(i / 3), summary("Issued", &[], None)).await);
        }
        let inserter = {
            let store = store.clone();
            tokio::spawn(async move {
                let mut inserted = HashSet::new();
                for i in 0..60 {
                    inserted.insert(
                        create(
                            &store,
                            t0() + TimeDelta::hours(1) + ms(i),
                            summary("Issued", &[], None),
                        )
                        .await,
                    );
                    tokio::task::yield_now().await;
                }
                inserted
            })
        };
        let mut seen = Vec::new();
        let mut last: Option<(DateTime<Utc>, GrantId)> = None;
        let mut after = None;
        loop {
            let page = store
                .list_page(&ListFilter::default(), after, 7)
                .await
                .unwrap();
            for g in &page.grants {
                let key = (g.created_at, g.id);
                if let Some(prev) = last {
                    assert!(key < prev, "newest first, strictly: {key:?} after {prev:?}");
                }
                last = Some(key);
                seen.push(g.id);
            }
            tokio::task::yield_now().await;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let inserted = inserter.await.unwrap();
        let unique: HashSet<_> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "no grant twice");
        assert!(
            before.is_subset(&unique),
            "every grant that existed is listed"
        );
        assert!(
            unique
                .iter()
                .all(|id| before.contains(id) || inserted.contains(id)),
            "nothing else"
        );
        // Afterwards, a full walk sees all of them, each once.
        let everything = all_pages(&store, &ListFilter::default(), 50).await;
        assert_eq!(everything.len(), 210);
        assert_eq!(
            everything.iter().copied().collect::<HashSet<_>>().len(),
            210
        );
    }
}

macro_rules! per_backend {
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
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
                    super::scenarios::$name(store).await;
                }
            )*
        }
    };
}

per_backend!(
    summaries_are_written_with_their_state,
    filters_select_and_combine,
    pages_cover_every_grant_once_while_grants_are_inserted,
);
