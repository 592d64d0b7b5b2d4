//! The seed examples (`examples/outgoing_payment_grant.rs`, `examples/continue_grant.rs`) run as
//! a user runs them, against a sandbox started in this process: request the grant, approve it
//! as the resource owner, continue it with the `interact_ref`, get the access token.
//!
//! The example binaries run from `target/<profile>/examples/`, found beside the `grantflow`
//! binary (see [`examples_dir`]).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use grantflow::protocol::keys::PrivateKey;
use grantflow::sandbox::{Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};

/// The folder holding the built examples, beside the `grantflow` binary. Built here, once per
/// test binary, with `cargo build --examples` in the test's profile: a no-op when they are up to
/// date, and never a stale binary left by an earlier build (`cargo nextest run --examples`
/// builds the examples as test harnesses, not these binaries).
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let profile_dir = Path::new(env!("CARGO_BIN_EXE_grantflow")).parent().unwrap();
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "grantflow",
                "--examples",
                "--profile",
                profile,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --examples failed");
        profile_dir.join("examples")
    })
}

/// Runs an example with exactly these environment variables (plus PATH).
fn run_example(name: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(examples_dir().join(name));
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied());
    command.output().expect("the example runs")
}

/// `NAME = value` and `Please interact at the following URL: value` lines of a run.
fn outputs(out: &Output) -> HashMap<String, String> {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    stdout
        .lines()
        .filter_map(|line| {
            line.split_once(" = ")
                .or_else(|| line.split_once(": "))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

struct Fixture {
    sandbox: SandboxHandle,
    _dir: tempfile::TempDir,
    key_path: String,
    wallet_address: String,
}

/// A sandbox hosting the client wallet address `client` with a key generated for the test.
async fn fixture() -> Fixture {
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let key = PrivateKey::generate();
    let wallet_address = sandbox
        .put_wallet_address(WalletAddressSpec::client(
            "client",
            "Example client",
            key.public_jwks("key-1"),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("client.pem");
    std::fs::write(&key_path, key.to_pkcs8_pem().as_bytes()).unwrap();
    Fixture {
        sandbox,
        key_path: key_path.to_str().unwrap().to_owned(),
        _dir: dir,
        wallet_address,
    }
}

async fn run(name: &'static str, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_example(name, &env)
    })
    .await
    .unwrap()
}

async fn request_approve_continue(interval: Option<&str>) {
    let f = fixture().await;
    let common = vec![
        ("WALLET_ADDRESS", f.wallet_address.clone()),
        ("PRIVATE_KEY_PATH", f.key_path.clone()),
        ("KEY_ID", "key-1".to_owned()),
    ];

    let mut env = common.clone();
    env.push(("DEBIT_AMOUNT", "1000".to_owned()));
    if let Some(interval) = interval {
        env.push(("INTERVAL", interval.to_owned()));
    }
    let out = run("outgoing_payment_grant", env).await;
    assert!(
        out.status.success(),
        "outgoing_payment_grant failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = outputs(&out);
    let redirect = &printed["Please interact at the following URL"];
    assert!(redirect.starts_with(f.sandbox.base_url()), "{redirect}");
    assert!(!printed["CONTINUE_ACCESS_TOKEN"].is_empty());
    assert!(printed["CONTINUE_URI"].starts_with(f.sandbox.base_url()));
    assert!(!printed["NONCE"].is_empty(), "a generated nonce is printed");

    // The resource owner approves; the browser lands on the finish URI with `interact_ref`.
    let outcome = f.sandbox.approve_interaction(redirect).unwrap();
    let finish = outcome.redirect.as_ref().unwrap().expose().to_owned();
    assert!(finish.starts_with("http://localhost:3344"), "{finish}");
    let interact_ref = outcome.interact_ref.unwrap().expose().to_owned();

    let mut env = common.clone();
    env.push((
        "CONTINUE_ACCESS_TOKEN",
        printed["CONTINUE_ACCESS_TOKEN"].clone(),
    ));
    env.push(("CONTINUE_URI", printed["CONTINUE_URI"].clone()));
    env.push(("INTERACT_REF", interact_ref.clone()));
    let out = run("continue_grant", env.clone()).await;
    assert!(
        out.status.success(),
        "continue_grant failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issued = outputs(&out);
    assert!(!issued["OUTGOING_PAYMENT_ACCESS_TOKEN"].is_empty());
    assert!(
        issued["OUTGOING_PAYMENT_ACCESS_TOKEN_MANAGE_URL"].starts_with(f.sandbox.base_url()),
        "{issued:?}"
    );

    // The interact_ref is single-use: a second continuation is refused, and says so.
    let again = run("continue_grant", env).await;
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("continuation request failed"), "{stderr}");
    f.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_with_a_debit_limit_yields_an_access_token() {
    request_approve_continue(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_with_a_daily_interval_yields_an_access_token() {
    request_approve_continue(Some("R/2016-08-24T08:00:00Z/P1D")).await;
}

#[test]
fn a_missing_setting_is_named_with_what_to_set() {
    let out = run_example("outgoing_payment_grant", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WALLET_ADDRESS is not set"), "{stderr}");

    let out = run_example(
        "continue_grant",
        &[
            ("WALLET_ADDRESS", "http://127.0.0.1:9/client"),
            ("PRIVATE_KEY_PATH", "/nonexistent.pem"),
            ("KEY_ID", "k"),
            ("CONTINUE_ACCESS_TOKEN", "t"),
            ("CONTINUE_URI", "http://127.0.0.1:9/continue/x"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("INTERACT_REF is not set"), "{stderr}");
}

#[test]
fn embed_runs_the_engine_inside_an_axum_application() {
    let out = run_example("embed", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("/welcome?grant="), "{stdout}");
    assert!(stdout.contains("is \"Issued\""), "{stdout}");
}

#[test]
fn recurring_pays_each_window_and_asks_again_when_the_series_ends() {
    let out = run_example("recurring", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paid = stdout
        .lines()
        .filter(|l| l.contains(": paid 2.00 USD in window"))
        .count();
    assert_eq!(paid, 5, "{stdout}");
    assert!(
        stdout.contains(
            "day 3: the grant's series is over: the schedule asks the user for a new grant"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("5 days: 5 paid, 0 skipped, 0 failed; 1 new grant(s) asked for; the schedule is Completed"),
        "{stdout}"
    );
}
