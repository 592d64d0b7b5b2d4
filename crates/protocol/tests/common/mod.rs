//! Running the Node scripts in `crates/protocol/js/` against the reference packages.
//!
//! The packages are installed by `scripts/test` into `$GRANTFLOW_JS_MODULES`
//! (`target/js/node_modules`). When Node or the packages are missing, [`node`] fails the test in
//! CI (`CI=true`) and elsewhere prints a loud `SKIPPED:` line to stderr and returns `None`.

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
        tool_missing(test, "`node` is not on PATH");
        return None;
    }
    for pkg in [
        "@interledger/open-payments",
        "@interledger/http-signature-utils",
    ] {
        if !modules.join(pkg).join("package.json").is_file() {
            tool_missing(
                test,
                &format!("{pkg} is not installed in {}", modules.display()),
            );
            return None;
        }
    }
    Some(Node { modules })
}

/// The one rule for a missing tool: in CI (`CI` is `true` or `1`) the test fails, so a CI run
/// cannot pass without the check; on a developer's machine it says so on stderr and skips.
pub fn tool_missing(test: &str, what: &str) {
    const INSTALL: &str = "install Node.js (20 or later) and npm, then run scripts/test: it \
        installs @interledger/open-payments 7.4.0 and @interledger/http-signature-utils 2.0.3 \
        into target/js/node_modules and sets GRANTFLOW_JS_MODULES";
    let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    assert!(!in_ci, "{test}: {what}, and CI is set: {INSTALL}");
    eprintln!("SKIPPED: {test}: {what}; the Node interop check did NOT run ({INSTALL})");
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
