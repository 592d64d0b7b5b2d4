//! Step 4: the first worker is killed (its runtime torn down, its lease not released); a second
//! worker opens the same database, finds the grant with its continue in flight, and finishes it
//! once the lease lapsed.

use std::sync::Arc;

use anyhow::{Context, ensure};
use grantflow_driver::Engine;
use grantflow_machine::{EventKind, StateKind};
use grantflow_seal::SealingStore;
use grantflow_store::{AnyStore, GrantId};

use crate::cli::output::time_ms;

use super::calls::ObservedCalls;
use super::setup::{Setup, engine_config, watch};
use super::timeline::Timeline;
use super::{Demo, STEP_TIMEOUT};

impl Demo {
    /// Kills the first worker, starts the second and waits until it issued `grant`; returns the
    /// second worker's engine.
    pub(super) async fn resume(
        &mut self,
        t: &Arc<Timeline>,
        setup: &Setup,
        grant: GrantId,
    ) -> anyhow::Result<Engine<SealingStore<AnyStore>>> {
        drop(self.first_worker.take());
        t.line("   worker-1 killed: its runtime is torn down, nothing shut down, its lease not released");
        let store = AnyStore::connect(&setup.database_url, 4)
            .await
            .context("cannot reopen the database")?;
        let store = SealingStore::new(store, setup.storage_keys.clone());
        let config = engine_config("worker-2", &setup.client_wallet, setup.finish_base.clone())
            .with_finish_token_keys(setup.storage_keys.clone());
        let calls = ObservedCalls::new(
            grantflow_driver::ClientCalls::new(setup.client.clone()),
            t.clone(),
            "worker-2",
        );
        let engine = Engine::new(store, Arc::new(calls), config)?;
        let stored = engine.get(grant).await?;
        t.line(format_args!(
            "   in the database: {} is {} with {} in flight (v{}), next attention at {}",
            t.name(grant),
            stored.kind(),
            stored
                .state
                .call_in_flight()
                .map_or_else(|| "no call".to_owned(), |c| format!("a {c}")),
            stored.version,
            stored.next_wake_at.map_or_else(|| "-".to_owned(), time_ms)
        ));
        watch(&engine, t.clone(), "worker-2");
        engine.start_worker();
        self.engine = Some(engine.clone());
        t.line("   worker-2 started on the same database");
        let issued = engine
            .wait_for(grant, STEP_TIMEOUT, |v| {
                v.kind() == StateKind::Issued || v.is_final()
            })
            .await?;
        ensure!(
            issued.kind() == StateKind::Issued,
            "the grant ended {} instead of Issued",
            issued.kind()
        );
        t.caught_up(grant, issued.version).await;
        t.line(format_args!(
            "   {} resumed and finalized with an access token; its recorded history:",
            t.name(grant)
        ));
        let history = engine.history(grant).await?;
        let kinds: Vec<(i64, EventKind)> = history
            .iter()
            .map(|entry| (entry.version, entry.event.kind()))
            .collect();
        for entry in &history {
            t.line(format_args!(
                "      v{:<2} {}  {}",
                entry.version,
                time_ms(entry.at),
                entry.event.kind()
            ));
        }
        t.line(format_args!("   ({})", resume_story(&kinds)));
        Ok(engine)
    }
}

/// What the recorded history says happened around the crash, told from the history itself (not
/// from what the demo staged): the transition that put the continue in flight, and the wake of
/// worker-2 that found it there and re-sent it. `history` is (version, event) oldest first.
fn resume_story(history: &[(i64, EventKind)]) -> String {
    let issued = history
        .iter()
        .position(|(_, kind)| *kind == EventKind::AnsweredIssued);
    let resumed = issued.and_then(|i| {
        history[..i]
            .iter()
            .rposition(|(_, kind)| *kind == EventKind::Wake)
    });
    match resumed {
        Some(r) if r > 0 => {
            let (marked_version, marked_kind) = history[r - 1];
            let (resumed_version, _) = history[r];
            let who = if marked_kind == EventKind::Wake {
                "worker-1's wake".to_owned()
            } else {
                format!("the {marked_kind} event")
            };
            format!(
                "v{marked_version}: {who} put the continue in flight, and worker-1 died sending it; \
                 v{resumed_version}: worker-2's wake found it in flight after the lease lapsed, an \
                 ambiguous outcome, and re-sent it once: the AS had never seen it, so it answered \
                 with the token"
            )
        }
        _ => "the history shows no wake that resumed the continue: worker-2 sent it as a first \
              attempt"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::*;

    #[test]
    fn the_story_follows_the_recorded_history() {
        // worker-1's wake marked the continue in flight (v4), worker-2's wake re-sent it (v5).
        let with_wake = [
            (1, Request),
            (2, AnsweredPending),
            (3, FinishApproved),
            (4, Wake),
            (5, Wake),
            (6, AnsweredIssued),
        ];
        let story = resume_story(&with_wake);
        assert!(
            story.starts_with("v4: worker-1's wake put the continue in flight"),
            "{story}"
        );
        assert!(
            story.contains("v5: worker-2's wake found it in flight"),
            "{story}"
        );
        // No wait before the continue: the finish transition itself put it in flight, and the
        // history has no wake of worker-1 to speak of.
        let without = [
            (1, Request),
            (2, AnsweredPending),
            (3, FinishApproved),
            (4, Wake),
            (5, AnsweredIssued),
        ];
        let story = resume_story(&without);
        assert!(!story.contains("worker-1's wake"), "{story}");
        assert!(
            story.starts_with("v3: the finish(hash, interact_ref) event put"),
            "{story}"
        );
        assert!(story.contains("v4: worker-2's wake"), "{story}");
    }
}
