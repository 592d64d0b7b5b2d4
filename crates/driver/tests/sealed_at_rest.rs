//! Secrets sealed at rest, end to end: full lifecycles (interactive with callback, polling,
//! non-interactive, rotation, revocation, cancel) through an engine over `SealingStore`, a
//! storage key rotation with a re-seal in the middle, then the raw tables are read with SQL: none
//! of the secret values the engine saw is there, nor any finish URI path token (which is not
//! stored at all, not even sealed), and everything opens under the new key alone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use grantflow_driver::{Engine, Interaction};
use grantflow_machine::{StateKind, visit_secrets};
use grantflow_seal::{KeyId, KeyRing, SealingStore, StorageKey, is_current};
use grantflow_store::{GrantId, GrantStore};
use support::*;

/// The raw tables, read with SQL (not the store API).
enum Raw {
    Pg(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Raw {
    /// Every stored state and event text, with its grant.
    async fn texts(&self) -> Vec<(GrantId, String)> {
        let states = "SELECT id, state::text FROM grantflow_grants";
        let events = "SELECT grant_id, event::text FROM grantflow_grant_events";
        let mut out = Vec::new();
        for q in [states, events] {
            let rows: Vec<(uuid::Uuid, String)> = match self {
                Raw::Pg(pool) => sqlx::query_as(q).fetch_all(pool).await.unwrap(),
                Raw::Sqlite(pool) => sqlx::query_as(&q.replace("::text", ""))
                    .fetch_all(pool)
                    .await
                    .unwrap(),
            };
            out.extend(rows.into_iter().map(|(id, t)| (GrantId(id), t)));
        }
        out
    }
}

fn key(id: &str) -> StorageKey {
    StorageKey::generate(KeyId::new(id).unwrap())
}

/// Every secret value in a grant's state and history as the engine reads them (opened).
async fn secrets_seen<S: GrantStore>(engine: &Engine<S>, id: GrantId, into: &mut BTreeSet<String>) {
    let mut texts = vec![engine.get(id).await.unwrap().state.to_json().unwrap()];
    for h in engine.history(id).await.unwrap() {
        texts.push(serde_json::to_string(&h.event).unwrap());
    }
    for text in texts {
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        visit_secrets::<()>(&mut json, &mut |field, v| {
            let s = v
                .as_str()
                .expect("the engine reads secrets opened")
                .to_owned();
            // A finish URI is kept without its path token: it ends with the grant id.
            if field.name == "finish_uri" {
                assert!(s.ends_with(&format!("/finish/{id}")), "{s}");
            }
            into.insert(s);
            Ok(())
        })
        .unwrap();
    }
}

/// The lifecycles of one engine generation; returns the grants made, and the finish URI path
/// token the AS was given for the grant that finished by redirect.
async fn lifecycles<S: GrantStore>(
    world: &World,
    engine: &Engine<S>,
    tag: &str,
) -> (Vec<GrantId>, String) {
    engine.start_worker();
    // Interactive, finish callback, rotate on demand, revoke.
    let a = engine
        .request(world.outgoing(&format!("{tag}-redirect"), Interaction::Redirect))
        .await
        .unwrap();
    let outcome = world
        .sandbox
        .approve_interaction(&a.redirect.unwrap())
        .unwrap();
    let finish = outcome.redirect.unwrap();
    let finish = finish.expose();
    let path = finish.split('?').next().unwrap();
    let token = path.rsplit_once('/').unwrap().1.to_owned();
    assert_eq!(follow(finish).await, 200);
    wait_kind(engine, a.id, StateKind::Issued).await;
    engine.access_token(a.id).await.unwrap();
    engine.rotate(a.id).await.unwrap();
    assert_eq!(
        engine.revoke(a.id).await.unwrap().kind(),
        StateKind::Revoked
    );
    // Polling, approved without a callback.
    let b = engine
        .request(world.outgoing(&format!("{tag}-poll"), Interaction::Poll))
        .await
        .unwrap();
    world
        .sandbox
        .approve_interaction(&b.redirect.unwrap())
        .unwrap();
    wait_kind(engine, b.id, StateKind::Issued).await;
    // Non-interactive, rotated twice, left issued.
    let c = engine
        .request(world.incoming(&format!("{tag}-in")))
        .await
        .unwrap();
    engine.rotate(c.id).await.unwrap();
    engine.rotate(c.id).await.unwrap();
    engine.access_token(c.id).await.unwrap();
    // Left waiting for the user (the AS nonce and redirect are held).
    let d = engine
        .request(world.outgoing(&format!("{tag}-waiting"), Interaction::Redirect))
        .await
        .unwrap();
    // Canceled while waiting.
    let e = engine
        .request(world.outgoing(&format!("{tag}-canceled"), Interaction::Redirect))
        .await
        .unwrap();
    assert_eq!(
        engine.cancel(e.id).await.unwrap().kind(),
        StateKind::Canceled
    );
    (vec![a.id, b.id, c.id, d.id, e.id], token)
}

async fn after_rotation_and_reseal_nothing_is_in_the_clear<S: GrantStore>(inner: S, raw: Raw) {
    let world = World::quick().await;
    // The storage keys also make the finish URI tokens (as the CLI does).
    let tune = |ring: &Arc<KeyRing>| {
        let ring = ring.clone();
        move |c: &mut grantflow_driver::EngineConfig| {
            c.machine.rotation = grantflow_machine::Rotation::OnDemand;
            c.finish_token_keys = Some(ring);
        }
    };
    // Generation 1: key k1.
    let ring1 = Arc::new(KeyRing::new(vec![key("k1")]).unwrap());
    let engine = world
        .engine(
            SealingStore::new(inner.clone(), ring1.clone()),
            tune(&ring1),
        )
        .await;
    let (mut grants, token1) = lifecycles(&world, &engine, "one").await;
    engine.shutdown().await;
    // Rotation: k2 seals, k1 still opens; the engine keeps working while a re-seal runs.
    let k1 = KeyRing::parse(&ring1.to_text()).unwrap();
    let ring2 = Arc::new(k1.with_sealing_key(key("k2")).unwrap());
    let store2 = SealingStore::new(inner.clone(), ring2.clone());
    let engine = world.engine(store2.clone(), tune(&ring2)).await;
    let ((more, token2), report) = tokio::join!(
        lifecycles(&world, &engine, "two"),
        store2.reseal_all(2, |_, _| {})
    );
    grants.extend(more);
    assert!(report.unwrap().complete);
    // Everything the engine saw, through the new ring, and the finish URI tokens: the two the AS
    // was sent, and those of every grant under either key.
    let mut secrets = BTreeSet::new();
    for &id in &grants {
        secrets_seen(&engine, id, &mut secrets).await;
    }
    assert_eq!(token1, ring1.finish_token(grants[0]).as_str());
    assert_eq!(token2, ring2.finish_token(grants[5]).as_str());
    for &id in &grants {
        for ring in [&ring1, &ring2] {
            let token = ring.finish_token(id);
            secrets.insert(token.to_string());
            // The keyed hash alone, without its key id.
            secrets.insert(token.rsplit_once('.').unwrap().1.to_owned());
        }
    }
    engine.shutdown().await;
    assert!(
        secrets.len() > 40,
        "too few secrets seen: {}",
        secrets.len()
    );
    assert!(secrets.iter().all(|s| s.len() >= 8), "{secrets:?}");
    // A final pass finds nothing left; the raw rows hold none of them, all under k2.
    assert_eq!(store2.reseal_all(10, |_, _| {}).await.unwrap().rewritten, 0);
    let texts = raw.texts().await;
    assert!(texts.len() > 30);
    for (grant, text) in &texts {
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "a secret of grant {grant} is in the clear: {text}"
            );
        }
        assert!(is_current(&ring2, *grant, text).unwrap(), "{text}");
    }
    // Retire k1: every grant still opens, and reads as before.
    let k2_only = Arc::new(
        KeyRing::parse(&ring2.to_text())
            .unwrap()
            .without("k1")
            .unwrap(),
    );
    let store3 = SealingStore::new(inner, k2_only);
    for &id in &grants {
        assert_eq!(
            store3.get(id).await.unwrap().unwrap().state,
            store2.get(id).await.unwrap().unwrap().state
        );
        let (h3, h2) = (
            store3.history(id).await.unwrap(),
            store2.history(id).await.unwrap(),
        );
        assert_eq!(
            h3.iter().map(|e| &e.event).collect::<Vec<_>>(),
            h2.iter().map(|e| &e.event).collect::<Vec<_>>()
        );
    }
}

#[sqlx::test(migrator = "grantflow_store::PG_MIGRATOR")]
async fn postgres_after_rotation_and_reseal_nothing_is_in_the_clear(pool: sqlx::PgPool) {
    let store = grantflow_store::PgStore::from_pool(pool.clone());
    after_rotation_and_reseal_nothing_is_in_the_clear(store, Raw::Pg(pool)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_after_rotation_and_reseal_nothing_is_in_the_clear() {
    let store = sqlite().await;
    let pool = store.pool().clone();
    after_rotation_and_reseal_nothing_is_in_the_clear(store, Raw::Sqlite(pool)).await;
}
