//! The payment rules of the store contract (points 15 and 16 of `GrantStore`'s docs), run
//! against PostgreSQL (`#[sqlx::test]`, a fresh migrated database per test) and SQLite (in
//! memory): idempotency per grant, claims and fenced writes as for grants, the ledger written with
//! its state, and payment events in the same change feed as grants'.

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

fn new_payment(grant: GrantId, key: &str, wake: Option<DateTime<Utc>>) -> NewPayment {
    NewPayment {
        id: PaymentId::new_random(),
        grant,
        idempotency_key: key.into(),
        state: json!({"state": "quoting", "key": key}).to_string(),
        event: json!({"event": "order"}).to_string(),
        next_wake_at: wake,
        lease: None,
        state_kind: "Quoting".into(),
        ledger: None,
        change_summary: Some(json!({"payment": {"kind": "quoting"}}).to_string()),
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

fn write(c: &ClaimedPayment, then: AfterWrite, ledger: Option<LedgerRow>) -> PaymentWrite {
    PaymentWrite {
        id: c.payment.id,
        expected_version: c.payment.version,
        fence: Fence::Lease {
            token: c.lease.token,
            then,
        },
        state: json!({"state": "sending", "by": c.lease.owner}).to_string(),
        event: json!({"event": "quoted"}).to_string(),
        at: t0(),
        next_wake_at: Some(t0() + secs(60)),
        state_kind: "Sending".into(),
        ledger,
        change_summary: Some(json!({"payment": {"kind": "sending"}}).to_string()),
    }
}

/// Every change after `after`, read until none is held back (on a shared PostgreSQL server,
/// another database's running transaction holds the feed back for a moment).
async fn read_all<S: GrantStore>(store: &S, mut after: Option<FeedPosition>) -> Vec<FeedRecord> {
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got = store.changes_after(after, 100).await.unwrap();
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
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

fn row(at: DateTime<Utc>, debit: u64) -> LedgerRow {
    LedgerRow {
        at,
        entry: json!({"debit": debit}).to_string(),
    }
}

mod scenarios {
    use super::*;

    pub async fn an_idempotency_key_is_unique_per_grant(store: impl GrantStore) {
        let (g1, g2) = (GrantId::new_random(), GrantId::new_random());
        let first = store
            .create_payment(new_payment(g1, "rent-2026-12", Some(t0())), t0())
            .await
            .unwrap();
        assert!(first.inserted);
        let again = store
            .create_payment(new_payment(g1, "rent-2026-12", Some(t0())), t0())
            .await
            .unwrap();
        assert!(!again.inserted);
        assert_eq!(again.payment.id, first.payment.id);
        assert_eq!(
            store.payment_history(first.payment.id).await.unwrap().len(),
            1
        );
        // The same key under another grant is another payment.
        let other = store
            .create_payment(new_payment(g2, "rent-2026-12", Some(t0())), t0())
            .await
            .unwrap();
        assert!(other.inserted);
        assert_ne!(other.payment.id, first.payment.id);
        let by_key = store
            .get_payment_by_key(g2, "rent-2026-12")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_key.id, other.payment.id);
        assert_eq!(by_key.grant, g2);
        assert_eq!(by_key.state_kind, "Quoting");
        let listed: Vec<_> = store
            .list_payments(g1, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(listed, [first.payment.id]);
    }

    pub async fn claims_are_exclusive_and_writes_fenced(store: impl GrantStore) {
        let grant = GrantId::new_random();
        let p = store
            .create_payment(new_payment(grant, "k", Some(t0())), t0())
            .await
            .unwrap()
            .payment;
        assert_eq!(store.next_payment_wake_at().await.unwrap(), Some(t0()));
        let a = store
            .claim_due_payments(claim_req("a", t0()))
            .await
            .unwrap();
        assert_eq!(a.len(), 1);
        assert!(
            store
                .claim_due_payments(claim_req("b", t0()))
                .await
                .unwrap()
                .is_empty(),
            "a live lease is not claimed twice"
        );
        // a's lease lapses; b takes the payment over and writes.
        let later = t0() + secs(31);
        let b = store
            .claim_due_payments(claim_req("b", later))
            .await
            .unwrap();
        assert_eq!(b.len(), 1);
        assert!(b[0].lease.token > a[0].lease.token);
        let stale = store
            .commit_payment(write(&a[0], AfterWrite::Release, None), later)
            .await
            .unwrap();
        assert_eq!(stale, Err(RefusedReason::LeaseLost));
        assert!(matches!(
            store.renew_payment(&a[0].lease, later + secs(30)).await,
            Err(StoreError::PaymentLeaseLost(id)) if id == p.id
        ));
        let keep = later + secs(30);
        let v = store
            .commit_payment(write(&b[0], AfterWrite::Keep { until: keep }, None), later)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v, 2);
        let read = store.get_payment(p.id).await.unwrap().unwrap();
        assert_eq!((read.version, read.next_wake_at), (2, Some(keep)));
        assert_eq!(read.state_kind, "Sending");
        // The holder releases; a claim of that one payment works only without a live lease.
        let lease = store.renew_payment(&b[0].lease, keep).await.unwrap();
        store
            .release_payment(&lease, Some(later + secs(5)), later)
            .await
            .unwrap();
        let one = store
            .claim_payment(p.id, "c", later, later + secs(30))
            .await
            .unwrap()
            .expect("an unleased payment is claimed");
        assert!(
            store
                .claim_payment(p.id, "d", later, later + secs(30))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(one.payment.version, 2);
        let history = store.payment_history(p.id).await.unwrap();
        assert_eq!(
            history.iter().map(|e| e.version).collect::<Vec<_>>(),
            [1, 2]
        );
    }

    pub async fn the_ledger_goes_with_its_state(store: impl GrantStore) {
        let grant = GrantId::new_random();
        let mut ids = Vec::new();
        for (i, key) in ["a", "b", "c"].iter().enumerate() {
            let mut new = new_payment(grant, key, None);
            new.ledger = Some(row(t0() + secs(3600 * i as i64), 100 + i as u64));
            ids.push(store.create_payment(new, t0()).await.unwrap().payment.id);
        }
        // Another grant's payment never counts.
        let mut other = new_payment(GrantId::new_random(), "a", None);
        other.ledger = Some(row(t0(), 999));
        store.create_payment(other, t0()).await.unwrap();
        let entries = |rows: Vec<LedgerRow>| {
            let mut e: Vec<_> = rows.into_iter().map(|r| r.entry).collect();
            e.sort();
            e
        };
        assert_eq!(
            entries(store.payment_ledger(grant, None, None).await.unwrap()),
            [r#"{"debit":100}"#, r#"{"debit":101}"#, r#"{"debit":102}"#]
        );
        // From a window's start, and without the payment asking.
        assert_eq!(
            entries(
                store
                    .payment_ledger(grant, Some(t0() + secs(3600)), Some(ids[2]))
                    .await
                    .unwrap()
            ),
            [r#"{"debit":101}"#]
        );
        // A write that removes the entry (proven absent) removes it with the state.
        let claimed = store
            .claim_payment(ids[0], "w", t0(), t0() + secs(30))
            .await
            .unwrap()
            .unwrap();
        store
            .commit_payment(write(&claimed, AfterWrite::Release, None), t0())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            entries(store.payment_ledger(grant, None, None).await.unwrap()),
            [r#"{"debit":101}"#, r#"{"debit":102}"#]
        );
        // A refused write changes nothing, the ledger included.
        let refused = store
            .commit_payment(
                write(&claimed, AfterWrite::Release, Some(row(t0(), 5))),
                t0(),
            )
            .await
            .unwrap();
        assert!(refused.is_err());
        assert_eq!(
            store.payment_ledger(grant, None, None).await.unwrap().len(),
            2
        );
    }

    pub async fn payment_events_join_the_change_feed(store: impl GrantStore) {
        let grant = store
            .create(
                NewGrant {
                    id: GrantId::new_random(),
                    idempotency_key: None,
                    state: json!({"state": "issued"}).to_string(),
                    event: json!({"event": "request"}).to_string(),
                    next_wake_at: None,
                    lease: None,
                    summary: GrantSummary::default(),
                    change_summary: Some(r#"{"grant":{}}"#.into()),
                },
                t0(),
            )
            .await
            .unwrap()
            .grant;
        let p = store
            .create_payment(new_payment(grant.id, "k", Some(t0())), t0())
            .await
            .unwrap()
            .payment;
        let c = store
            .claim_payment(p.id, "w", t0(), t0() + secs(30))
            .await
            .unwrap()
            .unwrap();
        store
            .commit_payment(write(&c, AfterWrite::Release, Some(row(t0(), 1))), t0())
            .await
            .unwrap()
            .unwrap();
        // A grant event after the payment's: the shared sequence keeps positions unique.
        let g2 = store
            .create(
                NewGrant {
                    id: GrantId::new_random(),
                    idempotency_key: None,
                    state: json!({"state": "requested"}).to_string(),
                    event: json!({"event": "request"}).to_string(),
                    next_wake_at: None,
                    lease: None,
                    summary: GrantSummary::default(),
                    change_summary: None,
                },
                t0(),
            )
            .await
            .unwrap()
            .grant;
        let changes = read_all(&store, None).await;
        let seen: Vec<_> = changes.iter().map(|c| (c.grant.0, c.version)).collect();
        assert_eq!(
            seen,
            [(grant.id.0, 1), (p.id.0, 1), (p.id.0, 2), (g2.id.0, 1)]
        );
        let positions: Vec<_> = changes.iter().map(|c| c.position).collect();
        let mut sorted = positions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(positions, sorted, "positions are unique and increasing");
        assert_eq!(
            changes[2].summary.as_deref(),
            Some(r#"{"payment":{"kind":"sending"}}"#)
        );
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while store.feed_head().await.unwrap() != positions.last().copied() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the head never reached the last change"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Resuming after the payment's first event hands out the rest once.
        assert_eq!(read_all(&store, Some(positions[1])).await.len(), 2);
    }
}

macro_rules! payment_contract {
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

payment_contract!(
    an_idempotency_key_is_unique_per_grant,
    claims_are_exclusive_and_writes_fenced,
    the_ledger_goes_with_its_state,
    payment_events_join_the_change_feed,
);
