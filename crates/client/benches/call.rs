//! One signed call, end to end on loopback: serialise, sign (RFC 9421 + Content-Digest), send,
//! read the bounded body, parse. The server is the tests' axum recorder on the same machine, so
//! the figure is an upper bound of the client's own cost per call.

// A panic in a benchmark helper is the benchmark failing.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use grantflow_protocol::grant::GrantRequest;
use grantflow_protocol::secret::Secret;
use support::{Reply, Server, client_for};

const PENDING: &str = r#"{"interact":{"redirect":"https://as.example/interact/1/ABCDEF0123456789?clientName=x","finish":"ABCDEF0123456789"},"continue":{"access_token":{"value":"CONTINUETOKEN0000001"},"uri":"https://as.example/continue/4f2c","wait":5}}"#;

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(Server::start_unrecorded(|r, _| match r.method.as_str() {
        "GET" => Reply::json(200, r#"{"keys":[]}"#),
        _ => Reply::json(200, PENDING),
    }));
    let client = client_for(&server.url("client"));
    let request: GrantRequest = serde_json::from_str(&format!(
        r#"{{"access_token":{{"access":[{{"type":"outgoing-payment","actions":["create","read"],"identifier":"https://ilp.example/alice","limits":{{"debitAmount":{{"value":"500","assetCode":"USD","assetScale":2}},"interval":"R/2016-08-24T08:00:00Z/P1D"}}}}]}},"client":"{}","interact":{{"start":["redirect"],"finish":{{"method":"redirect","uri":"http://localhost:3344/finish","nonce":"4edb2194-dbdf-46bb-9397-d5fd57b7c8a7"}}}}}}"#,
        server.url("client")
    ))
    .unwrap();
    let token = Secret::new("CONTINUETOKEN0000001");
    let continue_uri = server.url("continue/4f2c");
    let wallet = server.url("alice");

    let mut group = c.benchmark_group("client_loopback");
    group.bench_function("grant_request_signed_post", |b| {
        b.iter(|| {
            runtime
                .block_on(client.request_grant(&server.base, &request))
                .unwrap()
        })
    });
    group.bench_function("grant_poll_signed_post_no_body", |b| {
        b.iter(|| {
            runtime
                .block_on(client.continue_grant(&continue_uri, &token, None))
                .unwrap()
        })
    });
    group.bench_function("jwks_unsigned_get", |b| {
        b.iter(|| {
            runtime
                .block_on(client.get_wallet_address_keys(&wallet))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
