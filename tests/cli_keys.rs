//! `grantflow keys` as a user runs it: the binary, a temporary folder, the files it writes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::process::Command;

fn grantflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(args)
        .env_remove("GRANTFLOW_KEY_FILE")
        .env_remove("GRANTFLOW_KEY_ID")
        .output()
        .expect("the grantflow binary runs")
}

#[test]
fn generate_then_jwks_publishes_the_same_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.pem");
    let key = key.to_str().unwrap();

    let out = grantflow(&["keys", "generate", "--out", key, "--key-id", "k1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(generated["key_id"], "k1");
    let pem = std::fs::read_to_string(key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    // The private key is in the file, never on stdout.
    assert!(!String::from_utf8_lossy(&out.stdout).contains(pem.lines().nth(1).unwrap()));

    let out = grantflow(&[
        "keys",
        "jwks",
        "--key-file",
        key,
        "--key-id",
        "k1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(jwks, generated["jwks"]);
    assert_eq!(jwks["keys"][0]["kid"], "k1");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");

    // Human output is the pretty JWKS itself, ready for jwks.json.
    let out = grantflow(&["keys", "jwks", "--key-file", key, "--key-id", "k1"]);
    let pretty: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pretty, jwks);
}

#[test]
fn generate_refuses_to_overwrite_and_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.pem");
    std::fs::write(&key, "precious").unwrap();
    let out = grantflow(&["keys", "generate", "--out", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "precious");
}

#[test]
fn jwks_of_a_missing_key_file_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let out = grantflow(&[
        "keys",
        "jwks",
        "--key-file",
        missing.to_str().unwrap(),
        "--key-id",
        "k1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("grantflow keys generate"), "{message}");
}
