//! No secret in any log line: the logs of full lifecycles (request, finish callback, continue,
//! rotation, revocation, a forged callback) are captured at DEBUG level, every crate included,
//! and searched for every token, nonce and reference those lifecycles handled.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use grantflow_driver::Interaction;
use grantflow_machine::{Answer, Event, FinishCallback, GrantState, Outcome, StateKind};
use grantflow_protocol::grant::GrantResponse;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_lifecycle_logs_no_secret() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let world = World::quick().await;
    let engine = world.engine(sqlite().await, |_| {}).await;
    engine.start_worker();
    let g = engine
        .request(world.outgoing("logged", Interaction::Redirect))
        .await
        .unwrap();
    let finish = world.approve(g.redirect.as_ref().unwrap());
    // A forged callback first, then the real one over HTTP.
    let mut forged = finish.clone();
    forged.set_query(Some("hash=Zm9yZ2Vk&interact_ref=forged-ref"));
    assert_eq!(follow(forged.as_str()).await, 400);
    assert_eq!(follow(finish.as_str()).await, 200);
    wait_kind(&engine, g.id, StateKind::Issued).await;
    let first = engine.access_token(g.id).await.unwrap();
    engine.rotate(g.id).await.unwrap();
    let second = engine.access_token(g.id).await.unwrap();
    engine.revoke(g.id).await.unwrap();
    engine.shutdown().await;

    let mut secrets = vec![
        first.value.expose().to_owned(),
        second.value.expose().to_owned(),
        finish
            .path_segments()
            .unwrap()
            .next_back()
            .unwrap()
            .to_owned(),
    ];
    for h in engine.history(g.id).await.unwrap() {
        match h.event {
            Event::Request { intent } => {
                let f = intent.request.interact.clone().unwrap().finish.unwrap();
                secrets.push(f.nonce.expose().to_owned());
            }
            Event::Answered {
                answer: Answer::Grant(GrantResponse::Pending(p)),
            } => {
                secrets.push(p.interact.finish.expose().to_owned());
                secrets.push(p.continue_.access_token.value.expose().to_owned());
            }
            Event::FinishCallback {
                callback: FinishCallback::Approved { interact_ref, hash },
            } => {
                secrets.push(interact_ref.expose().to_owned());
                secrets.push(hash);
            }
            _ => {}
        }
    }
    if let GrantState::Finalized(Outcome::Revoked { .. }) = engine.get(g.id).await.unwrap().state {
    } else {
        panic!("the grant should be revoked");
    }
    let logs = buffer.text();
    assert!(logs.contains("transition"), "the lifecycle was logged");
    assert!(
        logs.contains("finish callback refused"),
        "the forged callback was logged"
    );
    assert!(secrets.len() >= 8, "{}", secrets.len());
    for secret in &secrets {
        assert!(secret.len() >= 8, "a secret too short to search for");
        assert!(
            !logs.contains(secret.as_str()),
            "a secret appears in the logs"
        );
    }
}
