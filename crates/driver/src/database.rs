//! Whether the database answers, as the engine last saw it: one log line when it stops
//! answering and one when it is back, not one per failed query.
//!
//! Every part of the engine that reaches the store on its own schedule (the worker's claims, the
//! readiness probe, the retention task, the grant counts) reports what it saw here.
//! [`DatabaseStatus`] logs only the changes, and keeps the `grantflow_database_up` gauge.

use std::sync::Mutex;
use std::time::Instant;

use grantflow_store::StoreError;

use crate::metrics;

/// The database's reachability as last seen (shared by the engine's clones).
#[derive(Debug)]
pub(crate) struct DatabaseStatus {
    /// Since when the database has been unreachable (`None`: it answers).
    down_since: Mutex<Option<Instant>>,
}

impl DatabaseStatus {
    /// Assumes the database answers (the engine was built on a connected store).
    pub(crate) fn new() -> Self {
        metrics::database_up(true);
        Self {
            down_since: Mutex::new(None),
        }
    }

    fn down_since(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        match self.down_since.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reports a store call's result: an error that says the database is unreachable marks it
    /// down (logged once), any answer marks it up (logged once, with how long it was down).
    /// Returns whether the error (if any) was such an "unreachable" one: the caller need not log
    /// it again.
    pub(crate) fn saw<T>(&self, result: &Result<T, StoreError>) -> bool {
        match result {
            Ok(_) => {
                self.answered();
                false
            }
            Err(error) if error.is_unreachable() => {
                self.unreachable(error);
                true
            }
            // A query failed, but the database answered.
            Err(_) => {
                self.answered();
                false
            }
        }
    }

    /// The database answered.
    pub(crate) fn answered(&self) {
        let was = self.down_since().take();
        if let Some(since) = was {
            metrics::database_up(true);
            tracing::info!(
                down_seconds = since.elapsed().as_secs(),
                "database reachable again"
            );
        }
    }

    /// The database did not answer a trivial read `within` this long (a readiness check): as
    /// good as unreachable for the work it holds up.
    pub(crate) fn no_answer(&self, within: std::time::Duration) {
        self.unreachable(&format!("no answer within {} ms", within.as_millis()));
    }

    /// The database could not be reached.
    fn unreachable(&self, error: &dyn std::fmt::Display) {
        let mut down = self.down_since();
        if down.is_none() {
            *down = Some(Instant::now());
            drop(down);
            metrics::database_up(false);
            tracing::error!(%error, "database unreachable; retrying (one line when it is back)");
        } else {
            tracing::debug!(%error, "database still unreachable");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The log lines written, shared with the subscriber's writer.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn unreachable() -> Result<(), StoreError> {
        Err(StoreError::Database {
            operation: "claim due grants",
            source: sqlx::Error::PoolTimedOut,
        })
    }

    #[test]
    fn an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let status = DatabaseStatus::new();
        tracing::subscriber::with_default(subscriber, || {
            assert!(!status.saw(&Ok(())));
            for _ in 0..5 {
                assert!(status.saw(&unreachable()));
            }
            // A query that fails while the database answers is not an outage.
            let refused: Result<(), StoreError> = Err(StoreError::Corrupt {
                grant: None,
                detail: "x".into(),
            });
            assert!(!status.saw(&refused));
            assert!(status.saw(&unreachable()));
            assert!(!status.saw(&Ok(())));
            assert!(!status.saw(&Ok(())));
        });
        let logs = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = logs.lines().collect();
        // Down (5 failures: one line), back (the corrupt row answered), down again, back.
        assert_eq!(lines.len(), 4, "{logs}");
        assert!(lines[0].contains("database unreachable"), "{logs}");
        assert!(lines[1].contains("database reachable again"), "{logs}");
        assert!(lines[2].contains("database unreachable"), "{logs}");
        assert!(lines[3].contains("database reachable again"), "{logs}");
    }
}
