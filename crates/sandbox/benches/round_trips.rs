//! Round trips through a running sandbox over loopback, signed by the protocol signer and sent
//! with reqwest: what a client waits for per call (the reference server answered a grant request
//! in 40-100 ms, a continue in 26-47 ms and a rotation in 24-30 ms, protocol notes §8).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a bench: a panic is a failed run

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use grantflow_protocol::keys::PrivateKey;
use grantflow_protocol::signature::{SignableRequest, sign_request};
use grantflow_sandbox::{Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    key: PrivateKey,
    wallet: String,
}

impl Client {
    async fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Value {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        let authorization = token.map(|t| format!("GNAP {t}"));
        let headers = sign_request(
            &SignableRequest {
                method,
                target_uri: url,
                authorization: authorization.as_deref(),
                body: bytes.as_deref(),
            },
            &self.key,
            "bench",
            Utc::now().timestamp(),
        )
        .unwrap();
        let mut req = self.http.request(method.parse().unwrap(), url);
        if let Some(a) = &authorization {
            req = req.header("Authorization", a);
        }
        for (n, v) in headers.iter() {
            req = req.header(n, v);
        }
        if let Some(b) = bytes {
            req = req.body(b);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }
}

async fn setup() -> (SandboxHandle, Client) {
    let sandbox = Sandbox::start(SandboxConfig {
        wait_seconds: 0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let key = PrivateKey::from_seed(&[9; 32]);
    let wallet = sandbox
        .put_wallet_address(WalletAddressSpec::client(
            "bench-client",
            "Bench",
            key.public_jwks("bench"),
        ))
        .unwrap();
    (
        sandbox,
        Client {
            http: reqwest::Client::new(),
            key,
            wallet,
        },
    )
}

fn round_trips(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sandbox, client) = rt.block_on(setup());
    let alice = sandbox.wallet_address_url("alice");
    let incoming = json!({"access_token": {"access": [{"type": "incoming-payment", "actions": ["create", "read"]}]}, "client": client.wallet});
    let outgoing = json!({
        "access_token": {"access": [{"type": "outgoing-payment", "actions": ["create", "read"], "identifier": alice,
            "limits": {"debitAmount": {"value": "500", "assetCode": "USD", "assetScale": 2}, "interval": "R/2016-08-24T08:00:00Z/P1D"}}]},
        "client": client.wallet,
        "interact": {"start": ["redirect"], "finish": {"method": "redirect", "uri": "http://localhost:3344/", "nonce": "n"}}
    });

    c.bench_function("sandbox_grant_request_issued", |b| {
        b.iter(|| {
            rt.block_on(client.send("POST", sandbox.auth_server_url(), None, Some(&incoming)))
        })
    });
    c.bench_function("sandbox_interactive_grant_approve_continue", |b| {
        b.iter(|| {
            rt.block_on(async {
                let p = client
                    .send("POST", sandbox.auth_server_url(), None, Some(&outgoing))
                    .await;
                let outcome = sandbox
                    .approve_interaction(p["interact"]["redirect"].as_str().unwrap())
                    .unwrap();
                let body = json!({"interact_ref": outcome.interact_ref.unwrap().expose()});
                client
                    .send(
                        "POST",
                        p["continue"]["uri"].as_str().unwrap(),
                        p["continue"]["access_token"]["value"].as_str(),
                        Some(&body),
                    )
                    .await
            })
        })
    });
    let issued = rt.block_on(client.send("POST", sandbox.auth_server_url(), None, Some(&incoming)));
    let mut token = issued["access_token"]["value"].as_str().unwrap().to_owned();
    let mut manage = issued["access_token"]["manage"]
        .as_str()
        .unwrap()
        .to_owned();
    c.bench_function("sandbox_token_rotate", |b| {
        b.iter(|| {
            let r = rt.block_on(client.send("POST", &manage, Some(&token), None));
            token = r["access_token"]["value"].as_str().unwrap().to_owned();
            manage = r["access_token"]["manage"].as_str().unwrap().to_owned();
        })
    });
    rt.block_on(sandbox.shutdown());
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
