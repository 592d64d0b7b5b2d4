//! The store's error type.

use crate::model::GrantId;

/// What went wrong talking to the database. Fence refusals are not errors: they are
/// [`crate::Refused`] values in a write's result.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A query failed (connection lost, constraint violated, database down). Retrying later is
    /// safe: every write is one transaction, so nothing of a failed write is visible.
    #[error("database error during {operation}: {source}")]
    Database {
        /// What the store was doing.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Connecting or applying the migrations at start-up failed.
    #[error("could not apply the {backend} migrations: {source}")]
    Migrate {
        /// `postgres` or `sqlite`.
        backend: &'static str,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A row could not be decoded: the database holds something this version does not write.
    #[error("grant {grant:?}: corrupt row: {detail}")]
    Corrupt {
        /// The grant, when known.
        grant: Option<GrantId>,
        /// What is wrong.
        detail: String,
    },
    /// The same grant appears twice in one batch of writes: split the batch.
    #[error("grant {0} appears twice in one batch of writes")]
    DuplicateInBatch(GrantId),
    /// The database URL names no backend this store supports.
    #[error(
        "unsupported database URL {0:?}: use postgres://... (or postgresql://...) or sqlite:..."
    )]
    UnsupportedUrl(String),
    /// A row's secrets could not be sealed or opened by a sealing layer over the store
    /// (`grantflow-seal`): a storage key missing or wrong, a sealed value tampered with or moved.
    /// The message names the grant and the key; nothing was written.
    #[error(transparent)]
    Secrets(Box<dyn std::error::Error + Send + Sync>),
    /// The database is reachable but lacks migrations this build embeds (a newer build has not
    /// migrated it yet): start one process of this build normally (it applies them at start-up),
    /// or run `sqlx migrate run` with this build's `migrations/`.
    #[error(
        "the database lacks migration(s) {missing:?} of this build: apply this build's migrations"
    )]
    MigrationsMissing {
        /// The versions (timestamps) not applied.
        missing: Vec<i64>,
    },
    /// A lease renewal or release found the lease gone.
    #[error(
        "lease on grant {0} lost: it was released, or it lapsed and another worker claimed the grant"
    )]
    LeaseLost(GrantId),
    /// A feed consumer's lease renewal or release found the lease gone: another process took
    /// the consumer over (its lease had lapsed); stop consuming under this name.
    #[error(
        "lease on feed consumer {0:?} lost: it was released, or it lapsed and another process took the consumer"
    )]
    ConsumerLeaseLost(String),
    /// A payment's lease renewal or release found the lease gone: it was released, or it lapsed
    /// and another worker claimed the payment; drop the payment.
    #[error(
        "lease on payment {0} lost: it was released, or it lapsed and another worker claimed the payment"
    )]
    PaymentLeaseLost(crate::payment::PaymentId),
    /// The schedule's lease is gone: it was released, or it lapsed and another worker claimed
    /// the schedule. Stop working on it.
    #[error(
        "lease on schedule {0} lost: it was released, or it lapsed and another worker claimed the schedule"
    )]
    ScheduleLeaseLost(crate::schedule::ScheduleId),
    /// A stored feed position could not be read back.
    #[error("feed consumer {consumer:?}: {source}")]
    BadPosition {
        /// The consumer whose row holds it.
        consumer: String,
        /// What is wrong with it.
        #[source]
        source: crate::feed::BadFeedPosition,
    },
}

impl StoreError {
    /// Whether the error says the database cannot be reached at all (connection refused or
    /// lost, no free connection in time, the server shutting down or not accepting connections),
    /// as opposed to one query failing: what health checks and "database down" logs go by.
    pub fn is_unreachable(&self) -> bool {
        let StoreError::Database { source, .. } = self else {
            return false;
        };
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            // SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash
            // shutdown, cannot connect now).
            sqlx::Error::Database(e) => e
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            _ => false,
        }
    }

    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { operation, source }
    }
}
