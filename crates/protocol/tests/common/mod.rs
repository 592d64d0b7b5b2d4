//! Running the Node scripts in `crates/protocol/js/` against the reference packages.
//!
//! The packages are installed by `scripts/test` into `$GRANTFLOW_JS_MODULES`
//! (`target/js/node_modules`). When Node or the packages are missing, [`node`] prints a loud
//! `SKIPPED:` line to stderr and returns `None`; CI has both.

#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub mod fixtures;

/// Node and the modules folder, or `None` (after saying so loudly) when either is missing.
pub struct Node {
    modules: PathBuf,
}

pub fn node(test: &str) -> Option<Node> {
    let modules = std::env::var_os("GRANTFLOW_JS_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/js/node_modules"));
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_node {
        eprintln!("SKIPPED: {test}: `node` is not on PATH; the Node interop check did NOT run");
        return None;
    }
    for pkg in [
        "@interledger/open-payments",
        "@interledger/http-signature-utils",
    ] {
        if !modules.join(pkg).join("package.json").is_file() {
            eprintln!(
                "SKIPPED: {test}: {pkg} is not installed in {} (run scripts/test, or set GRANTFLOW_JS_MODULES); the Node interop check did NOT run",
                modules.display()
            );
            return None;
        }
    }
    Some(Node { modules })
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

impl Node {
    /// Runs `crates/protocol/js/<script>` with `args`, the input written to a temp file passed
    /// as the last argument; returns its stdout parsed as JSON.
    pub fn run(&self, script: &str, args: &[&str], input: &Value) -> Value {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("input.json");
        std::fs::write(&file, serde_json::to_vec(input).expect("json")).expect("write input");
        let script_path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("js")
            .join(script);
        let output = Command::new("node")
            .arg(&script_path)
            .args(args)
            .arg(&file)
            .env("GRANTFLOW_JS_MODULES", &self.modules)
            .output()
            .expect("run node");
        assert!(
            output.status.success(),
            "node {script} failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "node {script} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// The modules folder.
    pub fn modules(&self) -> &Path {
        &self.modules
    }
}
