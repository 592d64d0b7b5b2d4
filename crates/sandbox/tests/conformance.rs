//! Conformance against the reference client: `js/conformance.mjs` drives a sandbox started here
//! with `@interledger/open-payments` 7.4.0 (`validateResponses: true`, `useHttp: true`) through
//! the seed flows and a badly signed request. `scripts/test` installs the package and sets
//! `GRANTFLOW_JS_MODULES`; without Node or the package the test says so loudly and returns.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

use std::path::{Path, PathBuf};
use std::process::Command;

use grantflow_sandbox::{Sandbox, SandboxConfig};

fn js_modules() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("GRANTFLOW_JS_MODULES")?);
    let present = dir.join("@interledger/open-payments").is_dir()
        && dir.join("@interledger/http-signature-utils").is_dir();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (present && node).then_some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_client_walks_the_seed_flows() {
    let Some(modules) = js_modules() else {
        eprintln!(
            "\n!!! SKIPPED: node or GRANTFLOW_JS_MODULES (with @interledger/open-payments 7.4.0) is \
             missing; run scripts/test to check the sandbox against the reference client\n"
        );
        return;
    };
    // A 1-second wait keeps the script's too_fast check meaningful and the run short.
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 1,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("js/conformance.mjs");
    let base = sandbox.base_url().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(base)
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
        "conformance script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("conformance: all steps passed"), "{stdout}");
    sandbox.shutdown().await;
}
