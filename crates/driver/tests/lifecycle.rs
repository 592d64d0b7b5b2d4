//! Full grant lifecycles against the real sandbox over loopback, on SQLite and on PostgreSQL:
//! interactive with finish callback, polling, non-interactive, rejection, client-side expiry,
//! rotation on expiry (one rotation for many callers), revoke, cancel, forged and replayed
//! callbacks, finish URI tokens never stored (and grants that stored theirs still finishing),
//! idempotent requests (and a key reused for another request).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use std::time::Duration;

use grantflow_driver::{CallbackOutcome, CallbackRefusal, GrantFilter, Interaction, OrderPart};
use grantflow_machine::{EventKind, StateKind};
use grantflow_sandbox::SandboxConfig;
use grantflow_store::GrantStore;
use support::*;

mod scenarios {
    use super::*;

    pub async fn interactive_with_finish_callback<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store, |_| {}).await;
        let requested = engine
            .request(world.outgoing("order-1", Interaction::Redirect))
            .await
            .unwrap();
        assert!(requested.inserted);
        assert_eq!(requested.kind, StateKind::AwaitingInteraction);
        let redirect = requested.redirect.clone().expect("a redirect URL");
        // Asking again with the same key: the same grant, nothing sent.
        let again = engine
            .request(world.outgoing("order-1", Interaction::Redirect))
            .await
            .unwrap();
        assert!(!again.inserted);
        assert_eq!(again.id, requested.id);
        let listed = engine
            .list(&GrantFilter::default(), None, 10)
            .await
            .unwrap()
            .grants;
        assert_eq!(listed.len(), 1, "one grant for one key");
        assert_eq!(listed[0].id, requested.id);
        assert_eq!(again.redirect.as_deref(), Some(redirect.as_str()));

        // The grant's changes so far: the feed may hand some of them out again (its head is read
        // below the oldest transaction running on the server, which on a shared PostgreSQL can be
        // another test's), so they are skipped by version.
        let before = engine.get(requested.id).await.unwrap().version;
        let mut changes = engine.subscribe().await.unwrap();
        assert_eq!(world.approve_and_follow(&redirect).await, 200);
        let issued = wait_kind(&engine, requested.id, StateKind::Issued).await;
        // The feed hands a change out once it is committed and readable, so the grant can show
        // `Issued` a moment before subscribers hear of it: wait (bounded) for that change.
        let mut seen = Vec::new();
        while !seen.contains(&Some(grantflow_machine::Change::Issued)) {
            let c = tokio::time::timeout(std::time::Duration::from_secs(10), changes.next())
                .await
                .expect("the Issued change reaches subscribers")
                .unwrap();
            let c = c.grant().cloned().expect("a grant's change");
            assert_eq!(c.grant, requested.id);
            if c.version > before {
                seen.push(c.change);
            }
        }
        for c in changes.try_next_batch().await.unwrap() {
            let c = c.grant().cloned().expect("a grant's change");
            assert_eq!(c.grant, requested.id);
            if c.version > before {
                seen.push(c.change);
            }
        }
        assert_eq!(
            seen.into_iter().flatten().collect::<Vec<_>>(),
            vec![
                grantflow_machine::Change::InteractionFinished,
                grantflow_machine::Change::Issued
            ],
            "subscribers see each change"
        );
        let token = engine.access_token(requested.id).await.unwrap();
        assert!(!token.value.expose().is_empty());
        assert!(issued.next_wake_at.is_some(), "auto-rotation is scheduled");
        assert_replays(&engine, requested.id).await;
        let kinds = event_kinds(&engine, requested.id).await;
        assert_eq!(
            kinds,
            vec![
                EventKind::Request,
                EventKind::AnsweredPending,
                EventKind::FinishApproved,
                EventKind::AnsweredIssued
            ]
        );
        engine.shutdown().await;
    }

    pub async fn forged_and_replayed_callbacks_change_nothing<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store, |_| {}).await;
        let g = engine
            .request(world.outgoing("order-forged", Interaction::Redirect))
            .await
            .unwrap();
        let redirect = g.redirect.clone().unwrap();
        let outcome = world.sandbox.approve_interaction(&redirect).unwrap();
        let finish = outcome.redirect.unwrap();
        let finish = url::Url::parse(finish.expose()).unwrap();
        let token = finish
            .path_segments()
            .unwrap()
            .next_back()
            .unwrap()
            .to_owned();
        let before = engine.get(g.id).await.unwrap();
        let events_before = engine.history(g.id).await.unwrap().len();

        // A forged hash.
        let interact_ref = outcome.interact_ref.unwrap();
        let forged = format!(
            "hash=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D%3D&interact_ref={}",
            interact_ref.expose()
        );
        assert!(matches!(
            engine.finish_callback(g.id, &token, &forged).await,
            Err(CallbackRefusal::Forged)
        ));
        // The right query on another token.
        let query = finish.query().unwrap().to_owned();
        assert!(matches!(
            engine.finish_callback(g.id, "not-the-token", &query).await,
            Err(CallbackRefusal::Forged)
        ));
        // Over HTTP, a forged one gets a 400 page.
        let mut forged_url = finish.clone();
        forged_url.set_query(Some(&forged));
        assert_eq!(follow(forged_url.as_str()).await, 400);
        let after = engine.get(g.id).await.unwrap();
        assert_eq!(after.version, before.version);
        assert_eq!(
            after.updated_at, before.updated_at,
            "a forged callback wrote nothing"
        );
        assert_eq!(engine.history(g.id).await.unwrap().len(), events_before);

        // The real one is taken once.
        assert_eq!(
            engine.finish_callback(g.id, &token, &query).await.unwrap(),
            CallbackOutcome::Approved
        );
        wait_kind(&engine, g.id, StateKind::Issued).await;
        let settled = engine.get(g.id).await.unwrap();
        // Replayed: refused, nothing written.
        assert!(matches!(
            engine.finish_callback(g.id, &token, &query).await,
            Err(CallbackRefusal::NotWaiting(StateKind::Issued))
        ));
        assert_eq!(
            follow(finish.as_str()).await,
            200,
            "a used link gets the 'already used' page"
        );
        // A wrong token is refused in every state: on the ended grant it gets exactly the answer
        // an unknown grant id gets, so a guess learns nothing about which grants exist.
        assert!(matches!(
            engine.finish_callback(g.id, "not-the-token", &query).await,
            Err(CallbackRefusal::Forged)
        ));
        a_wrong_token_answers_like_an_unknown_grant(&finish, "not-the-token").await;
        assert_eq!(engine.get(g.id).await.unwrap().version, settled.version);
        engine.shutdown().await;
    }

    /// The finish redirect `finish` with `wrong` as its token, and with its token on an unknown
    /// grant id: both get the same 400 page, so a guess learns nothing about which grants exist.
    async fn a_wrong_token_answers_like_an_unknown_grant(finish: &url::Url, wrong: &str) {
        let mut wrong_token = finish.clone();
        wrong_token.path_segments_mut().unwrap().pop().push(wrong);
        let token = finish.path_segments().unwrap().next_back().unwrap();
        let mut unknown_grant = finish.clone();
        unknown_grant
            .path_segments_mut()
            .unwrap()
            .pop()
            .pop()
            .push(&grantflow_store::GrantId::new_random().to_string())
            .push(token);
        let refused = page(unknown_grant.as_str()).await;
        assert_eq!(refused.0, 400, "{refused:?}");
        assert_eq!(page(wrong_token.as_str()).await, refused);
    }

    /// The finish URI as the grant's stored request holds it.
    async fn stored_finish_uri<S: GrantStore>(
        engine: &grantflow_driver::Engine<S>,
        id: grantflow_store::GrantId,
    ) -> url::Url {
        let first = engine.history(id).await.unwrap().remove(0);
        let grantflow_machine::Event::Request { intent } = first.event else {
            panic!("the first event is the request")
        };
        let finish = intent.request.interact.as_ref().unwrap().finish.as_ref();
        url::Url::parse(&finish.unwrap().uri).unwrap()
    }

    fn last_segment(url: &url::Url) -> String {
        url.path_segments().unwrap().next_back().unwrap().to_owned()
    }

    /// With finish token keys the stored request holds the finish URI without its token (the AS
    /// got it with the token, the keyed hash of the grant id); a wrong token on a waiting grant
    /// gets exactly the page an unknown grant id gets; a grant requested by an engine without
    /// the keys (its random token stored: the form of every grant requested before the keys)
    /// still finishes through an engine with them.
    pub async fn finish_tokens_are_not_stored_and_old_grants_still_finish<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let old = world
            .engine(store.clone(), |c| c.finish_token_keys = None)
            .await;
        let before = old
            .request(world.outgoing("order-old", Interaction::Redirect))
            .await
            .unwrap();
        let old_uri = stored_finish_uri(&old, before.id).await;
        assert_ne!(last_segment(&old_uri), before.id.to_string());
        old.shutdown().await;

        let engine = world.engine(store, |_| {}).await;
        engine.start_worker();
        let g = engine
            .request(world.outgoing("order-keyed", Interaction::Redirect))
            .await
            .unwrap();
        let stored = stored_finish_uri(&engine, g.id).await;
        assert_eq!(last_segment(&stored), g.id.to_string(), "{stored}");
        let outcome = world
            .sandbox
            .approve_interaction(g.redirect.as_deref().unwrap())
            .unwrap();
        let finish = url::Url::parse(outcome.redirect.unwrap().expose()).unwrap();
        let token = last_segment(&finish);
        assert_eq!(token, world.finish_keys.finish_token(g.id).as_str());
        assert_eq!(
            finish.as_str().split('?').next().unwrap(),
            format!("{stored}/{token}"),
            "the AS got the stored URI with the token"
        );
        let mut texts = vec![engine.get(g.id).await.unwrap().state.to_json().unwrap()];
        for h in engine.history(g.id).await.unwrap() {
            texts.push(serde_json::to_string(&h.event).unwrap());
        }
        for text in &texts {
            assert!(!text.contains(&token), "the finish token is stored: {text}");
        }
        // While the grant waits: a wrong token answers like an unknown grant id.
        a_wrong_token_answers_like_an_unknown_grant(&finish, "world.AAAA").await;
        assert_eq!(
            engine.get(g.id).await.unwrap().kind(),
            StateKind::AwaitingInteraction
        );
        // The real callback; and the grant requested before the keys, its callback handed to
        // this engine (the first one's finish listener is gone).
        assert_eq!(follow(finish.as_str()).await, 200);
        wait_kind(&engine, g.id, StateKind::Issued).await;
        let outcome = world
            .sandbox
            .approve_interaction(before.redirect.as_deref().unwrap())
            .unwrap();
        let old_finish = outcome.redirect.unwrap();
        assert!(old_finish.expose().starts_with(old_uri.as_str()));
        assert_eq!(
            engine
                .finish_callback_url(old_finish.expose())
                .await
                .unwrap(),
            (before.id, CallbackOutcome::Approved)
        );
        wait_kind(&engine, before.id, StateKind::Issued).await;
        engine.shutdown().await;
    }

    /// The status and body a browser gets at `url`.
    async fn page(url: &str) -> (u16, String) {
        let answer = reqwest::get(url).await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    pub async fn polling_without_finish<S: GrantStore>(store: S) {
        let world = World::manual_with_wait(1).await;
        let engine = world.engine(store, |_| {}).await;
        engine.start_worker();
        let g = engine
            .request(world.outgoing("order-poll", Interaction::Poll))
            .await
            .unwrap();
        let redirect = g
            .redirect
            .clone()
            .expect("the redirect is known while polling");
        let outcome = world.sandbox.approve_interaction(&redirect).unwrap();
        assert!(
            outcome.redirect.is_none(),
            "no finish redirect without a finish URI"
        );
        world.drive_until(&engine, g.id, StateKind::Issued).await;
        engine.access_token(g.id).await.unwrap();
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    pub async fn non_interactive<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store, |_| {}).await;
        // The grant endpoint comes from the user's wallet address.
        assert_eq!(
            engine.grant_endpoint_for(&world.alice()).await.unwrap(),
            world.sandbox.auth_server_url()
        );
        assert!(matches!(
            engine.grant_endpoint_for("not a url").await,
            Err(grantflow_driver::EngineError::WalletAddress { .. })
        ));
        let g = engine.request(world.incoming("order-in")).await.unwrap();
        assert_eq!(g.kind, StateKind::Issued);
        assert!(g.redirect.is_none());
        let token = engine.access_token(g.id).await.unwrap();
        assert_eq!(token.access.len(), 1);
        // Cancel an issued grant: DELETE on the continuation, then Canceled.
        let canceled = engine.cancel(g.id).await.unwrap();
        assert_eq!(canceled.kind(), StateKind::Canceled);
        assert!(canceled.next_wake_at.is_none());
        assert!(engine.access_token(g.id).await.is_err());
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    pub async fn rejection<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store, |_| {}).await;
        let g = engine
            .request(world.outgoing("order-deny", Interaction::Redirect))
            .await
            .unwrap();
        assert_eq!(world.deny_and_follow(&g.redirect.unwrap()).await, 200);
        let v = wait_kind(&engine, g.id, StateKind::Rejected).await;
        assert!(v.is_final());
        assert_replays(&engine, g.id).await;
        engine.shutdown().await;
    }

    pub async fn client_side_expiry_cancels<S: GrantStore>(store: S) {
        let world = World::manual_with_wait(0).await;
        let engine = world
            .engine(store, |c| {
                c.machine.interaction_deadline = chrono::TimeDelta::seconds(1);
            })
            .await;
        engine.start_worker();
        let g = engine
            .request(world.outgoing("order-expire", Interaction::Redirect))
            .await
            .unwrap();
        world.advance(Duration::from_secs(2));
        let v = wait_kind(&engine, g.id, StateKind::Expired).await;
        assert!(v.is_final());
        let kinds = event_kinds(&engine, g.id).await;
        assert!(kinds.contains(&EventKind::Wake));
        assert_eq!(
            kinds.last(),
            Some(&EventKind::AnsweredNoContent),
            "canceled at the AS: {kinds:?}"
        );
        // The user comes back too late: the callback changes nothing.
        let outcome = world.sandbox.approve_interaction(&g.redirect.unwrap());
        if let Ok(outcome) = outcome
            && let Some(finish) = outcome.redirect
        {
            follow(finish.expose()).await;
        }
        assert_eq!(engine.get(g.id).await.unwrap().kind(), StateKind::Expired);
        engine.shutdown().await;
    }

    pub async fn rotation_on_expiry_once_for_many_callers<S: GrantStore>(store: S) {
        let world = World::manual(SandboxConfig {
            wait_seconds: 0,
            access_token_lifetime_seconds: 10,
            ..SandboxConfig::default()
        })
        .await;
        let engine = world
            .engine(store, |c| {
                c.machine.rotation = grantflow_machine::Rotation::OnDemand;
                c.machine.token_margin = chrono::TimeDelta::seconds(35);
            })
            .await;
        let g = engine
            .request(world.incoming("order-rotate"))
            .await
            .unwrap();
        let first = engine.access_token(g.id).await.unwrap();
        // Within the margin of its expiry (10 s lifetime, the 35 s margin capped at half the
        // lifetime: after 5 s) the token is rotated before it is handed out; the new one is then
        // good for 5 s more.
        world.advance(Duration::from_millis(5500));
        let callers = (0..8).map(|_| {
            let engine = engine.clone();
            async move { engine.access_token(g.id).await }
        });
        let tokens = futures_join_all(callers).await;
        let values: Vec<String> = tokens
            .iter()
            .map(|t| t.as_ref().unwrap().value.expose().to_owned())
            .collect();
        assert!(
            values.iter().all(|v| v == &values[0]),
            "all callers get the same new token"
        );
        assert_ne!(values[0], first.value.expose());
        assert_ne!(
            tokens[0].as_ref().unwrap().manage,
            first.manage,
            "new manage URL"
        );
        let rotations = engine
            .history(g.id)
            .await
            .unwrap()
            .iter()
            .filter(|h| h.event.kind() == EventKind::RotateNow)
            .count();
        assert_eq!(rotations, 1, "one rotation for eight callers");
        assert_replays(&engine, g.id).await;
        // Revoke: the token is gone.
        let revoked = engine.revoke(g.id).await.unwrap();
        assert_eq!(revoked.kind(), StateKind::Revoked);
        assert!(engine.access_token(g.id).await.is_err());
        engine.shutdown().await;
    }
    /// A key names one request: asking again with the same key and a different request (other
    /// access, interaction or grant endpoint) is an error that names what differs, sends
    /// nothing and leaves the first grant as it was.
    pub async fn idempotency_key_reused_for_another_request<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store, |_| {}).await;
        let first = engine
            .request(world.outgoing("order-7", Interaction::Redirect))
            .await
            .unwrap();
        let mut more_access = world.outgoing("order-7", Interaction::Redirect);
        more_access.access.extend(world.incoming("order-7").access);
        let mut elsewhere = world.outgoing("order-7", Interaction::Redirect);
        elsewhere.grant_endpoint =
            format!("{}/", elsewhere.grant_endpoint.trim_end_matches('/')) + "other";
        for (order, differs) in [
            (more_access, OrderPart::Access),
            (
                world.outgoing("order-7", Interaction::Poll),
                OrderPart::Interaction,
            ),
            (elsewhere, OrderPart::GrantEndpoint),
        ] {
            match engine.request(order).await {
                Err(grantflow_driver::EngineError::IdempotencyKeyReused {
                    key,
                    grant,
                    differs: d,
                }) => {
                    assert_eq!((key.as_str(), grant, d), ("order-7", first.id, differs));
                }
                other => panic!("{differs}: {other:?}"),
            }
        }
        // The same request again is still the same grant; nothing else was created or sent.
        let again = engine
            .request(world.outgoing("order-7", Interaction::Redirect))
            .await
            .unwrap();
        assert_eq!((again.id, again.inserted), (first.id, false));
        assert_eq!(
            engine
                .list(&GrantFilter::default(), None, 10)
                .await
                .unwrap()
                .grants
                .len(),
            1
        );
        assert_eq!(
            engine.history(first.id).await.unwrap().len(),
            2,
            "request, answer"
        );
        engine.shutdown().await;
    }
}

/// `join_all` without the futures crate.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut out = Vec::new();
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

per_backend!(
    interactive_with_finish_callback,
    forged_and_replayed_callbacks_change_nothing,
    finish_tokens_are_not_stored_and_old_grants_still_finish,
    polling_without_finish,
    non_interactive,
    rejection,
    client_side_expiry_cancels,
    rotation_on_expiry_once_for_many_callers,
    idempotency_key_reused_for_another_request,
);
