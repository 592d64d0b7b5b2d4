//! Issue 15: the operator console in a real browser. The sandbox runs here; two `grantflow
//! worker` processes share a PostgreSQL database (the console's token given to both). One of
//! them is killed with SIGKILL while its continue is at the authorization server; the other
//! resumes the grant. Then `tests/js/console_browser.mjs` drives Debian's Chromium through
//! playwright-core: the list, a filter, the resumed grant's timeline, and a revoke from the page
//! whose new state reaches another open tab through the event stream. Screenshots go to
//! `target/console-screenshots/`.
//!
//! Needs `/usr/bin/chromium` (`.ci/run` installs it), Node and `playwright-core` in
//! `GRANTFLOW_JS_MODULES` (`scripts/test` installs it): in CI a missing one fails the test; on a
//! developer's machine the test says so and skips.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grantflow::sandbox::{Fault, Route, SandboxConfig};
use serde_json::{Value, json};
use support::{Operator, Process, database_url_of, free_port, output, spawn_worker};

const TOKEN: &str = "console-browser-test-operator-token";

/// What the browser test needs, or why it cannot run.
fn tools() -> Result<PathBuf, String> {
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("/usr/bin/chromium is missing (apt-get install chromium)".into());
    }
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        return Err("node is missing".into());
    }
    let modules = std::env::var_os("GRANTFLOW_JS_MODULES")
        .map(PathBuf::from)
        .ok_or("GRANTFLOW_JS_MODULES is not set")?;
    if !modules.join("playwright-core").is_dir() {
        return Err(format!("{} has no playwright-core", modules.display()));
    }
    Ok(modules)
}

/// In CI (`CI` is `true` or `1`) a missing tool fails the test; elsewhere it skips, loudly.
fn tool_missing(what: &str) {
    const INSTALL: &str = "run .ci/run or scripts/test: they install Debian's chromium and \
        playwright-core into target/js/node_modules and set GRANTFLOW_JS_MODULES";
    let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    assert!(!in_ci, "console_browser: {what}, and CI is set: {INSTALL}");
    eprintln!("\n!!! SKIPPED: console_browser: {what}; the check did NOT run ({INSTALL})\n");
}

/// The operator's setting: sandbox, client, sealed secrets, the console's token.
struct Setup(Operator);

impl std::ops::Deref for Setup {
    type Target = Operator;
    fn deref(&self) -> &Operator {
        &self.0
    }
}

impl Setup {
    /// `grantflow` with this setup's environment, its finish callbacks reaching `listen`.
    fn command(&self, listen: &str) -> Command {
        let mut c = self.0.command();
        c.env("GRANTFLOW_CONSOLE_TOKEN_FILE", self.0.path("console-token"))
            .env("GRANTFLOW_PUBLIC_URL", format!("http://{listen}/"))
            .env("GRANTFLOW_LISTEN", listen)
            // A killed worker holds a grant for a lease at most: keep that wait short.
            .env("GRANTFLOW_LEASE_SECONDS", "3");
        c
    }

    /// Starts `grantflow worker` on a free port and waits until it serves; the worker and its
    /// address. A port another process took between the probe and the bind is tried again.
    async fn worker(&self) -> (Process, String) {
        let mut last = String::new();
        for _ in 0..5 {
            let listen = format!("127.0.0.1:{}", free_port());
            let mut command = self.command(&listen);
            command.stderr(Stdio::inherit());
            let (worker, line) = tokio::task::spawn_blocking(move || {
                let (child, line) = spawn_worker(command, &[]);
                (Process(child), line)
            })
            .await
            .unwrap();
            if line.contains("finish callbacks at") {
                return (worker, listen);
            }
            last = line;
        }
        panic!("grantflow worker did not start: {last:?}")
    }

    /// `grantflow grant <args> --json` with callbacks to `listen`; its JSON output.
    async fn grant(&self, listen: &str, args: &[&str]) -> Value {
        let mut c = self.command(listen);
        c.arg("grant").args(args).arg("--json");
        let out = output(c).await;
        assert!(out.status.success(), "grant {args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits (up to 60 s) until `done` holds for the grant's status.
    async fn wait_status(&self, listen: &str, id: &str, what: &str, done: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.grant(listen, &["status", id]).await;
            if done(&status) {
                return;
            }
            assert!(Instant::now() < deadline, "never {what}: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Where screenshots go: `target/console-screenshots/` (under `CARGO_TARGET_DIR` when set).
fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("console-screenshots")
}

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn the_console_in_chromium_shows_a_resumed_grant_and_a_revoke_arriving_live(
    pool: sqlx::PgPool,
) {
    let modules = match tools() {
        Ok(m) => m,
        Err(what) => return tool_missing(&what),
    };
    let operator = Operator::start(
        SandboxConfig {
            wait_seconds: 0,
            ..SandboxConfig::default()
        },
        "shop",
        Some(database_url_of(&pool)),
    )
    .await
    .sealed();
    std::fs::write(operator.path("console-token"), TOKEN).unwrap();
    let s = Setup(operator);
    let (doomed, doomed_at) = s.worker().await;
    let (survivor, survivor_at) = s.worker().await;
    let alice = s.sandbox.wallet_address_url("alice");

    // Three grants: issued at once, waiting for its user, and one whose continue is cut by a kill.
    let incoming = s
        .grant(
            &survivor_at,
            &["request", "--for", &alice, "--access", "incoming-payment"],
        )
        .await;
    let outgoing = ["request", "--for", &alice, "--access", "outgoing-payment"];
    let limited = [
        &outgoing[..],
        &[
            "--debit-amount",
            "2500",
            "--interval",
            "R/2016-08-24T08:00:00Z/P1D",
        ],
    ]
    .concat();
    let waiting = s.grant(&survivor_at, &limited).await;
    let killed = s.grant(&doomed_at, &limited).await;
    let killed_id = killed["id"].as_str().unwrap().to_owned();
    // The continue hangs at the AS until the worker making it dies; the re-send is answered.
    s.sandbox.set_fault(
        Route::Continue,
        Fault::latency(Duration::from_secs(120)),
        Some(1),
    );
    let approved = s
        .sandbox
        .approve_interaction(killed["redirect"].as_str().unwrap())
        .unwrap();
    reqwest::get(approved.redirect.unwrap().expose())
        .await
        .unwrap();
    s.wait_status(&survivor_at, &killed_id, "continuing in flight", |st| {
        st["state"] == "Continuing" && st["in_flight"] == "continue"
    })
    .await;
    drop(doomed); // SIGKILL: no shutdown, the lease is left to lapse
    s.wait_status(&survivor_at, &killed_id, "issued by the survivor", |st| {
        st["state"] == "Issued"
    })
    .await;
    assert_eq!(incoming["state"], "Issued", "{incoming}");

    let shots = screenshot_dir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/console_browser.mjs");
    let given = json!({
        "killed": killed_id,
        "waiting": waiting["id"],
        "token": TOKEN,
    });
    let console_url = format!("http://{survivor_at}/console");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(console_url)
            .arg(&shots)
            .arg(given.to_string())
            .env("GRANTFLOW_JS_MODULES", modules)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("console browser: all steps passed"),
        "{stdout}"
    );
    s.wait_status(&survivor_at, &killed_id, "revoked", |st| {
        st["state"] == "Revoked"
    })
    .await;
    drop(survivor);
    s.0.sandbox.shutdown().await;
}
