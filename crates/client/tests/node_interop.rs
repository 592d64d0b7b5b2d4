//! The requests this client actually puts on the wire are accepted by the reference validator,
//! `@interledger/http-signature-utils` 2.0.3 `validateSignatureHeaders` + `validateSignature`,
//! under Node. `scripts/test` installs the package and sets `GRANTFLOW_JS_MODULES`; without
//! Node or the modules the test fails in CI (`CI=true`) and elsewhere says so loudly and skips.

// A panic in a test helper is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use grantflow_protocol::grant::GrantRequest;
use grantflow_protocol::secret::Secret;
use support::{Reply, Server, client_for};

const VALIDATE: &str = r#"
const path = require('path');
const fs = require('fs');
const utils = require(path.join(process.env.GRANTFLOW_JS_MODULES, '@interledger/http-signature-utils'));
(async () => {
  const { jwk, requests } = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
  const out = [];
  for (const r of requests) {
    out.push({
      id: r.id,
      headers: utils.validateSignatureHeaders(r),
      signature: await utils.validateSignature(jwk, r),
    });
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"#;

fn js_modules() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("GRANTFLOW_JS_MODULES")?);
    let present = dir.join("@interledger/http-signature-utils").is_dir();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (present && node).then_some(dir)
}

/// The one rule for a missing tool: in CI (`CI` is `true` or `1`) the test fails, so a CI run
/// cannot pass without the check; on a developer's machine it says so on stderr and skips.
fn tool_missing(test: &str, what: &str) {
    const INSTALL: &str = "install Node.js (20 or later) and npm, then run scripts/test: it \
        installs @interledger/http-signature-utils 2.0.3 into target/js/node_modules and sets \
        GRANTFLOW_JS_MODULES";
    let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    assert!(!in_ci, "{test}: {what}, and CI is set: {INSTALL}");
    eprintln!("\n!!! SKIPPED: {test}: {what}; the check did NOT run ({INSTALL})\n");
}

#[tokio::test]
async fn reference_validator_accepts_what_the_client_sends() {
    let Some(modules) = js_modules() else {
        tool_missing(
            "reference_validator_accepts_what_the_client_sends",
            "node or GRANTFLOW_JS_MODULES (with @interledger/http-signature-utils) is missing",
        );
        return;
    };
    let server = Server::start(|r, _| match r.method.as_str() {
        "DELETE" => Reply::empty(204),
        "GET" => Reply::json(
            200,
            r#"{"pagination":{"hasNextPage":false,"hasPreviousPage":false},"result":[]}"#,
        ),
        _ if r.path_and_query == "/op/incoming-payments" => Reply::json(
            201,
            r#"{"id":"https://ilp.example/incoming-payments/1","walletAddress":"https://ilp.example/alice","completed":false,"receivedAmount":{"value":"0","assetCode":"EUR","assetScale":2},"createdAt":"2026-01-01T00:00:00.000Z"}"#,
        ),
        _ if r.path_and_query.starts_with("/token/") => Reply::json(
            200,
            r#"{"access_token":{"value":"T2","manage":"https://as.example/token/2","access":[]}}"#,
        ),
        _ if r.path_and_query == "/" => Reply::json(
            200,
            r#"{"interact":{"redirect":"https://as.example/i","finish":"N"},"continue":{"access_token":{"value":"C"},"uri":"https://as.example/continue/1","wait":5}}"#,
        ),
        _ => Reply::json(200, r#"{"continue":{"access_token":{"value":"C"},"uri":"https://as.example/continue/1"}}"#),
    })
    .await;
    let client = client_for(&server.url("client"));
    let request: GrantRequest = serde_json::from_value(serde_json::json!({
        "access_token": {"access": [{"type": "outgoing-payment", "actions": ["create", "read"],
            "identifier": "https://ilp.example/alice",
            "limits": {"debitAmount": {"value": "500", "assetCode": "EUR", "assetScale": 2},
                       "interval": "R/2016-08-24T08:00:00Z/P1D"}}]},
        "client": client.grant_client(),
        "interact": {"start": ["redirect"], "finish": {"method": "redirect",
            "uri": "http://localhost:3344/finish?name=Zoë", "nonce": "4edb2194-dbdf-46bb-9397-d5fd57b7c8a7"}}
    }))
    .unwrap();
    let token = Secret::new("33OMUKMKSKU80UPRY5NM");
    let interact_ref = Secret::new("4IFWWIKYBC2PQ6U56NL1");
    client.request_grant(&server.base, &request).await.unwrap();
    client
        .continue_grant(&server.url("continue/1"), &token, Some(&interact_ref))
        .await
        .unwrap();
    client
        .continue_grant(&server.url("continue/1"), &token, None)
        .await
        .unwrap();
    client
        .cancel_grant(&server.url("continue/1"), &token)
        .await
        .unwrap();
    client
        .rotate_token(&server.url("token/1"), &token)
        .await
        .unwrap();
    client
        .revoke_token(&server.url("token/1"), &token)
        .await
        .unwrap();
    let page = grantflow_protocol::pagination::PageRequest::after(20, "cursor/+=").unwrap();
    client
        .list_outgoing_payments(
            &server.url("op"),
            &token,
            "https://ilp.example/alice",
            &page,
        )
        .await
        .unwrap();
    let create = serde_json::from_value(serde_json::json!({
        "walletAddress": "https://ilp.example/alice",
        "metadata": {"description": "Café für Zoë ✓"}
    }))
    .unwrap();
    client
        .create_incoming_payment(&server.url("op"), &token, &create)
        .await
        .unwrap();

    let recorded = server.requests();
    assert_eq!(recorded.len(), 8);
    let mut requests: Vec<_> = recorded
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().into()))
                .collect();
            let mut out = serde_json::json!({
                "id": format!("{i}: {} {}", r.method, r.path_and_query),
                "method": r.method.as_str(),
                "url": format!("http://{}{}", r.header("host"), r.path_and_query),
                "headers": headers,
            });
            if !r.body.is_empty() {
                out["body"] = String::from_utf8(r.body.to_vec()).unwrap().into();
            }
            out
        })
        .collect();
    // Negative control: the continue with a tampered body must be rejected, or the validator is
    // not really checking.
    let mut tampered = requests[1].clone();
    tampered["id"] = "tampered".into();
    tampered["body"] = r#"{"interact_ref":"XXXXXXXXXXXXXXXXXXXX"}"#.into();
    requests.push(tampered);
    let input = serde_json::json!({
        "jwk": support::test_key().public_jwk(support::KEY_ID),
        "requests": requests,
    });
    let dir = std::env::temp_dir().join(format!("grantflow-client-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("requests.json");
    std::fs::write(&file, serde_json::to_vec(&input).unwrap()).unwrap();
    let output = Command::new("node")
        .env("GRANTFLOW_JS_MODULES", &modules)
        .arg("-e")
        .arg(VALIDATE)
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results.len(), 9, "{results:?}");
    let (tampered, results) = results.split_last().unwrap();
    assert_eq!(
        tampered["headers"], false,
        "the tampered body was accepted: {tampered}"
    );
    for result in results {
        assert_eq!(
            result["headers"], true,
            "validateSignatureHeaders rejected {result}"
        );
        assert_eq!(
            result["signature"], true,
            "validateSignature rejected {result}"
        );
    }
}
