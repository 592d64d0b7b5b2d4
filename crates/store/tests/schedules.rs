//! The schedule rules of the store contract (point 17 of `GrantStore`'s docs), run against
//! PostgreSQL (`#[sqlx::test]`, a fresh migrated database per test) and SQLite (in memory):
//! idempotency, claims and fenced writes as for grants, and schedule events in the same change
//! feed as grants' and payments'.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_store::*;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn new_schedule(key: &str, wake: Option<DateTime<Utc>>) -> NewSchedule {
    NewSchedule {
        id: ScheduleId::new_random(),
        idempotency_key: key.into(),
        state: json!({"state": "waiting", "key": key}).to_string(),
        event: json!({"event": "order"}).to_string(),
        next_wake_at: wake,
        state_kind: "Waiting".into(),
        change_summary: Some(json!({"schedule": {"kind": "waiting"}}).to_string()),
    }
}

fn claim_req(owner: &str, now: DateTime<Utc>) -> ClaimRequest {
    ClaimRequest {
        owner: owner.into(),
        now,
        lease_until: now + secs(30),
        limit: 10,
    }
}

fn write(c: &ClaimedSchedule, then: AfterWrite) -> ScheduleWrite {
    ScheduleWrite {
        id: c.schedule.id,
        expected_version: c.schedule.version,
        fence: Fence::Lease {
            token: c.lease.token,
            then,
        },
        state: json!({"state": "paying", "by": c.lease.owner}).to_string(),
        event: json!({"event": "wake"}).to_string(),
        at: t0(),
        next_wake_at: Some(t0() + secs(60)),
        state_kind: "Paying".into(),
        change_summary: Some(json!({"schedule": {"kind": "paying"}}).to_string()),
    }
}

mod scenarios {
    use super::*;

    pub async fn an_idempotency_key_makes_one_schedule(store: impl GrantStore) {
        let first = store
            .create_schedule(new_schedule("rent", Some(t0())), t0())
            .await
            .unwrap();
        assert!(first.inserted);
        let again = store
            .create_schedule(new_schedule("rent", None), t0() + secs(5))
            .await
            .unwrap();
        assert!(!again.inserted);
        assert_eq!(again.schedule.id, first.schedule.id);
        let state = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(state(&again.schedule.state), state(&first.schedule.state));
        let other = store
            .create_schedule(new_schedule("allowance", None), t0())
            .await
            .unwrap();
        assert!(other.inserted);
        let listed: Vec<_> = store
            .list_schedules(10)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            store
                .schedule_history(first.schedule.id)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    pub async fn claims_are_exclusive_and_writes_fenced(store: impl GrantStore) {
        let s = store
            .create_schedule(new_schedule("k", Some(t0())), t0())
            .await
            .unwrap()
            .schedule;
        assert_eq!(store.next_schedule_wake_at().await.unwrap(), Some(t0()));
        assert!(
            store
                .claim_due_schedules(claim_req("a", t0() - secs(1)))
                .await
                .unwrap()
                .is_empty()
        );
        let a = store
            .claim_due_schedules(claim_req("a", t0()))
            .await
            .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].due_at, Some(t0()));
        // Leased: nobody else claims it, due or by id.
        assert!(
            store
                .claim_due_schedules(claim_req("b", t0() + secs(1)))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .claim_schedule(s.id, "b", t0() + secs(1), t0() + secs(31))
                .await
                .unwrap()
                .is_none()
        );
        // The lease lapses; b takes it over, and a's write is refused.
        let b = store
            .claim_schedule(s.id, "b", t0() + secs(31), t0() + secs(61))
            .await
            .unwrap()
            .unwrap();
        assert!(b.lease.token > a[0].lease.token);
        let refused = store
            .commit_schedule(write(&a[0], AfterWrite::Release), t0() + secs(32))
            .await
            .unwrap();
        assert!(refused.is_err(), "{refused:?}");
        let v = store
            .commit_schedule(write(&b, AfterWrite::Release), t0() + secs(32))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v, 2);
        let row = store.get_schedule(s.id).await.unwrap().unwrap();
        assert_eq!((row.version, row.state_kind.as_str()), (2, "Paying"));
        assert!(row.lease.is_none());
        assert_eq!(row.next_wake_at, Some(t0() + secs(60)));
        // A claim released without a write sleeps until the wake-up it is given.
        let c = store
            .claim_schedule(s.id, "c", t0() + secs(40), t0() + secs(70))
            .await
            .unwrap()
            .unwrap();
        store
            .release_schedule(&c.lease, c.due_at, t0() + secs(41))
            .await
            .unwrap();
        let row = store.get_schedule(s.id).await.unwrap().unwrap();
        assert_eq!(row.next_wake_at, Some(t0() + secs(60)));
        assert!(matches!(
            store.release_schedule(&c.lease, None, t0()).await,
            Err(StoreError::ScheduleLeaseLost(_))
        ));
        let events = store.schedule_history(s.id).await.unwrap();
        assert_eq!(events.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);
    }

    pub async fn schedule_events_join_the_change_feed(store: impl GrantStore) {
        let s = store
            .create_schedule(new_schedule("k", Some(t0())), t0())
            .await
            .unwrap()
            .schedule;
        let c = store
            .claim_schedule(s.id, "w", t0(), t0() + secs(30))
            .await
            .unwrap()
            .unwrap();
        store
            .commit_schedule(write(&c, AfterWrite::Release), t0())
            .await
            .unwrap()
            .unwrap();
        let page = store.changes_after(None, 100).await.unwrap();
        let seen: Vec<_> = page
            .changes
            .iter()
            .map(|c| (c.grant.0, c.version))
            .collect();
        assert_eq!(seen, [(s.id.0, 1), (s.id.0, 2)]);
        assert_eq!(
            page.changes[1].summary.as_deref(),
            Some(r#"{"schedule":{"kind":"paying"}}"#)
        );
        assert_eq!(
            store.feed_head().await.unwrap(),
            page.changes.last().map(|c| c.position)
        );
    }
}

macro_rules! schedule_contract {
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

schedule_contract!(
    an_idempotency_key_makes_one_schedule,
    claims_are_exclusive_and_writes_fenced,
    schedule_events_join_the_change_feed,
);
