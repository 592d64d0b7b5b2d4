//! No secret in any log line: every call, success and failure, at TRACE level for every target
//! (ours, reqwest's, hyper's, the test server's), captured into a buffer and searched.

// A panic in a test helper is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use grantflow_protocol::secret::Secret;
use support::{Reply, Server, client_for};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const CONTINUE_TOKEN: &str = "CONTTOKEN7Q2W9E4R";
const ACCESS_TOKEN: &str = "ACCTOKEN5T6Y7U8I";
const NEW_ACCESS_TOKEN: &str = "NEWTOKEN1Z2X3C4V";
const INTERACT_REF: &str = "IREF8K7J6H5G4F3D";
const AS_NONCE: &str = "ASNONCE0A1B2C3D4";

#[test]
fn no_secret_reaches_the_logs() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    // The runtime is current-thread and created under the subscriber, so every task (client,
    // connection, server) logs into the buffer.
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(exercise());
    });

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // Not vacuous: the spans and their fields are there.
    for expected in [
        "open_payments_call",
        "grant.continue",
        "token.rotate",
        "status=",
        "duration_ms",
        "call failed",
    ] {
        assert!(logs.contains(expected), "logs lack {expected:?}:\n{logs}");
    }
    let key = support::test_key();
    let pem = key.to_pkcs8_pem();
    let pem_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut secrets = vec![
        CONTINUE_TOKEN.to_owned(),
        ACCESS_TOKEN.to_owned(),
        NEW_ACCESS_TOKEN.to_owned(),
        INTERACT_REF.to_owned(),
        AS_NONCE.to_owned(),
        "CLIENTNONCE9P8O7I".to_owned(),
        pem_body,
        "sig1=:".to_owned(),
        "sha-512=:".to_owned(),
    ];
    secrets.push(hex(&[42; 32]));
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret ({secret:.6}…) reached the logs:\n{logs}"
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn exercise() {
    let issued = format!(
        r#"{{"access_token":{{"value":"{ACCESS_TOKEN}","manage":"https://as.example/token/1","expires_in":600,"access":[{{"type":"quote","actions":["create"]}}]}},"continue":{{"access_token":{{"value":"{CONTINUE_TOKEN}"}},"uri":"https://as.example/continue/1"}}}}"#
    );
    let pending = format!(
        r#"{{"interact":{{"redirect":"https://as.example/interact/1/x","finish":"{AS_NONCE}"}},"continue":{{"access_token":{{"value":"{CONTINUE_TOKEN}"}},"uri":"https://as.example/continue/1","wait":5}}}}"#
    );
    let rotated = format!(
        r#"{{"access_token":{{"value":"{NEW_ACCESS_TOKEN}","manage":"https://as.example/token/2","access":[]}}}}"#
    );
    let server = Server::start(
        move |r, _| match (r.method.as_str(), r.path_and_query.as_str()) {
            ("POST", "/") => Reply::json(200, &pending),
            ("POST", "/continue/1") => Reply::json(200, &issued),
            ("POST", "/token/1") => Reply::json(200, &rotated),
            // A success body that does not parse but holds a token.
            ("POST", "/token/bad") => {
                Reply::json(200, &format!(r#"{{"access_token":"{NEW_ACCESS_TOKEN}"}}"#))
            }
            ("DELETE", _) => Reply::empty(204),
            _ => Reply::json(
                401,
                r#"{"error":{"code":"invalid_client","description":"invalid signature headers"}}"#,
            ),
        },
    )
    .await;
    let client = client_for(&server.url("client"));
    let request: grantflow_protocol::grant::GrantRequest = serde_json::from_str(&format!(
        r#"{{"access_token":{{"access":[{{"type":"quote","actions":["create"]}}]}},"client":"{}","interact":{{"start":["redirect"],"finish":{{"method":"redirect","uri":"http://localhost/finish","nonce":"CLIENTNONCE9P8O7I"}}}}}}"#,
        server.url("client")
    ))
    .unwrap();
    let continue_token = Secret::new(CONTINUE_TOKEN);
    let access_token = Secret::new(ACCESS_TOKEN);
    let interact_ref = Secret::new(INTERACT_REF);
    client.request_grant(&server.base, &request).await.unwrap();
    client
        .continue_grant(
            &server.url("continue/1"),
            &continue_token,
            Some(&interact_ref),
        )
        .await
        .unwrap();
    client
        .rotate_token(&server.url("token/1"), &access_token)
        .await
        .unwrap();
    let err = client
        .rotate_token(&server.url("token/bad"), &access_token)
        .await
        .unwrap_err();
    tracing::error!(error = %err, debug = ?err, "the application logs the error");
    let err = client
        .continue_grant(&server.url("continue/unknown"), &continue_token, None)
        .await
        .unwrap_err();
    tracing::error!(error = %err, debug = ?err, "the application logs the error");
    client
        .cancel_grant(&server.url("continue/1"), &continue_token)
        .await
        .unwrap();
    client
        .revoke_token(&server.url("token/1"), &access_token)
        .await
        .unwrap();
    tracing::info!(client = ?client, "the application logs the client");
}
