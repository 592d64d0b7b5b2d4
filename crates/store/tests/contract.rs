//! The store contract (see `GrantStore`'s docs), run against PostgreSQL (`#[sqlx::test]`: a fresh
//! migrated database per test, from `DATABASE_URL`) and SQLite (in memory). Time is passed in, so
//! lease expiry is tested by moving `now`, not by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_store::*;
use serde_json::json;

/// Parses stored JSON text.
fn v(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

async fn new_grant<S: GrantStore>(
    store: &S,
    key: Option<&str>,
    wake: Option<DateTime<Utc>>,
) -> GrantRecord {
    let created = store
        .create(
            NewGrant {
                id: GrantId::new_random(),
                idempotency_key: key.map(str::to_owned),
                state: json!({"step": 1}).to_string(),
                event: json!({"event": "requested"}).to_string(),
                next_wake_at: wake,
                lease: None,
                summary: GrantSummary::default(),
                change_summary: None,
            },
            t0(),
        )
        .await
        .unwrap();
    assert!(created.inserted);
    created.grant
}

fn claim_req(owner: &str, now: DateTime<Utc>, limit: u32) -> ClaimRequest {
    ClaimRequest {
        owner: owner.into(),
        now,
        lease_until: now + secs(30),
        limit,
    }
}

fn leased_write(
    c: &Claimed,
    step: i64,
    then: AfterWrite,
    wake: Option<DateTime<Utc>>,
) -> StateWrite {
    StateWrite {
        id: c.grant.id,
        expected_version: c.grant.version,
        fence: Fence::Lease {
            token: c.lease.token,
            then,
        },
        state: json!({"step": step, "by": c.lease.owner}).to_string(),
        event: json!({"event": step}).to_string(),
        at: t0(),
        next_wake_at: wake,
        summary: GrantSummary::default(),
        change_summary: None,
    }
}

/// Claims up to `limit` due grants for `owner` at `now` (lease of 30 s).
async fn claim<S: GrantStore>(
    store: &S,
    owner: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> Vec<Claimed> {
    store.claim_due(claim_req(owner, now, limit)).await.unwrap()
}

/// The ids of a page of `GrantStore::list`, in its order.
async fn listed_ids<S: GrantStore>(store: &S, limit: u32, offset: u64) -> Vec<GrantId> {
    store
        .list(limit, offset)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect()
}

async fn commit_one<S: GrantStore>(store: &S, w: StateWrite, now: DateTime<Utc>) -> WriteResult {
    let mut r = store.commit(vec![w], now).await.unwrap();
    assert_eq!(r.len(), 1);
    r.remove(0)
}

mod scenarios {
    use super::*;

    pub async fn create_and_read<S: GrantStore>(store: S) {
        let g = new_grant(&store, Some("order-1"), Some(t0())).await;
        let read = store.get(g.id).await.unwrap().unwrap();
        assert_eq!(read.version, 1);
        assert_eq!(v(&read.state), json!({"step": 1}));
        assert_eq!(read.next_wake_at, Some(t0()));
        assert_eq!(read.created_at, t0());
        assert!(read.lease.is_none());
        let by_key = store
            .get_by_idempotency_key("order-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_key.id, g.id);
        let history = store.history(g.id).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].version, 1);
        assert_eq!(v(&history[0].event), json!({"event": "requested"}));
        assert!(store.get(GrantId::new_random()).await.unwrap().is_none());
        let later = store
            .create(
                NewGrant {
                    id: GrantId::new_random(),
                    idempotency_key: None,
                    state: json!({"step": 1}).to_string(),
                    event: json!({"event": "requested"}).to_string(),
                    next_wake_at: None,
                    lease: None,
                    summary: GrantSummary::default(),
                    change_summary: None,
                },
                t0() + secs(1),
            )
            .await
            .unwrap();
        let listed = listed_ids(&store, 10, 0).await;
        assert_eq!(listed, vec![later.grant.id, g.id], "newest first");
        let page = listed_ids(&store, 1, 1).await;
        assert_eq!(page, vec![g.id]);
        assert!(
            store
                .get_by_idempotency_key("nope")
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn idempotency_key_gives_the_same_grant<S: GrantStore>(store: S) {
        let first = new_grant(&store, Some("order-7"), Some(t0())).await;
        let again = store
            .create(
                NewGrant {
                    id: GrantId::new_random(),
                    idempotency_key: Some("order-7".into()),
                    state: json!({"step": 99}).to_string(),
                    event: json!({"event": "requested again"}).to_string(),
                    next_wake_at: Some(t0()),
                    lease: None,
                    summary: GrantSummary::default(),
                    change_summary: None,
                },
                t0() + secs(5),
            )
            .await
            .unwrap();
        assert!(!again.inserted);
        assert_eq!(again.grant.id, first.id);
        assert_eq!(v(&again.grant.state), json!({"step": 1}));
        assert_eq!(store.history(first.id).await.unwrap().len(), 1);

        // Racing creates with one key: exactly one inserts, all see the same grant.
        let make = |n: i64| NewGrant {
            id: GrantId::new_random(),
            idempotency_key: Some("order-race".into()),
            state: json!({"step": n}).to_string(),
            event: json!({"event": n}).to_string(),
            next_wake_at: None,
            lease: None,
            summary: GrantSummary::default(),
            change_summary: None,
        };
        let (a, b, c) = tokio::join!(
            store.create(make(1), t0()),
            store.create(make(2), t0()),
            store.create(make(3), t0())
        );
        let all = [a.unwrap(), b.unwrap(), c.unwrap()];
        assert_eq!(all.iter().filter(|c| c.inserted).count(), 1);
        assert!(all.iter().all(|c| c.grant.id == all[0].grant.id));

        // Grants without a key never collide.
        new_grant(&store, None, None).await;
        new_grant(&store, None, None).await;
    }

    pub async fn claim_takes_only_due_grants<S: GrantStore>(store: S) {
        let due = new_grant(&store, None, Some(t0() - secs(1))).await;
        let later = new_grant(&store, None, Some(t0() + secs(3600))).await;
        let _final = new_grant(&store, None, None).await;
        assert_eq!(store.next_wake_at().await.unwrap(), Some(t0() - secs(1)));

        let claimed = claim(&store, "w1", t0(), 10).await;
        assert_eq!(claimed.len(), 1);
        let c = &claimed[0];
        assert_eq!(c.grant.id, due.id);
        assert_eq!(c.due_at, Some(t0() - secs(1)));
        assert_eq!(c.lease.owner, "w1");
        assert_eq!(c.lease.until, t0() + secs(30));
        assert_eq!(c.grant.next_wake_at, Some(t0() + secs(30)));
        assert_eq!(
            c.grant.lease,
            Some(LeaseInfo {
                owner: "w1".into(),
                until: t0() + secs(30)
            })
        );
        // Nothing else is due, and the leased one is not claimable again while the lease lives.
        assert!(claim(&store, "w2", t0() + secs(29), 10).await.is_empty());
        // The later one becomes due at its time (the leased one's lease lapsed by then too).
        let at_later = claim(&store, "w2", t0() + secs(3600), 10).await;
        let mut ids: Vec<GrantId> = at_later.iter().map(|c| c.grant.id).collect();
        ids.sort();
        let mut want = vec![due.id, later.id];
        want.sort();
        assert_eq!(ids, want);
        assert_eq!(
            store.next_wake_at().await.unwrap(),
            Some(t0() + secs(3630)),
            "leased grants wake at their lease's end; final ones never"
        );
    }

    pub async fn concurrent_claims_are_disjoint<S: GrantStore>(store: S) {
        for i in 0..60 {
            new_grant(&store, None, Some(t0() - secs(i))).await;
        }
        let (a, b, c) = tokio::join!(
            store.claim_due(claim_req("a", t0(), 25)),
            store.claim_due(claim_req("b", t0(), 25)),
            store.claim_due(claim_req("c", t0(), 25))
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        let mut ids: Vec<GrantId> = a.iter().chain(&b).chain(&c).map(|c| c.grant.id).collect();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "a grant was claimed twice");
        // SKIP LOCKED may leave some for the next round, but nothing is lost.
        let rest = claim(&store, "d", t0(), 100).await;
        assert_eq!(total + rest.len(), 60);
        assert!(a.iter().all(|c| c.lease.owner == "a"));
        // Earliest due first.
        let first = claim(&store, "e", t0() + secs(31), 1).await;
        assert_eq!(first.len(), 1);
    }

    pub async fn in_flight_then_outcome_appends_events<S: GrantStore>(store: S) {
        let g = new_grant(&store, None, Some(t0())).await;
        let c = claim(&store, "w1", t0(), 10).await.remove(0);
        // "In flight" write before the call: keep the lease (extended).
        let in_flight = commit_one(
            &store,
            leased_write(
                &c,
                2,
                AfterWrite::Keep {
                    until: t0() + secs(60),
                },
                Some(t0() + secs(5)),
            ),
            t0() + secs(1),
        )
        .await
        .unwrap();
        assert_eq!(in_flight.version, 2);
        let read = store.get(g.id).await.unwrap().unwrap();
        assert_eq!(read.lease.as_ref().map(|l| l.until), Some(t0() + secs(60)));
        assert_eq!(
            read.next_wake_at,
            Some(t0() + secs(60)),
            "leased: wakes when the lease ends"
        );
        // Outcome after the call: release, final.
        let c2 = Claimed {
            grant: read,
            ..c.clone()
        };
        let done = commit_one(
            &store,
            leased_write(&c2, 3, AfterWrite::Release, None),
            t0() + secs(2),
        )
        .await
        .unwrap();
        assert_eq!(done.version, 3);
        let read = store.get(g.id).await.unwrap().unwrap();
        assert_eq!(read.version, 3);
        assert_eq!(v(&read.state), json!({"step": 3, "by": "w1"}));
        assert!(read.lease.is_none());
        assert_eq!(read.next_wake_at, None);
        assert_eq!(read.updated_at, t0() + secs(2));
        let versions: Vec<i64> = store
            .history(g.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, vec![1, 2, 3]);
        let ats: Vec<_> = store
            .history(g.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.at)
            .collect();
        assert_eq!(
            ats,
            vec![t0(), t0(), t0()],
            "an event's time is its transition's, not the commit's"
        );
        let seqs: Vec<i64> = store
            .history(g.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        // Final: never claimed again.
        assert!(
            claim(&store, "w2", t0() + secs(100_000), 10)
                .await
                .is_empty()
        );
        // The lease is gone: a late write with the old token is refused.
        let late = commit_one(
            &store,
            leased_write(&c2, 4, AfterWrite::Release, None),
            t0() + secs(3),
        )
        .await;
        assert_eq!(late.unwrap_err().reason, RefusedReason::LeaseLost);
    }

    pub async fn stale_worker_cannot_overwrite_newer_state<S: GrantStore>(store: S) {
        let g = new_grant(&store, None, Some(t0())).await;
        // Worker A claims, commits "in flight", then stalls past its lease.
        let a = claim(&store, "A", t0(), 10).await.remove(0);
        commit_one(
            &store,
            leased_write(
                &a,
                2,
                AfterWrite::Keep {
                    until: t0() + secs(30),
                },
                Some(t0()),
            ),
            t0(),
        )
        .await
        .unwrap();
        // B cannot take it while A's lease lives.
        assert!(claim(&store, "B", t0() + secs(29), 10).await.is_empty());
        assert!(
            store
                .claim_grant(g.id, "B", t0() + secs(29), t0() + secs(59))
                .await
                .unwrap()
                .is_none()
        );
        // A's lease lapses; B claims with a newer token and writes.
        let b = claim(&store, "B", t0() + secs(31), 10).await.remove(0);
        assert_eq!(b.grant.id, g.id);
        assert!(b.lease.token > a.lease.token);
        assert_eq!(b.grant.version, 2);
        assert_eq!(
            b.due_at,
            Some(t0() + secs(30)),
            "due because A's lease lapsed"
        );
        commit_one(
            &store,
            leased_write(&b, 3, AfterWrite::Release, Some(t0() + secs(600))),
            t0() + secs(32),
        )
        .await
        .unwrap();
        // A wakes up and tries to write its outcome: refused, whatever version it claims.
        let mut stale = leased_write(&a, 99, AfterWrite::Release, None);
        stale.expected_version = 2;
        assert_eq!(
            commit_one(&store, stale.clone(), t0() + secs(33))
                .await
                .unwrap_err()
                .reason,
            RefusedReason::LeaseLost
        );
        stale.expected_version = 3;
        assert_eq!(
            commit_one(&store, stale, t0() + secs(33))
                .await
                .unwrap_err()
                .reason,
            RefusedReason::LeaseLost
        );
        assert!(matches!(
            store.renew(&a.lease, t0() + secs(90)).await,
            Err(StoreError::LeaseLost(id)) if id == g.id
        ));
        assert!(matches!(
            store.release(&a.lease, None, t0() + secs(33)).await,
            Err(StoreError::LeaseLost(_))
        ));
        let read = store.get(g.id).await.unwrap().unwrap();
        assert_eq!(read.version, 3);
        assert_eq!(v(&read.state), json!({"step": 3, "by": "B"}));
        assert_eq!(read.next_wake_at, Some(t0() + secs(600)));
        assert_eq!(store.history(g.id).await.unwrap().len(), 3);
    }

    pub async fn stale_version_is_refused<S: GrantStore>(store: S) {
        let g = new_grant(&store, None, Some(t0() + secs(600))).await;
        let write = |step: i64| StateWrite {
            id: g.id,
            expected_version: 1,
            fence: Fence::Unleased,
            state: json!({"step": step}).to_string(),
            event: json!({"event": step}).to_string(),
            at: t0(),
            next_wake_at: Some(t0()),
            summary: GrantSummary::default(),
            change_summary: None,
        };
        assert_eq!(commit_one(&store, write(2), t0()).await.unwrap().version, 2);
        assert_eq!(
            commit_one(&store, write(3), t0()).await.unwrap_err().reason,
            RefusedReason::StaleVersion {
                expected: 1,
                current: 2
            }
        );
        let mut missing = write(4);
        missing.id = GrantId::new_random();
        assert_eq!(
            commit_one(&store, missing, t0()).await.unwrap_err().reason,
            RefusedReason::NotFound
        );
        assert_eq!(
            v(&store.get(g.id).await.unwrap().unwrap().state),
            json!({"step": 2})
        );
    }

    pub async fn unleased_writes_wait_for_live_leases<S: GrantStore>(store: S) {
        let g = new_grant(&store, None, Some(t0())).await;
        let c = claim(&store, "w1", t0(), 10).await.remove(0);
        let command = |now_version: i64| StateWrite {
            id: g.id,
            expected_version: now_version,
            fence: Fence::Unleased,
            state: json!({"step": "canceled"}).to_string(),
            event: json!({"event": "cancel"}).to_string(),
            at: t0(),
            next_wake_at: Some(t0() + secs(40)),
            summary: GrantSummary::default(),
            change_summary: None,
        };
        assert_eq!(
            commit_one(&store, command(1), t0() + secs(10))
                .await
                .unwrap_err()
                .reason,
            RefusedReason::Leased {
                owner: "w1".into(),
                until: t0() + secs(30)
            }
        );
        // Once the lease lapsed, the command goes in and fences the lapsed holder out.
        assert_eq!(
            commit_one(&store, command(1), t0() + secs(31))
                .await
                .unwrap()
                .version,
            2
        );
        let read = store.get(g.id).await.unwrap().unwrap();
        assert!(read.lease.is_none());
        assert_eq!(read.next_wake_at, Some(t0() + secs(40)));
        let mut late = leased_write(&c, 2, AfterWrite::Release, None);
        late.expected_version = 2;
        assert_eq!(
            commit_one(&store, late, t0() + secs(32))
                .await
                .unwrap_err()
                .reason,
            RefusedReason::LeaseLost
        );
    }

    pub async fn release_renew_and_claim_one<S: GrantStore>(store: S) {
        let g = new_grant(&store, None, Some(t0() + secs(3600))).await;
        // Not due, but a command may claim it explicitly.
        let c = store
            .claim_grant(g.id, "api", t0(), t0() + secs(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.due_at, Some(t0() + secs(3600)));
        assert!(
            store
                .claim_grant(g.id, "other", t0() + secs(5), t0() + secs(15))
                .await
                .unwrap()
                .is_none()
        );
        let renewed = store.renew(&c.lease, t0() + secs(20)).await.unwrap();
        assert_eq!(renewed.until, t0() + secs(20));
        assert_eq!(
            store.get(g.id).await.unwrap().unwrap().next_wake_at,
            Some(t0() + secs(20))
        );
        assert!(
            store
                .claim_grant(g.id, "other", t0() + secs(15), t0() + secs(25))
                .await
                .unwrap()
                .is_none()
        );
        // Give it back with its original wake-up time: no transition, no event.
        store
            .release(&renewed, c.due_at, t0() + secs(16))
            .await
            .unwrap();
        let read = store.get(g.id).await.unwrap().unwrap();
        assert!(read.lease.is_none());
        assert_eq!(read.next_wake_at, Some(t0() + secs(3600)));
        assert_eq!(read.version, 1);
        assert_eq!(store.history(g.id).await.unwrap().len(), 1);
        // Released twice: the lease is gone.
        assert!(matches!(
            store.release(&renewed, None, t0()).await,
            Err(StoreError::LeaseLost(_))
        ));
        // A released grant is claimable again, with a newer token.
        let again = store
            .claim_grant(g.id, "other", t0() + secs(17), t0() + secs(27))
            .await
            .unwrap()
            .unwrap();
        assert!(again.lease.token > c.lease.token);
        assert!(
            store
                .claim_grant(GrantId::new_random(), "x", t0(), t0())
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn batch_commits_fence_each_write<S: GrantStore>(store: S) {
        for _ in 0..3 {
            new_grant(&store, None, Some(t0())).await;
        }
        let claimed = claim(&store, "w", t0(), 10).await;
        assert_eq!(claimed.len(), 3);
        let mut writes: Vec<StateWrite> = claimed
            .iter()
            .map(|c| leased_write(c, 2, AfterWrite::Release, None))
            .collect();
        writes[1].fence = Fence::Lease {
            token: LeaseToken(claimed[1].lease.token.0 - 1),
            then: AfterWrite::Release,
        };
        let results = store.commit(writes.clone(), t0()).await.unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[0],
            Ok(Committed {
                id: claimed[0].grant.id,
                version: 2
            })
        );
        assert_eq!(
            results[1].as_ref().unwrap_err().reason,
            RefusedReason::LeaseLost
        );
        assert_eq!(
            results[2],
            Ok(Committed {
                id: claimed[2].grant.id,
                version: 2
            })
        );
        assert_eq!(store.history(claimed[1].grant.id).await.unwrap().len(), 1);
        assert_eq!(
            store
                .get(claimed[1].grant.id)
                .await
                .unwrap()
                .unwrap()
                .version,
            1
        );

        let dup = vec![writes[0].clone(), writes[0].clone()];
        assert!(matches!(
            store.commit(dup, t0()).await,
            Err(StoreError::DuplicateInBatch(id)) if id == claimed[0].grant.id
        ));
        assert!(store.commit(Vec::new(), t0()).await.unwrap().is_empty());
    }

    pub async fn create_leased_to_the_creator<S: GrantStore>(store: S) {
        let make = |step: i64| NewGrant {
            id: GrantId::new_random(),
            idempotency_key: Some("order-leased".into()),
            state: json!({"step": step}).to_string(),
            event: json!({"event": "requested"}).to_string(),
            next_wake_at: Some(t0() + secs(60)),
            lease: Some(NewLease {
                owner: "api".into(),
                until: t0() + secs(30),
            }),
            summary: GrantSummary::default(),
            change_summary: None,
        };
        let created = store.create(make(1), t0()).await.unwrap();
        assert!(created.inserted);
        let lease = created.lease.clone().unwrap();
        assert_eq!(lease.owner, "api");
        assert_eq!(created.grant.next_wake_at, Some(t0() + secs(30)));
        let read = store.get(created.grant.id).await.unwrap().unwrap();
        assert_eq!(read.next_wake_at, Some(t0() + secs(30)));
        assert_eq!(read.lease.as_ref().map(|l| l.owner.as_str()), Some("api"));
        // Nobody else can take it while the creator holds it.
        assert!(claim(&store, "w", t0() + secs(29), 10).await.is_empty());
        // The same key again: the first grant, no lease for the second caller.
        let again = store.create(make(2), t0()).await.unwrap();
        assert!(!again.inserted);
        assert!(again.lease.is_none());
        assert_eq!(again.grant.id, created.grant.id);
        // The creator writes under its lease.
        let c = Claimed {
            grant: read,
            lease,
            due_at: None,
        };
        let r = commit_one(
            &store,
            leased_write(&c, 2, AfterWrite::Release, Some(t0() + secs(60))),
            t0(),
        )
        .await;
        assert_eq!(r.unwrap().version, 2);
        // A crashed creator's grant is resumed after its lease: here, released with a wake-up.
        let later = claim(&store, "w", t0() + secs(60), 10).await;
        assert_eq!(later.len(), 1);
        assert!(later[0].lease.token > c.lease.token);
    }

    /// Rule 7: the first event is the creating one, whatever was committed after it.
    pub async fn first_event_is_the_creating_one<S: GrantStore>(store: S) {
        assert!(
            store
                .first_event(GrantId::new_random())
                .await
                .unwrap()
                .is_none()
        );
        let g = new_grant(&store, Some("first"), Some(t0())).await;
        let c = claim(&store, "w", t0(), 1).await.remove(0);
        let w = leased_write(&c, 2, AfterWrite::Release, Some(t0() + secs(5)));
        commit_one(&store, w, t0()).await.unwrap();
        assert_eq!(store.history(g.id).await.unwrap().len(), 2);
        let first = store.first_event(g.id).await.unwrap().unwrap();
        assert_eq!(first.grant, g.id);
        assert_eq!(first.version, 1);
        assert_eq!(first.at, t0());
        assert_eq!(v(&first.event), json!({"event": "requested"}));
        let history = store.history(g.id).await.unwrap();
        assert_eq!(first.seq, history[0].seq);
    }

    pub async fn wake_signal_fires_when_work_is_scheduled<S: GrantStore>(store: S) {
        let mut signal = store.wake_signal();
        // PostgreSQL: the listener wakes once when it is listening; drain that first.
        signal.wait(std::time::Duration::from_millis(500)).await;
        new_grant(&store, None, Some(t0())).await;
        assert!(
            signal.wait(std::time::Duration::from_secs(10)).await,
            "no wake-up after a due grant was created"
        );
        // A final grant schedules nothing.
        let c = claim(&store, "w", t0(), 1).await.remove(0);
        signal.wait(std::time::Duration::from_millis(300)).await;
        commit_one(
            &store,
            leased_write(&c, 2, AfterWrite::Release, Some(t0() + secs(5))),
            t0(),
        )
        .await
        .unwrap();
        assert!(
            signal.wait(std::time::Duration::from_secs(10)).await,
            "no wake-up after a release with a wake-up time"
        );
    }

    pub async fn rewrite_is_all_or_nothing_and_fenced<S: GrantStore>(store: S) {
        let g = new_grant(&store, None, Some(t0())).await;
        let c = claim(&store, "w", t0(), 1).await.remove(0);
        commit_one(
            &store,
            leased_write(&c, 2, AfterWrite::Release, Some(t0())),
            t0(),
        )
        .await
        .unwrap();
        let read = store.get(g.id).await.unwrap().unwrap();
        let events = store.history(g.id).await.unwrap();
        let rewrite = |events: Vec<EventRewrite>, old_state: &str| Rewrite {
            id: g.id,
            version: read.version,
            old_state: old_state.to_owned(),
            state: json!({"step": 2, "by": "w", "re": 1}).to_string(),
            events,
        };
        let all: Vec<EventRewrite> = events
            .iter()
            .map(|e| EventRewrite {
                seq: e.seq,
                old_event: e.event.clone(),
                event: json!({"re": e.version}).to_string(),
            })
            .collect();
        // One event row changed since read: nothing is written, not even the state.
        let mut stale = all.clone();
        stale[1].old_event = json!({"event": 99}).to_string();
        assert!(!store.rewrite(rewrite(stale, &read.state)).await.unwrap());
        assert_eq!(
            v(&store.get(g.id).await.unwrap().unwrap().state),
            v(&read.state)
        );
        assert_eq!(
            v(&store.history(g.id).await.unwrap()[0].event),
            v(&events[0].event)
        );
        // A state other than the one read: refused.
        let other = json!({"step": 7}).to_string();
        assert!(!store.rewrite(rewrite(all.clone(), &other)).await.unwrap());
        // As read: all of it, and nothing else changes.
        assert!(
            store
                .rewrite(rewrite(all.clone(), &read.state))
                .await
                .unwrap()
        );
        let after = store.get(g.id).await.unwrap().unwrap();
        assert_eq!(after.version, read.version);
        assert_eq!(after.next_wake_at, read.next_wake_at);
        assert_eq!(v(&after.state)["re"], json!(1));
        let history = store.history(g.id).await.unwrap();
        assert_eq!(history.len(), 2);
        assert!(
            history
                .iter()
                .all(|e| v(&e.event)["re"] == json!(e.version))
        );
        // A worker's write computed from the version read still applies over the rewrite.
        let c = claim(&store, "w2", t0(), 1).await.remove(0);
        assert_eq!(c.grant.version, read.version);
        commit_one(&store, leased_write(&c, 3, AfterWrite::Release, None), t0())
            .await
            .unwrap();
        // And a rewrite from before that write is refused.
        assert!(
            !store
                .rewrite(rewrite(Vec::new(), &after.state))
                .await
                .unwrap()
        );
    }
}

macro_rules! contract {
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

contract!(
    create_and_read,
    idempotency_key_gives_the_same_grant,
    claim_takes_only_due_grants,
    concurrent_claims_are_disjoint,
    in_flight_then_outcome_appends_events,
    stale_worker_cannot_overwrite_newer_state,
    stale_version_is_refused,
    unleased_writes_wait_for_live_leases,
    release_renew_and_claim_one,
    batch_commits_fence_each_write,
    create_leased_to_the_creator,
    wake_signal_fires_when_work_is_scheduled,
    first_event_is_the_creating_one,
    rewrite_is_all_or_nothing_and_fenced,
);
