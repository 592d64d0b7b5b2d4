//! A small real HTTP server on loopback for the client tests: it records every request and
//! answers from a closure the test gives, optionally after a delay. Plus raw TCP helpers for
//! the failures a well-behaved HTTP server cannot produce.

// Test helpers: a panic here is the test failing, which is what we want.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use grantflow_protocol::keys::PrivateKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Path and query, as sent.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The single value of a header; panics if it is absent or repeated.
    pub fn header(&self, name: &str) -> String {
        let values: Vec<_> = self.headers.get_all(name).iter().collect();
        assert_eq!(values.len(), 1, "header {name}: {values:?}");
        values[0].to_str().unwrap().to_owned()
    }

    pub fn has(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }

    /// The covered components of `Signature-Input`, in order.
    pub fn covered(&self) -> Vec<String> {
        let input = self.header("signature-input");
        let inner = input
            .strip_prefix("sig1=(")
            .and_then(|s| s.split(')').next())
            .unwrap_or_else(|| panic!("unexpected Signature-Input {input}"));
        inner
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_matches('"').to_owned())
            .collect()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![],
            body: vec![],
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct AppState {
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// Keep every request (tests) or none (benchmarks).
    record: bool,
    responder: Arc<Responder>,
}

/// A running test server; it stops when the test's runtime ends.
pub struct Server {
    pub base: Url,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    /// Starts a server on `127.0.0.1:0`; `respond(request, index)` answers the `index`-th
    /// request (0-based).
    pub async fn start(
        respond: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::launch(respond, true).await
    }

    /// Like [`start`](Self::start), but keeps no request (for benchmarks; `index` is always 0).
    pub async fn start_unrecorded(
        respond: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::launch(respond, false).await
    }

    async fn launch(
        respond: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
        record: bool,
    ) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            record,
            requests: requests.clone(),
            responder: Arc::new(respond),
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: Url::parse(&format!("http://{addr}/")).unwrap(),
            requests,
        }
    }

    /// Always answers `reply`.
    pub async fn always(reply: Reply) -> Self {
        Self::start(move |_, _| reply.clone()).await
    }

    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The only request received.
    pub fn single(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected one request, got {}",
            requests.len()
        );
        requests.into_iter().next().unwrap()
    }
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let recorded = Recorded {
        method: parts.method,
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    let index = if state.record {
        let mut requests = state.requests.lock().unwrap();
        requests.push(recorded.clone());
        requests.len() - 1
    } else {
        0
    };
    let reply = (state.responder)(&recorded, index);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    for (name, value) in reply.headers {
        response.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

/// A raw TCP server: reads one request head, then runs `act` on the socket.
pub async fn raw_server<F, Fut>(act: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let act = Arc::new(act);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let act = act.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                act(socket).await;
            });
        }
    });
    addr
}

/// Writes `head` then `chunks` as a chunked body, then ends it (or not, if `finish` is false:
/// the connection then stays open and silent).
pub async fn write_chunked(
    socket: &mut tokio::net::TcpStream,
    head: &str,
    chunks: &[&[u8]],
    finish: bool,
) {
    socket.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        let _ = socket
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await;
        let _ = socket.write_all(chunk).await;
        let _ = socket.write_all(b"\r\n").await;
    }
    if finish {
        let _ = socket.write_all(b"0\r\n\r\n").await;
    } else {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// A loopback address nothing listens on (bound, then released).
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// The signing key of the tests (a fixed seed: tests are deterministic).
pub fn test_key() -> PrivateKey {
    PrivateKey::from_seed(&[42; 32])
}

/// A client for `server` with test-friendly limits: 2 s timeout, 1 ms retry delays.
pub fn client_for(wallet: &Url) -> grantflow_client::Client {
    client_builder(wallet).build().unwrap()
}

pub fn client_builder(wallet: &Url) -> grantflow_client::ClientBuilder {
    grantflow_client::Client::builder(wallet.clone(), KEY_ID, test_key())
        .timeout(Duration::from_secs(5))
        .retry_policy(grantflow_client::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(3),
        })
}

pub const KEY_ID: &str = "client-test-key-1";

/// Verifies the request's signature with the protocol verifier, strictly, against the test key;
/// returns the covered components.
pub fn verify(recorded: &Recorded) -> Vec<String> {
    use grantflow_protocol::signature::{VerifiableRequest, VerifyOptions, verify_request};
    let host = recorded.header("host");
    let target_uri = format!("http://{host}{}", recorded.path_and_query);
    let headers: Vec<(String, String)> = recorded
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = VerifiableRequest {
        method: recorded.method.as_str(),
        target_uri: &target_uri,
        headers: &headers,
        body: Some(&recorded.body),
    };
    let verified = verify_request(
        &request,
        |kid| (kid == KEY_ID).then(|| test_key().public_key()),
        &VerifyOptions::default(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "signature of {} {} rejected: {e}",
            recorded.method, recorded.path_and_query
        )
    });
    assert_eq!(verified.key_id, KEY_ID);
    assert_eq!(verified.components, recorded.covered());
    verified.components
}
