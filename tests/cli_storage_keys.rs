//! `grantflow keys storage reseal` on PostgreSQL: killed with SIGKILL in the middle while a worker
//! keeps writing, then run again to the end. Every grant then opens under the new key alone, with
//! the contents it had; no grant was re-sealed by both runs; the worker's writes all went in. A
//! key ring without the sealing key, and no key at all, are refused with errors that say what to
//! do. `grantflow keys storage retire` (on SQLite and PostgreSQL) refuses a key that still seals
//! values, naming how many and to re-seal first, unless `--force`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{TimeDelta, Utc};
use grantflow::seal::{KeyId, KeyRing, SealingStore, StorageKey, is_current};
use grantflow::store::{
    AfterWrite, AnyStore, Fence, GrantId, GrantStore, GrantSummary, NewGrant, PgStore, StateWrite,
};
use serde_json::json;

const GRANTS: usize = 300;

fn secret(tag: &str) -> String {
    format!("SECRET-{tag}-{}", uuid::Uuid::new_v4().simple())
}

/// A state and an event shaped like the engine's, full of secrets.
fn texts(tag: &str) -> (String, String) {
    let (redirect, finish, token) = (secret(tag), secret(tag), secret(tag));
    let state = json!({"version": 1, "grant": {"state": "awaiting_interaction",
        "interaction": {"redirect": format!("https://as.example/i/{redirect}"), "finish": finish},
        "continuation": {"access_token": {"value": token}, "uri": "https://as.example/c/1"}}});
    let event = json!({"event": "answered", "answer": {"type": "grant", "body": {
        "interact": {"redirect": format!("https://as.example/i/{redirect}"), "finish": finish},
        "continue": {"access_token": {"value": token}, "uri": "https://as.example/c/1"}}}});
    (state.to_string(), event.to_string())
}

fn reseal(url: &str, key_file: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_grantflow"));
    c.args(["keys", "storage", "reseal", "--verbose", "--page", "7"])
        .env("GRANTFLOW_DATABASE_URL", url)
        .env("GRANTFLOW_STORAGE_KEY_FILE", key_file)
        .env("RUST_LOG", "warn");
    c
}

fn resealed_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("resealed "))
        .map(str::to_owned)
        .collect()
}

/// A fresh database on the server of `DATABASE_URL`; `None` outside CI when it is not set.
async fn fresh_database() -> Option<(String, sqlx::PgPool, String)> {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "DATABASE_URL must be set in CI (scripts/test starts PostgreSQL)"
        );
        eprintln!("DATABASE_URL is not set: the re-seal test is skipped");
        return None;
    };
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    let name = format!("grantflow_reseal_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&name);
    Some((url.to_string(), admin, name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseal_killed_mid_way_then_resumed_while_a_worker_writes() {
    let Some((url, admin, name)) = fresh_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let old = StorageKey::generate(KeyId::new("old").unwrap());
    let ring_old = Arc::new(KeyRing::parse(&old.to_line()).unwrap());
    let pg = PgStore::connect(&url, 4).await.unwrap();
    let store_old = SealingStore::new(pg.clone(), ring_old.clone());
    let now = Utc::now();
    // Grants sealed under the old key, each with two events.
    let mut ids = Vec::new();
    for i in 0..GRANTS {
        let id = GrantId::new_random();
        let (state, event) = texts(&format!("g{i}a"));
        store_old
            .create(
                NewGrant {
                    id,
                    idempotency_key: None,
                    state,
                    event,
                    next_wake_at: None,
                    lease: None,
                    summary: GrantSummary::default(),
                    change_summary: None,
                },
                now,
            )
            .await
            .unwrap();
        let (state, event) = texts(&format!("g{i}b"));
        let write = StateWrite {
            id,
            expected_version: 1,
            fence: Fence::Unleased,
            state,
            event,
            at: now,
            next_wake_at: None,
            summary: GrantSummary::default(),
            change_summary: None,
        };
        store_old.commit(vec![write], now).await.unwrap()[0]
            .as_ref()
            .unwrap();
        ids.push(id);
    }
    // What each grant holds, opened (with the old key).
    let mut before = BTreeMap::new();
    for &id in &ids {
        let state = store_old.get(id).await.unwrap().unwrap().state;
        let events: Vec<String> = store_old
            .history(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        before.insert(id, (state, events));
    }

    // Rotation: the new key seals, the old one still opens.
    let new = StorageKey::generate(KeyId::new("new").unwrap());
    let both = KeyRing::parse(&format!("{}\n{}", *new.to_line(), *old.to_line())).unwrap();
    let key_file = dir.path().join("storage.keys");
    std::fs::write(&key_file, both.to_text().as_bytes()).unwrap();
    let both = Arc::new(both);

    // A worker with the new key file keeps advancing every 10th grant meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let worker = tokio::spawn({
        let store = SealingStore::new(pg.clone(), both.clone());
        let grants: Vec<GrantId> = ids.iter().step_by(10).copied().collect();
        let (stop, written) = (stop.clone(), written.clone());
        async move {
            let mut last: BTreeMap<GrantId, (String, String)> = BTreeMap::new();
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) || round < 2 {
                for &id in &grants {
                    let now = Utc::now();
                    let claimed = store
                        .claim_grant(id, "worker", now, now + TimeDelta::seconds(30))
                        .await
                        .unwrap()
                        .expect("nobody else leases the grant");
                    let (state, event) = texts(&format!("w{round}"));
                    let write = StateWrite {
                        id,
                        expected_version: claimed.grant.version,
                        fence: Fence::Lease {
                            token: claimed.lease.token,
                            then: AfterWrite::Release,
                        },
                        state: state.clone(),
                        event: event.clone(),
                        at: now,
                        next_wake_at: None,
                        summary: GrantSummary::default(),
                        change_summary: None,
                    };
                    let result = store.commit(vec![write], now).await.unwrap();
                    result[0]
                        .as_ref()
                        .expect("a worker's write is never refused");
                    written.fetch_add(1, Ordering::SeqCst);
                    last.insert(id, (state, event));
                }
                round += 1;
            }
            last
        }
    });

    // First run: SIGKILL after a third of the grants.
    let mut child = reseal(&url, &key_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first_run = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(id) = line.strip_prefix("resealed ") {
                seen.push(id.to_owned());
                if seen.len() == GRANTS / 3 {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        let status = child.wait().unwrap();
        (seen, status)
    })
    .await
    .unwrap();
    let (first, status) = first_run;
    assert!(!status.success(), "the first run was killed, not finished");
    assert_eq!(first.len(), GRANTS / 3);
    let current_states = {
        let mut n = 0;
        for &id in &ids {
            let raw = pg.get(id).await.unwrap().unwrap().state;
            n += usize::from(is_current(&both, id, &raw).unwrap());
        }
        n
    };
    assert!(
        (GRANTS / 3..GRANTS).contains(&current_states),
        "{current_states} of {GRANTS} states under the new key after the kill"
    );

    // Second run, to the end, while the worker still writes.
    let out = reseal(&url, &key_file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = resealed_ids(&stdout);
    stop.store(true, Ordering::SeqCst);
    let worker_last = worker.await.unwrap();
    assert!(written.load(Ordering::SeqCst) > 0);

    // No grant re-sealed by both runs, nor twice by one.
    let first_set: BTreeSet<&String> = first.iter().collect();
    let second_set: BTreeSet<&String> = second.iter().collect();
    assert_eq!(first_set.len(), first.len());
    assert_eq!(second_set.len(), second.len());
    assert!(
        first_set.is_disjoint(&second_set),
        "a grant re-sealed twice"
    );

    // Everything opens under the new key alone and holds what it held (plus the worker's writes).
    let new_only = Arc::new(KeyRing::parse(&new.to_line()).unwrap());
    let store_new = SealingStore::new(pg.clone(), new_only.clone());
    let value = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    for &id in &ids {
        let state = store_new.get(id).await.unwrap().unwrap().state;
        let events: Vec<String> = store_new
            .history(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        let (old_state, old_events) = &before[&id];
        for (e, o) in events.iter().zip(old_events) {
            assert_eq!(value(e), value(o), "grant {id}: an event changed");
        }
        match worker_last.get(&id) {
            Some((w_state, w_event)) => {
                assert_eq!(value(&state), value(w_state));
                assert_eq!(value(events.last().unwrap()), value(w_event));
            }
            None => {
                assert_eq!(
                    value(&state),
                    value(old_state),
                    "grant {id}: the state changed"
                );
                assert_eq!(events.len(), old_events.len());
            }
        }
        assert!(is_current(&new_only, id, &pg.get(id).await.unwrap().unwrap().state).unwrap());
    }
    // A third run finds nothing to do.
    let out = reseal(&url, &key_file).output().unwrap();
    assert!(out.status.success());
    assert!(resealed_ids(&String::from_utf8_lossy(&out.stdout)).is_empty());

    // A ring without the key that sealed: an error naming that key, and how to fix it.
    let old_file = dir.path().join("old.keys");
    std::fs::write(&old_file, old.to_line().as_bytes()).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(["grant", "status", &ids[0].to_string(), "--json"])
        .env("GRANTFLOW_DATABASE_URL", &url)
        .env("GRANTFLOW_STORAGE_KEY_FILE", &old_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("storage key new") && stderr.contains("not in the key ring"),
        "{stderr}"
    );
    // No key at all on PostgreSQL: refused, saying how to make one.
    let status = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(["grant", "list"])
        .env("GRANTFLOW_DATABASE_URL", &url)
        .env_remove("GRANTFLOW_STORAGE_KEY_FILE")
        .env_remove("GRANTFLOW_STORAGE_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("grantflow keys storage generate"),
        "{stderr}"
    );

    drop((store_old, store_new, pg));
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

/// Runs `grantflow keys storage <args>` against the database at `url` with the key file `file`.
fn storage_command(url: &str, file: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(["keys", "storage"])
        .args(args)
        .env("GRANTFLOW_DATABASE_URL", url)
        .env("GRANTFLOW_STORAGE_KEY_FILE", file)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[track_caller]
fn succeeded(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// `keys storage retire` against the database at `url`: refused while values are sealed under
/// the key (naming how many, and `reseal`), done once the re-seal ran; `--force` retires a key
/// that still seals values, saying so on stderr.
async fn retire_refuses_a_key_that_still_seals_values(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("storage.keys");
    let path = file.to_str().unwrap();
    let run = |args: &[&str]| storage_command(url, &file, args);
    let keys = || {
        let ring = KeyRing::from_file(&file).unwrap();
        ring.ids().map(ToString::to_string).collect::<Vec<_>>()
    };
    succeeded(&run(&["generate", "--out", path, "--key-id", "old"]));
    // Three grants sealed under "old", a state and an event each, three secrets in each text.
    let store = SealingStore::new(
        AnyStore::connect(url, 1).await.unwrap(),
        Arc::new(KeyRing::from_file(&file).unwrap()),
    );
    for i in 0..3 {
        let (state, event) = texts(&format!("retire{i}"));
        let grant = NewGrant {
            id: GrantId::new_random(),
            idempotency_key: None,
            state,
            event,
            next_wake_at: None,
            lease: None,
            summary: GrantSummary::default(),
            change_summary: None,
        };
        store.create(grant, Utc::now()).await.unwrap();
    }
    drop(store);
    succeeded(&run(&["add", "--file", path, "--key-id", "new"]));

    let out = run(&["retire", "--file", path, "--key-id", "old"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "18 values (3 grant states and 3 event rows, of 3 grants) are still sealed under \
             storage key old"
        ) && stderr.contains("grantflow keys storage reseal"),
        "{stderr}"
    );
    assert_eq!(keys(), ["new", "old"], "the refused retire changed nothing");

    succeeded(&run(&["reseal"]));
    let out = run(&["retire", "--file", path, "--key-id", "old", "--json"]);
    succeeded(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["still_sealed"], 0);
    assert_eq!(keys(), ["new"]);

    // --force: a key that still seals values goes anyway, loudly.
    succeeded(&run(&["add", "--file", path, "--key-id", "newer"]));
    let out = run(&["retire", "--file", path, "--key-id", "new"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = succeeded(&run(&[
        "retire", "--file", path, "--key-id", "new", "--force",
    ]));
    assert!(
        stderr.contains("WARNING: --force: retiring storage key new")
            && stderr.contains("18 values of 3 grants"),
        "{stderr}"
    );
    assert_eq!(keys(), ["newer"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retire_checks_the_database_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("grants.db").display());
    retire_refuses_a_key_that_still_seals_values(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retire_checks_the_database_on_postgres() {
    let Some((url, admin, name)) = fresh_database().await else {
        return;
    };
    retire_refuses_a_key_that_still_seals_values(&url).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
