//! `Engine::list` and `Engine::reindex` against the sandbox, on both databases: the summary the
//! engine writes with every state (kind, access types, wallet address, last error), filters on
//! it, keyset pages, and summaries filled for rows written before they were kept.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

#[macro_use]
mod support;

use grantflow_driver::{EngineError, GrantFilter, Interaction, ListCursor, Reindexed};
use grantflow_machine::StateKind;
use grantflow_store::{GrantStore, GrantSummary};
use support::*;

mod scenarios {
    use super::*;

    pub async fn filters_follow_the_grants_states<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store.clone(), |_| {}).await;
        let waiting = engine
            .request(world.outgoing("out-1", Interaction::Redirect))
            .await
            .unwrap();
        assert_eq!(waiting.kind, StateKind::AwaitingInteraction);
        let incoming = engine.request(world.incoming("in-1")).await.unwrap();
        wait_kind(&engine, incoming.id, StateKind::Issued).await;
        let denied = engine
            .request(world.outgoing("out-2", Interaction::Redirect))
            .await
            .unwrap();
        world
            .deny_and_follow(denied.redirect.as_deref().unwrap())
            .await;
        wait_kind(&engine, denied.id, StateKind::Rejected).await;

        let ids = |filter: GrantFilter| {
            let engine = engine.clone();
            async move {
                engine
                    .list(&filter, None, 100)
                    .await
                    .unwrap()
                    .grants
                    .iter()
                    .map(|g| g.id)
                    .collect::<Vec<_>>()
            }
        };
        // Newest first, everything without a filter.
        assert_eq!(
            ids(GrantFilter::default()).await,
            vec![denied.id, incoming.id, waiting.id]
        );
        let by_state = |state| GrantFilter {
            state: Some(state),
            ..GrantFilter::default()
        };
        assert_eq!(
            ids(by_state(StateKind::AwaitingInteraction)).await,
            vec![waiting.id]
        );
        assert_eq!(ids(by_state(StateKind::Issued)).await, vec![incoming.id]);
        // A final grant keeps the wallet address and access types it was requested with.
        assert_eq!(ids(by_state(StateKind::Rejected)).await, vec![denied.id]);
        assert!(ids(by_state(StateKind::Lost)).await.is_empty());
        let by_wallet = GrantFilter {
            wallet: Some(world.alice()),
            ..GrantFilter::default()
        };
        assert_eq!(ids(by_wallet).await, vec![denied.id, waiting.id]);
        let by_access = |access: &str| GrantFilter {
            access: Some(access.into()),
            ..GrantFilter::default()
        };
        assert_eq!(ids(by_access("incoming-payment")).await, vec![incoming.id]);
        assert_eq!(
            ids(by_access("outgoing-payment")).await,
            vec![denied.id, waiting.id]
        );
        assert!(ids(by_access("quote")).await.is_empty());
        let both = GrantFilter {
            state: Some(StateKind::Rejected),
            wallet: Some(world.alice()),
            access: Some("outgoing-payment".into()),
            ..GrantFilter::default()
        };
        assert_eq!(ids(both).await, vec![denied.id]);

        let view = engine.get(denied.id).await.unwrap();
        assert_eq!(view.wallet_address.as_deref(), Some(world.alice().as_str()));
        assert_eq!(view.access_types, vec!["outgoing-payment".to_owned()]);
        let stored = store.get(denied.id).await.unwrap().unwrap().summary;
        assert_eq!(stored.state_kind.as_deref(), Some("Rejected"));

        // Pages of one, following the cursor: each grant once, in order.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = engine
                .list(&GrantFilter::default(), after, 1)
                .await
                .unwrap();
            seen.extend(page.grants.iter().map(|g| g.id));
            match page.next {
                // The cursor travels as text (a command line, a URL).
                Some(next) => after = Some(next.to_string().parse::<ListCursor>().unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, vec![denied.id, incoming.id, waiting.id]);

        match engine.list(&by_access("payments"), None, 10).await {
            Err(EngineError::UnknownAccessType(t)) => assert_eq!(t, "payments"),
            other => panic!("{other:?}"),
        }
        engine.shutdown().await;
    }

    pub async fn reindex_fills_rows_written_before_summaries<S: GrantStore>(store: S) {
        let world = World::quick().await;
        let engine = world.engine(store.clone(), |_| {}).await;
        let waiting = engine
            .request(world.outgoing("out-1", Interaction::Redirect))
            .await
            .unwrap();
        let denied = engine
            .request(world.outgoing("out-2", Interaction::Redirect))
            .await
            .unwrap();
        world
            .deny_and_follow(denied.redirect.as_deref().unwrap())
            .await;
        wait_kind(&engine, denied.id, StateKind::Rejected).await;
        // As a row written before the summary columns existed: all NULL.
        let mut expected = Vec::new();
        for id in [waiting.id, denied.id] {
            let record = store.get(id).await.unwrap().unwrap();
            expected.push(record.summary.clone());
            assert!(
                store
                    .write_summary(id, record.version, &GrantSummary::default())
                    .await
                    .unwrap()
            );
        }
        // Still listed without a filter; not found by one.
        let all = engine
            .list(&GrantFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(all.grants.len(), 2);
        assert_eq!(all.grants[0].wallet_address, None);
        let rejected = GrantFilter {
            state: Some(StateKind::Rejected),
            ..GrantFilter::default()
        };
        assert!(
            engine
                .list(&rejected, None, 10)
                .await
                .unwrap()
                .grants
                .is_empty()
        );

        let mut outcomes = Vec::new();
        let report = engine
            .reindex(1, |id, outcome| outcomes.push((id, outcome)))
            .await
            .unwrap();
        assert_eq!(
            (report.written, report.unchanged, report.moved_on),
            (2, 0, 0)
        );
        assert_eq!(
            outcomes,
            vec![
                (denied.id, Reindexed::Written),
                (waiting.id, Reindexed::Written)
            ]
        );
        // The same summaries as the engine wrote itself (the final grant's request is read from
        // its first event).
        for (id, summary) in [waiting.id, denied.id].into_iter().zip(&expected) {
            assert_eq!(&store.get(id).await.unwrap().unwrap().summary, summary);
        }
        let found = engine.list(&rejected, None, 10).await.unwrap();
        assert_eq!(found.grants.len(), 1);
        assert_eq!(found.grants[0].id, denied.id);
        // A second run writes nothing.
        let again = engine.reindex(10, |_, _| {}).await.unwrap();
        assert_eq!((again.written, again.unchanged), (0, 2));
        engine.shutdown().await;
    }
}

per_backend!(
    filters_follow_the_grants_states,
    reindex_fills_rows_written_before_summaries,
);
