//! Step 4: the first worker is killed (its runtime torn down, its lease not released); a second
//! worker opens the same database, finds the grant with its continue in flight, and finishes it
//! once the lease lapsed.

use std::sync::Arc;

use anyhow::{Context, ensure};
use grantflow_driver::Engine;
use grantflow_machine::StateKind;
use grantflow_seal::SealingStore;
use grantflow_store::{AnyStore, GrantId};

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
        let config = engine_config("worker-2", &setup.client_wallet, setup.finish_base.clone());
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
            stored
                .next_wake_at
                .map_or_else(|| "-".to_owned(), |w| w.format("%H:%M:%S%.3f").to_string())
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
        for entry in engine.history(grant).await? {
            t.line(format_args!(
                "      v{:<2} {}  {}",
                entry.version,
                entry.at.format("%H:%M:%S%.3f"),
                entry.event.kind()
            ));
        }
        t.line(
            "   (worker-1's wake marked the continue in flight and died; worker-2's wake found it in \
             flight after the lease lapsed, an ambiguous outcome, and re-sent it once: the AS had \
             never seen it, so it answered with the token)",
        );
        Ok(engine)
    }
}
