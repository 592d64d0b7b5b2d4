//! `grantflow sandbox` as a user runs it: it listens, prints what it hosts, serves it, and stops
//! on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn sandbox_prints_its_wallet_addresses_serves_them_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(["keys", "generate", "--key-id", "k1", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args([
            "sandbox",
            "--port",
            "0",
            "--json",
            "--log-format",
            "json",
            "--wallet-address",
            "carol:EUR:3",
        ])
        .args(["--client-key-id", "k1", "--client-key"])
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let listening: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    let wallets = listening["wallet_addresses"].as_array().unwrap();
    let names: Vec<_> = wallets
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["carol", "client"]);

    let http = reqwest::Client::new();
    let carol: serde_json::Value = http
        .get(wallets[0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(carol["assetCode"], "EUR");
    assert_eq!(carol["assetScale"], 3);
    assert_eq!(carol["authServer"], listening["auth_server"]);
    let jwks: serde_json::Value = http
        .get(format!("{}/jwks.json", wallets[1]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "k1");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    // One log line per request received: carol, then the client's keys.
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let requests: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "sandbox: request")
        .collect();
    let routes: Vec<_> = requests
        .iter()
        .map(|l| {
            (
                l["fields"]["route"].as_str(),
                l["fields"]["status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            (Some("wallet_address"), Some(200)),
            (Some("wallet_address_keys"), Some(200))
        ],
        "{stderr}"
    );
}

#[test]
fn sandbox_on_a_busy_port_says_what_to_do() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(["sandbox", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--port"), "{stderr}");
}
