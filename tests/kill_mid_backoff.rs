//! Issue 12: "a kill -9 in the middle of each retry budget changes none of these outcomes". A
//! `grantflow worker` process retries a call that keeps failing (with back-off, on the system
//! clock); it is killed with SIGKILL while it waits for the next attempt, a new worker process
//! takes over, and the grant ends as the fault matrix (`crates/driver/tests/fault_matrix.rs`)
//! says it does without the kill, with the same journal rule: `Lost` if and only if the AS acted
//! on a consuming call whose answer was lost. On a SQLite file and on PostgreSQL.
//!
//! Cases: a continue whose connection drops 3 times, a rotation answered 500 3 times (both end
//! `Issued`, one act at the AS), and a continue whose answer is lost once (ends `Lost`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use grantflow::sandbox::{Fault, JournalEntry, Route, SandboxConfig};
use serde_json::Value;
use support::{Operator, Process, database_url_of, free_port, output, spawn_worker};

/// The operator's setting (sandbox, client, sealed secrets) and the worker's listen address.
struct Setup {
    operator: Operator,
    listen: String,
}

impl std::ops::Deref for Setup {
    type Target = Operator;
    fn deref(&self) -> &Operator {
        &self.operator
    }
}

impl Setup {
    async fn new(database_url: Option<String>) -> Self {
        // PostgreSQL holds secrets sealed: every command gets the same storage key.
        let operator = Operator::start(SandboxConfig::default(), "killed", database_url)
            .await
            .sealed();
        Self {
            operator,
            listen: format!("127.0.0.1:{}", free_port()),
        }
    }

    fn command(&self) -> Command {
        let mut c = self.operator.command();
        c.env("GRANTFLOW_PUBLIC_URL", format!("http://{}/", self.listen))
            .env("GRANTFLOW_LISTEN", &self.listen)
            // A killed worker holds a grant for a lease at most: keep that wait short.
            .env("GRANTFLOW_LEASE_SECONDS", "5");
        c
    }

    /// `grantflow grant <args> --json`; its JSON output, or `None` when it failed.
    async fn grant(&self, args: &[&str]) -> Option<Value> {
        let mut c = self.command();
        c.arg("grant").args(args).arg("--json");
        let out = output(c).await;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    async fn status(&self, id: &str) -> Value {
        self.grant(&["status", id]).await.expect("grant status")
    }

    /// Starts `grantflow worker` and waits until it serves finish callbacks.
    async fn start_worker(&self) -> Process {
        let mut command = self.command();
        command.stderr(std::process::Stdio::inherit());
        tokio::task::spawn_blocking(move || {
            let (child, line) = spawn_worker(command, &[]);
            let worker = Process(child);
            assert!(line.contains("finish callbacks at"), "{line}");
            worker
        })
        .await
        .unwrap()
    }

    /// Waits (up to 60 s) until `done` holds for the grant's status; returns that status.
    async fn wait_status(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status(id).await;
            if done(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "never {what}: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The journal entries on `route` that met a fault.
    fn faulted(&self, route: Route) -> Vec<JournalEntry> {
        self.sandbox
            .journal()
            .into_iter()
            .filter(|e| e.route == route && !e.faults.is_empty())
            .collect()
    }
}

/// Kills the worker with SIGKILL (no shutdown, no lease released) and reaps it.
fn kill_9(worker: Process) {
    drop(worker);
}

/// A grant waiting for the next attempt of a failing call (`state`): no call in flight, a
/// wake-up due.
fn backing_off(status: &Value, state: &str) -> bool {
    status["state"] == state && status["in_flight"].is_null() && status["next_wake_at"].is_string()
}

/// The journal rule, and at most one act on a consuming route.
fn assert_journal_rule(s: &Setup, final_state: &str) {
    let journal = s.sandbox.journal();
    let consuming = |r: Route| matches!(r, Route::Continue | Route::TokenRotate);
    let acted_unseen = journal
        .iter()
        .any(|e| e.acted && !e.delivered && consuming(e.route));
    assert_eq!(final_state == "Lost", acted_unseen, "{journal:#?}");
    for route in [Route::Continue, Route::TokenRotate] {
        let acts = journal
            .iter()
            .filter(|e| e.route == route && e.acted)
            .count();
        assert!(acts <= 1, "{route} acted {acts} times: {journal:#?}");
    }
}

/// Requests an outgoing-payment grant (redirect interaction) with `fault` armed on continue, has
/// the user approve, and follows the finish redirect to the running worker: the worker starts
/// the continue.
async fn continue_under(s: &Setup, fault: Fault, times: u32) -> String {
    let alice = s.sandbox.wallet_address_url("alice");
    let requested = s
        .grant(&[
            "request",
            "--for",
            &alice,
            "--access",
            "outgoing-payment",
            "--debit-amount",
            "100",
        ])
        .await
        .expect("grant request");
    assert_eq!(requested["state"], "AwaitingInteraction", "{requested}");
    let id = requested["id"].as_str().unwrap().to_owned();
    s.sandbox.set_fault(Route::Continue, fault, Some(times));
    let outcome = s
        .sandbox
        .approve_interaction(requested["redirect"].as_str().unwrap())
        .unwrap();
    let finish = outcome.redirect.unwrap().expose().to_owned();
    reqwest::get(&finish).await.unwrap();
    id
}

async fn continue_dropped_three_times(database_url: Option<String>) {
    let s = Setup::new(database_url).await;
    let first = s.start_worker().await;
    let id = continue_under(&s, Fault::DropConnection, 3).await;
    // Two attempts dropped; the worker waits 1-2 s before the third.
    let status = s
        .wait_status(&id, "backing off after 2 drops", |st| {
            s.faulted(Route::Continue).len() >= 2 && backing_off(st, "Continuing")
        })
        .await;
    kill_9(first);
    assert_eq!(status["state"], "Continuing", "{status}");

    let second = s.start_worker().await;
    let issued = s
        .wait_status(&id, "final", |st| st["state"] != "Continuing")
        .await;
    assert_eq!(issued["state"], "Issued", "{issued}");
    assert_eq!(s.faulted(Route::Continue).len(), 3);
    assert_journal_rule(&s, "Issued");
    kill_9(second);
}

async fn rotation_refused_500_three_times(database_url: Option<String>) {
    let s = Setup::new(database_url).await;
    let first = s.start_worker().await;
    let alice = s.sandbox.wallet_address_url("alice");
    let requested = s
        .grant(&["request", "--for", &alice, "--access", "incoming-payment"])
        .await
        .expect("grant request");
    let id = requested["id"].as_str().unwrap().to_owned();
    let before = s
        .wait_status(&id, "issued", |st| st["state"] == "Issued")
        .await;
    s.sandbox
        .set_fault(Route::TokenRotate, Fault::Status { status: 500 }, Some(3));
    // The command makes the first attempt and returns with the rotation still to do (an error:
    // the rotation did not happen yet); the worker retries it.
    let _ = s.grant(&["rotate", &id]).await;
    let status = s
        .wait_status(&id, "backing off after 2 refusals", |st| {
            s.faulted(Route::TokenRotate).len() >= 2 && backing_off(st, "Rotating")
        })
        .await;
    kill_9(first);
    assert_eq!(status["state"], "Rotating", "{status}");

    let second = s.start_worker().await;
    let after = s
        .wait_status(&id, "final or rotated", |st| st["state"] != "Rotating")
        .await;
    assert_eq!(after["state"], "Issued", "{after}");
    assert_ne!(
        after["token"]["manage"], before["token"]["manage"],
        "a new token (new manage URL)"
    );
    assert_eq!(s.faulted(Route::TokenRotate).len(), 3);
    assert_journal_rule(&s, "Issued");
    kill_9(second);
}

async fn continue_answer_lost(database_url: Option<String>) {
    let s = Setup::new(database_url).await;
    let first = s.start_worker().await;
    let id = continue_under(&s, Fault::LoseResponse, 1).await;
    // The AS issued the token, the answer was lost; kill the worker as soon as the journal shows
    // it (the re-send comes 0.5-1 s later, so the kill usually lands in the back-off).
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.faulted(Route::Continue).is_empty() {
        assert!(Instant::now() < deadline, "the continue never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill_9(first);
    let resent_before_kill = s
        .sandbox
        .journal()
        .iter()
        .filter(|e| e.route == Route::Continue)
        .count()
        > 1;

    let second = s.start_worker().await;
    let end = s
        .wait_status(&id, "final", |st| {
            !matches!(st["state"].as_str(), Some("Continuing" | "Canceling"))
        })
        .await;
    assert_eq!(end["state"], "Lost", "{end}");
    assert_journal_rule(&s, "Lost");
    eprintln!(
        "lost response: the kill landed before the re-send: {}",
        !resent_before_kill
    );
    kill_9(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_continue_dropped_three_times() {
    continue_dropped_three_times(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rotation_refused_500_three_times() {
    rotation_refused_500_three_times(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_continue_answer_lost() {
    continue_answer_lost(None).await;
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_continue_dropped_three_times(pool: sqlx::PgPool) {
    continue_dropped_three_times(Some(database_url_of(&pool))).await;
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_rotation_refused_500_three_times(pool: sqlx::PgPool) {
    rotation_refused_500_three_times(Some(database_url_of(&pool))).await;
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_continue_answer_lost(pool: sqlx::PgPool) {
    continue_answer_lost(Some(database_url_of(&pool))).await;
}
