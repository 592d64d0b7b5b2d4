//! `grantflow worker` and `grantflow grant ...` as an operator runs them: a sandbox on loopback,
//! a worker process on a SQLite file, and grant commands against the same database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use grantflow::sandbox::{SandboxConfig, WalletAddressSpec};
use serde_json::Value;
use support::{Operator, Process, free_port};

/// The operator's setting on a SQLite file, the worker's address, and the key set commands
/// sign with instead of `key.pem`, when set.
struct Setup {
    operator: Operator,
    public_url: String,
    listen: String,
    key_set: Option<std::path::PathBuf>,
}

impl std::ops::Deref for Setup {
    type Target = Operator;
    fn deref(&self) -> &Operator {
        &self.operator
    }
}

async fn setup() -> Setup {
    setup_with_wait(0).await
}

/// A setup whose AS asks clients to wait `wait_seconds` before continuing (`continue.wait`).
async fn setup_with_wait(wait_seconds: u64) -> Setup {
    setup_with(SandboxConfig {
        wait_seconds,
        ..SandboxConfig::default()
    })
    .await
}

/// A setup whose AS runs with `config`.
async fn setup_with(config: SandboxConfig) -> Setup {
    let port = free_port();
    Setup {
        operator: Operator::start(config, "ops", None).await,
        public_url: format!("http://127.0.0.1:{port}/"),
        listen: format!("127.0.0.1:{port}"),
        key_set: None,
    }
}

fn command(s: &Setup) -> Command {
    let mut c = s.operator.command();
    c.env("GRANTFLOW_PUBLIC_URL", &s.public_url)
        .env("GRANTFLOW_LISTEN", &s.listen);
    if let Some(set) = &s.key_set {
        c.env("GRANTFLOW_KEY_SET", set)
            .env("GRANTFLOW_KEY_RELOAD_SECONDS", "1");
    }
    c
}

/// Runs `grantflow grant <args> --json`, whatever its exit status.
async fn grant_output(s: &Setup, args: &[&str]) -> Output {
    let mut c = command(s);
    c.arg("grant").args(args).arg("--json");
    support::output(c).await
}

async fn grant(s: &Setup, args: &[&str]) -> Value {
    let out = grant_output(s, args).await;
    assert!(
        out.status.success(),
        "grant {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn wait_state(s: &Setup, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = grant(s, &["status", id]).await;
        if status["state"] == want {
            return status;
        }
        assert!(Instant::now() < deadline, "never {want}: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn start_worker(s: &Setup) -> Process {
    start_worker_with(s, &[])
}

/// A worker started with extra flags.
fn start_worker_with(s: &Setup, flags: &[&str]) -> Process {
    let mut c = command(s);
    c.stderr(Stdio::inherit());
    spawn_worker(c, flags)
}

/// Starts `grantflow worker` with the settings of `c` and `flags`, and waits until it serves.
fn spawn_worker(c: Command, flags: &[&str]) -> Process {
    let (child, line) = support::spawn_worker(c, flags);
    let worker = Process(child);
    assert!(line.contains("finish callbacks at"), "{line}");
    worker
}

/// Stops the worker with SIGTERM and checks it exits cleanly.
fn stop(mut worker: Process) {
    let pid = worker.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = worker.0.wait().unwrap();
    assert!(status.success(), "the worker exited {status} on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_from_request_to_revoke_with_a_worker_taking_the_callback() {
    let s = setup().await;
    let worker = start_worker(&s);
    let alice = s.sandbox.wallet_address_url("alice");

    let order = [
        "request",
        "--for",
        &alice,
        "--access",
        "outgoing-payment",
        "--debit-amount",
        "1000",
        "--interval",
        "R/2026-01-01T00:00:00Z/P1D",
        "--idempotency-key",
        "order-1",
    ];
    let requested = grant(&s, &order).await;
    assert_eq!(requested["state"], "AwaitingInteraction");
    let id = requested["id"].as_str().unwrap().to_owned();
    let redirect = requested["redirect"].as_str().unwrap();

    // The same key and request give the same grant.
    let again = grant(&s, &order).await;
    assert_eq!(again["id"], id.as_str());
    // The same key for another request (no interval): refused, saying what differs.
    let without_interval: Vec<&str> = order
        .iter()
        .copied()
        .filter(|a| !a.starts_with("R/") && *a != "--interval")
        .collect();
    let out = grant_output(&s, &without_interval).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("idempotency key \"order-1\" was first used for another request")
            && stderr.contains(&id)
            && stderr.contains("its access differs"),
        "{stderr}"
    );
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("access differs"),
        "{error}"
    );

    // The user approves; the browser lands on the worker's finish callback.
    let outcome = s.sandbox.approve_interaction(redirect).unwrap();
    let finish = outcome.redirect.unwrap().expose().to_owned();
    assert!(finish.starts_with(&s.public_url), "{finish}");
    let page = reqwest::get(&finish).await.unwrap();
    assert_eq!(page.status(), 200);

    let issued = wait_state(&s, &id, "Issued").await;
    assert!(issued["token"]["manage"].as_str().is_some());
    let token = grant(&s, &["token", &id]).await;
    let value = token["value"].as_str().unwrap();
    assert!(!value.is_empty());
    assert!(
        !issued.to_string().contains(value),
        "status prints no token"
    );
    let rotated = grant(&s, &["rotate", &id]).await;
    assert_eq!(rotated["state"], "Issued");
    assert_ne!(rotated["token"]["manage"], issued["token"]["manage"]);
    let revoked = grant(&s, &["revoke", &id]).await;
    assert_eq!(revoked["state"], "Revoked");

    let history = grant(&s, &["history", &id]).await;
    let events: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"request"));
    assert!(events.contains(&"finish(hash, interact_ref)"), "{events:?}");
    assert!(events.contains(&"answered(rotated)"), "{events:?}");

    stop(worker);
    s.operator.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_redirect_handed_over_by_hand_continues_the_grant() {
    let s = setup().await;
    let alice = s.sandbox.wallet_address_url("alice");
    let requested = grant(
        &s,
        &[
            "request",
            "--for",
            &alice,
            "--access",
            "outgoing-payment",
            "--debit-amount",
            "500",
        ],
    )
    .await;
    let id = requested["id"].as_str().unwrap().to_owned();
    let outcome = s
        .sandbox
        .approve_interaction(requested["redirect"].as_str().unwrap())
        .unwrap();
    let finish = outcome.redirect.unwrap().expose().to_owned();
    let continued = grant(&s, &["continue", &finish]).await;
    assert_eq!(continued["state"], "Issued");
    let canceled = grant(&s, &["cancel", &id]).await;
    assert_eq!(canceled["state"], "Canceled");

    // A second grant: `list` shows both, newest first, with their states.
    let second = grant(
        &s,
        &["request", "--for", &alice, "--access", "incoming-payment"],
    )
    .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let listed = grant(&s, &["list"]).await;
    let rows = listed["grants"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!(rows[0]["id"], second_id.as_str());
    assert_eq!(rows[1]["id"], id.as_str());
    assert_eq!(rows[1]["state"], "Canceled");
    assert_eq!(rows[1]["wallet_address"], alice.as_str());
    assert_eq!(listed["next"], Value::Null);
    // Pages by cursor: the first page says where the second starts.
    let first = grant(&s, &["list", "--limit", "1"]).await;
    assert_eq!(first["grants"][0]["id"], second_id.as_str());
    let next = first["next"].as_str().expect("a next cursor").to_owned();
    let page = grant(&s, &["list", "--limit", "1", "--after", &next]).await;
    assert_eq!(page["grants"].as_array().unwrap().len(), 1);
    assert_eq!(page["grants"][0]["id"], id.as_str());
    assert_eq!(page["next"], Value::Null);
    // Filters: by state (any case), by wallet address, by access type.
    let canceled = grant(&s, &["list", "--state", "canceled"]).await;
    assert_eq!(canceled["grants"].as_array().unwrap().len(), 1);
    assert_eq!(canceled["grants"][0]["id"], id.as_str());
    // (`grant request --for` names the wallet address in every access type that has one.)
    let by_wallet = grant(&s, &["list", "--wallet", &alice]).await;
    assert_eq!(by_wallet["grants"].as_array().unwrap().len(), 2);
    let by_other = grant(&s, &["list", "--wallet", "https://wallet.invalid/bob"]).await;
    assert_eq!(by_other["grants"].as_array().unwrap().len(), 0);
    let by_access = grant(&s, &["list", "--access", "incoming-payment"]).await;
    assert_eq!(by_access["grants"][0]["id"], second_id.as_str());
    assert_eq!(by_access["grants"].as_array().unwrap().len(), 1);
    // Bad input gets a clear error and exit code 1.
    let out = grant_output(&s, &["list", "--state", "Pending"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unknown state kind") && stderr.contains("AwaitingInteraction"),
        "{stderr}"
    );
    let out = grant_output(&s, &["list", "--after", "yesterday"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("malformed list cursor"), "{stderr}");
    // Reindex: every grant already has its summary.
    let reindexed = grant(&s, &["reindex"]).await;
    assert_eq!(reindexed["written"], 0);
    assert_eq!(reindexed["unchanged"], 2);
    s.operator.sandbox.shutdown().await;
}

/// With no worker running and an AS that asks for a wait before the continue, `grant continue`
/// drives the engine itself until the grant is issued (it used to wait 30 s and leave the grant
/// `Continuing`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_redirect_handed_over_by_hand_without_a_worker_honours_the_wait() {
    let s = setup_with_wait(2).await;
    let (id, redirect) = request_outgoing(&s).await;
    let outcome = s.sandbox.approve_interaction(&redirect).unwrap();
    let finish = outcome.redirect.unwrap().expose().to_owned();
    let continued = grant(&s, &["continue", &finish]).await;
    assert_eq!(continued["state"], "Issued", "{continued}");
    assert_eq!(continued["id"], id.as_str());
    let status = grant(&s, &["status", &id]).await;
    assert_eq!(status["state"], "Issued", "{status}");
    s.operator.sandbox.shutdown().await;
}

#[test]
fn commands_without_a_database_say_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(["grant", "status", "00000000-0000-0000-0000-000000000000"])
        .env_remove("GRANTFLOW_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--database-url") && stderr.contains("GRANTFLOW_DATABASE_URL"),
        "{stderr}"
    );
}

/// Runs `grantflow keys <args> --json` and returns its JSON, asserting success or failure.
fn keys(s: &Setup, args: &[&str], succeeds: bool) -> Value {
    let out = command(s)
        .arg("keys")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.success(),
        succeeds,
        "keys {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Publishes a JWKS at the client's wallet address, as its wallet provider would.
fn publish(s: &Setup, jwks: &Value) {
    let jwks = serde_json::from_value(jwks.clone()).unwrap();
    s.sandbox
        .put_wallet_address(WalletAddressSpec::client("ops", "Ops", jwks))
        .unwrap();
}

/// Requests an outgoing-payment grant; returns its id and the user's redirect.
async fn request_outgoing(s: &Setup) -> (String, String) {
    let alice = s.sandbox.wallet_address_url("alice");
    let args = ["request", "--for", &alice, "--access", "outgoing-payment"];
    let requested = grant(s, &[&args[..], &["--debit-amount", "100"]].concat()).await;
    assert_eq!(requested["state"], "AwaitingInteraction", "{requested}");
    let id = requested["id"].as_str().unwrap().to_owned();
    (id, requested["redirect"].as_str().unwrap().to_owned())
}

/// The user approves and the browser follows the redirect to the worker, which continues the
/// grant (a signed call); waits until it is issued.
async fn approve_and_wait(s: &Setup, id: &str, redirect: &str) {
    let outcome = s.sandbox.approve_interaction(redirect).unwrap();
    let finish = outcome.redirect.unwrap().expose().to_owned();
    assert_eq!(reqwest::get(&finish).await.unwrap().status(), 200);
    wait_state(s, id, "Issued").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_worker_follows_a_client_key_rotation() {
    let mut s = setup().await;
    let set = s.path("keys");
    let set_arg = set.to_str().unwrap().to_owned();
    let key_pem = s.path("key.pem");
    let old_key = key_pem.to_str().unwrap().to_owned();
    // The key the wallet address publishes (k1) becomes the key set's first, active key.
    let added = keys(
        &s,
        &[
            "add",
            "--key-set",
            &set_arg,
            "--key-id",
            "k1",
            "--from",
            &old_key,
        ],
        true,
    );
    assert_eq!(added["active"], "k1");
    s.key_set = Some(set.clone());
    let mut worker = start_worker(&s);
    let mut worker_out = BufReader::new(worker.0.stdout.take().unwrap());

    // Signed with key 1: the worker continues a grant.
    let (first, redirect) = request_outgoing(&s).await;
    approve_and_wait(&s, &first, &redirect).await;
    // A grant requested under key 1, continued by the worker after the rotation.
    let (pending, pending_redirect) = request_outgoing(&s).await;

    // 1. Publish key 2 beside key 1. Activating it before it is published is refused.
    let added = keys(&s, &["add", "--key-set", &set_arg, "--key-id", "k2"], true);
    assert_eq!(added["active"], "k1");
    let activate_k2 = [
        "activate",
        "--key-set",
        &set_arg,
        "k2",
        "--wallet-address",
        &s.wallet,
    ];
    let refused = keys(&s, &activate_k2, false);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("does not publish key \"k2\""),
        "{refused}"
    );
    publish(&s, &added["jwks"]);

    // 2. Switch; the worker says when it signs with key 2.
    let active = keys(&s, &activate_k2, true);
    assert_eq!(active["active"], "k2");
    let mut line = String::new();
    while !line.contains("signing with k2") {
        line.clear();
        assert!(
            worker_out.read_line(&mut line).unwrap() > 0,
            "the worker exited"
        );
    }

    // 3. Retire key 1 and publish key 2 alone: key 1 signatures are refused from now on.
    let retired = keys(&s, &["retire", "--key-set", &set_arg, "k1"], true);
    assert_eq!(
        retired["jwks"]["keys"].as_array().unwrap().len(),
        1,
        "{retired}"
    );
    publish(&s, &retired["jwks"]);
    let refused = keys(&s, &["retire", "--key-set", &set_arg, "k2"], false);
    assert!(
        refused["error"].as_str().unwrap().contains("active"),
        "{refused}"
    );

    // The worker continues the pending grant signed with key 2, and commands sign with it.
    approve_and_wait(&s, &pending, &pending_redirect).await;
    let rotated = grant(&s, &["rotate", &first]).await;
    assert_eq!(rotated["state"], "Issued", "{rotated}");

    // A request signed with key 1 (its file kept from before) is refused by the AS.
    s.key_set = None;
    let alice = s.sandbox.wallet_address_url("alice");
    let refused = grant(
        &s,
        &["request", "--for", &alice, "--access", "incoming-payment"],
    )
    .await;
    assert_eq!(refused["state"], "Failed", "{refused}");
    let reason = refused["reason"].as_str().unwrap();
    assert!(reason.contains("invalid_client"), "{reason}");

    stop(worker);
    s.operator.sandbox.shutdown().await;
}

/// Runs `grantflow grant <args>` (text output); returns (exit code, stdout, stderr).
async fn grant_text(s: &Setup, args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = command(s);
    c.arg("grant").args(args);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An outgoing-payment grant without an amount limit must be asked for with `--no-limit`;
/// `status` then says what the grant is (access, wallet address, limit, interval, idempotency
/// key, times in RFC 3339 UTC), and a unique id prefix names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_without_a_limit_needs_no_limit_and_status_says_what_it_is() {
    let s = setup().await;
    let alice = s.sandbox.wallet_address_url("alice");
    let base = ["request", "--for", &alice, "--access", "outgoing-payment"];
    let (code, _, stderr) = grant_text(&s, &base).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("--no-limit") && stderr.contains("any amount"),
        "{stderr}"
    );
    let unlimited = grant(&s, &[&base[..], &["--no-limit"]].concat()).await;
    assert_eq!(unlimited["state"], "AwaitingInteraction", "{unlimited}");
    let unlimited_id = unlimited["id"].as_str().unwrap().to_owned();
    let (code, text, stderr) = grant_text(&s, &["status", &unlimited_id[..8]]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        text.contains("limit    none: any amount may be sent"),
        "{text}"
    );

    let limited = grant(
        &s,
        &[
            &base[..],
            &[
                "--debit-amount",
                "500",
                "--interval",
                "R/2016-08-24T08:00:00Z/P1D",
                "--idempotency-key",
                "order-7",
            ],
        ]
        .concat(),
    )
    .await;
    let id = limited["id"].as_str().unwrap().to_owned();
    let (code, text, stderr) = grant_text(&s, &["status", &id[..8]]).await;
    assert_eq!(code, Some(0), "{stderr}");
    for needle in [
        format!("grant      {id}"),
        "access     outgoing-payment (".to_owned(),
        format!("wallet   {alice}"),
        "limit    debit at most 500 USD (scale 2)".to_owned(),
        "interval R/2016-08-24T08:00:00Z/P1D".to_owned(),
        "idempotency key  order-7".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle:?} missing:\n{text}");
    }
    let created = text
        .lines()
        .find_map(|l| l.strip_prefix("created"))
        .unwrap()
        .trim();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    let status = grant(&s, &["status", &id[..8]]).await;
    assert_eq!(status["access"][0]["limits"]["debitAmount"]["value"], "500");

    // `list` shows the access types and the idempotency key.
    let (_, text, _) = grant_text(&s, &["list"]).await;
    assert!(text.contains("idempotency key"), "{text}");
    assert!(text.contains("outgoing-payment"), "{text}");
    s.operator.sandbox.shutdown().await;
}

/// Ids by unique prefix; an ambiguous prefix lists the candidates; an unknown id points to
/// `grant list`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_ids_by_unique_prefix() {
    let s = setup().await;
    let alice = s.sandbox.wallet_address_url("alice");
    // 17 grants: two of them share their first hexadecimal digit.
    let mut ids = Vec::new();
    for _ in 0..17 {
        let g = grant(&s, &["request", "--for", &alice, "--access", "quote"]).await;
        ids.push(g["id"].as_str().unwrap().to_owned());
    }
    let shared = ids
        .iter()
        .find(|a| ids.iter().filter(|b| b[..1] == a[..1]).count() > 1)
        .unwrap()[..1]
        .to_owned();
    let (code, _, stderr) = grant_text(&s, &["history", &shared]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("ambiguous"), "{stderr}");
    for id in ids.iter().filter(|id| id.starts_with(&shared)).take(5) {
        assert!(stderr.contains(id.as_str()), "{id} not listed: {stderr}");
    }
    let history = grant(&s, &["history", &ids[0][..8]]).await;
    assert_eq!(history[0]["event"], "request");

    for unknown in ["00000000-0000-4000-8000-000000000000", "-"] {
        let (code, _, stderr) = grant_text(&s, &["status", unknown]).await;
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains("grantflow grant list"), "{stderr}");
    }
    let (code, _, stderr) = grant_text(&s, &["status", "not-an-id"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not a grant id"), "{stderr}");
    s.operator.sandbox.shutdown().await;
}

/// `grant token` says to wait while the grant is not issued, and `--wait` waits for it;
/// a rotation that does not end with a new token exits 1; `history | head` ends quietly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_waits_failed_goals_exit_1_and_a_closed_pipe_is_quiet() {
    let s = setup().await;
    let (id, redirect) = request_outgoing(&s).await;
    let (code, _, stderr) = grant_text(&s, &["token", &id]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--wait"), "{stderr}");
    let (code, _, stderr) = grant_text(&s, &["token", &id, "--wait=1"]).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("still AwaitingInteraction after 1s"),
        "{stderr}"
    );

    let worker = start_worker(&s);
    let waiting = {
        let mut c = command(&s);
        c.args(["grant", "token", &id[..8], "--wait"]);
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    let outcome = s.sandbox.approve_interaction(&redirect).unwrap();
    let finish = outcome.redirect.unwrap().expose().to_owned();
    assert_eq!(reqwest::get(&finish).await.unwrap().status(), 200);
    let out = waiting.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());
    stop(worker);

    // The AS refuses the rotation: the grant ends without a token, and the command failed.
    s.sandbox.set_fault(
        grantflow::sandbox::Route::TokenRotate,
        grantflow::sandbox::Fault::Status { status: 400 },
        None,
    );
    let (code, _, stderr) = grant_text(&s, &["rotate", &id]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("the rotation did not succeed"), "{stderr}");

    // A reader that closes the pipe at once: no panic, exit 0, nothing on stderr.
    let mut c = command(&s);
    let mut child = c
        .args(["grant", "history", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    s.operator.sandbox.shutdown().await;
}

/// An instant the CLI printed (RFC 3339).
fn instant(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .to_utc()
}

/// `--rotation` and `--keep-alive-seconds` reach the machine: an issued grant's next wake-up is
/// its keep-alive after expiry (on demand) or the margin before expiry (kept warm).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotation_flags_decide_when_an_issued_grant_wakes() {
    let s = setup().await;
    let alice = s.sandbox.wallet_address_url("alice");
    let request = ["request", "--for", &alice, "--access", "incoming-payment"];
    let wake = |g: &Value| instant(&g["next_wake_at"]) - instant(&g["token"]["expires_at"]);

    let on_demand = grant(
        &s,
        &[&request[..], &["--keep-alive-seconds", "3600"]].concat(),
    )
    .await;
    assert_eq!(on_demand["state"], "Issued", "{on_demand}");
    assert_eq!(wake(&on_demand), chrono::TimeDelta::hours(1), "{on_demand}");

    let kept_warm = grant(&s, &[&request[..], &["--rotation", "keep-warm"]].concat()).await;
    assert_eq!(kept_warm["state"], "Issued", "{kept_warm}");
    assert_eq!(
        wake(&kept_warm),
        -chrono::TimeDelta::seconds(30),
        "{kept_warm}"
    );
}

/// `--recovery-budget-seconds` reaches the worker: a grant request the AS keeps answering with
/// 500 ends `Failed` once the budget is spent (the default, 15 minutes, would keep retrying).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_gives_up_after_its_recovery_budget() {
    let s = setup().await;
    s.sandbox.set_fault(
        grantflow::sandbox::Route::GrantRequest,
        grantflow::sandbox::Fault::Status { status: 500 },
        None,
    );
    let budget = ["--recovery-budget-seconds", "2"];
    let alice = s.sandbox.wallet_address_url("alice");
    let request = ["request", "--for", &alice, "--access", "incoming-payment"];
    let requested = grant(&s, &[&request[..], &budget[..]].concat()).await;
    assert_eq!(requested["state"], "Requested", "{requested}");
    let id = requested["id"].as_str().unwrap().to_owned();
    let worker = start_worker_with(&s, &budget);
    let failed = wait_state(&s, &id, "Failed").await;
    stop(worker);
    let reason = failed["reason"].as_str().unwrap();
    assert!(reason.contains("500"), "{reason}");
    let attempts = s
        .sandbox
        .journal()
        .iter()
        .filter(|e| e.route == grantflow::sandbox::Route::GrantRequest)
        .count();
    assert!(attempts >= 2, "retried before giving up: {attempts}");
}

/// Issue 12: with a token lifetime at or under the margin, `grant token` never returned and
/// rotated 18-44 times a second. With a 2 s token, expired: one call returns a new token after
/// exactly one rotation (one request at the AS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_token_with_a_short_lived_token_rotates_once_and_returns() {
    let s = setup_with(SandboxConfig {
        wait_seconds: 0,
        access_token_lifetime_seconds: 2,
        ..SandboxConfig::default()
    })
    .await;
    let alice = s.sandbox.wallet_address_url("alice");
    let issued = grant(
        &s,
        &["request", "--for", &alice, "--access", "incoming-payment"],
    )
    .await;
    assert_eq!(issued["state"], "Issued", "{issued}");
    let id = issued["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2500)).await; // the token has expired
    let token = grant(&s, &["token", &id]).await;
    assert!(
        token["value"].as_str().is_some_and(|v| !v.is_empty()),
        "{token}"
    );
    let history = grant(&s, &["history", &id]).await;
    let rotations = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "rotate_now")
        .count();
    assert_eq!(rotations, 1, "{history}");
    let at_the_as = s
        .sandbox
        .journal()
        .iter()
        .filter(|e| e.route == grantflow::sandbox::Route::TokenRotate)
        .count();
    assert_eq!(at_the_as, 1);
    s.operator.sandbox.shutdown().await;
}

/// A webhook receiver on a loopback port: every request's signature header and body.
type Hooks = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

async fn webhook_receiver() -> (String, Hooks) {
    let hooks = Hooks::default();
    let taken = hooks.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                let signature = headers
                    .get("grantflow-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                taken.lock().unwrap().push((signature, body.to_vec()));
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks?receiver-token=r3ceiver",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hooks)
}

/// What an operator sees of a worker: `/healthz`, `/readyz` and `/metrics` on the finish
/// callback's listener, JSON logs whose lines about a grant carry its id, `grant` commands
/// logging at the level `RUST_LOG` asks for, and the webhook flags delivering signed changes
/// (the secret and the URL's query in no log line).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_health_and_metrics_and_logs_the_grant_id() {
    let s = setup().await;
    let (hook_url, hooks) = webhook_receiver().await;
    let secret_file = s.path("webhook.secret");
    std::fs::write(&secret_file, "wh-s3cret-for-the-cli-test\n").unwrap();
    let mut c = command(&s);
    c.env("RUST_LOG", "info")
        .env("GRANTFLOW_LOG_FORMAT", "json")
        .env("GRANTFLOW_WEBHOOK_URL", &hook_url)
        .env("GRANTFLOW_WEBHOOK_SECRET_FILE", &secret_file)
        .stderr(Stdio::piped());
    let mut worker = spawn_worker(c, &[]);
    // Read the logs as they come (a full pipe would stall the worker).
    let stderr = worker.0.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });

    let (id, redirect) = request_outgoing(&s).await;
    approve_and_wait(&s, &id, &redirect).await;

    // The webhook: the grant's changes up to `issued`, each signed with the file's secret.
    let secret = grantflow::driver::WebhookSecret::from_text("wh-s3cret-for-the-cli-test").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let got = hooks.lock().unwrap().clone();
        let bodies: Vec<Value> = got
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).unwrap())
            .collect();
        if bodies
            .iter()
            .any(|b| b["grant"] == id.as_str() && b["change"] == "issued")
        {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "no webhook said issued: {bodies:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let now = chrono::Utc::now().timestamp();
    for (signature, body) in &delivered {
        assert!(
            grantflow::driver::verify_signature(&secret, signature, body, now, 300),
            "{signature} does not sign {}",
            String::from_utf8_lossy(body)
        );
    }

    let healthz = reqwest::get(format!("{}healthz", s.public_url))
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = reqwest::get(format!("{}readyz", s.public_url))
        .await
        .unwrap();
    assert_eq!(readyz.status(), 200);
    assert_eq!(
        readyz.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ready"})
    );
    let metrics = reqwest::get(format!("{}metrics", s.public_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The worker continued the grant after the callback: its transitions and call are counted.
    assert!(
        metrics.contains(
            r#"grantflow_transitions_total{edge="ContinueIssued",from="Continuing",to="Issued"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"grantflow_as_calls_total{route="continue",outcome="answered"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("grantflow_database_up 1"), "{metrics}");
    let delivered_count: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"grantflow_webhook_deliveries_total{outcome="delivered"} "#))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(delivered_count >= 3.0, "{metrics}");

    // A one-shot command honours RUST_LOG on stderr; its report on stdout stays clean JSON.
    let mut status = command(&s);
    status
        .env("RUST_LOG", "sqlx=debug")
        .args(["grant", "status", &id, "--json"]);
    let out = tokio::task::spawn_blocking(move || status.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["id"], id.as_str());
    let debug = String::from_utf8_lossy(&out.stderr);
    assert!(debug.contains("DEBUG"), "no debug line: {debug}");
    assert!(!debug.contains("\u{1b}["), "colours on a pipe: {debug}");

    stop(worker);
    let logs = logs.join().unwrap();
    assert!(
        logs.iter()
            .any(|l| l.contains("webhook: delivering the change feed")),
        "{logs:#?}"
    );
    for secret in ["wh-s3cret", "r3ceiver"] {
        assert!(!logs.iter().any(|l| l.contains(secret)), "{secret} logged");
    }
    let about_the_grant: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["span"]["grant"] == id.as_str())
        .collect();
    // The callback and the continue it starts are logged within the grant's span.
    assert!(
        about_the_grant
            .iter()
            .any(|l| l["fields"]["message"] == "grant changed"),
        "no line about grant {id} carries its id: {logs:#?}"
    );
}
