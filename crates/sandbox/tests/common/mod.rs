//! A minimal signing client for the sandbox's black-box tests: real TCP, real RFC 9421
//! signatures made by `grantflow-protocol`, sent with reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // test helpers: a panic is the test failing

use chrono::{DateTime, TimeZone, Utc};
use grantflow_protocol::keys::PrivateKey;
use grantflow_protocol::signature::{SignableRequest, sign_request};
use grantflow_sandbox::{Sandbox, SandboxClock, SandboxConfig, SandboxHandle, WalletAddressSpec};
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};

pub const KID: &str = "test-key-1";

/// A fixed start time for manual clocks.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

/// A sandbox on a manual clock, with `wait_seconds` as given, and a client wallet address
/// `client` publishing the returned key.
pub async fn start(wait_seconds: u64) -> (SandboxHandle, TestClient) {
    start_with(SandboxConfig {
        wait_seconds,
        clock: SandboxClock::manual(t0()),
        ..SandboxConfig::default()
    })
    .await
}

pub async fn start_with(config: SandboxConfig) -> (SandboxHandle, TestClient) {
    let sandbox = Sandbox::start(config).await.unwrap();
    let key = PrivateKey::from_seed(&[42; 32]);
    let wallet = sandbox
        .put_wallet_address(WalletAddressSpec::client(
            "client",
            "Test Client",
            key.public_jwks(KID),
        ))
        .unwrap();
    (sandbox, TestClient::new(wallet, key, KID))
}

pub struct TestClient {
    pub http: reqwest::Client,
    pub key: PrivateKey,
    pub kid: String,
    /// The client's wallet address URL (the grant request's `client`).
    pub wallet: String,
}

/// A response: status and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
    pub fn description(&self) -> Option<&str> {
        self.body["error"]["description"].as_str()
    }
    /// A grant response's continue URI (`continue.uri`).
    pub fn continue_uri(&self) -> &str {
        self.body["continue"]["uri"].as_str().unwrap()
    }
    /// A grant response's continuation token (`continue.access_token.value`).
    pub fn continue_token(&self) -> Option<&str> {
        self.body["continue"]["access_token"]["value"].as_str()
    }
    /// A pending grant's interaction start URL (`interact.redirect`).
    pub fn redirect(&self) -> &str {
        self.body["interact"]["redirect"].as_str().unwrap()
    }
    /// An issued (or rotated) access token: its value and its management URL.
    pub fn access_token(&self) -> (String, String) {
        let token = &self.body["access_token"];
        (
            token["value"].as_str().unwrap().to_owned(),
            token["manage"].as_str().unwrap().to_owned(),
        )
    }
    /// A created resource's `id` (its URL).
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap().to_owned()
    }
    /// Asserts an error status and GNAP code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "body: {}",
            self.body
        );
    }
}

impl TestClient {
    /// A client signing as `wallet` with `key` under `kid`, following no redirect.
    pub fn new(wallet: String, key: PrivateKey, kid: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            key,
            kid: kid.to_owned(),
            wallet,
        }
    }

    /// Sends a request signed with the client's key (`token` goes in `Authorization: GNAP`).
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        self.send_signed_with(&self.key, &self.kid, method, url, token, body)
            .await
    }

    /// [`Self::send`], where a transport error fails the test.
    pub async fn call(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        self.send(method, url, token, body).await.unwrap()
    }

    /// Sends `body` as a grant request to the sandbox's authorization server.
    pub async fn request_grant(&self, sandbox: &SandboxHandle, body: &Value) -> Answer {
        self.call("POST", sandbox.auth_server_url(), None, Some(body))
            .await
    }

    /// Approves the interaction of the pending grant `pending` (through the library API) and
    /// continues the grant with the `interact_ref`; returns the continue's answer.
    pub async fn approve_and_continue(&self, sandbox: &SandboxHandle, pending: &Answer) -> Answer {
        let outcome = sandbox.approve_interaction(pending.redirect()).unwrap();
        self.call(
            "POST",
            pending.continue_uri(),
            pending.continue_token(),
            Some(&json!({"interact_ref": outcome.interact_ref.unwrap().expose()})),
        )
        .await
    }

    pub async fn send_signed_with(
        &self,
        key: &PrivateKey,
        kid: &str,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        let authorization = token.map(|t| format!("GNAP {t}"));
        let headers = sign_request(
            &SignableRequest {
                method,
                target_uri: url,
                authorization: authorization.as_deref(),
                body: bytes.as_deref(),
            },
            key,
            kid,
            Utc::now().timestamp(),
        )
        .unwrap();
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("Accept", "application/json");
        if let Some(a) = &authorization {
            req = req.header("Authorization", a);
        }
        for (name, value) in headers.iter() {
            req = req.header(name, value);
        }
        if let Some(b) = bytes {
            req = req.body(b);
        }
        answer(req.send().await?).await
    }

    /// Sends an unsigned request.
    pub async fn send_unsigned(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self.http.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            req = req.header("Authorization", format!("GNAP {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        answer(req.send().await?).await
    }

    pub async fn get(&self, url: &str) -> Answer {
        answer(self.http.get(url).send().await.unwrap())
            .await
            .unwrap()
    }

    /// An outgoing-payment grant request body as in the seed: `debitAmount` limit and a daily
    /// interval, redirect finish with a nonce.
    pub fn outgoing_grant_body(&self, identifier: &str, limit: u64, finish: bool) -> Value {
        let mut body = json!({
            "access_token": {"access": [{
                "type": "outgoing-payment",
                "actions": ["create", "read", "list"],
                "identifier": identifier,
                "limits": {
                    "debitAmount": {"value": limit.to_string(), "assetCode": "USD", "assetScale": 2},
                    "interval": "R/2016-08-24T08:00:00Z/P1D"
                }
            }]},
            "client": self.wallet,
            "interact": {"start": ["redirect"]}
        });
        if finish {
            body["interact"]["finish"] = json!({
                "method": "redirect",
                "uri": "http://localhost:3344/finish?grant=1",
                "nonce": "client-nonce-0123456789"
            });
        }
        body
    }

    /// A pending outgoing-payment grant for alice, approved (through the library API); returns
    /// (continue uri, continue token, the continue body with its `interact_ref`).
    pub async fn approved_grant(&self, sandbox: &SandboxHandle) -> (String, String, Value) {
        let body = self.outgoing_grant_body(&sandbox.wallet_address_url("alice"), 500, true);
        let p = self.request_grant(sandbox, &body).await;
        let outcome = sandbox.approve_interaction(p.redirect()).unwrap();
        (
            p.continue_uri().to_owned(),
            p.continue_token().unwrap().to_owned(),
            json!({"interact_ref": outcome.interact_ref.unwrap().expose()}),
        )
    }

    /// An issued grant to list incoming payments (the answer asserted to be 200).
    pub async fn list_grant(&self, sandbox: &SandboxHandle) -> Answer {
        let r = self
            .simple_grant(
                sandbox,
                json!([{"type": "incoming-payment", "actions": ["list"]}]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    /// Lists bob's incoming payments with `token` (200 while the token is active, 403 "Inactive
    /// Token" after).
    pub async fn list_incoming(&self, sandbox: &SandboxHandle, token: &str) -> Answer {
        let url = format!(
            "{}/incoming-payments?wallet-address={}",
            sandbox.resource_server_url(),
            sandbox.wallet_address_url("bob")
        );
        self.call("GET", &url, Some(token), None).await
    }

    /// A non-interactive grant for `types` (`incoming-payment`, `quote`), issued at once.
    pub async fn simple_grant(&self, sandbox: &SandboxHandle, access: Value) -> Answer {
        let body = json!({"access_token": {"access": access}, "client": self.wallet});
        self.request_grant(sandbox, &body).await
    }
}

/// The session cookie (`name=value`) a consent page sets.
pub fn session_cookie(page: &reqwest::Response) -> String {
    page.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn answer(r: reqwest::Response) -> Result<Answer, reqwest::Error> {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        body,
        headers,
    })
}
