//! Issue 16: kill -9 at every step of a payment. A `grantflow pay` process makes the payment's
//! calls itself; it is killed with SIGKILL at a step (the quote answered, the create held by the
//! RS before it acts, the create acted with its answer on the way, the create's answer lost),
//! while a `grantflow worker` runs on the same database. Then the
//! same `grantflow pay` command is run again (same grant, same idempotency key): it returns the
//! same payment once it ends. Whatever step the kill hit, the payment ends `Sent`, the RS holds
//! exactly one outgoing payment for it (one create acted), and the receiver was credited once.
//! On a SQLite file and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grantflow::client::Client;
use grantflow::sandbox::{Fault, Route, SandboxConfig};
use serde_json::{Value, json};
use support::{Operator, Process, database_url_of, free_port, output, spawn_worker};

/// The debit of every payment here, in cents.
const DEBIT: u64 = 500;

/// The operator's setting (sealed), the worker's address, and the client as a library.
struct Setup {
    operator: Operator,
    listen: String,
    client: Client,
}

impl std::ops::Deref for Setup {
    type Target = Operator;
    fn deref(&self) -> &Operator {
        &self.operator
    }
}

impl Setup {
    async fn new(database_url: Option<String>) -> Self {
        let operator = Operator::start(SandboxConfig::default(), "payer", database_url)
            .await
            .sealed();
        let client = operator.client();
        Self {
            operator,
            listen: format!("127.0.0.1:{}", free_port()),
            client,
        }
    }

    fn command(&self) -> Command {
        let mut c = self.operator.command();
        c.env("GRANTFLOW_PUBLIC_URL", format!("http://{}/", self.listen))
            .env("GRANTFLOW_LISTEN", &self.listen)
            // A killed process holds a payment for a lease at most: keep that wait short.
            .env("GRANTFLOW_LEASE_SECONDS", "5");
        c
    }

    /// `grantflow <args> --json`: its JSON output, or the failure.
    async fn run(&self, args: &[&str]) -> Result<Value, String> {
        let mut c = self.command();
        c.args(args).arg("--json");
        let out = output(c).await;
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).unwrap())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Starts `grantflow worker` and waits until it serves finish callbacks.
    async fn start_worker(&self) -> Process {
        let mut command = self.command();
        command.stderr(Stdio::inherit());
        tokio::task::spawn_blocking(move || {
            let (child, line) = spawn_worker(command, &[]);
            let worker = Process(child);
            assert!(line.contains("finish callbacks at"), "{line}");
            worker
        })
        .await
        .unwrap()
    }

    /// An issued outgoing-payment grant (with quote access) for alice, approved by the user.
    async fn payment_grant(&self) -> String {
        let alice = self.sandbox.wallet_address_url("alice");
        let requested = self
            .run(&[
                "grant",
                "request",
                "--for",
                &alice,
                "--access",
                "outgoing-payment",
                "--debit-amount",
                "100000",
                "--with-quote",
            ])
            .await
            .unwrap();
        let id = requested["id"].as_str().unwrap().to_owned();
        let outcome = self
            .sandbox
            .approve_interaction(requested["redirect"].as_str().unwrap())
            .unwrap();
        reqwest::get(outcome.redirect.unwrap().expose())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.run(&["grant", "status", &id]).await.unwrap();
            if status["state"] == "Issued" {
                return id;
            }
            assert!(Instant::now() < deadline, "never issued: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A token of a grant, from `grantflow grant token`.
    async fn token(&self, grant: &str) -> grantflow::protocol::Secret {
        let t = self.run(&["grant", "token", grant]).await.unwrap();
        grantflow::protocol::Secret::new(t["value"].as_str().unwrap().to_owned())
    }

    /// An open incoming payment at bob's, and a token that reads it.
    async fn receiver(&self) -> (String, grantflow::protocol::Secret) {
        let bob = self.sandbox.wallet_address_url("bob");
        let grant = self
            .run(&[
                "grant",
                "request",
                "--for",
                &bob,
                "--access",
                "incoming-payment",
            ])
            .await
            .unwrap();
        let token = self.token(grant["id"].as_str().unwrap()).await;
        let rs = self.sandbox.resource_server_url().parse().unwrap();
        let create = serde_json::from_value(json!({"walletAddress": bob})).unwrap();
        let ip = self
            .client
            .create_incoming_payment(&rs, &token, &create)
            .await
            .unwrap();
        (ip.id, token)
    }

    /// Spawns `grantflow pay ... --json` (it makes the payment's calls itself).
    fn spawn_pay(&self, grant: &str, receiver: &str) -> Process {
        let mut c = self.command();
        c.args(["pay", "--grant", grant, "--receiver", receiver])
            .args(["--debit", &DEBIT.to_string(), "--idempotency-key", "once"])
            .arg("--json")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Process(c.spawn().unwrap())
    }

    /// Waits (up to 30 s) until the journal shows a request on `route`.
    async fn wait_route(&self, route: Route) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.sandbox.journal().iter().any(|e| e.route == route) {
            assert!(Instant::now() < deadline, "{route} never came");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Where the kill lands.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The quote was made, its answer on its way back (the RS journals a request once handled).
    QuoteAnswered,
    /// `POST /outgoing-payments` sent and held by the RS (3 s) before it acts.
    CreateInFlight,
    /// The create acted, its answer on its way back.
    CreateActed,
    /// The create acted and its answer was lost.
    CreateAnswerLost,
}

async fn killed_at(step: Step, database_url: Option<String>) {
    let s = Setup::new(database_url).await;
    let worker = s.start_worker().await;
    let grant = s.payment_grant().await;
    let (receiver, receiver_token) = s.receiver().await;
    let held = |secs| Fault::latency(Duration::from_secs(secs));
    let (route, fault, wait_for) = match step {
        Step::QuoteAnswered => (Route::QuoteCreate, held(1), Route::QuoteCreate),
        Step::CreateInFlight => (Route::OutgoingPaymentCreate, held(3), Route::QuoteCreate),
        Step::CreateActed => (
            Route::OutgoingPaymentCreate,
            held(1),
            Route::OutgoingPaymentCreate,
        ),
        Step::CreateAnswerLost => (
            Route::OutgoingPaymentCreate,
            Fault::LoseResponse,
            Route::OutgoingPaymentCreate,
        ),
    };
    s.sandbox.set_fault(route, fault, Some(1));
    s.sandbox.clear_journal();
    let pay = s.spawn_pay(&grant, &receiver);
    s.wait_route(wait_for).await;
    if matches!(step, Step::CreateInFlight) {
        // The create follows the quote at once; the RS holds it 3 s.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(pay); // kill -9

    // The same command again: the same payment, carried on here or by the worker.
    let paid = s
        .run(&[
            "pay",
            "--grant",
            &grant,
            "--receiver",
            &receiver,
            "--debit",
            &DEBIT.to_string(),
            "--idempotency-key",
            "once",
        ])
        .await
        .unwrap_or_else(|e| panic!("{step:?}: the payment did not end sent: {e}"));
    assert_eq!(paid["state"], "Sent", "{step:?}: {paid}");
    let status = s
        .run(&["pay", "status", paid["id"].as_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(status["outgoing_payment"], paid["outgoing_payment"]);

    // Exactly one outgoing payment at the RS, one create that acted, one credit.
    let rs: url::Url = s.sandbox.resource_server_url().parse().unwrap();
    let token = s.token(&grant).await;
    let page = grantflow::protocol::pagination::PageRequest::first(100).unwrap();
    let listed = s
        .client
        .list_outgoing_payments(&rs, &token, &s.sandbox.wallet_address_url("alice"), &page)
        .await
        .unwrap()
        .result;
    let ids: Vec<_> = listed.iter().map(|p| Value::from(p.id.clone())).collect();
    assert_eq!(ids, [paid["outgoing_payment"].clone()], "{step:?}");
    let acted = s
        .sandbox
        .journal()
        .iter()
        .filter(|e| e.route == Route::OutgoingPaymentCreate && e.acted)
        .count();
    assert_eq!(acted, 1, "{step:?}: creates that acted");
    let incoming = s
        .client
        .get_incoming_payment(&receiver.parse().unwrap(), &receiver_token)
        .await
        .unwrap();
    let received = serde_json::to_value(&incoming).unwrap();
    assert_eq!(
        received["receivedAmount"]["value"],
        DEBIT.to_string(),
        "{step:?}: the receiver credited once: {received}"
    );
    drop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_with_the_quote_answered() {
    killed_at(Step::QuoteAnswered, None).await;
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_killed_with_the_quote_answered(pool: sqlx::PgPool) {
    killed_at(Step::QuoteAnswered, Some(database_url_of(&pool))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_with_the_create_in_flight() {
    killed_at(Step::CreateInFlight, None).await;
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_killed_with_the_create_in_flight(pool: sqlx::PgPool) {
    killed_at(Step::CreateInFlight, Some(database_url_of(&pool))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_with_the_create_acted() {
    killed_at(Step::CreateActed, None).await;
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_killed_with_the_create_acted(pool: sqlx::PgPool) {
    killed_at(Step::CreateActed, Some(database_url_of(&pool))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_with_the_create_answer_lost() {
    killed_at(Step::CreateAnswerLost, None).await;
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_killed_with_the_create_answer_lost(pool: sqlx::PgPool) {
    killed_at(Step::CreateAnswerLost, Some(database_url_of(&pool))).await;
}
